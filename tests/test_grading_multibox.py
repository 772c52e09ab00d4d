"""Several boxes in one response, graded as math-verify grades them, and the cut-off box that earns nothing.

The multi-box cases are the public ones from Math-Verify's own test suite (``tests/test_open_thoughts.py``,
``tests/test_numina_cases.py``, ``tests/test_boxed.py``, ``tests/test_all.py``), rewritten as (response, gold)
with the gold as a bare answer string, the form our problem files hold. Each is checked three ways against the
installed math-verify: plain ``verify(parse(gold), parse(response))`` on the raw strings, our extraction wrapped
as math-verify reads it, and the whole grader with its worker pool; all three must give the expected verdict.
"""

from __future__ import annotations

import pytest

from rlvr_lab.grading import Grader, GradingConfig, extract_answer
from rlvr_lab.grading.equivalence import reference_equal

MULTI_BOX_CASES = [
    # (response, gold, expected verdict, source)
    (r"\boxed{1}, \boxed{2}, \boxed{3}", r"\{1,2,3\}", True, "issue 13"),
    (r"\boxed{1} and \boxed{2} and \boxed{3}", r"\{1,2,3\}", True, "test_open_thoughts"),
    (r"\boxed{1},\boxed{2},\boxed{3}", r"\{1,2,3\}", True, "test_open_thoughts"),
    (r"$$\boxed{(2, 2)} \quad \text{and} \quad \boxed{(6, 2)}$$", "(2, 2), (6, 2)", True, "test_open_thoughts"),
    (r"$$\boxed{(98, 2)} \quad \text{and} \quad \boxed{(99, 503)}$$", "(98, 2), (99, 503)", True, "test_open_thoughts"),
    (r"$$\boxed{(3, 3)} \text{ for part (a) and } \boxed{(1, 1)}$$", "(3, 3), (1, 1)", True, "test_open_thoughts"),
    (r"$$\boxed{k = 45} \quad \text{and} \quad \boxed{n = 2}$$", "k = 45, n = 2", True, "test_open_thoughts"),
    (r"$$\boxed{2}, \boxed{3}, \boxed{5}, \boxed{7}, \boxed{13}$$", "2, 3, 5, 7, 13", True, "test_open_thoughts"),
    (
        "solutions are:\n\n\\[\n\\boxed{(1, 2)}, \\boxed{(2, 1)}, \\boxed{(-1, -20)}, \\boxed{(-20, -1)}\n\\]",
        "(2,1),(1,2),(-1,-20),(-20,-1)",
        True,
        "test_numina_cases",
    ),
    (r"\(\boxed{1}\) and \(\boxed{-2}\).", "-2,1", True, "test_numina_cases"),
    (r"$\boxed{1}\boxed{2}$", "1,2", True, "test_all"),
    (r"The integers are \boxed{-2} and \boxed{1}.", "1,-2", True, "test_all (the long functional-equation case)"),
    # Far apart with no separator between: the last box alone answers, as in math-verify.
    (r"\boxed{1} no no no no no \boxed{2}", "1,2", False, "test_open_thoughts"),
]


@pytest.fixture(scope="module")
def grader():
    with Grader(GradingConfig(timeout_s=30.0, workers=1)) as shared:
        yield shared


@pytest.mark.parametrize(("response", "gold", "expected", "source"), MULTI_BOX_CASES)
def test_several_boxes_graded_as_math_verify_grades_them(
    grader: Grader, response: str, gold: str, expected: bool, source: str
) -> None:
    from math_verify import parse, verify

    assert bool(verify(parse("$" + gold + "$"), parse(response))) is expected, f"plain math-verify ({source})"
    answer = extract_answer(response).answer
    assert answer is not None
    assert reference_equal(gold, answer) is expected
    assert grader.grade(gold, [response])[0].correct is expected


def test_last_box_alone_would_have_been_wrong() -> None:
    """The reason for the rule: the last box of a multi-answer response is only part of the answer."""
    assert reference_equal("(2, 2), (6, 2)", "(6, 2)") is False
    assert extract_answer(r"\boxed{(2, 2)} and \boxed{(6, 2)}").answer == "(2, 2),(6, 2)"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (r"\boxed{1}, \boxed{2}, \boxed{3}", "1,2,3"),
        (r"\boxed{5} so \boxed{5}", "5"),  # consecutive equal contents count once
        (r"\boxed{4} long prose without a separator \boxed{5}", "5"),
        (r"\boxed{1} papers and \boxed{2} bins", "1,2"),  # 'and' within 70 characters
        ("\\boxed{1}, " + "x" * 70 + " \\boxed{2}", "2"),  # a separator, but too far
        (r"\boxed{\boxed{5}}", "5"),  # an enclosing box is not an earlier box
        (r"\boxed{1}, \boxed{}", "1,"),  # a blank last box joins as math-verify joins it
        (r"\boxed 7, \boxed{8}", "8"),  # an earlier box without braces is not joined
        (r"\boxed{\{1,2\}}", r"\{1,2\}"),
    ],
)
def test_box_joining_rule(text: str, expected: str) -> None:
    """The joining rule is ``extract_boxed_content``'s (mode "last"), checked against the installed library."""
    from latex2sympy2_extended.math_normalization import extract_boxed_content

    from rlvr_lab.grading.extract import boxed_answer
    from rlvr_lab.grading.readings import read_boxes

    assert boxed_answer(text) == expected
    assert read_boxes(text, 0, len(text), "last")[0] == extract_boxed_content(text, mode="last")


@pytest.mark.parametrize("fallbacks", [("answer_is",), ("last_number",), ("answer_is", "answer_tag", "last_number")])
def test_a_cut_off_box_earns_no_credit_through_any_fallback(grader: Grader, fallbacks: tuple[str, ...]) -> None:
    text = r"The answer is \boxed{12"
    assert extract_answer(text, fallbacks).answer is None
    with Grader(GradingConfig(workers=1, fallbacks=fallbacks)) as with_fallbacks:
        verdict = with_fallbacks.grade("12", [text])[0]
    assert (verdict.correct, verdict.status) == (False, "no_answer")


def test_many_adjacent_boxes_stay_linear() -> None:
    import time

    from rlvr_lab.grading.extract import boxed_answer

    text = "\\boxed{1}" * 100_000  # 100,000 boxes that all join: one scan, not one per box
    started = time.process_time()  # CPU time: a loaded machine must not fail a linear-time check
    assert boxed_answer(text) == "1"
    assert time.process_time() - started < 2.0
