"""Answer extraction: a case table from real output shapes, the registry, linear time on hostile input."""

from __future__ import annotations

import doctest
import json
import time

import pytest

from rlvr_lab.grading import extract
from rlvr_lab.grading.extract import EXTRACTORS, Extraction, check_fallbacks, extract_answer, last_boxed

BOXED_CASES = [
    # (text, expected content of the last box)
    (r"The answer is $\boxed{5}$.", "5"),
    (r"$\boxed{\frac{1}{2}}$", r"\frac{1}{2}"),  # nested braces
    (r"first \boxed{1}, finally \boxed{\left( 3, \frac{\pi}{2} \right)}", r"\left( 3, \frac{\pi}{2} \right)"),
    (r"\boxed{\{1, 2\}}", r"\{1, 2\}"),  # escaped braces are literal braces, not groups
    (r"\boxed{\{1, 2}", r"\{1, 2"),  # so the first plain brace closes the box, as in TeX
    (r"\boxed{\begin{pmatrix} 1 \\ 2 \end{pmatrix}}", r"\begin{pmatrix} 1 \\ 2 \end{pmatrix}"),  # \\ is a line break
    (r"\boxed {17}.$$", "17"),  # a space before the brace (train/algebra/1397 in MATH)
    (r"so $x = \boxed 2$.", "2"),  # no braces (train/algebra/24014 in MATH)
    (r"\fbox{7}", "7"),
    (r"\boxed{3} and then \fbox{4}", "4"),  # the last of either macro
    (r"\boxed{1} \boxed{2", None),  # last box cut off by the token limit: no answer, not the earlier box
    (r"\boxed{}", ""),
    (r"\boxed{\boxed{5}}", "5"),
    (r"\boxedsymbol{3}", None),  # another control word
    ("no box here", None),
    (r"\boxed", None),
    (r"ends with \boxed   ", None),
]


@pytest.mark.parametrize(("text", "expected"), BOXED_CASES)
def test_last_boxed(text: str, expected: str | None) -> None:
    assert last_boxed(text) == expected


EXTRACTION_CASES = [
    # (text, fallbacks, expected answer, expected strategy)
    (r"so \boxed{12}. The answer is 13.", ("answer_is",), "12", "boxed"),  # the box always wins
    ("The answer is $\\frac{1}{2}$.", ("answer_is",), r"\frac{1}{2}", "answer_is"),
    ("The final answer is 0.5.", ("answer_is",), "0.5", "answer_is"),  # the decimal point survives
    ("**Answer:** 42", ("answer_is",), "42", "answer_is"),
    ("Answer: x = 3\nCheck: 3 + 0 = 3", ("answer_is",), "x = 3", "answer_is"),  # to the end of its line
    ("the answer is: 7. The answer is 8.", ("answer_is",), "8", "answer_is"),  # the last one
    ("The answer is 12.", (), None, "none"),  # fallbacks are opt-in
    (r"\boxed{}", ("last_number",), None, "none"),  # a blank box is no answer, and has no number
    (r"\boxed{ } so 4", ("last_number",), "4", "last_number"),
    ("<think>2+2</think><answer>4</answer>", ("answer_tag",), "4", "answer_tag"),
    (r"<answer>$\boxed{\frac{3}{4}}$ km</answer>", ("answer_tag",), r"\frac{3}{4}", "boxed"),
    (r"<answer>so \fbox{9} m</answer> junk", ("answer_tag",), "9", "boxed"),
    ("<answer>$7$</answer>", ("answer_tag",), "7", "answer_tag"),
    ("We get 3 apples, then 1,250 more.", ("last_number",), "1250", "last_number"),  # separators dropped
    ("ratio 3/4", ("last_number",), "3/4", "last_number"),
    ("it is -0.25", ("last_number",), "-0.25", "last_number"),
    ("no digits", ("answer_is", "last_number"), None, "none"),
    ("So 5 cats. The answer is seven.", ("last_number", "answer_is"), "5", "last_number"),  # order as named
    ("So 5 cats. The answer is seven.", ("answer_is", "last_number"), "seven", "answer_is"),
]


@pytest.mark.parametrize(("text", "fallbacks", "answer", "strategy"), EXTRACTION_CASES)
def test_extract_answer(text: str, fallbacks: tuple[str, ...], answer: str | None, strategy: str) -> None:
    assert extract_answer(text, fallbacks) == Extraction(answer, strategy)


def test_every_math500_solution_boxes_its_answer(data_dir) -> None:
    """MATH-500's ``answer`` field is exactly the last box of its ``solution`` (the pipeline reads MATH this way)."""
    with (data_dir / "math500" / "test.jsonl").open(encoding="utf-8") as handle:
        rows = [json.loads(line) for line in handle]
    assert len(rows) == 500
    assert [last_boxed(row["solution"]) for row in rows] == [row["answer"] for row in rows]


def test_registry_names_and_errors() -> None:
    assert EXTRACTORS.names() == ["answer_is", "answer_tag", "boxed", "last_number"]
    with pytest.raises(ValueError, match="unknown answer extractor 'final'; choose one of: answer_is"):
        extract_answer("x", ("final",))
    with pytest.raises(ValueError, match="always tried first"):
        check_fallbacks(("boxed",))
    with pytest.raises(ValueError, match="named twice"):
        check_fallbacks(("last_number", "last_number"))


def test_doctests() -> None:
    assert doctest.testmod(extract).failed == 0


HOSTILE = [
    "\\boxed{" * 200_000,  # a million characters of boxes that never close
    "\\boxed{" + "{" * 300_000 + "1" + "}" * 300_000 + "}",  # deep nesting
    "answer" + " " * 1_000_000 + "x",  # "answer" then a long run of spaces and no "is"
    "1," * 500_000,  # separators without the three digits after them
    "\\" * 1_000_000,  # escapes all the way
]


@pytest.mark.parametrize("text", HOSTILE, ids=["open-boxes", "nested", "spaces", "commas", "backslashes"])
def test_extraction_is_linear_on_hostile_input(text: str) -> None:
    start = time.perf_counter()
    extract_answer(text, ("answer_is", "answer_tag", "last_number"))
    assert time.perf_counter() - start < 2.0  # linear: well under a second for 1 MB even on a busy machine


def test_nested_box_content_is_exact() -> None:
    text = "\\boxed{" + "{" * 3000 + "1" + "}" * 3000 + "}"
    assert last_boxed(text) == "{" * 3000 + "1" + "}" * 3000


def test_answer_only_responses() -> None:
    from rlvr_lab.grading.reasoning import is_answer_only, reasoning_words

    assert is_answer_only("\\boxed{42}")
    assert is_answer_only("The final answer is $\\boxed{\\frac{1}{2}}$.")
    assert is_answer_only("Answer: 12")
    assert not is_answer_only("We get 7+5 = 12, then 12-3 = 9. The answer is \\boxed{9}.")
    assert reasoning_words("Since 3 times 4 is 12, \\boxed{12}") == 6  # Since 3 times 4 is 12


def test_graded_file_flags_correct_answer_only_samples() -> None:
    import pyarrow as pa

    from rlvr_lab.grading.graded_file import _answer_only

    completions = pa.chunked_array([["\\boxed{4}", "Two plus two makes four, so \\boxed{4}", "\\boxed{5}"]])
    flags = _answer_only(completions, pa.chunked_array([[True, True, False]]))
    assert flags.to_pylist() == [True, False, False]  # a wrong bare answer is not flagged
