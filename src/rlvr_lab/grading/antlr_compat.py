"""The grader's verdicts made independent of the installed antlr4 runtime.

``latex2sympy2_extended`` (what math-verify parses LaTeX with) ships one generated parser per antlr4 runtime
(4.9.3, 4.11, 4.13.2) and picks the one matching the installed ``antlr4-python3-runtime``. In version 1.11.0 the
4.9.3 parser is older than the converter: its ``AtomContext`` has no ``FUNC_GAMMA`` accessor, which
``convert_atom`` calls before it reaches the percent branch, so every ``25\\%`` raises inside latex2sympy and
math-verify falls back to the string. ``hydra-core`` (hence verl) pins antlr4 4.9.3, so in verl's environment a
gold ``25\\%`` no longer matched ``25``: the labelled equivalence test fell from 0.9985 to 0.970, every miss a
percent pair.

:func:`patch_stale_parser` gives that class the accessor it lacks, returning ``None`` (no such token: the 4.9.3
grammar cannot produce one there), so ``convert_atom`` goes on to the percent branch exactly as with 4.13.2.
Measured with ``scripts/grader_parses.py`` (figures in docs/testing.md): with the patch, math-verify's parse of
every labelled-pair side and every MATH-500 answer (999 strings) is identical under 4.9.3 and 4.13.2, and so are
the 675 verdicts.
Still different under 4.9.3: a bare ``\\gamma`` or ``\\Gamma`` (the Euler constant under 4.13.2, text under the
older grammar); none of those strings contains one.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

TESTED_RUNTIMES = ("4.9.3", "4.13.2")
"""The antlr4 runtimes the labelled equivalence test passes under (pyproject.toml pins to these)."""

_patched = False


def antlr_runtime() -> str:
    """The installed ``antlr4-python3-runtime`` version, or ``""`` when it is absent."""
    try:
        return version("antlr4-python3-runtime")
    except PackageNotFoundError:
        return ""


def patch_stale_parser() -> bool:
    """Add the missing ``AtomContext.FUNC_GAMMA`` to latex2sympy's selected parser; True when it was missing.

    Idempotent and cheap after the first call; a parser that already has the accessor is left alone.
    """
    global _patched
    if _patched:
        return False
    from latex2sympy2_extended.antlr_parser import PSParser

    _patched = True
    if hasattr(PSParser.AtomContext, "FUNC_GAMMA"):
        return False
    PSParser.AtomContext.FUNC_GAMMA = _no_token
    return True


def _no_token(_: object) -> None:
    """The accessor of a token the grammar cannot produce at this position."""
    return None
