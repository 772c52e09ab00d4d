"""Coverage sets, crossover k on constructed curves, ΔSE."""

from __future__ import annotations

import math

import numpy as np
import pytest

from rlvr_lab.metrics import coverage, crossover_k, delta_se


def test_coverage_sets() -> None:
    c_a = np.array([0, 3, 0, 1, 0, 4])
    c_b = np.array([0, 1, 2, 0, 0, 4])
    cov = coverage(c_a, c_b)
    assert cov.as_dict() == {"both": 2, "only_a": 1, "only_b": 1, "neither": 2}
    np.testing.assert_array_equal(cov.solved_a, [False, True, False, True, False, True])
    with pytest.raises(ValueError, match="same problems"):
        coverage([1, 2], [1])


def test_crossover_exact_at_an_evaluated_k() -> None:
    ks = [1, 2, 4, 8]
    # The leader is ahead at 1 and 2; the challenger ties at 4: the curves touch at k = 4.
    assert crossover_k(ks, [0.5, 0.6, 0.7, 0.8], [0.3, 0.5, 0.7, 0.9]) == pytest.approx(4.0)


def test_crossover_interpolates_in_log_k() -> None:
    ks = [1, 2, 4, 8, 16]
    leader = [0.6, 0.7, 0.8, 0.85, 0.9]
    challenger = [0.3, 0.5, 0.7, 0.95, 0.99]
    # Gap 0.1 at k = 4 and -0.1 at k = 8: halfway in log k, i.e. sqrt(4 * 8).
    assert crossover_k(ks, leader, challenger) == pytest.approx(math.sqrt(32))
    # A gap of 0.3 then -0.1 between k = 1 and k = 2: log2 k* = 0.75.
    assert crossover_k([1, 2], [0.5, 0.5], [0.2, 0.6]) == pytest.approx(2**0.75)


def test_crossover_needs_a_lead_then_a_catch() -> None:
    ks = [1, 2, 4]
    assert crossover_k(ks, [0.5, 0.6, 0.7], [0.1, 0.2, 0.3]) is None  # never caught
    assert crossover_k(ks, [0.1, 0.2, 0.3], [0.5, 0.6, 0.7]) is None  # never ahead
    assert crossover_k(ks, [0.5, 0.5, 0.5], [0.5, 0.5, 0.5]) is None  # equal curves never cross
    # Challenger first ahead, then behind, then catches up again: the crossing after the lead counts.
    assert crossover_k(ks, [0.2, 0.6, 0.7], [0.3, 0.4, 0.7]) == pytest.approx(4.0)
    with pytest.raises(ValueError, match="increasing"):
        crossover_k([2, 1], [0.1, 0.2], [0.2, 0.1])


def test_delta_se() -> None:
    # Base: 4 samples, problems with c = 0, 1, 4 -> pass@4 = (0 + 1 + 1) / 3. RL: pass@1 = (0 + 0.5 + 1) / 3.
    value = delta_se(4, [0, 1, 4], 2, [0, 1, 2])
    assert value == pytest.approx(2 / 3 - 0.5)
    assert delta_se(4, [0, 1, 4], 2, [0, 1, 2], k=1) == pytest.approx(5 / 12 - 0.5)
    with pytest.raises(ValueError, match="exceeds"):
        delta_se(4, [0, 1, 4], 2, [0, 1, 2], k=8)
