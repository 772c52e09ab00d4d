"""Strategy switches between two checkpoints and each group's share of the accuracy change.

Following Shao et al., 2025, "Spurious Rewards: Rethinking Training Signals in RLVR", §4.2: every test problem is
labelled *Code* or *Lang* at the initial and at the final checkpoint, which splits the problems into four disjoint
groups d: Code→Code, Code→Lang, Lang→Code, Lang→Lang. The paper's **partial contribution score** of a group is

    C_d = sum_{x in d} (I[correct(x_t)] - I[correct(x_0)]) / sum_{x in D} (I[correct(x_t)] - I[correct(x_0)]),

the group's net gain in correctly answered problems over the whole test set's (x_0, x_t: initial and final answers).

Departures, because we sample n > 1 responses per problem where the paper scores one:
- a problem's label is the **majority label of its samples**: Code when strictly more than half of its responses are
  code (:func:`rlvr_lab.analysis.strategy.is_code`); an exact half counts as Lang, code being the marked behaviour
  that needs a majority to claim the problem;
- I[correct] becomes the problem's **accuracy** (fraction of correct samples), so the numerator is the change in
  the expected number of problems solved by one sample. With n = 1 both reduce to the paper's definition.

The scores sum to 1 when the total change is non-zero; a group can score below 0 or above 1 (it lost accuracy,
or gained more than the total). With a total change of 0 (up to float rounding), C_d is undefined and reported as NaN.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from rlvr_lab.analysis.strategy import StrategyRule, code_frequency

GROUPS: tuple[str, ...] = ("Code→Code", "Code→Lang", "Lang→Code", "Lang→Lang")
"""Group names in table order: (label before)→(label after)."""


@dataclass(frozen=True)
class SwitchGroup:
    """One row of the switch table."""

    name: str
    problems: int
    acc_before: float
    """Mean per-problem accuracy of the group at the initial checkpoint (NaN for an empty group)."""
    acc_after: float
    net_gain: float
    """sum over the group of (accuracy after - accuracy before): the change in expected problems solved."""
    contribution: float
    """Partial contribution score C_d (NaN when the total change is 0)."""

    def as_dict(self) -> dict[str, Any]:
        return {
            "problems": self.problems,
            "acc_before": self.acc_before,
            "acc_after": self.acc_after,
            "net_gain": self.net_gain,
            "contribution": self.contribution,
        }


@dataclass(frozen=True)
class SwitchTable:
    """The four groups and the overall accuracy change."""

    groups: tuple[SwitchGroup, ...]
    acc_before: float
    acc_after: float

    @property
    def problems(self) -> int:
        return sum(g.problems for g in self.groups)

    def as_dict(self) -> dict[str, Any]:
        return {
            "groups": {g.name: g.as_dict() for g in self.groups},
            "problems": self.problems,
            "acc_before": self.acc_before,
            "acc_after": self.acc_after,
        }


def majority_code(code_share: ArrayLike) -> NDArray[np.bool_]:
    """Per-problem label: True (Code) where strictly more than half of the samples are code."""
    share = np.asarray(code_share, dtype=np.float64)
    if np.any(np.isnan(share)) or np.any((share < 0) | (share > 1)):
        raise ValueError("code shares must lie in [0, 1] (a problem without responses has no label)")
    return share > 0.5


def code_shares(responses: Sequence[Sequence[str]], rule: StrategyRule = "contains_python") -> NDArray[np.float64]:
    """Per-problem share of code responses, shape ``(P,)``; ``ValueError`` for a problem without responses."""
    shares = np.array([code_frequency(texts, rule) for texts in responses], dtype=np.float64)
    if np.any(np.isnan(shares)):
        raise ValueError(f"problem {int(np.flatnonzero(np.isnan(shares))[0])} has no responses to label")
    return shares


def strategy_switches(
    code_before: ArrayLike, acc_before: ArrayLike, code_after: ArrayLike, acc_after: ArrayLike
) -> SwitchTable:
    """The switch table from per-problem code shares and accuracies, all ``(P,)`` over the same problems in order.

    ``code_*``: share of the problem's responses labelled code at that checkpoint; ``acc_*``: fraction correct.
    """
    arrays = [np.asarray(x, dtype=np.float64) for x in (code_before, acc_before, code_after, acc_after)]
    if arrays[0].ndim != 1 or any(a.shape != arrays[0].shape for a in arrays):
        raise ValueError(f"all four inputs must be 1-D over the same problems, got {[a.shape for a in arrays]}")
    share_0, acc_0, share_t, acc_t = arrays
    if np.any((acc_0 < 0) | (acc_0 > 1) | (acc_t < 0) | (acc_t > 1)):
        raise ValueError("accuracies must lie in [0, 1]")
    code_0, code_t = majority_code(share_0), majority_code(share_t)
    gain = acc_t - acc_0
    total = float(gain.sum())
    # Accuracies are ratios c / n, so a zero total can come out as +-1e-17; treat rounding noise as zero.
    defined = abs(total) > 1e-12 * max(1, gain.size)
    groups = []
    for name, before, after in zip(GROUPS, (True, True, False, False), (True, False, True, False), strict=True):
        mask = (code_0 == before) & (code_t == after)
        size = int(mask.sum())
        net = float(gain[mask].sum())
        groups.append(
            SwitchGroup(
                name=name,
                problems=size,
                acc_before=float(acc_0[mask].mean()) if size else float("nan"),
                acc_after=float(acc_t[mask].mean()) if size else float("nan"),
                net_gain=net,
                contribution=net / total if defined else float("nan"),
            )
        )
    nan = float("nan")
    return SwitchTable(
        tuple(groups), float(acc_0.mean()) if acc_0.size else nan, float(acc_t.mean()) if acc_t.size else nan
    )
