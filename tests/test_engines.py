"""The sampling engines against transformers ``generate`` and a teacher-forced forward pass.

Models are config-built with a large initialisation range (0.3) so that greedy outputs vary with the prompt
instead of repeating one token: a cache or position bug then changes the tokens. Several architectures cover
the lean decoder's branches (MHA, GQA, q/k/v biases, Qwen3's per-head norms) and the generic decoder's
(GPT-2 has no lean path; a short Mistral sliding window forces static batching).
"""

from __future__ import annotations

import pytest
import torch
from transformers import (
    GPT2Config,
    GPT2LMHeadModel,
    LlamaConfig,
    LlamaForCausalLM,
    MistralConfig,
    MistralForCausalLM,
    PreTrainedModel,
    Qwen2Config,
    Qwen2ForCausalLM,
    Qwen3Config,
    Qwen3ForCausalLM,
)

from rlvr_lab.engines import ENGINES, SampleRequest, SamplingConfig, make_engine
from rlvr_lab.engines.hf_engine import HFEngine
from rlvr_lab.engines.lean_decoder import LeanDecoder, decode_attention, unsupported_reason
from rlvr_lab.engines.prompt_cache import PromptCache
from rlvr_lab.engines.torch_engine import TorchEngine
from rlvr_lab.organism.tokenizer import build_char_tokenizer

TOKENIZER = build_char_tokenizer()
VOCAB = len(TOKENIZER)
EOS = TOKENIZER.eos_token_id
CONTEXT = 96

