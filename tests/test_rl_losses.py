"""Policy loss: hand-computed clipped / unclipped losses, each aggregation, clip fractions, KL, entropy bonus."""

from __future__ import annotations

import math

import pytest
import torch

from rlvr_lab.rl.losses import AGGREGATIONS, CLIP_MODES, LossConfig, Normaliser, k3_kl, policy_loss

# Two sequences, three columns; the second has one padded column. Ratios are exp(logp - old).
RATIOS = torch.tensor([[1.5, 0.5, 1.0], [1.5, 0.5, 1.0]], dtype=torch.float64)
MASK = torch.tensor([[1.0, 1.0, 1.0], [1.0, 1.0, 0.0]], dtype=torch.float64)
ADV = torch.tensor([1.0, -1.0], dtype=torch.float64)
OLD = torch.full_like(RATIOS, -2.0)


def _logprobs() -> torch.Tensor:
    return (OLD + RATIOS.log()).clone().requires_grad_(True)


# Per-token losses with eps 0.2, worked by hand:
#   seq 0 (A=+1): -min(1.5, 1.2) = -1.2 (clipped high), -min(0.5, 0.8) = -0.5, -1.0
#   seq 1 (A=-1): -min(-1.5, -1.2) = 1.5, -min(-0.5, -0.8) = 0.8 (clipped low)
# unclipped: seq 0: -1.5, -0.5, -1.0; seq 1: 1.5, 0.5
CASES = [
    ("clip", "seq-mean-token-mean", ((-1.2 - 0.5 - 1.0) / 3 + (1.5 + 0.8) / 2) / 2),
    ("clip", "token-mean", (-2.7 + 2.3) / 5),
    ("clip", "seq-mean-token-sum-norm", (-2.7 + 2.3) / (2 * 4)),
    ("none", "seq-mean-token-mean", (-3.0 / 3 + 2.0 / 2) / 2),
    ("none", "token-mean", (-3.0 + 2.0) / 5),
    ("none", "seq-mean-token-sum-norm", (-3.0 + 2.0) / (2 * 4)),
]


@pytest.mark.parametrize(("clip", "aggregation", "expected"), CASES)
def test_hand_computed_loss(clip: str, aggregation: str, expected: float) -> None:
    config = LossConfig(clip=clip, aggregation=aggregation, eps_low=0.2, eps_high=0.2)
    loss, metrics = policy_loss(_logprobs(), OLD, ADV, MASK, config, Normaliser.of(MASK, max_len=4))
    assert loss.item() == pytest.approx(expected, abs=1e-12)
    # The same tokens lie outside the trust region in both modes; under clip: none they are "would-be" clips.
    assert metrics["actor/clip_frac_low"] == pytest.approx(1 / 5)
    assert metrics["actor/clip_frac_high"] == pytest.approx(1 / 5)
    assert metrics["actor/pg_loss"] == pytest.approx(expected, abs=1e-12)


def test_clip_removes_the_gradient_of_clipped_tokens_only() -> None:
    logprobs = _logprobs()
    config = LossConfig(clip="clip", aggregation="token-mean")
    loss, _ = policy_loss(logprobs, OLD, ADV, MASK, config, Normaliser.of(MASK, max_len=4))
    loss.backward()
    grad = logprobs.grad
    assert grad[0, 0] == 0 and grad[1, 1] == 0  # clipped high (A > 0) and low (A < 0)
    assert grad[1, 2] == 0  # padding
    # d(-ρA)/dlogp = -ρA, over 5 tokens: token (0, 1) has ρ = 0.5, A = 1
    assert grad[0, 1].item() == pytest.approx(-0.5 / 5)
    assert grad[1, 0].item() == pytest.approx(1.5 / 5)


def test_clip_higher_widens_only_the_upper_side() -> None:
    config = LossConfig(clip="clip", aggregation="token-mean", eps_low=0.2, eps_high=0.6)
    loss, metrics = policy_loss(_logprobs(), OLD, ADV, MASK, config, Normaliser.of(MASK, max_len=4))
    assert metrics["actor/clip_frac_high"] == 0.0  # 1.5 < 1.6 now
    assert metrics["actor/clip_frac_low"] == pytest.approx(1 / 5)
    assert loss.item() == pytest.approx((-1.5 - 0.5 - 1.0 + 1.5 + 0.8) / 5)


