"""Paired intervals and verdicts at their edges: the interval against a brute-force bootstrap, one and two seeds,
one problem, bounds on 0 and NaN bounds, and the exact text a finding carries. Written against the mutants that
survived tests/test_studies_findings.py and tests/test_studies_verdict.py (scripts/mutation.sh --run
studies.paired / studies.verdict)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from rlvr_lab.metrics.bootstrap import paired_bootstrap_diff
from rlvr_lab.metrics.passk import pass_at_k
from rlvr_lab.metrics.significance import t_quantile
from rlvr_lab.studies.paired import at_large_k, mean_of, over_problems, over_seeds_and_problems, seeds_problems_interval
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


# Closed forms of Student's t for one and two degrees of freedom (the Cauchy distribution and t_2), independent of
# the numerical t_cdf / t_quantile the intervals use.
def _t1_quantile(q: float) -> float:
    return math.tan(math.pi * (q - 0.5))


def _t2_quantile(q: float) -> float:
    return (2.0 * q - 1.0) / math.sqrt(2.0 * q * (1.0 - q))


def _t1_p(t: float) -> float:
    return 1.0 - 2.0 / math.pi * math.atan(abs(t))


def _t2_p(t: float) -> float:
    return 1.0 - abs(t) / math.sqrt(2.0 + t * t)


Z975, Z80 = 1.959963984540054, 0.8416212335729143
"""Normal quantiles at 97.5% and 80% (published tables)."""


def test_two_seeds_three_problems_interval_and_mde_from_the_closed_forms() -> None:
    """S = 2 (t with 1 df) and P = 3 (2 df) differ, so each mean square must meet its own quantile. Row means 0.2
    and 0.6: MS_seeds = 3 × 0.08 = 0.24; column means 0.3, 0.35, 0.55: MS_problems = 2 × 0.0175 = 0.035."""
    from rlvr_lab.studies.paired import mean_squares, seeds_problems_t

    matrix = [[0.1, 0.3, 0.2], [0.5, 0.4, 0.9]]
    assert mean_squares(matrix) == pytest.approx((0.24, 0.035), rel=1e-12)
    low, high, p, mde = seeds_problems_t(matrix)
    half = math.sqrt(_t1_quantile(0.975) ** 2 * 0.24 + _t2_quantile(0.975) ** 2 * 0.035) / math.sqrt(6)
    assert (low, high) == pytest.approx((0.4 - half, 0.4 + half), rel=1e-9)
    power = (_t1_quantile(0.975) + _t1_quantile(0.8)) ** 2 * 0.24 + (
        _t2_quantile(0.975) + _t2_quantile(0.8)
    ) ** 2 * 0.035
    assert mde == pytest.approx(math.sqrt(power / 6), rel=1e-9)
    assert 0.05 < p < 1.0 and math.isnan(seeds_problems_t(matrix, p_value=False)[2])


@pytest.mark.parametrize(
    ("matrix", "expected_p"),
    [
        # seeds differ, problems do not (each row constant): the one-sample t test over 3 seed means, 2 df
        ([[0.1] * 4, [0.3] * 4, [0.8] * 4], _t2_p(0.4 / (math.sqrt(0.13) / math.sqrt(3)))),
        # problems differ, seeds do not (equal rows): the t test over 2 problem means, 1 df
        ([[0.2, 0.5]] * 3, _t1_p(0.35 / (math.sqrt(0.045) / math.sqrt(2)))),
        # MS_seeds = MS_problems = 0.25 (both 1 df): t = 0.5 / sqrt(0.5 / 4)
        ([[0.0, 0.5], [0.5, 1.0]], _t1_p(0.5 / math.sqrt(0.125))),
        # MS_seeds + MS_problems = 1 exactly
        ([[0.0, 0.0], [1.0, 1.0]], 0.5),
        # a large p (about 0.9), where the bisection must stay below α = 1
        ([[-1.0, -1.0], [1.2, 1.2]], _t1_p(0.1 / 1.1)),
    ],
)
def test_the_p_value_is_the_t_tests_where_one_source_of_variation_is_absent(
    matrix: list[list[float]], expected_p: float
) -> None:
    from rlvr_lab.studies.paired import seeds_problems_t

    assert seeds_problems_t(matrix)[2] == pytest.approx(expected_p, rel=1e-6)


def test_the_p_value_at_its_edges() -> None:
    from rlvr_lab.studies.paired import seeds_problems_t

    assert seeds_problems_t([[0.3, 0.3], [0.3, 0.3]])[2] == 0.0  # no spread, a non-zero mean: certain
    assert seeds_problems_t([[1.0, 1.0], [1.0, 1.0]])[2] == 0.0
    assert seeds_problems_t([[0.0, 0.0], [0.0, 0.0]])[2] == 1.0  # no spread, mean 0
    assert seeds_problems_t([[-1.0, -1.0], [1.0, 1.0 + 4e-12]])[2] == 1.0  # a mean of 1e-12 against a spread of 1
    assert seeds_problems_t([[5.0, 5.0 + 1e-9], [5.0, 5.0]])[2] == 1e-6  # far beyond: the floor, 1e-6


def test_bootstrap_p_is_twice_the_smaller_share_on_either_side_of_zero() -> None:
    from rlvr_lab.studies.paired import bootstrap_p

    assert bootstrap_p(np.array([-1.0, 1.0, 2.0, 3.0])) == 0.5
    assert bootstrap_p(np.array([-1.0, 0.0, 0.0, 1.0, 2.0, 3.0, 4.0, 5.0])) == 0.75  # zeros count on both sides
    assert bootstrap_p(np.array([-5.0, -4.0, -3.0, -2.0, -1.0, 0.0, 0.0, 1.0])) == 0.75
    assert bootstrap_p(np.array([0.5, 1.0])) == 0.0 and bootstrap_p(np.zeros(3)) == 1.0


def test_over_problems_t_part_p_and_mde_on_two_problems() -> None:
    """Two problems: the t interval has 1 df (the Cauchy quantile 12.71), wider than any bootstrap of two values;
    p is the t test's (larger than the bootstrap's); MDE = (z_.975 + z_.8) × se."""
    found = over_problems(CLAIM, [0.0, 0.0], [0.1, 0.3], resamples=500)
    se = math.sqrt(0.02) / math.sqrt(2)
    assert (found.low, found.high) == pytest.approx((0.2 - _t1_quantile(0.975) * se, 0.2 + _t1_quantile(0.975) * se))
    assert found.p_value == pytest.approx(_t1_p(0.2 / se), rel=1e-6)
    assert found.mde == pytest.approx((Z975 + Z80) * se, rel=1e-9)
    three = over_problems(CLAIM, [0.0, 0.0, 0.0], [0.1, 0.3, 0.8], resamples=500)
    assert three.p_value == pytest.approx(_t2_p(0.4 / (math.sqrt(0.13) / math.sqrt(3))), rel=1e-6)
    assert over_problems(CLAIM, [0.0] * 3, [1.0] * 3, resamples=500).p_value == 0.0  # the same gain everywhere
    assert over_problems(CLAIM, [0.5] * 3, [0.5] * 3, resamples=500).p_value == 1.0


def test_over_problems_bootstrap_part_is_seed_0_and_the_resamples_asked() -> None:
    """16 problems unchanged and 4 gains near 1: with 300 resamples of seed 0 the percentile bootstrap's upper bound
    (0.391) exceeds the t interval's (0.378), so it is the bound; another seed (0.365) or the default 10,000
    resamples (0.383) would give another. One large gain among 19 zeros: the bootstrap's p (about 0.7) exceeds the
    t test's (0.33), so it is the p-value."""
    from rlvr_lab.metrics.bootstrap import resampled_means
    from rlvr_lab.studies.paired import bootstrap_p

    d = np.array([0.0] * 16 + [0.9, 1.0, 1.0, 0.95])
    found = over_problems(CLAIM, np.zeros(20), d, resamples=300)
    t_high = float(d.mean()) + t_quantile(0.975, 19) * float(np.std(d, ddof=1)) / math.sqrt(20)
    assert found.high == float(np.quantile(resampled_means(d, 300, seed=0)[:, 0], 0.975)) > t_high + 0.01
    one = np.array([0.0] * 19 + [1.0])
    found = over_problems(CLAIM, np.zeros(20), one, resamples=300)
    assert found.p_value == bootstrap_p(resampled_means(one, 300, seed=0)[:, 0]) > 0.5


