"""The audit's verdicts: pure functions of per-problem results (see :mod:`.audit` for what each check means).

Every check is a :class:`~rlvr_lab.studies.verdict.Finding` with its interval over seeds × problems
(:func:`~rlvr_lab.studies.paired.over_seeds_and_problems`), judged by the project's one rule; each belongs to a
family with one primary comparison fixed here before any run (:data:`PRIMARY`). A test feeds these functions a
case built to fail (a "gain" the random reward gives as well) and one built to pass.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from rlvr_lab.metrics.significance import sign_test
from rlvr_lab.studies.audit import ABLATIONS, CLAIMED, AuditConfig
from rlvr_lab.studies.paired import over_seeds_and_problems
from rlvr_lab.studies.verdict import Claim, Finding, correct

FAMILIES = ("controls", "families", "clip ablation", "large k", "soundness")
PRIMARY = {
    "controls": "random:0.5 on the first model (else the first control)",
    "families": "the first model",
    "clip ablation": "no-clip on the first model",
    "large k": "the first model",
    "soundness": "the first model",
}
"""The primary comparison of each family, named before the run; every other check of the family is secondary."""
AUDIT = "Audit of an RLVR gain"


@dataclass(frozen=True)
class ModelData:
    """One model's per-problem numbers, in one problem order (what the verdicts read)."""

    model: str
    base: NDArray[np.float64]
    """(P,) base accuracy per problem (avg@n)."""
    arms: Mapping[str, Mapping[int, NDArray[np.float64]]]
    """arm → seed → (P,) accuracy per problem of that run's final policy."""
    base_sound: NDArray[np.float64] | None = None
    """(P,) the base's share of samples that are correct *and* sound (see the module docstring)."""
    claimed_sound: Mapping[int, NDArray[np.float64]] | None = None
    """seed → (P,) the same for the claimed arm."""
    unsound_shares: tuple[float, float] | None = None
    """Share of correct answers that are unsound: (base, claimed over seeds)."""
    base_k: NDArray[np.int64] | None = None
    """(Q,) correct samples of the base per large-k problem."""
    claimed_k: Mapping[int, NDArray[np.int64]] | None = None
    """seed → (Q,) correct samples of the claimed arm per large-k problem."""
    k: int = 0
    """Samples per large-k problem."""


@dataclass(frozen=True)
class Check:
    """One verdict of the audit: its family, what it compares, and the finding (whose claim carries its role)."""

    family: str
    subject: str
    """The control, model or ablation arm compared."""
    model: str
    finding: Finding
    seeds: int
    problems: int
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def role(self) -> str:
        """``primary`` or ``secondary`` (see :data:`PRIMARY`)."""
        return self.finding.claim.role

    @property
    def holds(self) -> bool:
        return self.finding.verdict == "reproduced"

    def as_dict(self) -> dict[str, Any]:
        f = self.finding
        return {
            "family": self.family,
            "subject": self.subject,
            "model": self.model,
            "role": self.role,
            "claim": f.claim.claim,
            "effect_measured": f.claim.effect,
            "effect": _number(f.effect),
            "interval": [_number(f.low), _number(f.high)],
            "interval_kind": f.interval,
            "p_value": _number(f.p_value),
            "holm_p": _number(f.adjusted_p) if self.role == "secondary" else None,
            "verdict": f.verdict,
            "holds": self.holds,
            "seeds": self.seeds,
            "problems": self.problems,
            "detail": f.detail,
            **self.extra,
        }


def _number(value: float) -> float | None:
    return None if math.isnan(value) else round(float(value), 6)


def pass_at_k_rows(n: int, c: NDArray[np.int64], k: int) -> NDArray[np.float64]:
    from rlvr_lab.metrics import pass_at_k

    return pass_at_k(np.full(len(c), n), c, k)


Arrays = Mapping[int, NDArray[np.float64]]


def paired(a: Arrays, b: Arrays | NDArray[np.float64]) -> dict[int, NDArray[np.float64]]:
    """seed → (P,) ``a − b`` on the seeds both have (``b`` one array: the base, shared by every seed)."""
    if isinstance(b, Mapping):
        return {s: np.asarray(a[s]) - np.asarray(b[s]) for s in sorted(set(a) & set(b))}
    return {s: np.asarray(a[s]) - np.asarray(b) for s in sorted(a)}


def _check(
    family: str, subject: str, model: str, primary: bool, text: str, effect: str, d: dict, what: str, **extra: Any
) -> Check:
    """One check: ``d`` (seed -> per-problem difference) judged over seeds × problems."""
    claim = Claim(AUDIT, text, effect, role="primary" if primary else "secondary", family=family)
    problems = len(next(iter(d.values()))) if d else 0
    finding = over_seeds_and_problems(claim, d, what)
    if "sign_test_p" in extra:  # large k: "reproduced" needs the sign test too (as paired.at_large_k does)
        finding = dataclasses.replace(finding, p_value=max(finding.p_value, extra["sign_test_p"]))
    return Check(family, subject, model, finding, len(d), problems, extra)