_COMMON = {"vocab_size": VOCAB, "pad_token_id": 0, "eos_token_id": EOS, "bos_token_id": None, "initializer_range": 0.3}
_DECODER = {
    **_COMMON,
    "hidden_size": 64,
    "intermediate_size": 96,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "max_position_embeddings": CONTEXT,
}
ARCHS = {
    "llama": lambda: LlamaForCausalLM(LlamaConfig(**_DECODER, num_key_value_heads=4, tie_word_embeddings=True)),
    "llama-gqa": lambda: LlamaForCausalLM(LlamaConfig(**_DECODER, num_key_value_heads=2, attention_bias=True)),
    "qwen2": lambda: Qwen2ForCausalLM(Qwen2Config(**_DECODER, num_key_value_heads=2)),
    "qwen3": lambda: Qwen3ForCausalLM(Qwen3Config(**_DECODER, num_key_value_heads=2, head_dim=16)),
    "mistral": lambda: MistralForCausalLM(MistralConfig(**_DECODER, num_key_value_heads=2, sliding_window=512)),
    "mistral-window8": lambda: MistralForCausalLM(MistralConfig(**_DECODER, num_key_value_heads=2, sliding_window=8)),
    "gpt2": lambda: GPT2LMHeadModel(GPT2Config(**_COMMON, n_embd=64, n_layer=2, n_head=4, n_positions=CONTEXT)),
}


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """One intra-op thread: on a shared 2-core machine, OpenMP barriers in tiny SDPA calls stall for a whole
    scheduler slice when the second core is busy (20 ms instead of 15 us), which would dominate every test."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def build(arch: str, seed: int = 0) -> PreTrainedModel:
    torch.manual_seed(seed)
    return ARCHS[arch]().eval()


def prompts(seed: int, count: int, lengths: tuple[int, int] = (1, 12)) -> list[SampleRequest]:
    """``count`` random prompts (no special tokens) with lengths in ``lengths``, keyed ``q0, q1, ...``."""
    gen = torch.Generator().manual_seed(seed)
    out = []
    for i in range(count):
        n = int(torch.randint(lengths[0], lengths[1] + 1, (1,), generator=gen))
        out.append(SampleRequest(torch.randint(3, VOCAB, (n,), generator=gen).tolist(), key=f"q{i}"))
    return out


def generate_greedy(model: PreTrainedModel, prompt: list[int], max_new_tokens: int) -> list[int]:
    """Reference: ``generate`` on one unpadded prompt, new tokens only (ending with eos if it stopped)."""
    with torch.inference_mode():
        out = model.generate(
            torch.tensor([prompt]), do_sample=False, max_new_tokens=max_new_tokens, eos_token_id=EOS, pad_token_id=0
        )
    return out[0, len(prompt) :].tolist()


def tokens(result: list[list]) -> list[list[list[int]]]:
    return [[c.token_ids for c in row] for row in result]


# ---------------------------------------------------------------------------------------------- greedy


@pytest.mark.parametrize(
    ("arch", "path"),
    [
        ("llama", "lean"),
        ("llama", "generic"),
        ("llama-gqa", "lean"),
        ("qwen2", "lean"),
        ("qwen2", "generic"),
        ("qwen3", "lean"),
        ("mistral", "lean"),
        ("mistral-window8", "generic"),
        ("gpt2", "generic"),
    ],
)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_greedy_equals_generate(arch: str, path: str, seed: int) -> None:
    model = build(arch, seed)
    requests = prompts(seed, 7)
    engine = TorchEngine(model, TOKENIZER, batch_size=3, path=path)  # 7 prompts through 3 rows: refills
    result = engine.sample(requests, SamplingConfig(temperature=0, max_new_tokens=20))
    for request, row in zip(requests, result, strict=True):
        assert row[0].token_ids == generate_greedy(model, request.prompt_ids, 20), request.key


def test_greedy_equals_left_padded_batched_generate() -> None:
    """Same tokens as one left-padded ``generate`` batch, the way the ``hf`` engine runs."""
    model = build("llama-gqa", 3)
    requests = prompts(3, 6)
    width = max(len(r.prompt_ids) for r in requests)
    ids = torch.zeros(len(requests), width, dtype=torch.long)
    mask = torch.zeros_like(ids)
    for i, r in enumerate(requests):
        ids[i, width - len(r.prompt_ids) :] = torch.tensor(r.prompt_ids)
        mask[i, width - len(r.prompt_ids) :] = 1
    with torch.inference_mode():
        out = model.generate(ids, attention_mask=mask, do_sample=False, max_new_tokens=16, eos_token_id=None)
    result = TorchEngine(model, TOKENIZER, batch_size=4, eos_token_ids=()).sample(
        requests, SamplingConfig(temperature=0, max_new_tokens=16)
    )
    assert [row[0].token_ids for row in result] == out[:, width:].tolist()


def test_auto_path_choice() -> None:
    assert unsupported_reason(build("llama"), 64) is None
    assert "gpt2" in (unsupported_reason(build("gpt2"), 64) or "")
    assert "sliding window 8" in (unsupported_reason(build("mistral-window8"), 64) or "")
    with pytest.raises(ValueError, match="path='lean' cannot run"):
        TorchEngine(build("gpt2"), TOKENIZER, path="lean").sample(prompts(0, 1), SamplingConfig(max_new_tokens=4))


# ---------------------------------------------------------------------------------------------- seeding


SAMPLED = SamplingConfig(temperature=0.9, top_p=0.95, top_k=40, max_new_tokens=24, seed=7)


@pytest.mark.parametrize("arch", ["llama-gqa", "gpt2"])
def test_same_tokens_whatever_the_batch(arch: str) -> None:
    """A completion depends on (seed, key, sample index) only: not on batch size, neighbours or order."""
    model = build(arch)
    requests = [SampleRequest(r.prompt_ids, r.key, (0, 1, 2)) for r in prompts(5, 5)]
    reference = tokens(TorchEngine(model, TOKENIZER, batch_size=4).sample(requests, SAMPLED))
    for batch_size in (1, 7, 64):
        assert tokens(TorchEngine(model, TOKENIZER, batch_size=batch_size).sample(requests, SAMPLED)) == reference
    alone = TorchEngine(model, TOKENIZER, batch_size=4).sample([requests[3]], SAMPLED)
    assert tokens(alone) == [reference[3]]
    reversed_result = TorchEngine(model, TOKENIZER, batch_size=3).sample(requests[::-1], SAMPLED)
    assert tokens(reversed_result) == reference[::-1]
    assert len({tuple(t) for row in reference for t in row}) == 15  # the samples do differ


def test_resumed_samples_equal_an_uninterrupted_run() -> None:
    model = build("qwen2")
    request = prompts(8, 1)[0]
    engine = TorchEngine(model, TOKENIZER, batch_size=4)
    full = engine.sample([SampleRequest(request.prompt_ids, request.key, tuple(range(8)))], SAMPLED)[0]
    rest = engine.sample([SampleRequest(request.prompt_ids, request.key, (5, 6, 7))], SAMPLED)[0]
    assert [c.token_ids for c in rest] == [c.token_ids for c in full[5:]]
    assert [c.sample_index for c in rest] == [5, 6, 7]


def test_seed_and_key_change_the_samples() -> None:
    model = build("llama")
    request = prompts(9, 1)[0]
    engine = TorchEngine(model, TOKENIZER)
    base = tokens(engine.sample([request], SAMPLED))
    assert tokens(engine.sample([request], SAMPLED)) == base
    other_seed = SamplingConfig(**{**SAMPLED.__dict__, "seed": 8})
    assert tokens(engine.sample([request], other_seed)) != base
    assert tokens(engine.sample([SampleRequest(request.prompt_ids, "other")], SAMPLED)) != base


def test_lean_and_generic_paths_sample_the_same_tokens() -> None:
    model = build("qwen3", 4)
    requests = [SampleRequest(r.prompt_ids, r.key, (0, 1)) for r in prompts(4, 6)]
    lean = TorchEngine(model, TOKENIZER, batch_size=5, path="lean").sample(requests, SAMPLED)
    generic = TorchEngine(model, TOKENIZER, batch_size=5, path="generic").sample(requests, SAMPLED)
    assert tokens(lean) == tokens(generic)
    for a, b in zip(lean, generic, strict=True):
        for x, y in zip(a, b, strict=True):
            torch.testing.assert_close(torch.tensor(x.logprobs), torch.tensor(y.logprobs), atol=1e-5, rtol=0)


def test_top_k_one_equals_greedy() -> None:
    model = build("llama-gqa", 5)
    requests = prompts(5, 4)
    greedy = TorchEngine(model, TOKENIZER).sample(requests, SamplingConfig(temperature=0, max_new_tokens=16))
    top1 = TorchEngine(model, TOKENIZER).sample(requests, SamplingConfig(temperature=1.3, top_k=1, max_new_tokens=16))
    assert tokens(top1) == tokens(greedy)


# ---------------------------------------------------------------------------------------------- log-probs


def teacher_forced(model: PreTrainedModel, prompt: list[int], completion: list[int]) -> torch.Tensor:
    """log p(completion[i] | prompt, completion[:i]) from one forward pass over the whole sequence."""
    ids = torch.tensor([prompt + completion])
    with torch.inference_mode():
        logits = model(ids).logits[0, len(prompt) - 1 : -1].float()
    return torch.log_softmax(logits, -1).gather(-1, torch.tensor(completion).unsqueeze(-1)).squeeze(-1)


@pytest.mark.parametrize(("engine_name", "path"), [("torch", "lean"), ("torch", "generic"), ("hf", None)])
def test_logprobs_are_raw_teacher_forced_logprobs(engine_name: str, path: str | None) -> None:
    """Raw (T=1, untruncated) log-probs even when sampling with temperature, top-k and top-p."""
    model = build("qwen2", 6)
    options = {"path": path} if path else {}
    engine = make_engine(engine_name, model, TOKENIZER, batch_size=4, **options)
    requests = [SampleRequest(r.prompt_ids, r.key, (0, 1)) for r in prompts(6, 3)]
    config = SamplingConfig(temperature=0.7, top_k=10, top_p=0.9, max_new_tokens=20)
    for request, row in zip(requests, engine.sample(requests, config), strict=True):
        for completion in row:
            expected = teacher_forced(model, request.prompt_ids, completion.token_ids)
            torch.testing.assert_close(torch.tensor(completion.logprobs), expected, atol=1e-4, rtol=0)


# ---------------------------------------------------------------------------------------------- stopping


@pytest.mark.parametrize("engine_name", ["torch", "hf"])
def test_stop_tokens_and_finish_reasons(engine_name: str) -> None:
    model = build("llama", 2)
    request = prompts(2, 1, lengths=(6, 6))[0]
    free = generate_greedy(model, request.prompt_ids, 12)
    assert EOS not in free[:6]
    stop = free[4]
    first = free.index(stop)
    engine = make_engine(engine_name, model, TOKENIZER, eos_token_ids=())
    stopped = engine.sample([request], SamplingConfig(temperature=0, max_new_tokens=12, stop_token_ids=(stop,)))[0][0]
    assert stopped.token_ids == free[: first + 1]
    assert stopped.finish_reason == "stop"
    assert stopped.num_tokens == len(stopped.logprobs) == first + 1
    capped = engine.sample([request], SamplingConfig(temperature=0, max_new_tokens=3))[0][0]
    assert (capped.token_ids, capped.finish_reason) == (free[:3], "length")
    assert capped.text == TOKENIZER.decode(free[:3], skip_special_tokens=True)


def test_refills_keep_every_completion_intact() -> None:
    """Many requests, few rows, completions of different lengths: each equals its solo run."""
    model = build("llama-gqa", 7)
    requests = [SampleRequest(r.prompt_ids, r.key, (0, 1, 2)) for r in prompts(7, 9)]
    config = SamplingConfig(temperature=1.0, max_new_tokens=30, stop_token_ids=(10, 11, 12, 13, 14), seed=3)
    progress: list[int] = []
    result = TorchEngine(model, TOKENIZER, batch_size=4).sample(requests, config, progress=progress.append)
    lengths = {c.num_tokens for row in result for c in row}
    reasons = {c.finish_reason for row in result for c in row}
    assert len(lengths) > 5 and reasons == {"stop", "length"}
    assert sum(progress) == 27
    solo = [TorchEngine(model, TOKENIZER, batch_size=1).sample([r], config)[0] for r in requests]
    assert tokens(result) == tokens(solo)


def test_a_prompt_is_prefilled_once_per_call_and_copied_into_later_rows() -> None:
    """The lean decoder runs a prompt's prefill once and copies its keys, values and first logits into every later
    row that starts it; the least recently used prompts are dropped first, the newest always kept."""
    model = build("llama-gqa", 3)
    first, second = (r.prompt_ids for r in prompts(11, 2, lengths=(6, 10)))
    decoder = LeanDecoder(model, rows=4, max_len=32)
    with torch.inference_mode():
        logits = decoder.prefill(torch.tensor([0, 1]), [first, first])
        again = decoder.prefill(torch.tensor([3]), [first])
        decoder.prefill(torch.tensor([2]), [second])
    assert (decoder.prompts.misses, decoder.prompts.hits) == (2, 1)  # `first` ran once, then was copied
    torch.testing.assert_close(again[0], logits[0], rtol=0, atol=0)
    for cache in decoder.cache:
        assert torch.equal(cache[3, :, :, : len(first)], cache[0, :, :, : len(first)])
        assert not torch.equal(cache[2, :, :, : len(first)], cache[0, :, :, : len(first)])
    entry = decoder.prompts.get(second)
    assert entry is not None and all(kv.shape[-2] == len(second) for kv in entry.kv)
    small = PromptCache(max_bytes=entry.nbytes)
    small.add([(first, decoder.prompts.get(first)), (second, entry)])
    assert list(small.entries) == [tuple(second)] and small.bytes == entry.nbytes


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
@pytest.mark.parametrize(("heads", "kv_heads"), [(4, 4), (9, 3), (8, 1)])
def test_decode_attention_equals_sdpa_over_every_query_head(heads: int, kv_heads: int, dtype: torch.dtype) -> None:
    """The decoder's grouped-query attention (a key head's query heads as its query positions) against SDPA with
    ``enable_gqa``, on a strided slice of a cache and a per-row mask as :meth:`LeanDecoder.decode` passes them: the
    same call without grouped query heads (bit for bit), the same values to rounding with them."""
    rows, dim, span = 6, 16, 11
    g = torch.Generator().manual_seed(0)
    cache = torch.randn(rows, 2, kv_heads, span + 5, dim, generator=g).to(dtype)
    q = torch.randn(rows, heads + 2 * kv_heads, dim, generator=g).to(dtype)[:, :heads]  # a slice, as in decode
    hidden = torch.arange(span) > torch.tensor([10, 3, 7, 0, 10, 5]).unsqueeze(1)
    mask = torch.zeros(rows, span, dtype=dtype).masked_fill_(hidden, float("-inf")).view(rows, 1, 1, span)
    keys, values = cache[:, 0, :, :span], cache[:, 1, :, :span]
    got = decode_attention(q, keys, values, mask, 0.25).reshape(rows, heads, dim)
    want = torch.nn.functional.scaled_dot_product_attention(
        q.unsqueeze(2), keys, values, attn_mask=mask, scale=0.25, enable_gqa=kv_heads != heads
    ).reshape(rows, heads, dim)
    if heads == kv_heads:
        assert torch.equal(got, want)
    else:
        tolerance = 1e-6 if dtype == torch.float32 else 1e-2
        torch.testing.assert_close(got.float(), want.float(), atol=tolerance, rtol=0)
    assert torch.equal(got[3], values[3, :, 0].repeat_interleave(heads // kv_heads, dim=0))  # row 3 sees key 0 only


# ---------------------------------------------------------------------------------------------- context


@pytest.mark.parametrize("engine_name", ["torch", "hf"])
def test_refuses_prompts_that_do_not_fit_the_context(engine_name: str) -> None:
    engine = make_engine(engine_name, build("llama"), TOKENIZER)
    fits = SampleRequest([5] * 40, "fits")
    too_long = SampleRequest([5] * 90, "long-one")
    assert engine.sample([fits], SamplingConfig(temperature=0, max_new_tokens=CONTEXT - 40))[0][0].num_tokens > 0
    with pytest.raises(ValueError, match=r"'long-one': 90 prompt tokens \+ 10 max_new_tokens = 100 exceeds .* 96"):
        engine.sample([fits, too_long], SamplingConfig(max_new_tokens=10))
    with pytest.raises(ValueError, match="'empty' is empty"):
        engine.sample([SampleRequest([], "empty")], SamplingConfig(max_new_tokens=10))


# ---------------------------------------------------------------------------------------------- live model


def test_sees_weight_updates_between_calls_and_restores_training_mode() -> None:
    """The RL trainer changes the weights between calls: nothing may be cached across them."""
    model = build("llama", 1)
    engine = TorchEngine(model, TOKENIZER)
    request = prompts(1, 1)[0]
    config = SamplingConfig(temperature=0, max_new_tokens=16)
    before = engine.sample([request], config)[0][0].token_ids
    with torch.no_grad():
        for layer in model.model.layers:
            layer.self_attn.q_proj.weight.mul_(-1.5)
            layer.mlp.up_proj.weight.mul_(2.0)
    model.train()
    after = engine.sample([request], config)[0][0].token_ids
    assert model.training
    model.eval()
    assert after != before
    assert after == generate_greedy(model, request.prompt_ids, 16)


# ---------------------------------------------------------------------------------------------- hf engine


def test_hf_engine_greedy_seeded_and_ordered() -> None:
    model = build("qwen2", 3)
    requests = [SampleRequest(r.prompt_ids, r.key, (4, 9)) for r in prompts(3, 5)]
    engine = HFEngine(model, TOKENIZER, batch_size=4)
    greedy = engine.sample(requests, SamplingConfig(temperature=0, max_new_tokens=12))
    for request, row in zip(requests, greedy, strict=True):
        assert [c.sample_index for c in row] == [4, 9]
        assert row[0].token_ids == row[1].token_ids == generate_greedy(model, request.prompt_ids, 12)
    state = torch.random.get_rng_state()
    first = tokens(engine.sample(requests, SAMPLED))
    assert torch.equal(torch.random.get_rng_state(), state)  # the global RNG is left alone
    assert tokens(engine.sample(requests, SAMPLED)) == first
    assert tokens(engine.sample(requests, SamplingConfig(**{**SAMPLED.__dict__, "seed": 1}))) != first


def test_registry_and_factory() -> None:
    assert {"torch", "hf", "vllm"} <= set(ENGINES.names())
    assert isinstance(make_engine("torch", build("llama"), TOKENIZER, batch_size=2), TorchEngine)
    with pytest.raises(ValueError, match="unknown engine 'tourch'; choose one of: hf, torch, vllm"):
        make_engine("tourch", None, None)
