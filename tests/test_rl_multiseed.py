"""Stacked seeds: seed s's log-probs, entropies and gradients from one vmapped call equal those of its own model on
its own batch (to 1e-6 at one shape, bit for bit where measured; to rounding when batches are padded to the longest)."""

from __future__ import annotations

import pytest
import torch

from rlvr_lab.models.loading import tiny_llama
from rlvr_lab.rl.logprobs import PackedBatch, pack, token_logprobs
from rlvr_lab.rl.multiseed import SeedStack, pad_batches

VOCAB = 40
EMBED = "model.embed_tokens.weight"


def _models(seeds: int) -> list:
    return [tiny_llama(VOCAB, hidden_size=32, num_layers=2, num_heads=2, seed=10 + s) for s in range(seeds)]


def _batch(seed: int, prompt_lengths: list[int], completion_lengths: list[int]) -> PackedBatch:
    gen = torch.Generator().manual_seed(seed)
    prompts = [torch.randint(3, VOCAB, (n,), generator=gen).tolist() for n in prompt_lengths]
    completions = [torch.randint(3, VOCAB, (n,), generator=gen).tolist() for n in completion_lengths]
    return pack(prompts, completions, pad_id=0)


def _loss(logprobs: torch.Tensor, entropy: torch.Tensor, batch: PackedBatch, weight: float) -> torch.Tensor:
    """A policy-gradient-shaped scalar: every completion token's log-prob and entropy, masked."""
    mask = batch.completion_mask
    return (weight * logprobs * mask).sum() + 0.01 * (entropy * mask).sum()


def _own(models: list, batches: list[PackedBatch]) -> tuple[list, list, list]:
    """Each model on its own batch: log-probs, entropies and gradients (by parameter name)."""
    logprobs, entropies, grads = [], [], []
    for s, (model, batch) in enumerate(zip(models, batches, strict=True)):
        model.zero_grad()
        lp, h = token_logprobs(model, batch, with_entropy=True)
        _loss(lp, h, batch, weight=s + 1.0).backward()
        logprobs.append(lp.detach())
        entropies.append(h.detach())
        grads.append({n: p.grad.clone() for n, p in model.named_parameters()})
    return logprobs, entropies, grads


def _stacked(models: list, batches: list[PackedBatch]) -> tuple[SeedStack, torch.Tensor, torch.Tensor]:
    stack = SeedStack.from_models(models)
    padded = pad_batches(batches, pad_id=0)
    lp, h = stack.token_logprobs(padded, with_entropy=True)
    total = sum(
        _loss(lp[s], h[s], PackedBatch(*(x[s] for x in vars(padded).values())), weight=s + 1.0)
        for s in range(len(models))
    )
    total.backward()
    return stack, lp.detach(), h.detach()


def test_one_shape_equals_each_seed_alone() -> None:
    """Bit for bit on the CPU this was written on; 1e-6 allowed, since another CPU's kernels may round a batched
    product and a single one differently."""
    models = _models(3)
    batches = [_batch(s, [4, 6, 5, 4], [7, 3, 5, 6]) for s in range(3)]  # same lengths, different tokens
    logprobs, entropies, grads = _own(models, batches)
    stack, lp, h = _stacked(models, batches)
    assert stack.seeds == 3
    for s in range(3):
        torch.testing.assert_close(lp[s], logprobs[s], atol=1e-6, rtol=0)
        torch.testing.assert_close(h[s], entropies[s], atol=1e-6, rtol=0)
        for name, value in stack.params.items():
            # the embedding's lookup backward adds repeated tokens' rows in another order under vmap
            atol = 1e-5 if name == EMBED else 1e-6
            torch.testing.assert_close(value.grad[s], grads[s][name], atol=atol, rtol=0, msg=name)
    assert "lm_head.weight" not in stack.params  # tied: the head's gradient lands on the stacked embedding
    assert (lp[0] - lp[1]).abs().max() > 1e-2  # the seeds' policies really differ: a mixed-up seed would fail


def test_padded_batches_match_each_seed_alone_to_rounding() -> None:
    models = _models(3)
    shapes = [([4, 6, 5], [7, 3, 5]), ([2, 3, 8], [1, 9, 2]), ([5, 5, 5], [4, 4, 4])]
    batches = [_batch(s, p, c) for s, (p, c) in enumerate(shapes)]
    logprobs, entropies, grads = _own(models, batches)
    stack, lp, h = _stacked(models, batches)
    for s, batch in enumerate(batches):
        C = batch.num_completion_columns
        mask = batch.completion_mask.bool()
        torch.testing.assert_close(lp[s, :, :C][mask], logprobs[s][mask], atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(h[s, :, :C][mask], entropies[s][mask], atol=1e-5, rtol=1e-5)
        for name in stack.params:
            torch.testing.assert_close(stack.params[name].grad[s], grads[s][name], atol=1e-5, rtol=1e-4)


def test_copy_into_writes_each_seed_back() -> None:
    models = _models(2)
    stack = SeedStack.from_models(models)
    with torch.no_grad():
        for value in stack.params.values():
            value.mul_(0.5)
    targets = _models(2)
    stack.copy_into(targets)
    for s in range(2):
        theirs = dict(targets[s].named_parameters())
        for name, value in dict(models[s].named_parameters()).items():
            assert torch.equal(theirs[name], value * 0.5), name


def test_pad_batches_refuses_unequal_row_counts() -> None:
    with pytest.raises(ValueError, match="equal row counts"):
        pad_batches([_batch(0, [3, 3], [2, 2]), _batch(1, [3], [2])], pad_id=0)
