"""bfloat16 sampling in the ``torch`` engine: the same tokens as ``generate`` in bfloat16, and log-probs within a
stated tolerance of float32 on the same tokens.

Runs on any CPU. Where bfloat16 is native (oneDNN's kernels) the lean decoder's tokens are ``generate``'s exactly.
Where torch emulates it (an AVX2-only CPU, e.g. an AMD EPYC of the Zen 3 generation) its kernels are not invariant
to the shape of a call: ``scaled_dot_product_attention`` on a prompt padded to a longer one's width rounds its rows
differently from the prompt alone (by 0.004 on unit-variance inputs), so the logits of a batched prefill differ from
``generate``'s by one or two bfloat16 steps, and greedy decoding may part at a near tie. There the tokens must agree
up to such a tie. ``--dtype auto`` depends on the hardware too (tests/test_precision.py).
"""

from __future__ import annotations

import copy
import math

import pytest
import torch

from rlvr_lab.engines import SampleRequest, SamplingConfig
from rlvr_lab.engines.native_step import missing_build_tools
from rlvr_lab.engines.torch_engine import TorchEngine
from rlvr_lab.rl.logprobs import pack, pack_logprobs, token_logprobs
from rlvr_lab.runtime.precision import packed_bf16_linear
from test_engines import (
    TOKENIZER,
    _one_thread,  # noqa: F401  (autouse: one intra-op thread, as there)
    build,
    generate_greedy,
    prompts,
)
from test_smollm import needs_smollm

LOGPROB_MEAN_TOL = 0.1
"""Mean |log p(bf16 sampler) - log p(fp32 forward)| over sampled tokens allowed on SmolLM2-135M (measured 0.05:
bfloat16 keeps 8 significant bits, so each of the 30 layers rounds activations at about 0.4%)."""
LOGPROB_MAX_TOL = 1.0
"""Largest single-token gap allowed (measured 0.41 over 2,048 tokens)."""


NEAR_TIE_STEPS = 2
"""How many bfloat16 steps (at the top logit's magnitude) apart two tokens may be and still count as tied where
bfloat16 is emulated: the gaps measured on such a CPU were one step (0.031 at a logit of 4.9) or an exact tie."""


def agree_up_to_a_near_tie(model: torch.nn.Module, prompt: list[int], got: list[int], expected: list[int]) -> bool:
    """``got`` equals ``expected`` (``generate``'s greedy tokens), or first parts from it where ``generate``'s own
    bfloat16 logits put ``got``'s token within :data:`NEAR_TIE_STEPS` steps of its choice."""
    parted = next((i for i, (a, b) in enumerate(zip(got, expected, strict=False)) if a != b), None)
    if parted is None:
        return len(got) == len(expected)
    with torch.inference_mode():
        logits = model(torch.tensor([prompt + expected[:parted]])).logits[0, -1].float()
    top = float(logits[expected[parted]])
    step = 2.0 ** (math.floor(math.log2(abs(top))) - 7) if top != 0 else 2.0**-133  # bfloat16 keeps 8 bits
    return top - float(logits[got[parted]]) <= NEAR_TIE_STEPS * step


@pytest.mark.parametrize(
    ("arch", "path"),
    [("llama", "lean"), ("llama-gqa", "lean"), ("qwen2", "lean"), ("qwen3", "lean"), ("gpt2", "generic")],
)
def test_bf16_greedy_equals_generate_in_bf16(arch: str, path: str) -> None:
    model = build(arch, 0).to(torch.bfloat16)
    requests = prompts(0, 5)
    engine = TorchEngine(model, TOKENIZER, batch_size=2, path=path)  # a bfloat16 model samples in bfloat16
    assert engine.dtype == torch.bfloat16
    result = engine.sample(requests, SamplingConfig(temperature=0, max_new_tokens=16))
    for request, row in zip(requests, result, strict=True):
        expected = generate_greedy(model, request.prompt_ids, 16)
        if packed_bf16_linear():  # native bfloat16: the same numbers, so the same tokens
            assert row[0].token_ids == expected, request.key
        else:
            assert agree_up_to_a_near_tie(model, list(request.prompt_ids), row[0].token_ids, expected), request.key


def test_a_near_tie_is_all_that_excuses_a_different_token() -> None:
    """The emulated-bfloat16 criterion above fails a sampler that parts from ``generate`` at a clear gap."""
    model = build("llama", 0).to(torch.bfloat16)
    prompt = prompts(0, 1)[0].prompt_ids
    expected = generate_greedy(model, prompt, 16)
    with torch.inference_mode():
        logits = model(torch.tensor([prompt])).logits[0, -1].float()
    worst = int(logits.argmin())  # far below the top: no rounding explains choosing it
    assert agree_up_to_a_near_tie(model, prompt, expected, expected)
    assert not agree_up_to_a_near_tie(model, prompt, [worst, *expected[1:]], expected)
    assert not agree_up_to_a_near_tie(model, prompt, expected[:-1], expected)  # stopped early


