"""The grader's numeric shortcut (:mod:`rlvr_lab.grading.numeric`), checked against real math-verify, no mocks:
pairs of plain numbers get math-verify's verdict without a worker process."""

from __future__ import annotations

import json
import logging
import re
import string
from fractions import Fraction
from pathlib import Path

import pytest

from rlvr_lab.grading import Grader, GradingConfig
from rlvr_lab.grading.equivalence import parse_for_verify, reference_equal
from rlvr_lab.grading.numeric import numeric_verdict

PAIRS_FILE = Path(__file__).parent / "data" / "equivalence_pairs.jsonl"


@pytest.fixture(autouse=True)
def quiet_math_verify() -> None:
    # Parsing with its timeout off, math-verify warns once that we must time out ourselves; here nothing hangs.
    logging.getLogger("math_verify").setLevel(logging.ERROR)


def math500_golds(data_dir: Path) -> list[str]:
    with (data_dir / "math500" / "test.jsonl").open(encoding="utf-8") as handle:
        return sorted({json.loads(line)["answer"] for line in handle})


def as_fraction(value: Fraction) -> str:
    """``value`` written as an integer or ``\\frac``."""
    if value.denominator == 1:
        return str(value.numerator)
    sign = "-" if value < 0 else ""
    return f"{sign}\\frac{{{abs(value.numerator)}}}{{{value.denominator}}}"


def as_decimal(value: Fraction, places: int = 6) -> str | None:
    """``value`` as a decimal with at most ``places`` digits after the point, or None if it has more."""
    scaled = value * 10**places
    if scaled.denominator != 1:
        return None
    sign = "-" if value < 0 else ""
    whole, part = divmod(abs(scaled.numerator), 10**places)
    return f"{sign}{whole}.{str(part).rjust(places, '0').rstrip('0') or '0'}"


def digit_slip(text: str) -> str:
    """``text`` with its last digit changed (the slip stays a canonical literal)."""
    at = max(match.start() for match in re.finditer(r"\d", text))
    return text[:at] + str((int(text[at]) + 1) % 10) + text[at + 1 :]


def perturbations(gold: str) -> list[str]:
    """Answers a model writes for a numeric gold: right ones in other forms, slips, near misses, ``x = ...``."""
    value = Fraction(0)
    for form in (gold, gold.replace("\\dfrac", "\\frac")):
        decimal = re.fullmatch(r"-?\d+(\.\d+)?", form)
        fraction = re.fullmatch(r"(-?)\\d?frac(?:\{(\d+)\}\{(\d+)\}|(\d)(\d))", form)
        if decimal:
            value = Fraction(form)
        elif fraction:
            sign, numerator, denominator = fraction[1], fraction[2] or fraction[4], fraction[3] or fraction[5]
            value = Fraction(int(numerator), int(denominator)) * (-1 if sign else 1)
    answers = [
        gold,
        gold.replace("\\frac", "\\dfrac"),
        digit_slip(gold),
        gold[1:] if gold.startswith("-") else "-" + gold,
        f"x = {gold}",
        f"y={as_fraction(value)}",
        as_fraction(value),
        as_fraction(value + 1),
        f"{value.numerator}/{value.denominator}",
    ]
    decimal = as_decimal(value)
    if decimal is not None:
        answers += [decimal, f"n = {decimal}", as_decimal(value + Fraction(1, 10**5), 5) or decimal]
    approximate = round(float(value), 6)
    answers += [f"{approximate:.6f}", f"{approximate + 1e-6:.6f}", f"{approximate:.4f}"]
    return list(dict.fromkeys(answers))


def test_numeric_shortcut_matches_math_verify_on_math500(data_dir: Path) -> None:
    """Every verdict the shortcut gives equals math-verify's, on each numeric gold of MATH-500 and its variants."""
    golds = [gold for gold in math500_golds(data_dir) if numeric_verdict(gold, gold) is not None]
    assert len(golds) > 150
    decided = deferred = 0
    for gold in golds:
        for answer in perturbations(gold):
            verdict = numeric_verdict(gold, answer)
            if verdict is None:
                deferred += 1
                continue
            assert verdict == reference_equal(gold, answer), (gold, answer)
            decided += 1
    print(f"\n{decided} pairs decided, {deferred} left to math-verify")
    assert decided > 8 * len(golds)


EDGE_CASES = [
    # (gold, answer, the shortcut's verdict; None: math-verify decides)
    ("5", "5.0", True),
    ("\\frac{1}{2}", "0.5", True),
    ("0.5", "\\frac12", True),
    ("1/2", "\\tfrac{1}{2}", True),
    ("-1/2", "-\\frac12", True),
    ("\\frac{4}{2}", "2", True),
    ("326.5", "\\frac{653}{2}", True),
    ("2.5", "x=2.5", True),
    ("\\frac{1}{3}", "0.3333", False),
    ("2.5", "2.50001", False),
    ("123456789012345678", "123456789012345679", False),
    ("-5", "5", False),
    ("\\frac{1}{3}", "0.333333", None),  # within Float rounding: math-verify's call
    ("2.5", "2.500001", None),
    ("1234567890123456789", "1234567890123456789", None),  # past 18 digits
    ("7", "-0", None),
    ("0", "-0", None),
    ("\\frac{1}{0}", "\\frac{1}{0}", None),
    ("7", "007", None),
    ("7", "+7", None),
    ("1000", "1,000", None),
    ("7", "7 ", None),
    ("1e3", "1000", None),
    ("x = 5", "5", None),  # only the answer may be an equation
    ("5", "e = 5", None),
    ("5", "i = 5", None),
    ("5", "xy = 5", None),
    ("1/2", "x = 1/2", None),
    ("10\\%", "10", None),
    ("\\frac{-1}{2}", "-0.5", None),
]


@pytest.mark.parametrize(("gold", "answer", "expected"), EDGE_CASES)
def test_numeric_shortcut_edge_cases(gold: str, answer: str, expected: bool | None) -> None:
    assert numeric_verdict(gold, answer) is expected
    if expected is not None:
        assert reference_equal(gold, answer) is expected


def test_numeric_shortcut_reads_any_single_letter_assignment() -> None:
    letters = [letter for letter in string.ascii_letters if letter not in "eiEI"]
    for letter in letters:
        for answer, expected in ((f"{letter} = 58", True), (f"{letter}=57", False)):
            assert numeric_verdict("58", answer) is expected, answer
            assert reference_equal("58", answer) is expected, answer


def test_numeric_pairs_never_start_a_worker() -> None:
    with Grader(GradingConfig(workers=1)) as grader:
        answers = ["\\boxed{0.75}", "\\boxed{x = \\dfrac34}", "\\boxed{3/4}", "\\boxed{0.7}"]
        verdicts = grader.grade("\\frac{3}{4}", answers)
        assert [(v.correct, v.status) for v in verdicts] == [(True, "ok"), (True, "ok"), (True, "ok"), (False, "ok")]
        assert grader.pool.pids == []
        assert grader.pool.dispatched == 0


def parse_signature(text: str) -> list[str]:
    """What ``math_verify.parse`` gives for ``text``, as comparable strings (sympy's ``srepr``)."""
    from sympy import srepr

    return [item if isinstance(item, str) else srepr(item) for item in parse_for_verify(text)]


def clear_math_verify_caches() -> None:
    """math-verify keeps recent parses by text; a comparison of two parsers must not read the other's results."""
    from math_verify.parser import extract_latex, parse_latex_cached

    parse_latex_cached.cache_clear()
    extract_latex.cache_clear()
