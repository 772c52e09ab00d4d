"""Grading reads a completion as ``math_verify.parse`` does (issue 22, point 1), checked on a generated corpus of
completions with several boxes (``tests/multibox_corpus.py``) against the installed math-verify.

The default run grades 300 completions; the slow run the 10,000 of the issue (``python tests/multibox_corpus.py
--n 10000`` prints the same figure).
"""

from __future__ import annotations

import logging

import pytest

from multibox_corpus import compare, generate
from rlvr_lab.grading import Grader, GradingConfig, extract_answer


@pytest.fixture(scope="module")
def grader():
    logging.getLogger("math_verify").setLevel(logging.ERROR)
    with Grader(GradingConfig(timeout_s=30.0, workers=2)) as shared:
        yield shared


def _check(count: int, seed: int, grader: Grader) -> None:
    result = compare(generate(count, seed), grader)
    assert result.boxed > 0.8 * count
    assert result.mismatches == []
    assert result.same_reading == result.same_verdict == result.boxed


def test_1_grading_reads_a_completion_as_math_verify_parse_does(grader: Grader) -> None:
    _check(300, 22, grader)


@pytest.mark.slow
def test_1_corpus_of_ten_thousand_agrees_with_math_verify(grader: Grader) -> None:
    _check(10_000, 22, grader)


def test_1_self_correction_reads_the_final_answer() -> None:
    """The issue's example: math-verify reads 19, the old rule joined ``29,19``."""
    text = r"We get \boxed{29} first, but correcting, The final answer is $\boxed{19}$."
    assert extract_answer(text).answer == "19"
