"""Token choice (seeded uniforms, truncation against transformers' own warpers) and the vLLM mapping."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest
import torch
from transformers import TemperatureLogitsWarper, TopKLogitsWarper, TopPLogitsWarper

from rlvr_lab.engines.base import SamplingConfig
from rlvr_lab.engines.sampling import (
    CDF_BLOCK,
    TOP_P_CANDIDATES,
    choose_tokens,
    inverse_cdf,
    step_uniforms,
    stream_id,
    token_logprobs,
)
from rlvr_lab.engines.vllm_engine import import_vllm, sampling_params_kwargs

HAS_VLLM = importlib.util.find_spec("vllm") is not None


def test_stream_ids_are_stable_across_processes_and_versions() -> None:
    """Pinned values: changing the hash would silently break resuming stores sampled before the change."""
    assert stream_id(0, "q1", 3) == 5313747773312698815
    first = step_uniforms(np.array([stream_id(0, "q1", 3)], dtype=np.uint64), np.array([0]))[0]
    assert first == pytest.approx(0.762296694870489, abs=1e-15)
    assert len({stream_id(s, k, i) for s in (0, 1) for k in ("a", "b", "a\x1f0") for i in (0, 1)}) == 12


def test_step_uniforms_are_uniform_and_elementwise() -> None:
    ids = np.array([stream_id(0, f"p{i}", 0) for i in range(200)], dtype=np.uint64)
    grid = np.repeat(ids, 500)
    steps = np.tile(np.arange(500), 200)
    u = step_uniforms(grid, steps)
    assert u.min() > 0 and u.max() < 1
    assert abs(u.mean() - 0.5) < 0.005 and abs(u.var() - 1 / 12) < 0.002
    assert np.histogram(u, bins=10, range=(0, 1))[0].min() > 9_500  # 10,000 expected per bin
    # a value depends on its own (stream, step) only, not on the rest of the batch
    assert step_uniforms(grid[1234:1235], steps[1234:1235])[0] == u[1234]


def evenly_spaced_frequencies(logits: torch.Tensor, n: int, **sampling: float) -> torch.Tensor:
    """Token frequencies of ``choose_tokens`` fed the uniforms ``(i + 0.5) / n``: within ``1/n`` of the
    sampled distribution's probabilities, exactly, with no sampling noise."""
    rows, vocab = logits.shape
    u = ((torch.arange(n, dtype=torch.float64) + 0.5) / n).repeat(rows)
    picked = choose_tokens(logits.repeat_interleave(n, dim=0), u, **sampling).view(rows, n)
    return torch.stack([torch.bincount(row, minlength=vocab) for row in picked]).double() / n


@pytest.mark.parametrize(
    ("temperature", "top_k", "top_p"), [(1.0, 0, 1.0), (0.6, 0, 1.0), (1.0, 7, 1.0), (0.8, 0, 0.7), (1.3, 12, 0.9)]
)
def test_distribution_matches_transformers_warpers(temperature: float, top_k: int, top_p: float) -> None:
    logits = torch.randn(4, 40, generator=torch.Generator().manual_seed(0)) * 2
    scores = TemperatureLogitsWarper(temperature)(None, logits.clone())
    if top_k:
        scores = TopKLogitsWarper(top_k)(None, scores)
    if top_p < 1:
        scores = TopPLogitsWarper(top_p)(None, scores)
    expected = torch.softmax(scores.double(), dim=-1)
    n = 20_000
    freq = evenly_spaced_frequencies(logits, n, temperature=temperature, top_k=top_k, top_p=top_p)
    assert torch.all(freq[expected == 0] == 0)  # truncated tokens are never drawn
    assert (freq - expected).abs().max() <= 1 / n + 1e-9


def test_greedy_and_logprobs() -> None:
    logits = torch.tensor([[0.1, 2.0, -1.0, 2.0], [3.0, 0.0, 0.0, 0.0]])
    chosen = choose_tokens(logits, torch.tensor([0.99, 0.01], dtype=torch.float64), 0.0, 0, 1.0)
    assert chosen.tolist() == [1, 0]  # first maximum on ties, uniforms ignored
    expected = torch.log_softmax(logits, -1)[[0, 1], [1, 0]]
    torch.testing.assert_close(token_logprobs(logits, chosen), expected)


def test_vllm_sampling_params_mapping() -> None:
    config = SamplingConfig(n=8, temperature=0.6, top_p=0.95, top_k=0, max_new_tokens=300, seed=4, stop_token_ids=(7,))
    kwargs = sampling_params_kwargs(config, "q1", 3, eos_token_ids=None)
    assert kwargs == {
        "n": 1,
        "temperature": 0.6,
        "top_p": 0.95,
        "top_k": -1,
        "max_tokens": 300,
        "seed": (stream_id(4, "q1", 0) >> 2) + 3,  # the prompt's base + the index: vLLM's child seeds (seed + j)
        "stop_token_ids": [7],
        "ignore_eos": False,
        "logprobs": 0,
    }
    assert 0 <= kwargs["seed"] < 2**63
    run = sampling_params_kwargs(config, "q1", 3, eos_token_ids=None, n=5)  # samples 3..7 in one request
    assert (run["n"], run["seed"]) == (5, kwargs["seed"])
    replaced = sampling_params_kwargs(SamplingConfig(top_k=5, stop_token_ids=(7,)), "q1", 0, eos_token_ids=(2, 9))
    assert (replaced["top_k"], replaced["stop_token_ids"], replaced["ignore_eos"]) == (5, [2, 7, 9], True)


