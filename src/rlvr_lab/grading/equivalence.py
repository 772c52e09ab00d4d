"""How an extracted answer meets math-verify: the one definition of "equivalent" the grader uses.

The gold is wrapped as ``\\boxed{...}`` and given to ``math_verify.parse`` with its default extraction configs; so is
an answer a fallback strategy extracted. A boxed answer is parsed as math-verify parses the whole completion
(:func:`parse_readings`: its readings in math-verify's order, the first that parses). Then
``math_verify.verify(gold, answer)`` compares them (gold first: the comparison is not symmetric).

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


Readings = tuple[tuple[str, ...], ...]
"""What math-verify would try on a completion, in its order (:func:`rlvr_lab.grading.readings.math_verify_readings`):
each reading one text, or one text per region of a chain."""

Pair = tuple[str, str | Readings]
"""(gold, answer): the answer a fallback strategy's text, or a boxed completion's readings."""


def single_text(answer: str | Readings) -> str | None:
    """The one text an answer parses as (an answer text, or a single one-region reading), else None."""
    if isinstance(answer, str):
        return answer
    return answer[0][0] if len(answer) == 1 and len(answer[0]) == 1 else None


def parse_readings(readings: Readings) -> ParsedAnswer:
    """``math_verify.parse`` of the completion these readings come from (timeout off; callers enforce their own).

    As math-verify's ``extract_target_from_pred`` does: each reading is normalised and parsed by the same calls
    (``normalize_latex``, ``parse_latex_cached``), a chain of regions becomes the set of its values (sets
    flattened, and the first region alone when one does not parse); the first reading that parses gives the
    value, beside the first reading's text; when none parses, that text alone (math-verify's ``first_match``
    fallback), which only an identical gold text can equal.
    """
    from latex2sympy2_extended.sets import FiniteSet
    from math_verify.parser import parse_latex_cached

    first: str | None = None
    for reading in readings:
        texts = [_normalized(text) for text in reading]
        if first is None:
            first = " and ".join(texts)
        values = []
        for text in texts:
            try:
                values.append(parse_latex_cached(text))
            except Exception:  # math-verify takes any parse failure as "try the next reading"
                values.append(None)
        if len(values) > 1 and all(value is not None for value in values):
            members = [item for value in values for item in (value.args if isinstance(value, FiniteSet) else [value])]
            return [FiniteSet(*members), first]
        if values[0] is not None:
            return [values[0], first]
    return [first] if first else []


def _normalized(text: str) -> str:
    """math-verify's normalisation of an extracted text (its default config; the boxes are already taken out)."""
    from dataclasses import replace

    from latex2sympy2_extended.latex2sympy2 import normalize_latex
    from math_verify.parser import LatexExtractionConfig

    return normalize_latex(text, replace(LatexExtractionConfig().normalization_config, boxed="none"))
