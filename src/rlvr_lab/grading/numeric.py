"""math-verify's verdict on two plain numeric literals, computed exactly in the parent process.

Most (gold, answer) pairs of a large-k sample set compare two numbers, and math-verify spends milliseconds on
each (a LaTeX parse per side, then sympy). For the literals below its verdict is known in advance, so
:func:`numeric_verdict` gives it with :class:`fractions.Fraction` arithmetic and returns None for everything else.

Literals (the whole string, no spaces): an integer ``0|-?[1-9][0-9]{0,17}``; a decimal with at most 6 integer and
6 fractional digits (``3.25``, ``-0.5``); a fraction ``\\frac{a}{b}`` / ``\\dfrac`` / ``\\tfrac`` with canonical
integers and b > 0, or the shorthand ``\\frac43``; an optional minus sign before any of them (never on a zero);
and, on its own, ``a/b`` (which math-verify's normaliser rewrites to ``\\frac{a}{b}``). An answer may also be
``v = <literal>`` with a single letter v (``x = 5``), other than ``e`` and ``i`` which latex2sympy reads as
constants; the slash form is not accepted there, since the normaliser only rewrites a whole ``a/b``.

Why math-verify's verdict is the one below (``verify(gold, answer)``, both parsed from ``\\boxed{...}``). Each
side parses to ``[number, normalised string]``; an answer ``v = n`` parses to ``[Eq(v, n), string]`` and, the
gold not being an equation, ``verify`` compares ``n`` with the gold. The verdict is True iff some pairing agrees:
- equal values: the numbers compare equal, as Rationals (exact), or when a decimal makes one a sympy Float, after
  both are rounded to 6 places (``float_rounding``), which equal values with at most 6 decimals survive;
- different values, both exact (integers, fractions): every numeric route compares Rationals exactly, and
  ``simplify(a - b)`` is a non-zero Rational, so False; the normalised strings differ too (equal strings parse
  to equal numbers);
- different values, a decimal on either side: if they differ by at least 1e-5 (values below 10^6 with at most
  6 decimals, well inside a Float's 15 digits), the 6-place roundings differ and so does ``simplify``: False.
  Closer than that, rounding decides: None, math-verify is asked.
Zero denominators (zoo, nan) and negative zeros are not literals here: None. The tests check these verdicts
against math-verify on every numeric gold of MATH-500 and on perturbations of each (digit slips, sign flips,
fraction/decimal forms of the same value, ``x = ...`` answers, near misses).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction

_INTEGER = r"0|[1-9][0-9]{0,17}"
_LITERAL = re.compile(
    r"(?P<minus>-?)(?:"
    r"(?P<decimal>(?:0|[1-9][0-9]{0,5})\.[0-9]{1,6})"
    rf"|(?P<integer>{_INTEGER})"
    rf"|\\[dt]?frac(?:\{{(?P<numerator>{_INTEGER})\}}\{{(?P<denominator>{_INTEGER})\}}"
    r"|(?P<short_numerator>[0-9])(?P<short_denominator>[0-9]))"
    r")"
)
_SLASH = re.compile(rf"(?P<minus>-?)(?P<numerator>{_INTEGER})/(?P<denominator>{_INTEGER})")
_ASSIGNMENT = re.compile(r"[a-df-hj-zA-DF-HJ-Z] ?= ?(?P<value>.+)")

FLOAT_MARGIN = Fraction(1, 10**5)
"""Values this far apart differ after math-verify rounds a Float to 6 places."""


@dataclass(frozen=True)
class NumericLiteral:
    """A literal's exact value, and whether math-verify may read it as a Float (a decimal)."""

    value: Fraction
    exact: bool


def _signed(minus: str, value: Fraction, exact: bool) -> NumericLiteral | None:
    if minus and value == 0:
        return None
    return NumericLiteral(-value if minus else value, exact)


def parse_literal(text: str) -> NumericLiteral | None:
    """The literal ``text`` is (integer, decimal or ``\\frac``), or None."""
    match = _LITERAL.fullmatch(text)
    if match is None:
        return None
    if match["decimal"] is not None:
        return _signed(match["minus"], Fraction(match["decimal"]), exact=False)
    if match["integer"] is not None:
        return _signed(match["minus"], Fraction(int(match["integer"])), exact=True)
    numerator = match["numerator"] or match["short_numerator"]
    denominator = int(match["denominator"] or match["short_denominator"])
    if denominator == 0:
        return None
    return _signed(match["minus"], Fraction(int(numerator), denominator), exact=True)


def _standalone(text: str) -> NumericLiteral | None:
    """A whole answer or gold: a literal, or ``a/b``."""
    match = _SLASH.fullmatch(text)
    if match is None:
        return parse_literal(text)
    denominator = int(match["denominator"])
    if denominator == 0:
        return None
    return _signed(match["minus"], Fraction(int(match["numerator"]), denominator), exact=True)


def _answer(text: str) -> NumericLiteral | None:
    """An answer: as a gold, or ``v = <literal>``."""
    literal = _standalone(text)
    if literal is not None:
        return literal
    match = _ASSIGNMENT.fullmatch(text)
    return parse_literal(match["value"]) if match is not None else None


def numeric_verdict(gold: str, answer: str) -> bool | None:
    """math-verify's verdict on ``(gold, answer)`` when both are numeric literals (see the module); else None."""
    gold_literal = _standalone(gold)
    if gold_literal is None:
        return None
    answer_literal = _answer(answer)
    if answer_literal is None:
        return None
    if gold_literal.value == answer_literal.value:
        return True
    if gold_literal.exact and answer_literal.exact:
        return False
    if abs(gold_literal.value - answer_literal.value) >= FLOAT_MARGIN:
        return False
    return None
