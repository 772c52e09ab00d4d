"""Advantage estimators for outcome rewards: one scalar per completion, shared by all its tokens.

Every outcome estimator has the same contract, ``(rewards) -> advantages`` over a ``(P, G)`` float tensor: ``P``
prompts (groups), ``G`` completions per prompt, one reward each. Equal group sizes are what the trainer produces
(every prompt is sampled ``G`` times), so the group statistics are plain reductions over the last dimension.

Two estimators need one more input, named in :data:`EXTRA_INPUT` so the trainer knows what to compute first:

- ``remax`` (ReMax) takes the reward of each prompt's *greedy* response as its baseline, ``(P, 1)``;
- ``gae`` (PPO) is per token: it takes token rewards and a value model's estimates, ``(B, C)`` each, and returns
  per-token advantages and the critic's return targets (see :func:`gae`).

Degenerate cases are explicit, unlike estimators that silently give a one-sample group std 1:
- a group of one (``G == 1``) has no baseline to compare against: group-relative estimators return 0;
- a group (or batch) whose rewards are all equal gets an advantage of exactly 0 (not ``0 / eps``, nor the
  rounding error of ``r - mean``).

Std is the unbiased (Bessel-corrected) sample std, as in TRL's ``GRPOTrainer`` and verl's ``compute_grpo_*``.

Each vectorised estimator has a plain-loop reference in the last section of this file; the tests check that the
two agree over several seeds.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from rlvr_lab.registry import Registry

AdvantageFn = Callable[..., torch.Tensor | tuple[torch.Tensor, torch.Tensor]]
"""``(rewards (P, G)) -> advantages (P, G)``; the estimators of :data:`EXTRA_INPUT` take one more argument."""

ADVANTAGES: Registry[AdvantageFn] = Registry("advantage estimator")

EPS = 1e-6
"""Added to a non-zero std before dividing (numerical safety only; zero std is handled explicitly)."""


def _check(rewards: torch.Tensor) -> None:
    if rewards.dim() != 2:
        raise ValueError(f"rewards must be (P, G), got shape {tuple(rewards.shape)}")


def _has_spread(rewards: torch.Tensor) -> torch.Tensor:
    """(P, 1) bool: the group's rewards are not all equal.

    Tested on the values, not on a floating-point std or centred reward that may come out as 1e-17, so an
    all-equal group gets an advantage of exactly 0.
    """
    return rewards.amax(dim=1, keepdim=True) > rewards.amin(dim=1, keepdim=True)


def grpo_advantages(rewards: torch.Tensor, scale_by_std: bool = True) -> torch.Tensor:
    """GRPO (Shao et al., 2024, DeepSeekMath §4.1.2): ``A_i = (r_i - mean(r)) / std(r)`` within each group.

    ``scale_by_std=False`` drops the division (Dr. GRPO, Liu et al., 2025, "Understanding R1-Zero-Like Training"),
    which removes the bias toward groups with low reward spread. Groups of one and zero-std groups get 0.
    """
    _check(rewards)
    G = rewards.shape[1]
    if G == 1:
        return torch.zeros_like(rewards)
    centred = rewards - rewards.mean(dim=1, keepdim=True)  # (P, G)
    if scale_by_std:
        centred = centred / (rewards.std(dim=1, keepdim=True) + EPS)  # unbiased std, (P, 1)
    return torch.where(_has_spread(rewards), centred, torch.zeros_like(centred))


@ADVANTAGES.register("grpo")
def grpo(rewards: torch.Tensor) -> torch.Tensor:
    """Group mean and group std (see :func:`grpo_advantages`)."""
    return grpo_advantages(rewards, scale_by_std=True)


@ADVANTAGES.register("dr_grpo")
def dr_grpo(rewards: torch.Tensor) -> torch.Tensor:
    """Group mean only, no std normalisation (see :func:`grpo_advantages`)."""
    return grpo_advantages(rewards, scale_by_std=False)


@ADVANTAGES.register("rloo")
def rloo(rewards: torch.Tensor) -> torch.Tensor:
    """REINFORCE leave-one-out (Kool et al., 2019; Ahmadian et al., 2024): ``A_i = r_i - mean_{j != i} r_j``.

    Equals ``G / (G - 1) * (r_i - mean(r))``. A group of one has no other sample to form a baseline: 0.
    """
    _check(rewards)
    G = rewards.shape[1]
    if G == 1:
        return torch.zeros_like(rewards)
    others_mean = (rewards.sum(dim=1, keepdim=True) - rewards) / (G - 1)  # (P, G)
    return torch.where(_has_spread(rewards), rewards - others_mean, torch.zeros_like(rewards))


@ADVANTAGES.register("reinforce_pp")
def reinforce_pp(rewards: torch.Tensor) -> torch.Tensor:
    """REINFORCE++ (Hu, 2025) for outcome rewards: ``A = (r - mean_batch) / std_batch`` over the whole rollout.

    Normalising over the batch instead of the group keeps a global baseline (no per-prompt bias). A batch of one
    reward, or one where all rewards are equal, gets 0.
    """
    _check(rewards)
    if rewards.amax() == rewards.amin():  # includes a batch of one
        return torch.zeros_like(rewards)
    return (rewards - rewards.mean()) / (rewards.std() + EPS)


@ADVANTAGES.register("remax")
def remax(rewards: torch.Tensor, greedy: torch.Tensor) -> torch.Tensor:
    """ReMax (Li et al., 2024, "ReMax: A Simple, Effective, and Efficient Reinforcement Learning Method for Aligning
    Large Language Models", Algorithm 1): ``A_i = r_i - r(greedy response)`` of the same prompt.

    ``greedy``: (P,) or (P, 1), the reward of each prompt's greedy (temperature 0) response. The baseline costs one
    extra generation per prompt and no value model; unlike a group mean it does not depend on the sampled group, so
    a group of one still gets a signal. Ties with the baseline get exactly 0.
    """
    _check(rewards)
    baseline = greedy.reshape(-1, 1).to(rewards.dtype)
    if baseline.shape[0] != rewards.shape[0]:
        raise ValueError(f"need one greedy reward per prompt ({rewards.shape[0]}), got {tuple(greedy.shape)}")
    return rewards - baseline


@ADVANTAGES.register("gae")
def gae(
    token_rewards: torch.Tensor, values: torch.Tensor, mask: torch.Tensor, gamma: float = 1.0, lam: float = 1.0
) -> tuple[torch.Tensor, torch.Tensor]:
    """Generalised advantage estimation (Schulman et al., 2016), per token, for PPO (Schulman et al., 2017).

    ``token_rewards``, ``values``, ``mask``: (B, C) over completion tokens; ``values[b, t]`` is the critic's
    estimate of the state before token ``t`` is emitted. With ``δ_t = r_t + γ V_{t+1} - V_t`` (``V`` = 0 after
    the last real token)::

        A_t = δ_t + γ λ A_{t+1},        returns_t = A_t + V_t   (the critic's regression targets)

    Returns ``(advantages, returns)``, both 0 on padded columns. Why γ = λ = 1 are the defaults: the reward is a
    single outcome at the last token and responses are short, so discounting (γ < 1) would only favour short
    answers, and λ = 1 makes ``A_t`` the Monte-Carlo return minus the value (unbiased whatever the critic's
    error; a fresh critic from a language model is poor). verl's PPO, which Yue et al. (2025) trained with, uses
    the same defaults.
    """
    if not (token_rewards.shape == values.shape == mask.shape) or token_rewards.dim() != 2:
        shapes = f"{tuple(token_rewards.shape)}, {tuple(values.shape)}, {tuple(mask.shape)}"
        raise ValueError(f"need (B, C) rewards, values and mask, got {shapes}")
    mask = mask.to(values.dtype)
    values = values * mask
    advantages = torch.zeros_like(values)
    running = torch.zeros_like(values[:, 0])
    next_value = torch.zeros_like(values[:, 0])
    for t in range(values.shape[1] - 1, -1, -1):  # backwards over columns, all rows at once
        delta = token_rewards[:, t] + gamma * next_value - values[:, t]
        running = (delta + gamma * lam * running) * mask[:, t]
        advantages[:, t] = running
        next_value = values[:, t]
    return advantages, (advantages + values) * mask


def outcome_token_rewards(rewards: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """(B, C) token rewards: each completion's outcome reward (B,) on its last real token, 0 elsewhere."""
    last = (mask.sum(dim=1).long() - 1).clamp(min=0)
    out = torch.zeros_like(mask, dtype=rewards.dtype)
    out[torch.arange(mask.shape[0]), last] = rewards * (mask.sum(dim=1) > 0)
    return out


EXTRA_INPUT: dict[str, str] = {"remax": "greedy", "gae": "values"}
"""Estimators that need more than the rewards: ``greedy`` (each prompt's greedy reward) or ``values`` (a critic)."""


@ADVANTAGES.register("none")
def no_baseline(rewards: torch.Tensor) -> torch.Tensor:
    """Plain REINFORCE (Williams, 1992): the reward itself is the advantage, no baseline."""
    _check(rewards)
    return rewards.clone()


# ----------------------------------------------------------------------------------------------------------------
# Plain-loop references: one sample at a time, the formulas as written in the papers.


def _mean(xs: list[float]) -> float:
    return sum(xs) / len(xs)


def _std(xs: list[float]) -> float:
    m = _mean(xs)
    return (sum((x - m) ** 2 for x in xs) / (len(xs) - 1)) ** 0.5


def reference_advantages(name: str, rewards: list[list[float]]) -> list[list[float]]:
    """The loop version of the estimator ``name`` over ``rewards[p][g]`` (Python floats, float64)."""
    if name == "none":
        return [list(group) for group in rewards]
    if name == "reinforce_pp":
        flat = [r for group in rewards for r in group]
        if max(flat) == min(flat):
            return [[0.0 for _ in group] for group in rewards]
        m, s = _mean(flat), _std(flat)
        return [[(r - m) / (s + EPS) for r in group] for group in rewards]
    out = []
    for group in rewards:
        G = len(group)
        row = []
        for i, r in enumerate(group):
            if G == 1 or max(group) == min(group):
                row.append(0.0)
            elif name == "rloo":
                row.append(r - sum(group[j] for j in range(G) if j != i) / (G - 1))
            elif name == "dr_grpo":
                row.append(r - _mean(group))
            elif name == "grpo":
                row.append((r - _mean(group)) / (_std(group) + EPS))
            else:
                raise ValueError(f"no reference for advantage estimator {name!r}")
        out.append(row)
    return out


def reference_gae(
    token_rewards: list[list[float]], values: list[list[float]], lengths: list[int], gamma: float, lam: float
) -> tuple[list[list[float]], list[list[float]]]:
    """GAE one row and one token at a time, ``lengths[b]`` real tokens per row (padded columns stay 0)."""
    advantages, returns = [], []
    for r, v, n in zip(token_rewards, values, lengths, strict=True):
        adv = [0.0] * len(r)
        following = 0.0
        for t in reversed(range(n)):
            next_v = v[t + 1] if t + 1 < n else 0.0
            following = r[t] + gamma * next_v - v[t] + gamma * lam * following
            adv[t] = following
        advantages.append(adv)
        returns.append([adv[t] + v[t] if t < n else 0.0 for t in range(len(r))])
    return advantages, returns
