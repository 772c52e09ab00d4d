"""Advantages at their edges: token rewards for rows of every length, groups of two in the loop reference, and the
refusals. Written against the mutants that survived tests/test_rl_advantages.py (scripts/mutation.sh --run
rl.advantages); expected values by hand."""

from __future__ import annotations

import pytest
import torch

from rlvr_lab.rl.advantages import (
    ADVANTAGES,
    grpo_advantages,
    outcome_token_rewards,
    reference_advantages,
    reference_gae,
)


def test_outcome_reward_sits_on_each_rows_last_real_token() -> None:
    rewards = torch.tensor([1.5, -2.0, 3.0], dtype=torch.float64)
    mask = torch.tensor([[1.0, 1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 0.0]])  # lengths 2, 1, 0
    got = outcome_token_rewards(rewards, mask)
    assert got.dtype == torch.float64  # the rewards' dtype, not the mask's
    assert got.tolist() == [[0.0, 1.5, 0.0], [-2.0, 0.0, 0.0], [0.0, 0.0, 0.0]]  # an empty row gets nothing


def test_reference_advantages_for_groups_of_two() -> None:
    got = reference_advantages("grpo", [[0.0, 1.0]])
    std = 0.5**0.5  # unbiased std of (0, 1)
    assert got[0] == pytest.approx([-0.5 / std, 0.5 / std], rel=1e-5)
    assert reference_advantages("rloo", [[0.0, 1.0]]) == [[-1.0, 1.0]]
    assert reference_advantages("dr_grpo", [[0.0, 1.0], [2.0, 2.0], [3.0]]) == [[-0.5, 0.5], [0.0, 0.0], [0.0]]
    with pytest.raises(ValueError, match=r"^no reference for advantage estimator 'nope'$"):
        reference_advantages("nope", [[0.0, 1.0]])


def test_reference_gae_refuses_ragged_inputs() -> None:
    with pytest.raises(ValueError):
        reference_gae([[0.0, 1.0]], [[0.0, 0.0], [0.0, 0.0]], [2], gamma=1.0, lam=1.0)


@pytest.mark.parametrize("name", ["grpo", "dr_grpo", "rloo", "reinforce_pp", "none"])
def test_group_estimators_refuse_flat_rewards(name: str) -> None:
    with pytest.raises(ValueError, match=r"rewards must be \(P, G\), got shape \(4,\)"):
        ADVANTAGES.get(name)(torch.tensor([0.0, 1.0, 0.0, 1.0]))


def test_grpo_advantages_scale_by_the_std_unless_told_not_to() -> None:
    rewards = torch.tensor([[0.0, 1.0, 1.0, 1.0]])
    torch.testing.assert_close(grpo_advantages(rewards), ADVANTAGES.get("grpo")(rewards))
    torch.testing.assert_close(grpo_advantages(rewards, scale_by_std=False), torch.tensor([[-0.75, 0.25, 0.25, 0.25]]))
