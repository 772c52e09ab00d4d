"""The native decode step (``path="native"``): each decode step in one C++ call, against the eager lean step and
a float32 forward.

The native step rounds where the eager step rounds but sums in another order, so the tests hold it as close to
float32 as the eager step of its dtype is (not bit for bit), with rows at different positions (continuous batching),
grouped and ungrouped heads, biases, and every head size it compiles for: in bfloat16 against a float32 decoder, in
float32 against the eager float32 step (to float32 rounding) and, on a shipped organism, sample for sample. The first
test in a fresh home builds the extension (about 25 s on two cores); later runs load it from torch's extension cache.
"""

from __future__ import annotations

import dataclasses

import pytest
import torch
from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedModel

from rlvr_lab.engines import SampleRequest, SamplingConfig, native_step
from rlvr_lab.engines.lean_decoder import LeanDecoder
from rlvr_lab.engines.native_step import missing_build_tools
from rlvr_lab.engines.torch_engine import TorchEngine
from rlvr_lab.runtime.precision import packed_bf16_linear
from test_engines import (
    TOKENIZER,
    VOCAB,
    _one_thread,  # noqa: F401  (autouse: one intra-op thread, as there)
    prompts,
    teacher_forced,
)

MISSING = missing_build_tools()
pytestmark = pytest.mark.skipif(MISSING is not None, reason=f"the native step's build needs {MISSING}")
BF16 = pytest.mark.skipif(
    not packed_bf16_linear(), reason="needs a CPU with native bfloat16 and torch built with oneDNN"
)

SHAPES = {
    # head_dim 64, two query heads per key head, q/k/v and output biases (passed through to oneDNN)
    "gqa-64-bias": {"hidden_size": 256, "num_attention_heads": 4, "num_key_value_heads": 2, "attention_bias": True},
    # head_dim 128, one key head for both query heads
    "mqa-128": {"hidden_size": 256, "num_attention_heads": 2, "num_key_value_heads": 1},
    # the organisms' head sizes: head_dim 40 (hidden 160, four heads; v2) and 32 (hidden 128, four heads; v1)
    "mha-40": {"hidden_size": 160, "num_attention_heads": 4, "num_key_value_heads": 4},
    "mha-32": {"hidden_size": 128, "num_attention_heads": 4, "num_key_value_heads": 4},
}
BF16_SHAPES = ("gqa-64-bias", "mqa-128")


def build(shape: str, seed: int = 0) -> PreTrainedModel:
    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=VOCAB,
        intermediate_size=384,
        num_hidden_layers=2,
        max_position_embeddings=96,
        pad_token_id=0,
        eos_token_id=TOKENIZER.eos_token_id,
        bos_token_id=None,
        initializer_range=0.1,
        **SHAPES[shape],
    )
    return LlamaForCausalLM(config).eval()


def rows_at_positions(model: PreTrainedModel) -> tuple[list[list[int]], list[int]]:
    """Four prompts of 3 to 11 tokens, so the rows decode at different positions."""
    lengths = [3, 11, 7, 5]
    gen = torch.Generator().manual_seed(1)
    return [torch.randint(3, VOCAB, (n,), generator=gen).tolist() for n in lengths], lengths


@BF16
@pytest.mark.parametrize("shape", BF16_SHAPES)
def test_native_step_is_as_close_to_float32_as_the_eager_step(shape: str) -> None:
    """Six steps of rows at positions 3 to 11: the logits' largest gap to a float32 decoder, and every key and value
    the step writes, against the eager bfloat16 step's."""
    model = build(shape)
    rows, lengths = rows_at_positions(model)
    eager, native, reference = (
        LeanDecoder(model, len(rows), 32, torch.bfloat16),
        LeanDecoder(model, len(rows), 32, torch.bfloat16, native=True),
        LeanDecoder(model, len(rows), 32, torch.float32),
    )
    with torch.inference_mode():
        for decoder in (eager, native, reference):
            logits = decoder.prefill(torch.arange(len(rows)), rows)
        positions = torch.tensor(lengths)
        for _ in range(6):
            tokens = logits.argmax(-1)
            span = int(positions.max()) + 1
            logits = reference.decode(tokens, positions, span)
            gap = {d: (d.decode(tokens, positions, span).float() - logits).abs().max().item() for d in (eager, native)}
            assert gap[native] <= 1.5 * gap[eager] + 0.02 * logits.abs().max().item(), gap
            for ours, theirs in zip(native.cache, eager.cache, strict=True):
                written = ours[torch.arange(len(rows)), :, :, positions].float()
                expected = theirs[torch.arange(len(rows)), :, :, positions].float()
                torch.testing.assert_close(written, expected, atol=0.05, rtol=2**-6)
            positions = positions + 1


