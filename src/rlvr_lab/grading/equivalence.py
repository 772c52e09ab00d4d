"""How an extracted answer meets math-verify: the one definition of "equivalent" the grader uses.

Both the gold and the extracted answer are wrapped as ``\\boxed{...}`` and given to ``math_verify.parse`` with its
default extraction configs, then compared with ``math_verify.verify(gold, answer)`` (gold first: the comparison
is not symmetric). Wrapping both sides the same way means one extraction route, the boxed one, reads both, so a
gold and an identical answer always take the same path.

One shortcut, exact by construction (:func:`integer_verdict`): when the gold and the answer are both canonical
integer literals (``0`` or ``-?[1-9][0-9]*``, at most 18 digits), math-verify parses each to ``[Integer(n), "n"]``
and ``verify`` compares the two Integers by equality (its string, numeric and symbolic checks all reduce to
``a == b`` for Integers) and the two strings by equality, so its verdict is ``int(gold) == int(answer)``. The
tests check this against math-verify on every integer gold of MATH-500. No other shortcut: string equality in
general does not imply math-verify's verdict (a gold it cannot parse fails even against itself).

Two ways to run this, same verdicts:
- :func:`reference_equal` is the plain call with math-verify's own signal-based timeouts; it works only on a
  main thread and is the baseline the benchmark and tests compare the pool against;
- the worker processes (:mod:`rlvr_lab.grading.worker`) call :func:`parse_for_verify` and :func:`equivalent`
  with math-verify's timeouts off, because the pool enforces a hard, killable per-item timeout instead.
"""

from __future__ import annotations

import re
from typing import Any

ParsedAnswer = list[Any]
"""What ``math_verify.parse`` returns: sympy expressions and/or a string fallback; empty when nothing parsed."""


_CANONICAL_INTEGER = re.compile(r"0|-?[1-9][0-9]{0,17}")


def integer_verdict(gold: str, answer: str) -> bool | None:
    """math-verify's verdict when both sides are canonical integer literals, computed directly; else None."""
    if _CANONICAL_INTEGER.fullmatch(gold) and _CANONICAL_INTEGER.fullmatch(answer):
        return gold == answer
    return None


def as_boxed(answer: str) -> str:
    """The text math-verify reads for an extracted answer (or a gold answer)."""
    return "\\boxed{" + answer + "}"


def parse_for_verify(answer: str) -> ParsedAnswer:
    """``math_verify.parse`` of the boxed answer with its signal timeout off (callers enforce their own)."""
    from math_verify import parse

    return parse(as_boxed(answer), parsing_timeout=None)  # type: ignore[arg-type]


def equivalent(gold: ParsedAnswer, answer: ParsedAnswer) -> bool:
    """``math_verify.verify(gold, answer)`` with its signal timeout off; False when either side is empty."""
    from math_verify import verify

    return bool(verify(gold, answer, timeout_seconds=None))


def reference_equal(gold: str, answer: str) -> bool:
    """The plain-loop verdict: parse both strings and verify, with math-verify's default timeouts.

    Main thread only (math-verify's timeouts use ``signal.alarm``); a hang inside C code is not interrupted.
    """
    from math_verify import parse, verify

    return bool(verify(parse(as_boxed(gold)), parse(as_boxed(answer))))
