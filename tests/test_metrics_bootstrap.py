"""Bootstrap bands and the paired difference CI on cases with known answers."""

from __future__ import annotations

import numpy as np
import pytest

from rlvr_lab.metrics import bootstrap_mean_band, paired_bootstrap_diff, pass_at_k_matrix


def test_constant_difference_has_zero_width() -> None:
    # Problems differ wildly in difficulty, but B is always exactly 0.1 better: pairing removes the spread.
    a = np.linspace(0.0, 0.9, 50)
    ci = paired_bootstrap_diff(a, a + 0.1, resamples=500, seed=3)
    assert ci.mean == pytest.approx(0.1)
    assert ci.lo == pytest.approx(0.1) and ci.hi == pytest.approx(0.1)


def test_two_problem_case_is_exact() -> None:
    # Differences [0, 1]: resampled means are 0, 0.5, 1 with probability 1/4, 1/2, 1/4.
    ci = paired_bootstrap_diff([0.0, 0.0], [0.0, 1.0], resamples=4000, seed=0)
    assert (ci.mean, ci.lo, ci.hi) == (0.5, 0.0, 1.0)
    narrow = paired_bootstrap_diff([0.0, 0.0], [0.0, 1.0], resamples=4000, seed=0, confidence=0.4)
    assert (narrow.lo, narrow.hi) == (0.5, 0.5)


def test_bernoulli_interval_matches_normal_theory() -> None:
    # Mean of 400 values, half ones: sd of the mean = sqrt(0.25 / 400) = 0.025; 95% CI ~ 0.5 +- 1.96 * 0.025.
    diff = np.tile([0.0, 1.0], 200)
    ci = paired_bootstrap_diff(np.zeros(400), diff, resamples=20000, seed=1)
    assert ci.mean == 0.5
    assert ci.lo == pytest.approx(0.5 - 1.96 * 0.025, abs=0.004)
    assert ci.hi == pytest.approx(0.5 + 1.96 * 0.025, abs=0.004)
    assert ci.as_dict()["resamples"] == 20000


def test_seeded_and_single_problem() -> None:
    x = np.random.default_rng(0).random(30)
    assert paired_bootstrap_diff(np.zeros(30), x, 300, seed=5) == paired_bootstrap_diff(np.zeros(30), x, 300, seed=5)
    assert paired_bootstrap_diff(np.zeros(30), x, 300, seed=5) != paired_bootstrap_diff(np.zeros(30), x, 300, seed=6)
    one = paired_bootstrap_diff([0.2], [0.7], resamples=100)
    assert (one.mean, one.lo, one.hi) == pytest.approx((0.5, 0.5, 0.5))


def test_band_over_a_curve() -> None:
    rng = np.random.default_rng(2)
    matrix = pass_at_k_matrix(16, rng.integers(0, 17, size=40), [1, 2, 4, 8, 16])
    mean, lo, hi = bootstrap_mean_band(matrix, resamples=400, seed=0)
    assert mean.shape == lo.shape == hi.shape == (5,)
    np.testing.assert_allclose(mean, matrix.mean(axis=0))
    assert np.all(lo <= mean) and np.all(mean <= hi) and np.all(hi - lo > 0)


@pytest.mark.parametrize(
    ("a", "b", "kwargs", "message"),
    [
        ([], [], {}, "P >= 1"),
        ([0.1, 0.2], [0.1], {}, "same problems"),
        ([0.1], [0.2], {"resamples": 0}, "resamples"),
        ([0.1], [0.2], {"confidence": 1.0}, "confidence"),
    ],
)
def test_bad_inputs_raise(a: list[float], b: list[float], kwargs: dict[str, float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        paired_bootstrap_diff(a, b, **kwargs)
