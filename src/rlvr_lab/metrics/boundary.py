"""Reasoning-boundary comparisons of two models: coverage sets, crossover k, ΔSE.

After Yue et al., 2025, "Does Reinforcement Learning Really Incentivize Reasoning Capacity in LLMs Beyond the Base
Model?": RL tends to win at pass@1 while the base model catches up, then overtakes it, at large k.

- **Coverage.** A problem is *solved* by a model when at least one of its n samples is correct (c >= 1): the
  empirical pass@n. The two models' solved sets split the problems into both / only A / only B / neither.
- **Crossover k.** Given pass@k curves of a *leader* and a *challenger* over increasing k, the first k at which the
  challenger reaches the leader (challenger >= leader) after the leader was strictly ahead. Between the last
  evaluated k where the leader was ahead (k0, gap d0 = leader - challenger > 0) and the first where it was not
  (k1, gap d1 <= 0) the gap is interpolated linearly **in log k**, the axis pass@k curves are plotted and compared
  on:  log k* = log k0 + (log k1 - log k0) * d0 / (d0 - d1). With every k evaluated the answer lies in [k0, k1];
  with sparse ks (powers of 2) the interpolation says where between them the lines cross. Curves that touch
  (gap exactly 0) cross at that k. Exact comparisons, no tolerance: equal curves never cross.
- **ΔSE** (the sampling-efficiency gap of the same paper): pass@K(base) - pass@1(RL), with K the base model's
  sample budget (256 in the paper). Positive: the base model, given K tries, still solves more than the RL model
  does in one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from rlvr_lab.metrics.passk import check_counts, pass_at_k


@dataclass(frozen=True)
class Coverage:
    """Which problems each model solves (at least one correct sample); boolean masks of shape ``(P,)``."""

    solved_a: NDArray[np.bool_]
    solved_b: NDArray[np.bool_]

    @property
    def both(self) -> int:
        return int(np.sum(self.solved_a & self.solved_b))

    @property
    def only_a(self) -> int:
        return int(np.sum(self.solved_a & ~self.solved_b))

    @property
    def only_b(self) -> int:
        return int(np.sum(~self.solved_a & self.solved_b))

    @property
    def neither(self) -> int:
        return int(np.sum(~self.solved_a & ~self.solved_b))

    def as_dict(self) -> dict[str, int]:
        return {"both": self.both, "only_a": self.only_a, "only_b": self.only_b, "neither": self.neither}


def coverage(c_a: ArrayLike, c_b: ArrayLike) -> Coverage:
    """Coverage sets from per-problem correct counts ``(P,)`` of models A and B on the same problems."""
    a, b = np.asarray(c_a), np.asarray(c_b)
    if a.ndim != 1 or a.shape != b.shape:
        raise ValueError(f"c_a and c_b must be 1-D over the same problems, got shapes {a.shape} and {b.shape}")
    if np.any(a < 0) or np.any(b < 0):
        raise ValueError("correct counts must be >= 0")
    return Coverage(a >= 1, b >= 1)


def crossover_k(ks: ArrayLike, leader: ArrayLike, challenger: ArrayLike) -> float | None:
    """First k at which ``challenger >= leader`` after ``leader > challenger``, interpolated in log k.

    ``ks``: ``(K,)`` strictly increasing k values; ``leader``, ``challenger``: ``(K,)`` pass@k curves at those ks.
    Returns ``None`` when the leader is never ahead or is never caught. See the module docstring for the formula.
    """
    k_arr = np.asarray(ks, dtype=np.float64)
    gap = np.asarray(leader, dtype=np.float64) - np.asarray(challenger, dtype=np.float64)
    if k_arr.ndim != 1 or gap.shape != k_arr.shape:
        raise ValueError(f"ks and both curves must be 1-D of one length, got {k_arr.shape} and {gap.shape}")
    if k_arr.size and (k_arr[0] < 1 or np.any(np.diff(k_arr) <= 0)):
        raise ValueError("ks must be strictly increasing and >= 1")
    ahead = np.flatnonzero(gap > 0)
    if ahead.size == 0:
        return None
    caught = np.flatnonzero(gap[ahead[0] :] <= 0)
    if caught.size == 0:
        return None
    i1 = int(ahead[0] + caught[0])
    i0 = i1 - 1  # the leader is ahead at every index from ahead[0] up to i1 - 1
    d0, d1 = gap[i0], gap[i1]
    log_k0, log_k1 = math.log(k_arr[i0]), math.log(k_arr[i1])
    return math.exp(log_k0 + (log_k1 - log_k0) * d0 / (d0 - d1))


def delta_se(n_base: ArrayLike, c_base: ArrayLike, n_rl: ArrayLike, c_rl: ArrayLike, k: int | None = None) -> float:
    """ΔSE = mean pass@k(base) - mean pass@1(RL) over each model's problems.

    ``k`` defaults to the base model's smallest per-problem ``n`` (its full budget); ``ValueError`` if it exceeds it.
    """
    n_b, c_b = check_counts(n_base, c_base)
    n_r, c_r = check_counts(n_rl, c_rl)
    if n_b.size == 0 or n_r.size == 0:
        raise ValueError("no problems: ΔSE is undefined")
    budget = int(n_b.min()) if k is None else k
    return float(pass_at_k(n_b, c_b, budget).mean() - pass_at_k(n_r, c_r, 1).mean())
