"""Paired intervals and verdicts at their edges: the interval against a brute-force bootstrap, one and two seeds,
one problem, bounds on 0 and NaN bounds, and the exact text a finding carries. Written against the mutants that
survived tests/test_studies_findings.py and tests/test_studies_verdict.py (scripts/mutation.sh --run
studies.paired / studies.verdict)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from rlvr_lab.metrics.bootstrap import paired_bootstrap_diff
from rlvr_lab.metrics.significance import t_quantile
from rlvr_lab.studies.paired import mean_of, over_problems, over_seeds_and_problems, seeds_problems_interval
from rlvr_lab.studies.verdict import NO_VERDICT, Claim, Finding, verdict

CLAIM = Claim("Paper (2025)", "clipping helps", "Δ accuracy")


def test_seeds_problems_interval_matches_a_brute_force_bootstrap() -> None:
    """Resample seeds and problems by index, 20,000 times, with another generator: the same 95% interval."""
    rng = np.random.default_rng(7)
    matrix = rng.normal(0.1, 1.0, size=(5, 40)) + rng.normal(0.0, 0.5, size=(5, 1))  # a spread per seed
    S, P = matrix.shape
    brute = np.array([matrix[np.ix_(rng.integers(0, S, S), rng.integers(0, P, P))].mean() for _ in range(20_000)])
    low, high = seeds_problems_interval(matrix)
    want_low, want_high = np.quantile(brute, [0.025, 0.975])
    tolerance = 0.05 * brute.std()  # Monte Carlo error of a 2.5% quantile is about 0.03 standard deviations
    assert abs(low - want_low) < tolerance and abs(high - want_high) < tolerance, (low, high, want_low, want_high)
    assert seeds_problems_interval(matrix, seed=0) == (low, high)  # seeded (0 by default): the same interval
    assert seeds_problems_interval(matrix, seed=1) != (low, high)


def test_over_problems_is_the_union_of_the_paired_bootstrap_and_the_t_interval() -> None:
    rng = np.random.default_rng(3)
    a, b = rng.random(30), rng.random(30)  # continuous values: another seed gives other quantiles
    d = b - a
    ci = paired_bootstrap_diff(a, b, resamples=10_000, seed=0, confidence=0.95)
    half = t_quantile(0.975, 29) * d.std(ddof=1) / math.sqrt(30)
    found = over_problems(CLAIM, a, b, detail="d", note="n")
    assert found.effect == pytest.approx(ci.mean, abs=1e-15)
    assert found.low == pytest.approx(min(ci.lo, d.mean() - half), abs=1e-15)
    assert found.high == pytest.approx(max(ci.hi, d.mean() + half), abs=1e-15)
    assert found.low < d.mean() < found.high and 0.0 <= found.p_value <= 1.0
    assert (found.interval, found.detail) == ("paired bootstrap ∪ t over 30 problems (n)", "d")
    plain = over_problems(CLAIM, a, b)
    assert (plain.interval, plain.detail, plain.noise_only) == ("paired bootstrap ∪ t over 30 problems", "", False)
    # a clear effect: p far below 0.05 and the verdict reproduced; the same data on the other side: opposite
    assert over_problems(CLAIM, a, a + 0.5).verdict == "reproduced"
    assert over_problems(CLAIM, a, a - 0.5).verdict == "opposite"


def test_over_seeds_and_problems_with_one_seed_and_too_few_problems() -> None:
    two = over_seeds_and_problems(CLAIM, {1: [0.5, 0.25], 0: [0.25, 0.0]}, what="Δ")
    assert two.effect == 0.25
    assert two.detail == "Δ: s0 +0.125, s1 +0.375"  # seeds in order, whatever the dict's order
    assert two.interval == "t over 2 seeds × 2 problems"
    assert not math.isnan(two.low) and two.low < two.effect < two.high
    with pytest.raises(ValueError, match="need at least 2 seeds and 2 problems, got 2 × 1"):
        over_seeds_and_problems(CLAIM, {1: [0.5], 0: [0.25]})
    one_seed = over_seeds_and_problems(CLAIM, {3: [0.5, 0.0, 0.25]})
    assert one_seed.effect == 0.25 and one_seed.noise_only
    assert one_seed.interval == "paired bootstrap ∪ t over 3 problems (one training seed)"
    assert one_seed.detail == "s3 +0.250" and one_seed.verdict == NO_VERDICT
    with pytest.raises(ValueError, match=r"^need one \(P,\) difference per seed, got shape \(2, 0\)$"):
        over_seeds_and_problems(CLAIM, {0: [], 1: []})


def test_mean_of_averages_arrays_element_wise() -> None:
    assert mean_of([[1, 2, 3], [3, 4, 5]]).tolist() == [2.0, 3.0, 4.0]


@pytest.mark.parametrize(
    ("low", "high", "direction", "expected"),
    [
        (0.5, float("nan"), 1, "not significant"),  # either bound NaN is enough
        (float("nan"), -0.5, -1, "not significant"),
        (0.3, 0.3, 1, "reproduced"),  # a zero-width interval is in order
        (-0.5, 0.0, 1, "not significant"),  # touching 0 is not the opposite side
        (0.0, 0.5, -1, "not significant"),
    ],
)
def test_verdict_edges(low: float, high: float, direction: int, expected: str) -> None:
    assert verdict(low, high, direction) == expected


def test_finding_as_dict_names_every_field() -> None:
    found = Finding(CLAIM, 0.1, -0.05, 0.25, "paired", "s0 +0.1")
    assert found.as_dict() == {
        "paper": "Paper (2025)",
        "claim": "clipping helps",
        "effect": 0.1,  # the measured effect replaces the claim's own "effect" text (Claim.effect) here
        "direction": 1,
        "low": -0.05,
        "high": 0.25,
        "interval": "paired",
        "detail": "s0 +0.1",
        "family": "Paper (2025)",
        "role": "primary",
        "p_value": found.p_value,
        "adjusted_p": found.adjusted_p,
        "noise_only": False,
        "mde": found.mde,
        "verdict": "not significant",
    }
    assert math.isnan(found.p_value) and math.isnan(found.adjusted_p) and math.isnan(found.mde)