def _control_checks(config: AuditConfig, data: Sequence[ModelData], first: str) -> list[Check]:
    reward = config.claimed.reward
    controls = [c for c in config.controls if c != reward]
    primary_control = "random:0.5" if "random:0.5" in controls else (controls[0] if controls else "")
    return [
        _check(
            "controls",
            control,
            m.model,
            m.model == first and control == primary_control,
            f"{reward} beats {control} ({m.model})",
            f"Δ accuracy, {CLAIMED} − {control}, same seeds",
            paired(m.arms.get(CLAIMED, {}), m.arms[control]),
            f"{CLAIMED} − {control} Δ accuracy",
        )
        for m in data
        for control in controls
        if control in m.arms
    ]


def _family_and_ablation_checks(config: AuditConfig, data: Sequence[ModelData], first: str) -> list[Check]:
    reward = config.claimed.reward
    families = [
        _check(
            "families",
            m.model,
            m.model,
            m.model == first,
            f"{reward} raises accuracy on {m.model}",
            "Δ accuracy, claimed − base",
            paired(m.arms.get(CLAIMED, {}), m.base),
            "claimed − base Δ accuracy",
        )
        for m in data
    ]
    ablations = [
        _check(
            "clip ablation",
            arm,
            m.model,
            m.model == first and arm == ABLATIONS[0],
            f"the gain holds with {arm} ({m.model})",
            f"Δ accuracy, {arm} − base",
            paired(m.arms[arm], m.base),
            f"{arm} − base Δ accuracy",
        )
        for m in data
        for arm in config.ablations
        if arm in m.arms
    ]
    return families + ablations


def _large_k_check(m: ModelData, first: str) -> Check:
    k = m.k
    base_pk = pass_at_k_rows(k, m.base_k, k)
    rl_pk = {s: pass_at_k_rows(k, c, k) for s, c in m.claimed_k.items()}
    # per problem: the share of seeds whose RL model solves it at k, minus whether the base does
    step = np.mean([c > 0 for c in m.claimed_k.values()], axis=0) - (m.base_k > 0)
    only_rl, only_base = int((step > 0).sum()), int((step < 0).sum())
    return _check(
        "large k",
        m.model,
        m.model,
        m.model == first,
        f"at k = {k} the RL model solves problems the base cannot ({m.model})",
        f"pass@{k}, claimed − base",
        paired(rl_pk, base_pk),
        f"pass@{k} base {base_pk.mean():.3f}; claimed − base",
        k=k,
        solved_only_by_rl=only_rl,
        solved_only_by_base=only_base,
        sign_test_p=round(sign_test(only_rl, only_base), 6),
    )


def _soundness_check(m: ModelData, first: str) -> Check:
    shares = m.unsound_shares or (math.nan, math.nan)
    return _check(
        "soundness",
        m.model,
        m.model,
        m.model == first,
        f"the gain is made of sound answers ({m.model})",
        "Δ accuracy counting only sound correct answers, claimed − base",
        paired(m.claimed_sound, m.base_sound),
        "claimed − base Δ sound accuracy",
        unsound_share_base=_number(shares[0]),
        unsound_share_claimed=_number(shares[1]),
    )


def audit_checks(config: AuditConfig, data: Sequence[ModelData]) -> list[Check]:
    """Every check of the audit (see :mod:`.audit`), in family order, secondary ones Holm-corrected within their
    family (:func:`~rlvr_lab.studies.verdict.correct`); pure given ``data``. The first model's check is each
    family's primary one (for controls: against ``random:0.5``), fixed before any run."""
    first = data[0].model if data else ""
    checks = [
        *_control_checks(config, data, first),
        *_family_and_ablation_checks(config, data, first),
        *(_large_k_check(m, first) for m in data if m.base_k is not None and m.claimed_k),
        *(_soundness_check(m, first) for m in data if m.base_sound is not None and m.claimed_sound),
    ]
    corrected = correct([c.finding for c in checks])
    return [dataclasses.replace(c, finding=f) for c, f in zip(checks, corrected, strict=True)]


def gain_is_real(checks: Sequence[Check]) -> bool:
    """The audit's one-line answer: every primary check of controls, families and clip ablation holds."""
    needed = [c for c in checks if c.role == "primary" and c.family in ("controls", "families", "clip ablation")]
    return bool(needed) and all(c.holds for c in needed)
