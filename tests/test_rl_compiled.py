"""``TrainConfig.compile``: the compiled forward computes the eager one's log-probs and gradients, and a second model
of the same architecture (the next run in a demo worker) reuses the graphs instead of compiling again.

Slow: inductor compiles C++ on first use (tens of seconds with its on-disk cache cold).
"""

from __future__ import annotations

import copy
import shutil

import pytest
import torch
from torch._dynamo.utils import counters

from rlvr_lab.models.loading import tiny_llama
from rlvr_lab.rl.compiled import compile_forward
from rlvr_lab.rl.logprobs import pack, token_logprobs
from test_engines import _one_thread  # noqa: F401  (autouse: one intra-op thread, the count restored after)

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        shutil.which("c++") is None and shutil.which("g++") is None, reason="inductor needs a C++ compiler"
    ),
]


def _batch(prompt: int, completion: int, seed: int):
    g = torch.Generator().manual_seed(seed)
    prompts = torch.randint(3, 60, (4, prompt), generator=g).tolist()
    completions = torch.randint(3, 60, (4, completion), generator=g).tolist()
    completions[1] = completions[1][: completion - 2]  # a shorter row: padding inside the micro-batch
    return pack(prompts, completions, pad_id=0)


def _logprobs_and_grads(model, batch):
    model.zero_grad(set_to_none=True)
    logprobs, _ = token_logprobs(model, batch)
    (logprobs * batch.completion_mask).sum().backward()
    return logprobs.detach(), {name: p.grad.clone() for name, p in model.named_parameters()}


def test_compiled_forward_matches_eager_and_a_second_model_reuses_its_graphs() -> None:
    first = tiny_llama(64, hidden_size=32, num_layers=2, num_heads=2, seed=0)
    second = tiny_llama(64, hidden_size=32, num_layers=2, num_heads=2, seed=1)
    eager_first, eager_second = copy.deepcopy(first), copy.deepcopy(second)
    keys = list(first.state_dict())
    for model in (first, second):
        compile_forward(model)
    assert list(first.state_dict()) == keys  # in place: checkpoints keep their names
    counters.clear()
    for prompt, completion, seed in ((5, 7, 0), (3, 11, 1)):  # two lengths: one dynamic graph serves both
        batch = _batch(prompt, completion, seed)
        got, got_grads = _logprobs_and_grads(first, batch)
        want, want_grads = _logprobs_and_grads(eager_first, batch)
        mask = batch.completion_mask.bool()
        assert torch.allclose(got[mask], want[mask], atol=1e-5, rtol=0), (got - want).abs()[mask].max()
        for name, grad in want_grads.items():
            assert torch.allclose(got_grads[name], grad, atol=1e-5, rtol=1e-4), name
    graphs = counters["stats"]["unique_graphs"]
    assert graphs >= 1
    batch = _batch(4, 9, 2)  # another model of the same architecture, another length: no new graph
    got, _ = _logprobs_and_grads(second, batch)
    want, _ = _logprobs_and_grads(eager_second, batch)
    assert counters["stats"]["unique_graphs"] == graphs
    mask = batch.completion_mask.bool()
    assert torch.allclose(got[mask], want[mask], atol=1e-5, rtol=0)
