"""``rlvr study calibration``: does each finding's interval cover its true effect, and how often does a null
effect get a verdict word? Simulated through the findings' own functions.

Every design the demo's findings use is simulated many times from a known truth, and each simulated data set goes
through the very function the demo calls (:func:`~rlvr_lab.studies.paired.over_seeds_and_problems`,
:func:`~rlvr_lab.studies.paired.over_problems`, the sign test of :mod:`rlvr_lab.metrics.significance`) and the one
verdict rule (:class:`~rlvr_lab.studies.verdict.Finding`). Each design runs twice: under the null (true effect
exactly 0) and at a known effect. Printed per design: the share of intervals that cover the true effect, and the
share of each verdict.

The truth. Problems are drawn from a fixed population of ``population`` difficulties ``p ~ Beta(0.6, 0.45)``
(pass@1 about 0.57 with many problems near 0 and 1, as the v2 organisms' calibration tables show). A training
run with seed ``s`` moves problem ``p``'s accuracy to ``p + clip(δ + a_s + e_{s,p}, −1, 1) · p (1 − p)`` (a seed
effect ``a_s ~ N(0, seed_sd²)`` shared by its problems, a per-problem one ``e ~ N(0, problem_sd²)``; the clip
keeps the accuracy in [0, 1], and a symmetric clip keeps the null exactly 0). The default ``seed_sd`` 0.3 gives a
seed-to-seed spread of the mean change of about 0.037, the spread of the demo's five ``clip`` runs (per seed
−0.039, −0.028, −0.082, −0.115, −0.037). The true effect is the population mean, computed exactly (the clipped
normal's mean times the population's mean of ``p (1 − p)``). Evaluations draw Binomial(samples, accuracy).

Designs (:func:`demo_designs`): a training arm against the base evaluation it shares (the spurious-rewards rows,
the ablation's arm − base); two arms on the same seeds (the ablation's comparisons); one training seed (the
spurious-rewards rows at ``--spurious-seeds 1``, which get no verdict: their coverage is shown as the reason); two
fixed models over problems (the boundary's pass@1); and the boundary's largest k
(:func:`~rlvr_lab.studies.paired.at_large_k`: bootstrap and t intervals, sign test). The
old interval of training arms, the percentile bootstrap over seeds and problems, is simulated beside the t
interval on the same data sets, so the table shows which one reaches 95%.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import numpy as np

from rlvr_lab.metrics import pass_at_k
from rlvr_lab.report import Table
from rlvr_lab.studies.paired import at_large_k, over_problems, over_seeds_and_problems, seeds_problems_interval
from rlvr_lab.studies.verdict import NO_VERDICT, Claim, Finding

Kind = Literal["arm-vs-base", "arm-vs-arm", "models", "large-k"]
VERDICTS = ("reproduced", "not significant", "opposite", NO_VERDICT)
COVERAGE_TARGET = 0.94
"""The least coverage a design that gives verdicts must reach (95% intervals, less simulation error)."""
NULL_REPRODUCED_MAX = 0.03
"""The most "reproduced" verdicts a design may give under the null (2.5% is a one-sided 5% test's share)."""
CLAIM = Claim("calibration", "simulated effect", "Δ", role="primary")


@dataclass(frozen=True)
class Population:
    """The simulated truth (module docstring)."""

    alpha: float = 0.6
    beta: float = 0.45
    size: int = 20_000
    seed_sd: float = 0.3
    """Spread of a training seed's shift (in units of p (1 − p))."""
    problem_sd: float = 0.5
    """Spread of a (seed, problem) shift."""
    seed: int = 0

    def difficulties(self) -> np.ndarray:
        return np.random.default_rng([self.seed, 0xCA11B]).beta(self.alpha, self.beta, self.size)


@dataclass(frozen=True)
class Design:
    """One design of the demo's findings: its sizes and the effect it is also simulated at."""

    name: str
    kind: Kind
    problems: int
    samples: int
    seeds: int = 1
    k: int = 1
    """pass@k of the ``models`` and ``large-k`` designs."""
    shift: float = 0.4
    """δ of the known effect (module docstring); for ``large-k``, the share of each problem's accuracy RL loses."""
    decides: bool = True
    """False for a design that gives no verdict by construction (one training seed)."""


@dataclass(frozen=True)
class Rates:
    """What one design gave over ``sims`` simulated data sets at one true effect."""

    truth: float
    coverage: float
    verdicts: dict[str, float]
    half_width: float
    """Mean half-width of the interval."""
    old_coverage: float | None = None
    """Coverage of the percentile bootstrap over seeds and problems on the same data sets (training designs)."""
    old_reproduced: float | None = None


@dataclass(frozen=True)
class DesignResult:
    design: Design
    null: Rates
    effect: Rates

    @property
    def passes(self) -> bool:
        """Coverage >= 0.94 at both truths and "reproduced" <= 0.03 under the null (designs that decide)."""
        if not self.design.decides:
            return self.null.verdicts[NO_VERDICT] == 1.0 and self.effect.verdicts[NO_VERDICT] == 1.0
        return (
            min(self.null.coverage, self.effect.coverage) >= COVERAGE_TARGET
            and self.null.verdicts["reproduced"] <= NULL_REPRODUCED_MAX
        )

    def as_dict(self) -> dict[str, Any]:
        return {"design": asdict(self.design), "null": asdict(self.null), "effect": asdict(self.effect),
                "passes": self.passes}  # fmt: skip


# ----------------------------------------------------------------------------------------------------------------
# One simulated data set per design kind


def clipped_normal_mean(mean: float, sd: float) -> float:
    """E[clip(X, −1, 1)] for X ~ N(mean, sd²)."""
    if sd == 0:
        return max(-1.0, min(1.0, mean))
    a, b = (-1.0 - mean) / sd, (1.0 - mean) / sd
    cdf = lambda x: 0.5 * (1.0 + math.erf(x / math.sqrt(2.0)))  # noqa: E731
    pdf = lambda x: math.exp(-x * x / 2.0) / math.sqrt(2.0 * math.pi)  # noqa: E731
    return -cdf(a) + (1.0 - cdf(b)) + mean * (cdf(b) - cdf(a)) + sd * (pdf(a) - pdf(b))


def _trained(p: np.ndarray, shift: float, seeds: int, pop: Population, rng: np.random.Generator) -> np.ndarray:
    """(S, P) accuracies of ``seeds`` training runs on problems of accuracy ``p``."""
    u = shift + rng.normal(0.0, pop.seed_sd, (seeds, 1)) + rng.normal(0.0, pop.problem_sd, (seeds, p.size))
    return p + np.clip(u, -1.0, 1.0) * p * (1.0 - p)


def _rl_model(p: np.ndarray, design: Design, shift: float) -> np.ndarray:
    """The second model of the ``models`` and ``large-k`` designs: better at pass@1, or losing a share of every
    problem's accuracy (what narrows the boundary at large k)."""
    if design.kind == "models":
        return np.clip(p + shift * 4.0 * p * (1.0 - p), 0.0, 1.0)
    return p * (1.0 - shift)


def true_effect(design: Design, pop: Population, difficulties: np.ndarray, null: bool) -> float:
    """The design's true effect (exact over the population)."""
    shift = 0.0 if null else design.shift
    if design.kind in ("arm-vs-base", "arm-vs-arm"):
        weight = float(np.mean(difficulties * (1.0 - difficulties)))
        spread = math.hypot(pop.seed_sd, pop.problem_sd)
        # arm − arm: the second arm trains at δ = 0, whose clipped mean is 0, so both kinds share one truth
        return clipped_normal_mean(shift, spread) * weight
    other = _rl_model(difficulties, design, shift)
    gain = (1.0 - (1.0 - other) ** design.k) - (1.0 - (1.0 - difficulties) ** design.k)
    return float(np.mean(gain if design.kind == "models" else -gain))


def simulate_once(
    design: Design,
    pop: Population,
    difficulties: np.ndarray,
    null: bool,
    rng: np.random.Generator,
    resamples: int,
    old: bool = True,
) -> tuple[Finding, tuple[float, float] | None]:
    """One data set through the demo's function for the design; with ``old``, also the old bootstrap interval
    (training designs)."""
    shift = 0.0 if null else design.shift
    p = rng.choice(difficulties, design.problems)
    n = design.samples
    if design.kind in ("arm-vs-base", "arm-vs-arm"):
        after = rng.binomial(n, _trained(p, shift, design.seeds, pop, rng)) / n
        if design.kind == "arm-vs-base":
            before = (rng.binomial(n, p) / n)[None, :]
        else:
            before = rng.binomial(n, _trained(p, 0.0, design.seeds, pop, rng)) / n
        matrix = after - before
        finding = over_seeds_and_problems(CLAIM, dict(enumerate(matrix)), p_value=False, resamples=resamples)
        return finding, seeds_problems_interval(matrix, resamples, seed=0) if old and design.seeds > 1 else None
    base_c = rng.binomial(n, p)
    rl_c = rng.binomial(n, _rl_model(p, design, shift))
    if design.kind == "models":
        return over_problems(CLAIM, pass_at_k(n, base_c, 1), pass_at_k(n, rl_c, 1), resamples=resamples), None
    return at_large_k(CLAIM, base_c, rl_c, n, design.k, resamples), None


def simulate(
    design: Design, pop: Population, null: bool, sims: int, resamples: int, seed: int = 0, old: bool = True
) -> Rates:
    """``sims`` data sets of ``design`` at the null or its known effect: coverage and verdict shares (and, with
    ``old``, the old bootstrap's coverage on the same data sets)."""
    difficulties = pop.difficulties()
    truth = true_effect(design, pop, difficulties, null)
    rng = np.random.default_rng([seed, int(null), sum(map(ord, design.name))])
    covered = old_covered = old_reproduced = 0
    half = 0.0
    counts = dict.fromkeys(VERDICTS, 0)
    for _ in range(sims):
        finding, before = simulate_once(design, pop, difficulties, null, rng, resamples, old)
        covered += finding.low <= truth <= finding.high
        half += (finding.high - finding.low) / 2.0
        counts[finding.verdict] += 1
        if before is not None:
            old_covered += before[0] <= truth <= before[1]
            old_reproduced += before[0] > 0
    has_old = old and design.kind in ("arm-vs-base", "arm-vs-arm") and design.seeds > 1
    return Rates(
        truth=truth,
        coverage=covered / sims,
        verdicts={v: c / sims for v, c in counts.items()},
        half_width=half / sims,
        old_coverage=old_covered / sims if has_old else None,
        old_reproduced=old_reproduced / sims if has_old else None,
    )


# ----------------------------------------------------------------------------------------------------------------
# The demo's designs and the study


def demo_designs(
    problems: int = 120,
    samples: int = 8,
    seeds: int = 5,
    boundary_problems: int = 500,
    boundary_samples: int = 1024,
) -> list[Design]:
    """The designs of the demo's findings at its sizes (held-out evaluation, seeds, boundary problems and samples)."""
    k = max(1, boundary_samples // 4)
    return [
        Design(f"training arm − base, {seeds} seeds × {problems} problems", "arm-vs-base", problems, samples, seeds),
        Design(f"arm − arm on the same {seeds} seeds × {problems} problems", "arm-vs-arm", problems, samples, seeds),
        Design(f"one training seed × {problems} problems (no verdict)", "arm-vs-base", problems, samples, 1,
               decides=False),
        Design(f"two models, pass@1 over {boundary_problems} problems", "models", boundary_problems, boundary_samples,
               shift=0.02),
        Design(f"boundary pass@{k}: {boundary_problems} problems × {boundary_samples} samples, bootstrap and sign "
               "test", "large-k", boundary_problems, boundary_samples, k=k, shift=0.7),
    ]  # fmt: skip


@dataclass(frozen=True)
class CalibrationConfig:
    designs: tuple[Design, ...] = field(default_factory=lambda: tuple(demo_designs()))
    population: Population = field(default_factory=Population)
    sims: int = 2000
    """Simulated data sets per design and truth (the coverage's standard error is about 0.005 at 2,000)."""
    resamples: int = 1000
    """Bootstrap resamples per simulated interval (the demo uses 10,000; fewer keep the simulation fast)."""
    seed: int = 0
    old: bool = True
    """Also simulate the old percentile bootstrap over seeds and problems on the training designs."""


def run_calibration(config: CalibrationConfig) -> dict[str, Any]:
    """Every design at the null and at its known effect (module docstring); ``passes`` for the whole set."""
    started = time.monotonic()
    results = [
        DesignResult(
            design,
            simulate(design, config.population, True, config.sims, config.resamples, config.seed, config.old),
            simulate(design, config.population, False, config.sims, config.resamples, config.seed, config.old),
        )
        for design in config.designs
    ]
    return {
        "sims": config.sims,
        "resamples": config.resamples,
        "population": asdict(config.population),
        "criteria": {"coverage_at_least": COVERAGE_TARGET, "null_reproduced_at_most": NULL_REPRODUCED_MAX},
        "designs": [r.as_dict() for r in results],
        "passes": all(r.passes for r in results),
        "seconds": time.monotonic() - started,
    }


def calibration_table(summary: dict[str, Any]) -> Table:
    """One row per design and truth: true effect, coverage, mean half-width, verdict shares, the old interval."""
    rows = []
    for record in summary["designs"]:
        design = record["design"]
        for truth in ("null", "effect"):
            r = record[truth]
            old = "—" if r["old_coverage"] is None else f"{r['old_coverage']:.3f} / {r['old_reproduced']:.3f}"
            rows.append(
                (design["name"], truth, round(r["truth"], 4), r["coverage"], round(r["half_width"], 4),
                 *(r["verdicts"][v] for v in VERDICTS), old)
            )  # fmt: skip
    columns = ("design", "truth", "true effect", "coverage", "half-width", *VERDICTS,
               "old bootstrap: coverage / reproduced")  # fmt: skip
    note = (
        f"{summary['sims']} simulated data sets per row through the findings' own functions; a design that decides "
        f"passes with coverage >= {COVERAGE_TARGET} and null 'reproduced' <= {NULL_REPRODUCED_MAX}"
    )
    return Table("Calibration of the findings' intervals", columns, tuple(rows), note)