@pytest.mark.skipif(HAS_VLLM, reason="vllm is installed: the missing-package message cannot be shown")
def test_vllm_missing_names_the_install_command() -> None:
    with pytest.raises(ImportError, match="pip install vllm"):
        import_vllm()


@pytest.mark.skipif(
    not HAS_VLLM or not torch.cuda.is_available(),
    reason="needs vllm and a CUDA GPU; it would check that greedy vLLM tokens equal generate's on a saved "
    "config-built Llama and that the returned log-probs equal a teacher-forced pass (raw, T=1)",
)
def test_vllm_engine_greedy_and_logprobs(tmp_path) -> None:
    from rlvr_lab.engines import SampleRequest, make_engine
    from rlvr_lab.models.loading import tiny_llama
    from rlvr_lab.organism.tokenizer import build_char_tokenizer

    tokenizer = build_char_tokenizer()
    model = tiny_llama(len(tokenizer), hidden_size=64, num_layers=2, max_position_embeddings=256)
    model.save_pretrained(tmp_path)
    tokenizer.save_pretrained(tmp_path)
    engine = make_engine("vllm", str(tmp_path), None, dtype="float32", gpu_memory_utilization=0.2)
    prompt = tokenizer.encode("1+2=")
    result = engine.sample([SampleRequest(prompt, "q")], SamplingConfig(temperature=0, max_new_tokens=16))[0][0]
    with torch.inference_mode():
        expected = model.generate(torch.tensor([prompt]), do_sample=False, max_new_tokens=16)[0, len(prompt) :]
        logits = model(torch.tensor([prompt + result.token_ids])).logits[0, len(prompt) - 1 : -1]
    assert result.token_ids == expected.tolist()
    reference = torch.log_softmax(logits, -1).gather(-1, torch.tensor(result.token_ids)[:, None]).squeeze(-1)
    torch.testing.assert_close(torch.tensor(result.logprobs), reference, atol=1e-3, rtol=0)


def test_two_level_inverse_cdf_equals_one_running_sum_and_skips_zero_mass() -> None:
    """Block sums then an in-block running sum pick what one float64 running sum over the vocabulary picks, and
    never a token of probability 0 (vocabularies below, at and above a block, and not a multiple of it)."""
    gen = torch.Generator().manual_seed(0)
    for vocab in (40, CDF_BLOCK, 1000, 49152):
        probs = torch.softmax(torch.randn(64, vocab, generator=gen) * 4, dim=-1)
        probs[:, ::7] = 0.0  # truncated tokens, as top-p leaves them
        uniforms = torch.rand(64, generator=gen, dtype=torch.float64)
        cdf = probs.cumsum(dim=-1, dtype=torch.float64)
        expected = torch.searchsorted(cdf, uniforms.unsqueeze(-1) * cdf[:, -1:], right=True).squeeze(-1)
        picked = inverse_cdf(probs, uniforms)
        assert torch.equal(picked, expected), vocab
        assert bool((probs.gather(1, picked.unsqueeze(-1)) > 0).all())
    edge = torch.tensor([[0.5, 0.5, 0.0]])  # the largest uniform must not land on the zero-mass tail
    assert inverse_cdf(edge, torch.tensor([1 - 2**-53], dtype=torch.float64)).tolist() == [1]


def test_top_p_reads_its_candidates_as_the_sorted_definition_would() -> None:
    """Top-p over the highest-scoring candidates picks what sorting the whole row picks: the same tokens, in the
    same order (descending, ties by id), with the row sorted in full where the nucleus does not end inside the
    candidates. Rows: peaked, flat, fully tied (every score equal, the nucleus is most of the row) and bfloat16
    scores with ties across the candidates' edge; the reference takes the same float32 probabilities, so any
    difference is one of selection or order, not of rounding."""
    gen = torch.Generator().manual_seed(0)
    vocab = 3 * TOP_P_CANDIDATES + 17
    logits = (torch.randn(96, vocab, generator=gen) * 2).to(torch.bfloat16).float()
    logits[:32, :5] += torch.rand(32, 5, generator=gen) * 12  # peaked: a nucleus of a few tokens
    logits[32:40] = 0.0  # every score tied
    logits[40:48] = logits[40:48].round()  # wide ties, also across the candidates' edge
    uniforms = torch.rand(96, generator=gen, dtype=torch.float64)
    for temperature, top_p in ((0.6, 0.95), (1.0, 0.5), (1.0, 0.99), (1.7, 0.9)):
        scores = logits / temperature
        _, order = scores.sort(dim=-1, descending=True, stable=True)
        probs = torch.softmax(scores, dim=-1).gather(-1, order)
        mass_before = probs.cumsum(dim=-1, dtype=torch.float64) - probs
        expected = order.gather(-1, inverse_cdf(probs.masked_fill(mass_before >= top_p, 0.0), uniforms)[:, None])
        picked = choose_tokens(logits, uniforms, temperature, 0, top_p)
        assert torch.equal(picked, expected.squeeze(-1)), (temperature, top_p)
