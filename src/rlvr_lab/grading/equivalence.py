"""How an extracted answer meets math-verify: the one definition of "equivalent" the grader uses.

Both the gold and the extracted answer are wrapped as ``\\boxed{...}`` and given to ``math_verify.parse`` with its
default extraction configs, then compared with ``math_verify.verify(gold, answer)`` (gold first: the comparison
is not symmetric). Wrapping both sides the same way means one extraction route, the boxed one, reads both, so a
gold and an identical answer always take the same path.

One shortcut past math-verify: for two plain numeric literals (``12``, ``-0.25``, ``\\frac{3}{4}``, an answer
``x = 5``), :func:`~rlvr_lab.grading.numeric.numeric_verdict` computes math-verify's verdict exactly (its module
says why it is math-verify's). No string-equality shortcut: string equality in general does not imply
math-verify's verdict (a gold it cannot parse fails even against itself).

Every parse first calls :func:`~rlvr_lab.grading.antlr_compat.patch_stale_parser`, so the verdicts do not depend
on which antlr4 runtime is installed (verl's environment has 4.9.3, ours 4.13.2).

Two ways to run this, same verdicts:
- :func:`reference_equal` is the plain call with math-verify's own signal-based timeouts; it works only on a
  main thread and is the baseline the benchmark and tests compare the pool against;
- the worker processes (:mod:`rlvr_lab.grading.worker`) call :func:`parse_for_verify` and :func:`equivalent`
  with math-verify's timeouts off, because the pool enforces a hard, killable per-item timeout instead.
"""

from __future__ import annotations

from typing import Any

from rlvr_lab.grading.antlr_compat import patch_stale_parser

ParsedAnswer = list[Any]
"""What ``math_verify.parse`` returns: sympy expressions and/or a string fallback; empty when nothing parsed."""


def as_boxed(answer: str) -> str:
    """The text math-verify reads for an extracted answer (or a gold answer)."""
    return "\\boxed{" + answer + "}"


def parse_for_verify(answer: str) -> ParsedAnswer:
    """``math_verify.parse`` of the boxed answer with its signal timeout off (callers enforce their own)."""
    from math_verify import parse

    patch_stale_parser()
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

    patch_stale_parser()
    return bool(verify(parse(as_boxed(gold)), parse(as_boxed(answer))))
