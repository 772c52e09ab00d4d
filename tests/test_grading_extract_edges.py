"""Answer extraction at its edges: a box cut at the very start or end of the text, and each wrapping a sentence puts
around an answer. Written against the mutants that survived tests/test_grading_extract.py and
tests/test_grading_multibox.py (scripts/mutation.sh --run grading.extract)."""

from __future__ import annotations

import pytest

from rlvr_lab.grading.extract import boxed_answer, extract_answer, last_boxed, truncated_box


@pytest.mark.parametrize(
    ("text", "truncated"),
    [
        ("\\boxed{12", True),  # the box opens the text
        ("so \\boxed{12", True),
        ("so \\boxed{12}", False),
        ("so \\boxed 5", False),  # no braced group: not a cut answer
        ("so \\boxed", False),  # the macro ends the text
        ("no box at all", False),
    ],
)
def test_truncated_box(text: str, truncated: bool) -> None:
    assert truncated_box(text) is truncated


def test_a_box_cut_at_the_start_gives_no_answer() -> None:
    assert extract_answer("\\boxed{12", fallbacks=("last_number",)).answer is None


@pytest.mark.parametrize(
    ("inner", "answer"),
    [
        ("**7**", "7"),
        ("X", "X"),  # only asterisks are stripped, not letters
        ("5X", "5X"),  # only a final period
        ("7.", "7"),
        (".5.", ".5"),  # a leading point is the number's
        ("$$7$$", "7"),
        ("$7$", "7"),
        ("\\(7\\)", "7"),
        ("\\[7\\]", "7"),
        ("$7 km", "$7 km"),  # both ends must match
        ("$", "$"),  # one dollar is not a pair
        ("$$", None),  # an empty pair leaves nothing
    ],
)
def test_answer_wrappings_are_stripped_in_pairs(inner: str, answer: str | None) -> None:
    assert extract_answer(f"<answer>{inner}</answer>", fallbacks=("answer_tag",)).answer == answer


def test_the_last_box_and_a_bare_argument_that_ends_the_text() -> None:
    assert last_boxed("\\boxed 7") == "7"  # no space or $ after the argument: it runs to the end
    assert last_boxed("\\boxed\\fbox{3}") == "3"  # \fbox starts where \boxed ends: it is the last box
    assert boxed_answer("\\fbox{5}") == "5"  # math-verify reads \boxed only: the box fallback finds \fbox
    assert boxed_answer("no box here") is None