def test_first_epoch_ratio_one_means_no_clipping() -> None:
    logprobs = OLD.clone().requires_grad_(True)
    loss, metrics = policy_loss(logprobs, OLD, ADV, MASK, LossConfig(), Normaliser.of(MASK, max_len=4))
    assert metrics["actor/clip_frac_low"] == metrics["actor/clip_frac_high"] == 0.0
    # With ratio 1 the loss is -mean advantage per sequence: -(1 + -1) / 2
    assert loss.item() == pytest.approx(0.0)


@pytest.mark.parametrize("aggregation", AGGREGATIONS.names())
def test_micro_batches_sum_to_the_mini_batch_loss(aggregation: str) -> None:
    gen = torch.Generator().manual_seed(0)
    B, T = 6, 5
    old = -torch.rand(B, T, generator=gen, dtype=torch.float64) * 3
    logprobs = old + 0.3 * torch.randn(B, T, generator=gen, dtype=torch.float64)
    mask = (torch.rand(B, T, generator=gen) > 0.3).double()
    mask[:, 0] = 1.0
    adv = torch.randn(B, generator=gen, dtype=torch.float64)
    config = LossConfig(aggregation=aggregation, eps_low=0.1, eps_high=0.3)
    norm = Normaliser.of(mask, max_len=T)
    whole, _ = policy_loss(logprobs, old, adv, mask, config, norm)
    parts = sum(policy_loss(logprobs[s], old[s], adv[s], mask[s], config, norm)[0] for s in (slice(0, 2), slice(2, 6)))
    assert parts.item() == pytest.approx(whole.item(), abs=1e-12)


def test_k3_kl_hand_values_and_penalty() -> None:
    logp = torch.log(torch.tensor([[0.25, 0.5]], dtype=torch.float64))
    ref = torch.log(torch.tensor([[0.5, 0.5]], dtype=torch.float64))
    kl = k3_kl(logp, ref)
    # r = log 2: 2 - log 2 - 1; r = 0: 0
    assert kl[0, 0].item() == pytest.approx(1 - math.log(2))
    assert kl[0, 1].item() == 0.0
    mask = torch.ones_like(logp)
    adv = torch.zeros(1, dtype=torch.float64)
    base = LossConfig(aggregation="token-mean")
    with_kl = LossConfig(aggregation="token-mean", kl_coef=0.1)
    norm = Normaliser.of(mask, max_len=2)
    loss0, m0 = policy_loss(logp, logp, adv, mask, base, norm, ref_logprobs=ref)
    loss1, m1 = policy_loss(logp, logp, adv, mask, with_kl, norm, ref_logprobs=ref)
    assert m0["actor/kl"] == m1["actor/kl"] == pytest.approx((1 - math.log(2)) / 2)
    assert loss1.item() - loss0.item() == pytest.approx(0.1 * (1 - math.log(2)) / 2)
    with pytest.raises(ValueError, match="needs ref_logprobs"):
        policy_loss(logp, logp, adv, mask, with_kl, norm)


def test_entropy_bonus_is_subtracted_with_the_same_aggregation() -> None:
    entropy = torch.tensor([[1.0, 2.0, 3.0], [4.0, 6.0, 100.0]], dtype=torch.float64)
    norm = Normaliser.of(MASK, max_len=4)
    plain, metrics = policy_loss(_logprobs(), OLD, ADV, MASK, LossConfig(), norm, entropy=entropy)
    bonus, _ = policy_loss(_logprobs(), OLD, ADV, MASK, LossConfig(entropy_coef=0.01), norm, entropy=entropy)
    assert metrics["actor/entropy"] == pytest.approx(16 / 5)  # token mean; the padded 100 is ignored
    assert plain.item() - bonus.item() == pytest.approx(0.01 * (2.0 + 5.0) / 2)  # seq-mean-token-mean


def test_config_validation_lists_choices() -> None:
    with pytest.raises(ValueError, match="choose one of: clip, none"):
        LossConfig(clip="huge")
    with pytest.raises(ValueError, match="choose one of: seq-mean-token-mean, seq-mean-token-sum-norm, token-mean"):
        LossConfig(aggregation="sum")
    with pytest.raises(ValueError, match="eps_low"):
        LossConfig(eps_low=1.5)
    assert CLIP_MODES.names() == ["clip", "none"]
