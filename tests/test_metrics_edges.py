"""pass@k and the bootstrap at their edges: whole-number floats, shapes that do not match, empty sets, one resample,
the defaults, and every refusal's message. Written against the mutants that survived tests/test_metrics_passk.py
and tests/test_metrics_bootstrap.py (scripts/mutation.sh --run metrics.passk / metrics.bootstrap)."""

from __future__ import annotations

import numpy as np
import pytest

from rlvr_lab.metrics.bootstrap import BootstrapCI, bootstrap_mean_band, paired_bootstrap_diff, resampled_means
from rlvr_lab.metrics.passk import (
    avg_at_n,
    check_counts,
    check_ks,
    log_spaced_ks,
    pass_at_k_curve,
    pass_at_k_matrix,
    powers_of_two,
)

# ----------------------------------------------------------------------------------------------------- pass@k


def test_counts_are_int64_and_whole_floats_are_accepted() -> None:
    n, c = check_counts([5.0, 3.0], [3.0, 0.0])  # odd whole numbers as floats
    assert n.dtype == np.int64 and c.dtype == np.int64
    assert n.tolist() == [5, 3] and c.tolist() == [3, 0]
    n, c = check_counts(4, [1, 2, 3])  # a scalar n is every problem's
    assert n.tolist() == [4, 4, 4]


@pytest.mark.parametrize(
    ("n", "c", "message"),
    [
        ([4, 4, 4], [1, 2], r"^n and c must be 1-D with one entry per problem, got shapes \(3,\) and \(2,\)$"),
        ([[4, 4]], [1, 2], r"^n and c must be 1-D with one entry per problem, got shapes \(1, 2\) and \(2,\)$"),
        ([4.5], [1], r"^n must hold whole numbers of samples$"),
        ([4], [1.5], r"^c must hold whole numbers of samples$"),
    ],
)
def test_count_refusals_name_the_problem(n: object, c: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        check_counts(n, c)


def test_k_values() -> None:
    assert check_ks([2.0, 3.0], 8).tolist() == [2, 3]  # whole floats, one odd
    with pytest.raises(ValueError, match=r"^give at least one k$"):
        check_ks([], 8)
    with pytest.raises(ValueError, match=r"^give at least one k$"):
        check_ks([[1, 2]], 8)
    with pytest.raises(ValueError, match=r"^k must be a whole number, got \[1.5\]$"):
        check_ks([1.5], 8)
    with pytest.raises(ValueError, match=r"^k=9 exceeds n=8 \(.*\); unbiased pass@k needs k <= n$"):
        check_ks([9], 8)


def test_empty_and_single_problem_sets() -> None:
    empty = pass_at_k_matrix(np.zeros(0, dtype=int), np.zeros(0, dtype=int), [1, 2, 4])
    assert empty.shape == (0, 3) and empty.dtype == np.float64
    assert avg_at_n([4], [1]) == 0.25
    with pytest.raises(ValueError, match=r"^no problems: avg@n is undefined$"):
        avg_at_n([], [])
    with pytest.raises(ValueError, match=r"^no problems: mean pass@k is undefined$"):
        pass_at_k_curve([], [])


def test_k_lists_and_their_refusals() -> None:
    assert powers_of_two(1) == [1]
    with pytest.raises(ValueError, match=r"^n must be >= 1, got 0$"):
        powers_of_two(0)
    assert log_spaced_ks(1) == [1]
    assert log_spaced_ks(16) == [1, 2, 3, 4, 5, 6, 7, 8, 10, 11, 13, 16]  # four per octave by default
    assert log_spaced_ks(8, per_octave=1) == [1, 2, 4, 8]
    assert log_spaced_ks(6, per_octave=2) == [1, 2, 3, 4, 6]  # round(2 ** 0.5), round(2 ** 1.5)
    for n, per_octave in ((0, 2), (4, 0)):
        with pytest.raises(ValueError, match=rf"^need n >= 1 and per_octave >= 1, got n={n}, per_octave={per_octave}$"):
            log_spaced_ks(n, per_octave)


# ----------------------------------------------------------------------------------------------------- bootstrap


def test_resampled_means_fill_every_row() -> None:
    means = resampled_means(np.full(5, 0.5), resamples=300, seed=3)  # more than one block of 256
    assert means.shape == (300, 1) and np.all(means == 0.5)
    assert resampled_means([1.0, 2.0], resamples=1).shape == (1, 1)  # one resample is allowed


def test_defaults_are_2000_or_10000_resamples_and_seed_0() -> None:
    x = np.arange(7.0)
    np.testing.assert_array_equal(resampled_means(x), resampled_means(x, 2000, 0))
    for got, want in zip(bootstrap_mean_band(x), bootstrap_mean_band(x, 2000, 0, 0.95), strict=True):
        np.testing.assert_array_equal(got, want)
    ci = paired_bootstrap_diff(np.zeros(7), x)
    assert ci == paired_bootstrap_diff(np.zeros(7), x, 10000, 0, 0.95)
    assert ci.as_dict() == {"mean": 3.0, "lo": ci.lo, "hi": ci.hi, "confidence": 0.95, "resamples": 10000, "seed": 0}
    assert ci.lo < 3.0 < ci.hi


def test_the_band_uses_the_seed_it_is_given() -> None:
    x = np.arange(9.0)
    means = resampled_means(x, 500, seed=5)[:, 0]
    mean, lo, hi = bootstrap_mean_band(x, resamples=500, seed=5)
    assert mean == 4.0 and [lo, hi] == pytest.approx(np.quantile(means, [0.025, 0.975]), abs=1e-12)
    _, lo0, hi0 = bootstrap_mean_band(x, resamples=500, seed=0)
    assert [lo, hi] != pytest.approx([float(lo0), float(hi0)], abs=1e-3)  # another seed, another band


def test_integer_input_gives_the_float_result() -> None:
    ints = paired_bootstrap_diff([0, 1, 0, 1], [1, 1, 0, 1], resamples=500)
    floats = paired_bootstrap_diff([0.0, 1.0, 0.0, 1.0], [1.0, 1.0, 0.0, 1.0], resamples=500)
    assert ints == floats and isinstance(ints, BootstrapCI)


def test_bootstrap_refusals() -> None:
    with pytest.raises(ValueError, match=r"^resamples must be >= 1, got 0$"):
        resampled_means([1.0], resamples=0)
    for confidence in (0.0, 1.0):
        with pytest.raises(ValueError, match=rf"^confidence must be in \(0, 1\), got {confidence}$"):
            bootstrap_mean_band([1.0, 2.0], confidence=confidence)
    with pytest.raises(ValueError, match=r"^a and b must be 1-D over the same problems, got shapes \(2,\) and \(3,\)$"):
        paired_bootstrap_diff([1.0, 2.0], [1.0, 2.0, 3.0])
