"""Advantage estimators: hand-computed cases, degenerate groups, and agreement with the plain-loop references."""

from __future__ import annotations

import pytest
import torch

from rlvr_lab.rl.advantages import ADVANTAGES, EPS, gae, outcome_token_rewards, reference_advantages, reference_gae

# (estimator, rewards (P, G), expected advantages) worked by hand.
HAND_CASES = [
    # one correct of four: mean 0.25, unbiased std 0.5
    ("grpo", [[1.0, 0.0, 0.0, 0.0]], [[0.75 / (0.5 + EPS)] + [-0.25 / (0.5 + EPS)] * 3]),
    ("dr_grpo", [[1.0, 0.0, 0.0, 0.0]], [[0.75, -0.25, -0.25, -0.25]]),
    # leave-one-out baselines: 0 for the correct one, 1/3 for the others
    ("rloo", [[1.0, 0.0, 0.0, 0.0]], [[1.0, -1 / 3, -1 / 3, -1 / 3]]),
    # batch mean 0.75, unbiased batch std 0.5 over all four rewards
    ("reinforce_pp", [[1.0, 0.0], [1.0, 1.0]], [[0.25 / (0.5 + EPS), -0.75 / (0.5 + EPS)], [0.25 / (0.5 + EPS)] * 2]),
    ("none", [[1.0, 0.0], [0.5, 2.0]], [[1.0, 0.0], [0.5, 2.0]]),
    # two groups are normalised separately: the second (2, 4) has mean 3 and std sqrt(2)
    (
        "grpo",
        [[0.0, 1.0], [2.0, 4.0]],
        [[-0.5 / (0.5**0.5 + EPS), 0.5 / (0.5**0.5 + EPS)], [-1 / (2**0.5 + EPS), 1 / (2**0.5 + EPS)]],
    ),
]


@pytest.mark.parametrize(("name", "rewards", "expected"), HAND_CASES)
def test_hand_computed(name: str, rewards: list[list[float]], expected: list[list[float]]) -> None:
    got = ADVANTAGES.get(name)(torch.tensor(rewards, dtype=torch.float64))
    torch.testing.assert_close(got, torch.tensor(expected, dtype=torch.float64), atol=1e-12, rtol=0)


@pytest.mark.parametrize("name", ["grpo", "dr_grpo", "rloo"])
def test_group_of_one_has_no_baseline(name: str) -> None:
    rewards = torch.tensor([[1.0], [0.0], [3.0]])
    assert torch.equal(ADVANTAGES.get(name)(rewards), torch.zeros(3, 1))


@pytest.mark.parametrize("name", ["grpo", "dr_grpo", "rloo"])
def test_zero_std_group_gets_zero(name: str) -> None:
    # 0.1 * 3 is not exactly representable: a std computed in floating point may not be 0; equality is exact.
    rewards = torch.tensor([[0.1, 0.1, 0.1], [1.0, 0.0, 1.0]], dtype=torch.float64)
    adv = ADVANTAGES.get(name)(rewards)
    assert torch.equal(adv[0], torch.zeros(3, dtype=torch.float64))
    assert adv[1].abs().sum() > 0


def test_reinforce_pp_degenerate_batches() -> None:
    assert torch.equal(ADVANTAGES.get("reinforce_pp")(torch.tensor([[2.0]])), torch.zeros(1, 1))
    assert torch.equal(ADVANTAGES.get("reinforce_pp")(torch.ones(3, 4)), torch.zeros(3, 4))


@pytest.mark.parametrize("name", ["grpo", "dr_grpo", "rloo", "reinforce_pp", "none"])
@pytest.mark.parametrize("seed", [0, 1, 2, 3])
@pytest.mark.parametrize("shape", [(1, 1), (3, 1), (5, 4), (2, 16)])
def test_vectorised_matches_loop(name: str, seed: int, shape: tuple[int, int]) -> None:
    gen = torch.Generator().manual_seed(seed)
    # Binary rewards (the common case, with many tied and zero-std groups) and continuous ones.
    binary = torch.randint(0, 2, shape, generator=gen).double()
    continuous = torch.randn(shape, generator=gen, dtype=torch.float64)
    for rewards in (binary, continuous):
        fast = ADVANTAGES.get(name)(rewards)
        slow = torch.tensor(reference_advantages(name, rewards.tolist()), dtype=torch.float64)
        torch.testing.assert_close(fast, slow, atol=1e-10, rtol=1e-10)


