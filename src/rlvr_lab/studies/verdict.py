"""A finding's verdict from an effect, its 95% interval and its test, with the criterion written before the run.

Every study states each claim of a paper as a :class:`Claim` (its criterion fixed in code, before any number is
seen) and turns a measured effect with its interval into a :class:`Finding`. The rule is one and the same for
every study, so no study can loosen it:

- ``reproduced``: the interval excludes 0 on the paper's side (and the finding's test agrees, p < 0.05);
- ``opposite``: the interval excludes 0 on the other side (and p < 0.05);
- ``not significant``: the interval contains 0, or the test does not reject;
- ``evaluation noise only: no verdict``: the claim is about training, but the interval carries only the
  evaluation's sampling noise (one training seed): such an interval covered its true effect 64.5% of the time in
  simulation (``rlvr study calibration``), so no verdict word is read from it.

**One primary comparison per claim family.** Each claim names its ``family`` (by default its paper) and its
``role``: one ``primary`` comparison per family, fixed in code before the run, judged at 5%; every other
comparison of the family is ``secondary``, and its p-value is Holm-corrected over the family's secondary
comparisons (:func:`holm`, applied by :func:`correct`) before the verdict reads it (Holm, 1979, "A simple
sequentially rejective multiple test procedure", Scand. J. Statist. 6: 65-70). A secondary finding that was never
corrected gets no "reproduced".

The interval and the p-value come from one method (:mod:`.paired`: a bootstrap over problems for evaluation
differences, a t interval over seeds and problems for training arms; the sign test beside the bootstrap where few
problems differ); ``Finding.interval`` says which. ``detail`` lists every number the verdict was read from (each
seed's value for training arms), so a reader can recompute it; ``mde`` is the minimum detectable effect at 80%
power of the design, so a "not significant" can be read as "too small to see" or "absent".
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from rlvr_lab.report import Table

Verdict = Literal["reproduced", "not significant", "opposite", "evaluation noise only: no verdict"]
NO_VERDICT: Verdict = "evaluation noise only: no verdict"
Role = Literal["primary", "secondary"]
ALPHA = 0.05
"""Level of every verdict: 95% intervals, p < 0.05 (Holm-adjusted for secondary comparisons)."""


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
    role: Role = "primary"
    """``primary``: the family's one comparison judged at 5%; ``secondary``: Holm-corrected within the family."""
    family: str = ""
    """Claims judged together (one primary each); empty: the paper's name."""

    @property
    def family_name(self) -> str:
        return self.family or self.paper


@dataclass(frozen=True)
class Finding:
    """A claim judged on one measured effect with its 95% interval and the p-value of the same method."""

    claim: Claim
    effect: float
    low: float
    high: float
    interval: str
    """How the interval was made, e.g. "paired bootstrap over 120 problems" or "t over 5 seeds × 120 problems"."""
    detail: str = ""
    """The numbers the verdict was read from (every seed's value for training arms)."""
    p_value: float = math.nan
    """Two-sided p-value of "effect = 0" by the interval's own method (NaN: none; the interval alone decides)."""
    adjusted_p: float = math.nan
    """Holm-adjusted p-value within the family (secondary comparisons; set by :func:`correct`)."""
    noise_only: bool = False
    """True when the interval ignores seed-to-seed variation of a training claim: no verdict is read from it."""
    mde: float = math.nan
    """Minimum detectable effect at 80% power (two-sided 5%) of the design that measured it."""

    @property
    def verdict(self) -> Verdict:
        if self.noise_only:
            return NO_VERDICT
        side = verdict(self.low, self.high, self.claim.direction)
        if side == "not significant":
            return side
        p = self.adjusted_p if self.claim.role == "secondary" else self.p_value
        if self.claim.role == "secondary" and math.isnan(p):
            return "not significant"  # never corrected: no reproduction can be read
        if not math.isnan(p) and p >= ALPHA:
            return "not significant"
        return side

    @property
    def reproduced(self) -> bool:
        return self.verdict == "reproduced"

    def observed(self) -> str:
        """``effect [low, high]`` as the findings table prints it."""
        return f"{self.effect:+.3f} [{self.low:+.3f}, {self.high:+.3f}]"

    def role_text(self) -> str:
        """``primary`` or ``secondary (Holm p = 0.12)`` as the findings table prints it."""
        if self.claim.role == "primary":
            return "primary" + ("" if math.isnan(self.p_value) else f" (p = {_p(self.p_value)})")
        return "secondary" + ("" if math.isnan(self.adjusted_p) else f" (Holm p = {_p(self.adjusted_p)})")

    def as_dict(self) -> dict[str, object]:
        return {
            **asdict(self.claim),
            "family": self.claim.family_name,
            "effect": self.effect,
            "low": self.low,
            "high": self.high,
            "interval": self.interval,
            "detail": self.detail,
            "p_value": self.p_value,
            "adjusted_p": self.adjusted_p,
            "noise_only": self.noise_only,
            "mde": self.mde,
            "verdict": self.verdict,
        }