@pytest.mark.parametrize("mixed", [False, True], ids=["as-built", "one-unpacked"])
@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_native_float32_step_matches_the_eager_float32_step(shape: str, mixed: bool) -> None:
    """In float32 the native step is the eager step with sums in another order (oneDNN products on prepacked
    weights, our own attention and norms): six steps of rows at positions 3 to 11, logits and every key and value
    written within float32 rounding of the eager step's. ``one-unpacked``: the first layer's q/k/v projection left
    unpacked, as when oneDNN refuses one shape; each projection's own flag says how to multiply by it."""
    model = build(shape)
    rows, lengths = rows_at_positions(model)
    eager, native = (LeanDecoder(model, len(rows), 32, torch.float32, native=n) for n in (False, True))
    packs = native_step.packs_float32(torch.device("cpu"))
    assert native.native is not None and native.native.packed == [packs] * len(native.projections())
    if mixed:
        native.layers[0] = dataclasses.replace(native.layers[0], qkv=eager.layers[0].qkv)
        native.native = native_step.StepWeights.of(native)
        assert native.native.packed[0] is False and native.native.packed[1:] == [packs] * (
            len(native.projections()) - 1
        )
    with torch.inference_mode():
        logits = eager.prefill(torch.arange(len(rows)), rows)
        native.prefill(torch.arange(len(rows)), rows)
        positions = torch.tensor(lengths)
        for _ in range(6):
            tokens = logits.argmax(-1)
            span = int(positions.max()) + 1
            logits = eager.decode(tokens, positions, span)
            ours = native.decode(tokens, positions, span)
            assert ours.dtype == torch.float32
            torch.testing.assert_close(ours, logits, atol=1e-5 * logits.abs().max().item(), rtol=1e-5)
            for mine, theirs in zip(native.cache, eager.cache, strict=True):
                index = torch.arange(len(rows)), slice(None), slice(None), positions
                torch.testing.assert_close(mine[index], theirs[index], atol=1e-5, rtol=1e-5)
            positions = positions + 1


@pytest.mark.parametrize("dtype", [torch.float32, pytest.param(torch.bfloat16, marks=BF16)])
def test_the_native_step_never_reads_a_position_it_has_not_written(dtype: torch.dtype) -> None:
    """Its cache is left unfilled: every unwritten position poisoned with NaN before the prefill gives the same
    logits, bit for bit, as a zeroed cache, over steps where the rows sit at different positions and one row is
    refilled with another prompt part-way (continuous batching)."""
    model = build("mha-40")
    rows, lengths = rows_at_positions(model)
    clean, poisoned = (LeanDecoder(model, len(rows), 32, dtype, native=True) for _ in range(2))
    for cache in clean.cache:
        cache.zero_()
    for cache in poisoned.cache:
        cache.fill_(float("nan"))
    with torch.inference_mode():
        logits = [d.prefill(torch.arange(len(rows)), rows) for d in (clean, poisoned)]
        positions = torch.tensor(lengths)
        for step in range(8):
            if step == 4:  # row 1 (at position 15) starts a 3-token prompt: its old keys stay behind, unread
                for d, out in zip((clean, poisoned), logits, strict=True):
                    out[1] = d.prefill(torch.tensor([1]), [rows[0]])[0]
                positions[1] = lengths[0]
            tokens = logits[0].argmax(-1)
            span = int(positions.max()) + 1
            logits = [d.decode(tokens, positions, span) for d in (clean, poisoned)]
            assert torch.isfinite(logits[1]).all()
            assert torch.equal(logits[0], logits[1])
            positions = positions + 1


