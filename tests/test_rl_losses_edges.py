"""The loss at its edges: asymmetric clip bounds, ratios exactly on a bound, zero advantages, one-token masks,
per-token advantages, and the refusals. Written against the mutants that survived tests/test_rl_losses.py
(scripts/mutation.sh --run rl.losses); every expected value is computed by hand."""

from __future__ import annotations

import math

import pytest
import torch

from rlvr_lab.rl.losses import LossConfig, Normaliser, clipped_tokens, policy_loss

# Bounds exact in binary, so a ratio can sit exactly on one: 1 - 0.25 = 0.75 and 1 + 0.5 = 1.5.
ASYMMETRIC = LossConfig(clip="clip", eps_low=0.25, eps_high=0.5)


def test_clipped_tokens_use_each_bound_on_its_own_side() -> None:
    ratio = torch.tensor([[0.5, 0.75, 0.8, 1.4, 1.5, 1.6]])
    low, high = clipped_tokens(ratio, torch.tensor([[-1.0]]), ASYMMETRIC)
    assert low.tolist() == [[True, False, False, False, False, False]]  # below 0.75 only; on the bound is kept
    assert high.tolist() == [[False] * 6]  # a negative advantage is never clipped from above
    low, high = clipped_tokens(ratio, torch.tensor([[1.0]]), ASYMMETRIC)
    assert low.tolist() == [[False] * 6]
    assert high.tolist() == [[False, False, False, False, False, True]]  # above 1.5 only, not 1.4 (ε_low's 1.25)


def test_a_zero_advantage_is_never_clipped() -> None:
    low, high = clipped_tokens(torch.tensor([[0.1, 9.0]]), torch.tensor([[0.0]]), ASYMMETRIC)
    assert not low.any() and not high.any()


def test_asymmetric_loss_and_clip_fractions_hand_computed() -> None:
    # A = +1: ratios 0.5 (ρA), 1.6 (clamped to 1.5); A = -1: 0.6 (clamped to 0.75), 1.6 (ρA)
    ratios = torch.tensor([[0.5, 1.6], [0.6, 1.6]])
    logprobs = ratios.log()
    old = torch.zeros_like(logprobs)
    mask = torch.ones_like(logprobs)
    adv = torch.tensor([1.0, -1.0])
    loss, metrics = policy_loss(logprobs, old, adv, mask, ASYMMETRIC, Normaliser.of(mask, 2))
    # per token: -min(ρA, clamp(ρ)A): row 0: -0.5, -1.5; row 1: +0.75, +1.6; seq-mean-token-mean
    expected = ((-0.5 - 1.5) / 2 + (0.75 + 1.6) / 2) / 2
    assert loss.item() == pytest.approx(expected, abs=1e-6)
    assert metrics["actor/clip_frac_high"] == pytest.approx(0.25)  # 1.6 with A > 0
    assert metrics["actor/clip_frac_low"] == pytest.approx(0.25)  # 0.6 with A < 0
    swapped = LossConfig(clip="clip", eps_low=0.5, eps_high=0.25)
    other, _ = policy_loss(logprobs, old, adv, mask, swapped, Normaliser.of(mask, 2))
    assert other.item() == pytest.approx(((-0.5 - 1.25) / 2 + (0.6 + 1.6) / 2) / 2, abs=1e-6)  # swapped: 0.1125


def test_clip_fraction_over_a_single_unmasked_token() -> None:
    logprobs = torch.tensor([[math.log(2.0), 0.0]])
    mask = torch.tensor([[1.0, 0.0]])
    _, metrics = policy_loss(logprobs, torch.zeros(1, 2), torch.tensor([1.0]), mask, ASYMMETRIC, Normaliser.of(mask, 2))
    assert metrics["actor/clip_frac_high"] == 1.0  # one token, clipped: 1/1, not 1/2
    assert metrics["actor/clip_frac_low"] == 0.0


def test_per_token_advantages_are_used_token_by_token() -> None:
    logprobs = torch.zeros(2, 3)
    mask = torch.ones(2, 3)
    adv = torch.tensor([[1.0, -2.0, 4.0], [0.5, 0.5, 2.0]])
    loss, _ = policy_loss(logprobs, logprobs, adv, mask, ASYMMETRIC, Normaliser.of(mask, 3))
    assert loss.item() == pytest.approx(-(3.0 / 3 + 3.0 / 3) / 2)  # ratio 1: the loss is -mean(A) per sequence


def test_a_boolean_mask_gives_the_float_mask_result() -> None:
    logprobs = torch.tensor([[0.1, -0.2, 0.3]])
    old = torch.zeros(1, 3)
    bool_mask = torch.tensor([[True, True, False]])
    float_mask = bool_mask.float()
    config = LossConfig(aggregation="token-mean")
    want, want_metrics = policy_loss(
        logprobs, old, torch.tensor([1.0]), float_mask, config, Normaliser.of(float_mask, 3)
    )
    got, got_metrics = policy_loss(logprobs, old, torch.tensor([1.0]), bool_mask, config, Normaliser.of(float_mask, 3))
    assert got.dtype == torch.float32
    torch.testing.assert_close(got, want)
    assert got_metrics == want_metrics
    double, _ = policy_loss(
        logprobs, old, torch.tensor([1.0]), float_mask.double(), config, Normaliser.of(float_mask, 3)
    )
    assert double.dtype == torch.float32  # the mask takes the log-probs' dtype, not the other way round


def test_shape_errors_name_the_shapes() -> None:
    config = LossConfig()
    lp = torch.zeros(2, 3)
    with pytest.raises(
        ValueError, match=r"shape mismatch: logprobs torch.Size\(\[2, 3\]\), old .*mask torch.Size\(\[2, 4\]"
    ):
        policy_loss(lp, lp, torch.zeros(2), torch.ones(2, 4), config, Normaliser.of(torch.ones(2, 3), 3))
    with pytest.raises(ValueError, match=r"advantages must be \(B,\) = \(2,\) or \(B, T\), got \(3,\)"):
        policy_loss(lp, lp, torch.zeros(3), torch.ones(2, 3), config, Normaliser.of(torch.ones(2, 3), 3))


def test_missing_inputs_are_named() -> None:
    lp = torch.zeros(1, 2)
    mask = torch.ones(1, 2)
    norm = Normaliser.of(mask, 2)
    with pytest.raises(ValueError, match=r"^kl_coef > 0 needs ref_logprobs$"):
        policy_loss(lp, lp, torch.zeros(1), mask, LossConfig(kl_coef=0.1), norm)
    with pytest.raises(ValueError, match=r"^entropy_coef > 0 needs entropy$"):
        policy_loss(lp, lp, torch.zeros(1), mask, LossConfig(entropy_coef=0.1), norm)


def test_config_bounds_are_inclusive_where_documented() -> None:
    LossConfig(eps_low=0.0, eps_high=0.0)  # 0 <= eps_low and eps_high >= 0 are allowed
    with pytest.raises(ValueError, match=r"need 0 <= eps_low < 1 and eps_high >= 0, got 1.0, 0.2"):
        LossConfig(eps_low=1.0)
    with pytest.raises(ValueError, match=r"kl_coef and entropy_coef must be >= 0, got -0.1, 0.0"):
        LossConfig(kl_coef=-0.1)
    with pytest.raises(ValueError, match=r"kl_coef and entropy_coef must be >= 0, got 0.0, -0.1"):
        LossConfig(entropy_coef=-0.1)
