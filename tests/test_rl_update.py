"""One rollout's update: micro-batching does not change the update; the old-log-prob pass reproduces the training
forward exactly (ratio 1 before any step); on-policy updates log exact zeros."""

from __future__ import annotations

import copy

import pytest
import torch

from rlvr_lab.models.loading import tiny_llama
from rlvr_lab.rl.logprobs import PackedBatch, pack
from rlvr_lab.rl.losses import LossConfig
from rlvr_lab.rl.schedule import Schedule
from rlvr_lab.rl.update import UpdateConfig, update_policy


def _rollout(seed: int = 0) -> tuple[PackedBatch, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    prompts = [
        torch.randint(3, 40, (int(n),), generator=gen).tolist() for n in torch.randint(1, 6, (12,), generator=gen)
    ]
    completions = [
        torch.randint(3, 40, (int(n),), generator=gen).tolist() for n in torch.randint(1, 9, (12,), generator=gen)
    ]
    return pack(prompts, completions, pad_id=0), torch.randn(12, generator=gen)


def _run(
    micro: int | None,
    schedule: Schedule,
    lr: float,
    aggregation: str = "seq-mean-token-mean",
    dtype: torch.dtype = torch.float32,
):
    model = tiny_llama(40, hidden_size=32, num_layers=2, num_heads=2, seed=2).to(dtype)
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr)
    batch, advantages = _rollout()
    config = UpdateConfig(schedule, LossConfig(aggregation=aggregation), micro, max_len=8, grad_clip=1.0)
    metrics = update_policy(model, None, optimizer, batch, advantages, config, seed=0, step=1)
    return model, metrics


@pytest.mark.parametrize("aggregation", ["seq-mean-token-mean", "token-mean", "seq-mean-token-sum-norm"])
def test_micro_batch_size_does_not_change_the_update(aggregation: str) -> None:
    """In float64, so that the check is the maths and not the CPU: in float32 Adam turns the rounding of the two
    groupings into parameter gaps of 5e-7 to 2.2e-5 depending on the CPU's kernels (an AVX2-only AMD EPYC broke a
    1e-5 tolerance); in float64 they are 1e-15, and a grouping bug moves parameters by about the learning rate."""
    schedule = Schedule(prompts_per_step=3, group_size=4, mini_batch_size=6, epochs=2)
    whole, m_whole = _run(None, schedule, 1e-2, aggregation, torch.float64)
    micro, m_micro = _run(4, schedule, 1e-2, aggregation, torch.float64)
    for a, b in zip(whole.parameters(), micro.parameters(), strict=True):
        torch.testing.assert_close(a, b, atol=1e-12, rtol=1e-10)
    assert m_whole["optim/updates"] == m_micro["optim/updates"] == 4.0
    assert m_whole["actor/pg_loss"] == pytest.approx(m_micro["actor/pg_loss"], abs=1e-6)


def test_old_logprobs_reproduce_the_training_forward_exactly() -> None:
    # lr 0: the policy never moves, so every ratio of every mini-batch must be exactly 1.
    schedule = Schedule(prompts_per_step=3, group_size=4, mini_batch_size=4, epochs=2)
    _, metrics = _run(3, schedule, 0.0)
    assert metrics["actor/clip_frac_low"] == metrics["actor/clip_frac_high"] == 0.0
    assert metrics["optim/updates"] == 6.0


def test_on_policy_update_logs_exact_zeros() -> None:
    """One update per rollout: ratios are exactly 1 and the reference (the policy before the update, scored by
    the no-grad pass on the same micro-batches) is bit-identical to the training forward."""
    schedule = Schedule(prompts_per_step=3, group_size=4, mini_batch_size=12, epochs=1)
    model = tiny_llama(40, hidden_size=32, num_layers=2, num_heads=2, seed=2)
    reference = copy.deepcopy(model).requires_grad_(False)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
    batch, advantages = _rollout()
    config = UpdateConfig(schedule, LossConfig(), 4, max_len=8, grad_clip=1.0)
    metrics = update_policy(model, reference, optimizer, batch, advantages, config, seed=0, step=1)
    assert metrics["actor/clip_frac_low"] == metrics["actor/clip_frac_high"] == 0.0
    assert metrics["actor/kl"] == 0.0
    assert metrics["optim/updates"] == 1.0