def test_native_float32_samples_the_organism_as_the_lean_step_does() -> None:
    """The shipped ``qwen-math-like-v2`` through the engine, 4 problems × 32 samples at temperature 1, native against
    lean on the same seeds: the same completions (a token can differ only where two lie within float32 rounding of
    each other in the inverse CDF, which 128 samples of about 25 tokens do not reach) and log-probs within float32
    rounding (the largest gap falls on an unlikely token, whose log-prob is large)."""
    from rlvr_lab.models.loading import load_model

    model, tokenizer = load_model("qwen-math-like-v2")
    requests = [
        SampleRequest(tokenizer.encode(f"What is {a} + {b}?"), f"p{a}", tuple(range(32))) for a, b in ((3, 4), (12, 9))
    ] + [SampleRequest(tokenizer.encode(f"Compute {a}*{b}."), f"q{a}", tuple(range(32))) for a, b in ((7, 8), (6, 5))]
    config = SamplingConfig(temperature=1.0, max_new_tokens=48, seed=3)
    runs = {
        path: TorchEngine(model, tokenizer, batch_size=48, path=path).sample(requests, config)
        for path in ("lean", "native")
    }
    lean, native = ([c for row in runs[path] for c in row] for path in ("lean", "native"))
    assert [c.token_ids for c in native] == [c.token_ids for c in lean]
    assert sum(len(c.token_ids) for c in lean) > 128 * 5  # real answers, not an immediate end of text
    gaps = [abs(a - b) for x, y in zip(native, lean, strict=True) for a, b in zip(x.logprobs, y.logprobs, strict=True)]
    assert max(gaps) < 1e-3 and sum(gaps) / len(gaps) < 1e-5  # measured: 1.0e-4 and 1.1e-6


@BF16
def test_native_engine_logprobs_match_a_float32_forward_as_the_lean_ones_do() -> None:
    """Through the engine: three rows refilled from seven requests, two samples each, with raw log-probs compared
    against a float32 teacher-forced forward on the sampled tokens, native against lean."""
    model = build("gqa-64-bias", 2)
    requests = [SampleRequest(r.prompt_ids, r.key, (0, 1)) for r in prompts(3, 7)]
    config = SamplingConfig(temperature=1.0, max_new_tokens=12)
    mean_gap = {}
    for path in ("lean", "native"):
        engine = TorchEngine(model, TOKENIZER, batch_size=3, path=path, dtype="bfloat16", eos_token_ids=())
        gaps = []
        for request, row in zip(requests, engine.sample(requests, config), strict=True):
            for completion in row:
                assert len(completion.token_ids) == 12
                expected = teacher_forced(model, request.prompt_ids, completion.token_ids)
                gaps.append((torch.tensor(completion.logprobs) - expected).abs())
        mean_gap[path] = torch.cat(gaps).mean().item()
    assert 0 < mean_gap["native"] <= 1.5 * mean_gap["lean"] + 0.01, mean_gap


def test_native_step_names_what_it_cannot_run() -> None:
    model = build("gqa-64-bias")
    with pytest.raises(ValueError, match=r"computes in float32 or bfloat16, not torch\.float16"):
        LeanDecoder(model, 2, 16, torch.float16, native=True)
    with pytest.raises(ValueError, match=r"float32 or bfloat16, and this engine's dtype is torch\.float16"):
        TorchEngine(model, TOKENIZER, path="native", dtype=torch.float16)  # refused before any sampling
    torch.manual_seed(0)
    small = LlamaForCausalLM(
        LlamaConfig(
            vocab_size=VOCAB,
            hidden_size=64,
            intermediate_size=96,
            num_hidden_layers=1,
            num_attention_heads=4,
            bos_token_id=None,
            eos_token_id=1,
            pad_token_id=0,
        )
    )
    native = LeanDecoder(model, 2, 16, torch.float32, native=True)
    with pytest.raises(RuntimeError, match="row 1 at position 16 outside a cache of 16"):  # never a stray write
        native.decode(torch.tensor([5, 6]), torch.tensor([3, 16]), 16)
    with pytest.raises(ValueError, match="head_dim 16"):
        LeanDecoder(small, 2, 16, torch.float32, native=True)
    with pytest.raises(ValueError, match="path='native' cannot run"):
        from test_engines import build as build_arch

        TorchEngine(build_arch("gpt2"), TOKENIZER, path="native", dtype="float32").sample(
            prompts(0, 1), SamplingConfig(temperature=0, max_new_tokens=2)
        )
