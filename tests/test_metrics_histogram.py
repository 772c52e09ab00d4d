"""Accuracy histograms: the exactly-0 and exactly-1 bins and exact edges."""

from __future__ import annotations

import numpy as np
import pytest

from rlvr_lab.metrics import accuracy_histogram
from rlvr_lab.metrics.histogram import histogram_labels


def test_labels() -> None:
    assert histogram_labels(4) == ("0", "(0, 0.25]", "(0.25, 0.5]", "(0.5, 0.75]", "(0.75, 1)", "1")
    assert histogram_labels(1) == ("0", "(0, 1)", "1")


def test_ends_get_their_own_bins_and_edges_are_exact() -> None:
    n = 10
    # accuracies: 0, 0.1 (edge -> first interior bin), 0.3 (edge -> (0.2, 0.3]), 0.31 impossible at n=10,
    # 0.9 (edge -> (0.8, 0.9]), 0.95 impossible; then 1, 1.
    c = np.array([0, 1, 3, 9, 10, 10, 0, 5])
    hist = accuracy_histogram(n, c, bins=10)
    assert hist.as_dict() == {
        "0": 2,
        "(0, 0.1]": 1,
        "(0.1, 0.2]": 0,
        "(0.2, 0.3]": 1,
        "(0.3, 0.4]": 0,
        "(0.4, 0.5]": 1,
        "(0.5, 0.6]": 0,
        "(0.6, 0.7]": 0,
        "(0.7, 0.8]": 0,
        "(0.8, 0.9]": 1,
        "(0.9, 1)": 0,
        "1": 2,
    }
    assert hist.total == 8
    np.testing.assert_allclose(hist.fractions().sum(), 1.0)


def test_near_one_is_not_one() -> None:
    # 1023 of 1024 correct is not "always solved": it belongs to the last interior bin.
    hist = accuracy_histogram(1024, [1023, 1, 1024], bins=4)
    np.testing.assert_array_equal(hist.counts, [0, 1, 0, 0, 1, 1])


def test_per_problem_n_and_empty() -> None:
    hist = accuracy_histogram([2, 4, 8], [1, 1, 8], bins=2)
    np.testing.assert_array_equal(hist.counts, [0, 2, 0, 1])  # 0.5 and 0.25 in (0, 0.5]
    empty = accuracy_histogram(4, np.array([], dtype=int))
    assert empty.total == 0 and np.all(np.isnan(empty.fractions()))
    with pytest.raises(ValueError, match="bins"):
        accuracy_histogram(4, [1], bins=0)