def test_registry_lists_choices_and_rejects_bad_shapes() -> None:
    assert ADVANTAGES.names() == ["dr_grpo", "gae", "grpo", "none", "reinforce_pp", "remax", "rloo"]
    with pytest.raises(ValueError, match="choose one of: dr_grpo, gae, grpo"):
        ADVANTAGES.get("ppo")
    with pytest.raises(ValueError, match=r"must be \(P, G\)"):
        ADVANTAGES.get("grpo")(torch.ones(4))


def test_remax_subtracts_the_greedy_reward_per_prompt() -> None:
    # prompt 0: greedy answer wrong (0), so each correct sample gets +1; prompt 1: greedy right, wrong samples -1
    rewards = torch.tensor([[1.0, 0.0, 1.0], [0.0, 1.0, 1.0]])
    got = ADVANTAGES.get("remax")(rewards, torch.tensor([0.0, 1.0]))
    assert torch.equal(got, torch.tensor([[1.0, 0.0, 1.0], [-1.0, 0.0, 0.0]]))
    # a group of one still gets a signal (unlike group-relative baselines)
    assert torch.equal(ADVANTAGES.get("remax")(torch.tensor([[1.0]]), torch.tensor([[0.0]])), torch.tensor([[1.0]]))
    with pytest.raises(ValueError, match="one greedy reward per prompt"):
        ADVANTAGES.get("remax")(rewards, torch.tensor([0.0]))


def test_gae_hand_computed() -> None:
    # one row of 3 tokens, outcome reward 1 on the last, values (0.5, 0.25, 0.75), γ = 1, λ = 0.5:
    # δ2 = 1 - 0.75 = 0.25; δ1 = 0 + 0.75 - 0.25 = 0.5; δ0 = 0 + 0.25 - 0.5 = -0.25
    # A2 = 0.25; A1 = 0.5 + 0.5·0.25 = 0.625; A0 = -0.25 + 0.5·0.625 = 0.0625; returns = A + V
    mask = torch.tensor([[1.0, 1.0, 1.0, 0.0]])
    values = torch.tensor([[0.5, 0.25, 0.75, 9.0]])  # the padded column's 9 must not leak in
    rewards = outcome_token_rewards(torch.tensor([1.0]), mask)
    assert torch.equal(rewards, torch.tensor([[0.0, 0.0, 1.0, 0.0]]))
    adv, ret = ADVANTAGES.get("gae")(rewards, values, mask, gamma=1.0, lam=0.5)
    torch.testing.assert_close(adv, torch.tensor([[0.0625, 0.625, 0.25, 0.0]]))
    torch.testing.assert_close(ret, torch.tensor([[0.5625, 0.875, 1.0, 0.0]]))
    # λ = γ = 1: every advantage is the outcome minus the value (Monte Carlo)
    adv, _ = gae(rewards, values, mask, 1.0, 1.0)
    torch.testing.assert_close(adv, torch.tensor([[0.5, 0.75, 0.25, 0.0]]))


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize(("gamma", "lam"), [(1.0, 1.0), (0.99, 0.95), (0.9, 0.0)])
def test_gae_matches_loop(seed: int, gamma: float, lam: float) -> None:
    gen = torch.Generator().manual_seed(seed)
    B, C = 5, 7
    lengths = torch.randint(1, C + 1, (B,), generator=gen)
    mask = (torch.arange(C).unsqueeze(0) < lengths.unsqueeze(1)).double()
    rewards = torch.randn(B, C, generator=gen, dtype=torch.float64) * mask  # dense token rewards too
    values = torch.randn(B, C, generator=gen, dtype=torch.float64)
    adv, ret = gae(rewards, values, mask, gamma, lam)
    ref_adv, ref_ret = reference_gae(rewards.tolist(), values.tolist(), lengths.tolist(), gamma, lam)
    torch.testing.assert_close(adv, torch.tensor(ref_adv, dtype=torch.float64), atol=1e-12, rtol=0)
    torch.testing.assert_close(ret, torch.tensor(ref_ret, dtype=torch.float64), atol=1e-12, rtol=0)
