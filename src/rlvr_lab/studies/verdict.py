"""A finding's verdict from an effect and its 95% interval, with the criterion written before the run.

Every study states each claim of a paper as a :class:`Claim` (its criterion fixed in code, before any number is
seen) and turns a measured effect with its interval into a :class:`Finding`. The rule is one and the same for
every study, so no study can loosen it:

- ``reproduced``: the interval excludes 0 on the paper's side;
- ``opposite``: the interval excludes 0 on the other side;
- ``not significant``: the interval contains 0.

The interval comes from a paired bootstrap (over problems for evaluation differences, over seeds for training
arms run on the same seeds); which one is said in ``Finding.interval``. ``detail`` lists every number the verdict
was read from (each seed's value for training arms), so a reader can recompute it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from rlvr_lab.report import Table

Verdict = Literal["reproduced", "not significant", "opposite"]


@dataclass(frozen=True)
class Claim:
    """A paper's claim and the criterion that will judge it, fixed before the study runs."""

    paper: str
    """Short citation, e.g. "Spurious Rewards (Shao et al., 2025)"."""
    claim: str
    """The claim in the paper's words, as the table shows it."""
    effect: str
    """What is measured, e.g. "Δ held-out accuracy, clip − no-clip, paired over seeds"."""
    direction: Literal[1, -1] = 1
    """+1 when the paper predicts a positive effect, -1 a negative one."""


@dataclass(frozen=True)
class Finding:
    """A claim judged on one measured effect with its 95% interval."""

    claim: Claim
    effect: float
    low: float
    high: float
    interval: str
    """How the interval was made, e.g. "paired bootstrap over 120 problems" or "paired over 5 seeds"."""
    detail: str = ""
    """The numbers the verdict was read from (every seed's value for training arms)."""

    @property
    def verdict(self) -> Verdict:
        return verdict(self.low, self.high, self.claim.direction)

    @property
    def reproduced(self) -> bool:
        return self.verdict == "reproduced"

    def observed(self) -> str:
        """``effect [low, high]`` as the findings table prints it."""
        return f"{self.effect:+.3f} [{self.low:+.3f}, {self.high:+.3f}]"

    def as_dict(self) -> dict[str, object]:
        return {
            **asdict(self.claim),
            "effect": self.effect,
            "low": self.low,
            "high": self.high,
            "interval": self.interval,
            "detail": self.detail,
            "verdict": self.verdict,
        }


def verdict(low: float, high: float, direction: int = 1) -> Verdict:
    """The one rule: reproduced only when the whole interval lies on the paper's side of 0.

    A NaN bound (no interval could be made, e.g. one seed) is never a reproduction.
    """
    if direction not in (1, -1):
        raise ValueError(f"direction must be +1 or -1, got {direction}")
    if math.isnan(low) or math.isnan(high):
        return "not significant"
    if low > high:
        raise ValueError(f"interval bounds out of order: [{low}, {high}]")
    lo, hi = (low, high) if direction == 1 else (-high, -low)
    if lo > 0:
        return "reproduced"
    if hi < 0:
        return "opposite"
    return "not significant"


def findings_table(findings: Sequence[Finding], title: str = "Findings: what the organism reproduces") -> Table:
    """One row per finding: paper, claim, effect measured, observed [95% interval], how the interval was made,
    verdict, per-seed or per-arm detail. Every study's findings table is this one."""
    from rlvr_lab.report import Table

    rows = tuple(
        (f.claim.paper, f.claim.claim, f.claim.effect, f.observed(), f.interval, f.verdict, f.detail) for f in findings
    )
    note = (
        "effect [95% interval]; reproduced: the interval excludes 0 on the paper's side, opposite: on the other side, "
        "not significant: it contains 0 (criteria in rlvr_lab/studies/findings.py, fixed before the runs)"
    )
    columns = ("paper", "claim", "effect", "observed", "interval", "verdict", "per seed / per arm")
    return Table(title, columns, rows, note)
