"""pass@k against an exact rational computation, edge cases, avg@n and the k lists."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest

from rlvr_lab.metrics import avg_at_n, log_spaced_ks, pass_at_k, pass_at_k_curve, pass_at_k_matrix, powers_of_two


def exact_pass_at_k(n: int, c: int, k: int) -> float:
    """1 - C(n-c, k) / C(n, k) in exact rationals (math.comb is 0 when k > n - c)."""
    return float(1 - Fraction(math.comb(n - c, k), math.comb(n, k)))


@pytest.mark.parametrize(("seed", "n"), [(0, 16), (1, 100), (2, 1024), (3, 1024)])
def test_matches_exact_binomials_every_k(seed: int, n: int) -> None:
    rng = np.random.default_rng(seed)
    c = rng.integers(0, n + 1, size=12)
    c[:3] = [0, n, 1]  # always include the ends and a single correct sample
    ks = np.arange(1, n + 1)
    got = pass_at_k_matrix(n, c, ks)
    want = np.array([[exact_pass_at_k(n, int(ci), int(k)) for k in ks] for ci in c])
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-12)


@pytest.mark.parametrize("seed", [10, 11, 12])
def test_matches_exact_with_per_problem_n(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = rng.integers(64, 1025, size=15)
    c = rng.integers(0, n + 1)
    ks = [1, 2, 5, 17, 33, 64]
    got = pass_at_k_matrix(n, c, ks)
    want = np.array([[exact_pass_at_k(int(ni), int(ci), k) for k in ks] for ni, ci in zip(n, c, strict=True)])
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-12)
    np.testing.assert_allclose(pass_at_k_curve(n, c, ks), want.mean(axis=0), rtol=0, atol=1e-12)


def test_edge_cases() -> None:
    n = 8
    c = np.array([0, 8, 3, 7])
    # c = 0 never passes, c = n always passes, k = n passes iff c >= 1.
    np.testing.assert_array_equal(pass_at_k(n, c, 8), [0.0, 1.0, 1.0, 1.0])
    np.testing.assert_array_equal(pass_at_k(n, c, 1), [0.0, 1.0, 3 / 8, 7 / 8])
    # Only 1 wrong sample: any 2 samples include a correct one.
    assert pass_at_k(n, [7], 2)[0] == 1.0
    assert pass_at_k(1, [1], 1)[0] == 1.0


def test_k_greater_than_n_raises() -> None:
    with pytest.raises(ValueError, match=r"k=9 exceeds n=8"):
        pass_at_k(8, [3], 9)
    # With per-problem n the smallest n bounds k.
    with pytest.raises(ValueError, match=r"k=5 exceeds n=4"):
        pass_at_k_curve([4, 16], [1, 2], [1, 5])


@pytest.mark.parametrize(
    ("n", "c", "k", "message"),
    [
        (4, [5], 1, r"c must lie in \[0, n\]"),
        (4, [-1], 1, r"c must lie in \[0, n\]"),
        (0, [0], 1, r"n >= 1"),
        (4, [1], 0, r"k must be >= 1"),
        (4, [1.5], 1, r"whole numbers"),
    ],
)
def test_bad_inputs_raise(n: int, c: list[float], k: int, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        pass_at_k(n, c, k)


def test_curve_defaults_to_every_k_and_refuses_no_problems() -> None:
    curve = pass_at_k_curve(4, [0, 2, 4])
    np.testing.assert_allclose(curve, [(0 + 0.5 + 1) / 3, (0 + 5 / 6 + 1) / 3, (0 + 1 + 1) / 3, 2 / 3], atol=1e-15)
    with pytest.raises(ValueError, match="no problems"):
        pass_at_k_curve(4, np.array([], dtype=int))
    assert pass_at_k(4, np.array([], dtype=int), 2).shape == (0,)


def test_avg_at_n_is_mean_accuracy_and_pass_at_1() -> None:
    n, c = np.array([4, 8, 2]), np.array([1, 8, 0])
    assert avg_at_n(n, c) == pytest.approx((0.25 + 1 + 0) / 3)
    assert avg_at_n(n, c) == pytest.approx(pass_at_k_curve(n, c, [1])[0], abs=1e-15)


def test_k_lists() -> None:
    assert powers_of_two(1) == [1]
    assert powers_of_two(16) == [1, 2, 4, 8, 16]
    assert powers_of_two(20) == [1, 2, 4, 8, 16]
    assert log_spaced_ks(8, per_octave=2) == [1, 2, 3, 4, 6, 8]
    assert log_spaced_ks(10, per_octave=1) == [1, 2, 4, 8, 10]
    with pytest.raises(ValueError):
        powers_of_two(0)


def test_many_problems_span_several_blocks() -> None:
    # More problems than one block of the cumulative product (2048 rows): block edges must not shift rows.
    rng = np.random.default_rng(7)
    n = rng.integers(8, 13, size=5000)
    c = rng.integers(0, n + 1)
    got = pass_at_k_matrix(n, c, [1, 3, 8])
    want = np.array([[exact_pass_at_k(int(ni), int(ci), k) for k in (1, 3, 8)] for ni, ci in zip(n, c, strict=True)])
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-12)