def test_one_seed_is_the_bootstrap_over_its_problems_with_the_resamples_asked() -> None:
    d = [0.0] * 16 + [0.9, 1.0, 1.0, 0.95]
    one = over_seeds_and_problems(CLAIM, {3: d}, resamples=300)
    assert one.noise_only is True and one.interval.endswith("(one training seed)")
    assert (one.low, one.high, one.p_value) == (lambda f: (f.low, f.high, f.p_value))(
        over_problems(CLAIM, np.zeros(20), d, resamples=300)
    )
    assert one.high != over_problems(CLAIM, np.zeros(20), d).high  # not the default 10,000 resamples


@pytest.mark.parametrize(("a", "b"), [([], []), ([1.0, 2.0], [1.0, 2.0, 3.0]), ([[1.0, 2.0]], [[1.0, 2.0]])])
def test_over_problems_refuses_what_is_not_one_difference_per_problem(a: list, b: list) -> None:
    with pytest.raises(ValueError, match="a and b must be 1-D over the same problems"):
        over_problems(CLAIM, a, b)


def test_at_large_k_counts_the_problems_only_one_model_solves() -> None:
    """Problem 0 neither, 1 only the base (1 sample of 8), 2 both, 3 and 4 only RL (1 and 3 samples), 5 both."""
    base_c, rl_c = [0, 1, 1, 0, 0, 5], [0, 0, 2, 1, 3, 5]
    found = at_large_k(CLAIM, base_c, rl_c, samples=8, k=4, resamples=300)
    assert found.interval.endswith("exact sign test on the 3 problems one model solves")
    assert found.detail.startswith("solved only by base 1, only by RL 2: sign test p = 1;")
    plain = over_problems(CLAIM, pass_at_k(8, np.array(rl_c), 4), pass_at_k(8, np.array(base_c), 4), resamples=300)
    assert (found.low, found.high) == (plain.low, plain.high)  # the resamples asked for, not the default
