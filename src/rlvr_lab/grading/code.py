"""Code verdicts: turn a completion into a program, run it with the problem's tests in the sandbox.

Two completion conventions are accepted, and which one applied is recorded per sample (the graded table's
``extract_strategy``):

- ``fenced``: the completion holds a Markdown code block, as chat models write. The block taken is the last one
  that defines the function under test, else the last block; an unterminated block (a truncated generation)
  runs to the end. The program is the problem's prefix (HumanEval's prompt: its imports and helper functions),
  then the block, whose definition replaces the prompt's docstring-only one. A block whose first line is
  indented is a function body and is appended to the prefix directly.
- ``body``: no code block, and the problem has a prefix: the completion continues it, as base models write. The
  body is cut at the first line that starts a new top-level statement (``def``, ``class``, ``if``, ``print``,
  ``#``, or a closing fence), the stop sequences of Chen et al. (2021).
- ``program``: no code block and no prefix to continue (MBPP), or the completion itself starts with the
  function's definition at column 0: the completion is the whole program.

The graded table's ``answer`` is the code taken from the completion; ``status`` is the sandbox's verdict
(passed, failed, timeout, error, oom), ``correct`` is ``status == "passed"``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

from rlvr_lab.grading.execution import CodeExecutor, Job
from rlvr_lab.grading.verdict import ProgressFn, Verdict
from rlvr_lab.tasks.code import CodeSpec, code_spec

if TYPE_CHECKING:
    from rlvr_lab.tasks.problem import Problem

CONVENTIONS = ("fenced", "body", "program")
BODY_STOPS = ("\ndef ", "\nclass ", "\nif ", "\nprint(", "\n#", "\n```")
"""Where a body completion ends: a new top-level statement (Chen et al., 2021) or a closing fence."""

_FENCE = re.compile(r"```[ \t]*(?:python3?|py)?[ \t]*\n(.*?)(?:\n[ \t]*```|\Z)", re.DOTALL | re.IGNORECASE)


def code_blocks(text: str) -> list[str]:
    """The contents of the Markdown code blocks of ``text``, in order (an unterminated last one included)."""
    return [match.group(1) for match in _FENCE.finditer(text)]


def _defines(code: str, name: str | None) -> bool:
    return name is not None and re.search(rf"^\s*def\s+{re.escape(name)}\s*\(", code, re.MULTILINE) is not None


def cut_body(body: str) -> str:
    """``body`` up to its first stop sequence."""
    cut = min((index for index in (body.find(stop) for stop in BODY_STOPS) if index >= 0), default=len(body))
    return body[:cut]


def assemble(spec: CodeSpec, completion: str) -> tuple[str, str, str]:
    """``(program, code taken from the completion, convention)`` for one completion (see the module docstring)."""
    blocks = code_blocks(completion)
    if blocks:
        defining = [block for block in blocks if _defines(block, spec.entry_point)]
        code = (defining or blocks)[-1]
        first = next((line for line in code.splitlines() if line.strip()), "")
        if spec.prefix and first[:1].isspace():
            return spec.prefix + code, code, "fenced"
        return (f"{spec.prefix}\n{code}" if spec.prefix else code), code, "fenced"
    starts_with_def = spec.entry_point is not None and completion.lstrip().startswith(f"def {spec.entry_point}")
    if spec.prefix and not starts_with_def:
        body = cut_body(completion)
        return spec.prefix + body, body, "body"
    return (f"{spec.prefix}\n{completion}" if spec.prefix else completion), completion, "program"


def grade_code(
    executor: CodeExecutor, items: Sequence[tuple[Problem, str]], progress: ProgressFn | None = None
) -> list[Verdict]:
    """Verdicts for ``(code problem, completion)`` pairs, in order; identical programs with identical tests run once."""
    jobs, taken = [], []
    for problem, completion in items:
        spec = code_spec(problem)
        if spec is None:
            raise ValueError(f"problem {problem.id!r} has no unit tests: it is not a code problem")
        program, code, convention = assemble(spec, completion)
        jobs.append(Job(program, spec.tests, spec.entry_point))
        taken.append((code, convention))
    results = executor.run(jobs, progress)
    return [
        Verdict(result.passed, result.status, code, convention, result.detail)
        for (code, convention), result in zip(taken, results, strict=True)
    ]