def _p(p: float) -> str:
    return f"{p:.2g}" if p >= 1e-3 else "< 0.001"


def verdict(low: float, high: float, direction: int = 1) -> Verdict:
    """The interval's side: reproduced only when the whole interval lies on the paper's side of 0.

    A NaN bound (no interval could be made) is never a reproduction.
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


def holm(pvalues: Sequence[float]) -> list[float]:
    """Holm's step-down adjusted p-values, in the input order (NaN entries are not tests: they stay NaN and do
    not count in m). Sorted ascending, ``adj_(i) = max_{j <= i} min(1, (m - j + 1) p_(j))``; a hypothesis is
    rejected at level α exactly when its adjusted p-value is below α."""
    index = [i for i, p in enumerate(pvalues) if not math.isnan(p)]
    for i in index:
        if not 0.0 <= pvalues[i] <= 1.0:
            raise ValueError(f"p-value {i} is {pvalues[i]}, not in [0, 1]")
    order = sorted(index, key=lambda i: pvalues[i])
    m = len(order)
    out = [math.nan] * len(pvalues)
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * pvalues[i]))
        out[i] = running
    return out


def correct(findings: Sequence[Finding]) -> list[Finding]:
    """``findings`` with each secondary comparison's Holm-adjusted p-value (over its family's secondary ones);
    primary findings keep their p-value (``adjusted_p`` = ``p_value``). Raises ``ValueError`` when a family has
    more than one primary comparison."""
    families: dict[str, list[int]] = {}
    for i, f in enumerate(findings):
        families.setdefault(f.claim.family_name, []).append(i)
    out = list(findings)
    for family, members in families.items():
        primaries = [findings[i].claim.claim for i in members if findings[i].claim.role == "primary"]
        if len(primaries) > 1:
            raise ValueError(f"claim family {family!r} has {len(primaries)} primary comparisons {primaries}; name one")
        secondary = [i for i in members if findings[i].claim.role == "secondary"]
        adjusted = holm([findings[i].p_value for i in secondary])
        for i, p in zip(secondary, adjusted, strict=True):
            out[i] = replace(findings[i], adjusted_p=p)
        for i in members:
            if findings[i].claim.role == "primary":
                out[i] = replace(findings[i], adjusted_p=findings[i].p_value)
    return out


def findings_table(findings: Sequence[Finding], title: str = "Findings: what the organism reproduces") -> Table:
    """One row per finding: paper, claim, role (primary, or secondary with its Holm p), effect measured,
    observed [95% interval], how the interval was made, minimum detectable effect, verdict, per-seed or per-arm
    detail. Every study's findings table is this one."""
    from rlvr_lab.report import Table

    rows = tuple(
        (
            f.claim.paper,
            f.claim.claim,
            f.role_text(),
            f.claim.effect,
            f.observed(),
            f.interval,
            None if math.isnan(f.mde) else round(f.mde, 3),
            f.verdict,
            f.detail,
        )
        for f in findings
    )
    note = (
        "effect [95% interval]; reproduced: the interval excludes 0 on the paper's side and p < 0.05 (Holm-adjusted "
        "within the claim family for secondary comparisons), opposite: the same on the other side, not significant: "
        "otherwise; evaluation noise only: no verdict where the interval ignores seed-to-seed variation; MDE: "
        "minimum detectable effect at 80% power (criteria in rlvr_lab/studies/findings.py, fixed before the runs)"
    )
    columns = ("paper", "claim", "role", "effect", "observed", "interval", "MDE", "verdict", "per seed / per arm")
    return Table(title, columns, rows, note)
