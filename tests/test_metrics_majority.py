"""maj@k: votes, ties, unanswered samples and the expected variant."""

from __future__ import annotations

import numpy as np
import pytest

from rlvr_lab.metrics import expected_maj_at_k, maj_at_k

# One row per problem: (answers in sample order, verdicts).
ANSWERS = [
    ["4", "4", "5", None],  # clear majority, correct
    ["1/2", "0.5", "0.5", "3"],  # equivalent strings vote apart: "0.5" wins (2 votes)
    ["7", "8", "8", "7"],  # tie between a correct and a wrong answer
    [None, "", " ", None],  # nobody answered
    [" 9", "9 ", "2", "2"],  # whitespace stripped: tie 9 vs 2, 9 correct
]
CORRECT = [
    [True, True, False, False],
    [True, True, True, False],
    [True, False, False, True],
    [False, False, False, False],
    [True, True, False, False],
]


def test_maj_at_n_split_ties() -> None:
    np.testing.assert_array_equal(maj_at_k(ANSWERS, CORRECT, 4), [1.0, 1.0, 0.5, 0.0, 0.5])


def test_maj_first_tie_rule_and_prefixes() -> None:
    np.testing.assert_array_equal(maj_at_k(ANSWERS, CORRECT, 4, ties="first"), [1.0, 1.0, 1.0, 0.0, 1.0])
    # maj@1 is just the first sample's verdict (an unanswered first sample scores 0).
    np.testing.assert_array_equal(maj_at_k(ANSWERS, CORRECT, 1), [1.0, 1.0, 1.0, 0.0, 1.0])
    # First 3 samples of problem 3 ("7", "8", "8"): the wrong "8" wins.
    assert maj_at_k(ANSWERS, CORRECT, 3)[2] == 0.0


def test_winner_correct_if_any_of_its_samples_is() -> None:
    # The second "x" timed out in grading and was marked incorrect; the answer itself is correct.
    assert maj_at_k([["x", "x", "y"]], [[True, False, False]], 3)[0] == 1.0


def test_expected_variant() -> None:
    # k = n: every subset is the full set.
    np.testing.assert_allclose(expected_maj_at_k(ANSWERS, CORRECT, 4, draws=16), maj_at_k(ANSWERS, CORRECT, 4))
    # Problem with answers a, a, b (a correct), k = 1: E[maj@1] = P(first draw is a) = 2/3.
    est = expected_maj_at_k([["a", "a", "b"]], [[True, True, False]], 1, draws=20000, seed=4)[0]
    assert est == pytest.approx(2 / 3, abs=0.01)
    again = expected_maj_at_k(ANSWERS, CORRECT, 2, seed=1)
    np.testing.assert_array_equal(expected_maj_at_k(ANSWERS, CORRECT, 2, seed=1), again)


def test_bad_inputs_raise() -> None:
    with pytest.raises(ValueError, match="exceeds"):
        maj_at_k(ANSWERS, CORRECT, 5)
    with pytest.raises(ValueError, match="tie rule"):
        maj_at_k(ANSWERS, CORRECT, 2, ties="random")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="differ in length"):
        maj_at_k([["a", "b"]], [[True]], 1)
