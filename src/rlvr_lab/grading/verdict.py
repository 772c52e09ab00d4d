"""The verdict types every grader returns, at the bottom of ``grading/`` so that the maths pool, the code
executor and the grader that joins them all import them from below.

Model failures are verdicts with a status, never exceptions: ``ok``, ``no_answer``, ``timeout``, ``error`` for
maths; ``passed``, ``failed``, ``timeout``, ``error``, ``oom`` for code.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

Status = Literal["ok", "no_answer", "timeout", "error"]
"""A maths verification's outcome: ``ok`` (math-verify answered), ``no_answer`` (nothing extracted), ``timeout``
(the worker was killed past its limit), ``error`` (the gold could not be parsed, math-verify raised, or the
worker died)."""

CodeStatus = Literal["passed", "failed", "timeout", "error", "oom"]
"""``passed``: the tests ran to their end; ``failed``: a test assertion (or an exception while testing);
``timeout``: killed past the wall clock or the CPU limit; ``error``: the program did not load, exited before the
tests ended, or the sandbox failed; ``oom``: the address-space limit was hit."""

CODE_STATUSES: tuple[CodeStatus, ...] = ("passed", "failed", "timeout", "error", "oom")

ProgressFn = Callable[[int], None]
"""Called with how many more items just got their verdict."""


@dataclass(frozen=True)
class Verdict:
    """The grade of one completion: what was extracted, how, and whether it was found equal to the gold (maths)
    or passed its tests (code)."""

    correct: bool
    status: Status | CodeStatus
    answer: str | None
    strategy: str
    detail: str = ""