@pytest.mark.parametrize("on_policy", [True, False])
def test_sampler_mismatch_is_measured_before_the_first_step(on_policy: bool) -> None:
    """``actor/logprob_mismatch``: 0 against the trainer's own float32 log-probs, the size of the gap otherwise, in
    both the on-policy path (first micro-batches) and the off-policy one (the old-log-prob pass); bfloat16 autocast
    moves the trainer's log-probs by a small, non-zero amount."""
    from rlvr_lab.rl.update import adamw, reference_logprobs

    model = tiny_llama(40, hidden_size=32, num_layers=2, num_heads=2, seed=2)
    batch, advantages = _rollout()
    mini = 12 if on_policy else 4
    schedule = Schedule(prompts_per_step=3, group_size=4, mini_batch_size=mini, epochs=1)
    exact = reference_logprobs(model, batch, [torch.arange(12)])
    for dtype, low, high in [(torch.float32, 0.0, 1e-6), (torch.bfloat16, 1e-4, 0.1)]:
        config = UpdateConfig(schedule, LossConfig(), 4, max_len=8, grad_clip=1.0, dtype=dtype)
        trained = copy.deepcopy(model)
        optimizer = adamw(trained.parameters(), 0.0, (0.9, 0.99), 0.0, dtype)
        metrics = update_policy(trained, None, optimizer, batch, advantages, config, 0, 1, exact)
        assert low <= metrics["actor/logprob_mismatch"] <= high, (dtype, metrics["actor/logprob_mismatch"])
        assert metrics["actor/logprob_mismatch"] <= metrics["actor/logprob_mismatch_max"] <= 10 * high
        shifted = update_policy(
            trained, None, optimizer, batch, advantages, config, 0, 1, exact + 0.5 * batch.completion_mask
        )
        assert shifted["actor/logprob_mismatch"] == pytest.approx(0.5, abs=high)
    assert adamw(model.parameters(), 1e-3, (0.9, 0.99), 0.0, torch.bfloat16).defaults["fused"]


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
@pytest.mark.parametrize("entropy_grad", [False, True])
def test_the_training_forward_is_bit_for_bit_the_old_logprob_pass(dtype: torch.dtype, entropy_grad: bool) -> None:
    """The premise of skipping the pass for the first mini-batch: its forward with gradients on (as the update runs
    it, with the entropy) gives exactly the no-grad pass's log-probs on the same micro-batch."""
    from rlvr_lab.rl.logprobs import token_logprobs
    from rlvr_lab.rl.update import reference_logprobs

    model = tiny_llama(40, hidden_size=32, num_layers=2, num_heads=2, seed=2)
    batch, _ = _rollout()
    for rows in (torch.tensor([3, 0, 7, 5]), torch.arange(12)):
        part = batch.rows(rows)
        trained, _ = token_logprobs(model, part, with_entropy=True, dtype=dtype, entropy_grad=entropy_grad)
        passed = reference_logprobs(model, batch, [rows], dtype)[rows, : part.num_completion_columns]
        assert trained.requires_grad
        assert torch.equal(trained.detach(), passed)


def test_mini_batches_after_a_step_are_scored_against_the_policy_before_it() -> None:
    """Only the first mini-batch may take its own forward as π_old: after a large step the later mini-batches' ratios
    leave the clip range (a shortcut applied past the first step would log ratios of exactly 1 there)."""
    schedule = Schedule(prompts_per_step=3, group_size=4, mini_batch_size=4, epochs=1)
    _, metrics = _run(2, schedule, 0.5)
    assert metrics["optim/updates"] == 3.0
    assert metrics["actor/clip_frac_low"] + metrics["actor/clip_frac_high"] > 0.05