@pytest.mark.parametrize("path", ["lean", "generic"])
def test_float32_model_sampled_in_bf16_leaves_the_model_alone(path: str) -> None:
    """``dtype='bfloat16'`` on a float32 model samples from bfloat16 copies: the model keeps its float32 weights,
    and the tokens differ from float32 sampling only through rounding."""
    model = build("qwen2", 1)
    before = copy.deepcopy(model.state_dict())
    requests = [SampleRequest(r.prompt_ids, r.key, (0, 1, 2)) for r in prompts(1, 4)]
    config = SamplingConfig(temperature=1.0, max_new_tokens=16)
    bf16 = TorchEngine(model, TOKENIZER, batch_size=4, path=path, dtype="bfloat16").sample(requests, config)
    fp32 = TorchEngine(model, TOKENIZER, batch_size=4, path=path, dtype="float32").sample(requests, config)
    assert all(v.dtype == torch.float32 and torch.equal(v, before[k]) for k, v in model.state_dict().items())
    pairs = [(a, b) for ra, rb in zip(bf16, fp32, strict=True) for a, b in zip(ra, rb, strict=True)]
    same_first = sum(a.token_ids[0] == b.token_ids[0] for a, b in pairs)
    assert same_first >= 0.75 * len(pairs)  # the first token's distribution is nearly the same in both
    flat = [(request, c) for request, row in zip(requests, bf16, strict=True) for c in row]
    batch = pack([r.prompt_ids for r, _ in flat], [c.token_ids for _, c in flat], pad_id=0)
    with torch.no_grad():
        reference, _ = token_logprobs(model, batch)  # float32 forward on the bf16 sampler's tokens
    mask = batch.completion_mask
    gap = (pack_logprobs([c.logprobs for _, c in flat], mask.shape[1]) - reference).abs() * mask
    assert 1e-4 < gap.sum() / mask.sum() <= LOGPROB_MEAN_TOL, gap.sum() / mask.sum()


@pytest.mark.slow
@needs_smollm
@pytest.mark.parametrize("path", ["lean", "native"])
def test_bf16_logprobs_within_tolerance_of_fp32_on_smollm2(path: str) -> None:
    """The bf16 sampler's log-probs against a float32 forward on the same tokens (SmolLM2-135M, 4 x 32 tokens),
    with the eager decode step and with the native one (tests/test_native_step.py)."""
    from rlvr_lab.models.loading import load_model

    if path == "native" and not packed_bf16_linear():
        pytest.skip("the native step needs a CPU with native bfloat16 and torch built with oneDNN")
    if path == "native" and (missing := missing_build_tools()) is not None:
        pytest.skip(f"the native step's build needs {missing}")

    model, tokenizer = load_model("smollm2-135m")
    gen = torch.Generator().manual_seed(0)
    requests = [SampleRequest(torch.randint(100, 40000, (24,), generator=gen).tolist(), f"p{i}") for i in range(4)]
    engine = TorchEngine(model, tokenizer, batch_size=4, eos_token_ids=(), dtype="bfloat16", path=path)
    result = engine.sample(requests, SamplingConfig(temperature=1.0, max_new_tokens=32))
    completions = [row[0] for row in result]
    batch = pack([r.prompt_ids for r in requests], [c.token_ids for c in completions], pad_id=0)
    with torch.no_grad():
        fp32, _ = token_logprobs(model, batch)
    gap = (torch.tensor([c.logprobs for c in completions]) - fp32).abs()
    assert gap.mean() <= LOGPROB_MEAN_TOL and gap.max() <= LOGPROB_MAX_TOL, (gap.mean(), gap.max())
    assert gap.mean() > 1e-3  # it did sample in bfloat16: float32 agrees to ~1e-5


@pytest.mark.skipif(not packed_bf16_linear(), reason="needs a CPU with native bfloat16 and torch built with oneDNN")
@pytest.mark.parametrize("arch", ["llama", "llama-gqa", "qwen3"])
def test_prepacked_projections_give_the_plain_logits_bit_for_bit(arch: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The lean decoder's oneDNN-prepacked bfloat16 projections change the speed only: prefill and decode logits
    equal those of plain ``F.linear`` exactly."""
    import rlvr_lab.engines.lean_decoder as lean

    model = build(arch, 2).to(torch.bfloat16)
    prompt_ids = [r.prompt_ids for r in prompts(2, 3)]
    rows = torch.arange(len(prompt_ids))

    def run() -> tuple[torch.Tensor, torch.Tensor, bool]:
        with torch.inference_mode():
            decoder = lean.LeanDecoder(model, len(prompt_ids), 24, torch.bfloat16)
            first = decoder.prefill(rows, prompt_ids)
            positions = torch.tensor([len(p) for p in prompt_ids])
            second = decoder.decode(first.argmax(-1), positions, int(positions.max()) + 1)
        return first, second, isinstance(decoder.head, lean._PackedLinear)

    packed_first, packed_second, was_packed = run()
    monkeypatch.setattr(lean, "packed_bf16_linear", lambda device: False)
    plain_first, plain_second, plain_packed = run()
    assert was_packed and not plain_packed
    assert torch.equal(packed_first, plain_first) and torch.equal(packed_second, plain_second)
