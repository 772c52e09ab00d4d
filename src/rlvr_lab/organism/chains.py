"""Check an organism response's reasoning step by step: every arithmetic step and every predicted code output.

Yue et al. (2025, §C) found that at large k some correct maths answers rest on wrong reasoning (lucky guesses),
and checked chains of thought by hand. On the organism the reasoning has a known grammar (the corpus's
templates), so every chain can be checked exactly:

- **language** (``We get 7+5 = 12, then 12-3 = 9. The answer is \\boxed{9}.``): the steps must be the problem's
  chain (its start value, then its operations and operands in order, each step starting from the previous
  step's *stated* value), each stated value must be the step's true result, and the stated answer the last value;
- **code** (a python block, its predicted output, the answer): the program must compute the problem's chain, the
  predicted output must be what Python would print (evaluated here, with Python's precedence, on integers only),
  and the stated answer the output.

A response that follows neither grammar is ``unparsed`` (and not valid). The parsers are built from the corpus's
own template strings (:data:`rlvr_lab.organism.corpus.LANGUAGE`, ``STEP``, ``THEN``, ``CODE``, ``CODE_LINES``,
``ENDINGS``), so they follow the corpus when its templates change; the test checks the checker against the corpus
generator (correct chains accepted, every injected error caught).

The problem's chain comes from its :class:`~rlvr_lab.organism.tasks.Task` (:func:`tasks_by_text` regenerates the
benchmark's tasks and keys them by problem text).
"""

from __future__ import annotations

import ast
import operator
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from string import Formatter
from typing import Literal

from rlvr_lab.organism.corpus import CODE, CODE_LINES, ENDINGS, LANGUAGE, STEP, THEN
from rlvr_lab.organism.tasks import Task, apply, organism_tasks

FIELD_PATTERNS = {
    "answer": r"-?\d+",
    "value": r"-?\d+",
    "printed": r"-?\d+",
    "expr": r"[0-9+\-* ]+?",
    "noun": r"[A-Za-z_]\w*",
    "work": r".+?",
    "code": r".+?",
    "ending": r".+",
}
"""The regular expression each template field matches (lazy where a literal follows)."""

CheckStrategy = Literal["code", "language", "unparsed"]


def template_regex(template: str) -> str:
    """A ``str.format`` template as a regex: literals escaped, each field a named group (a repeated field must
    repeat its first match)."""
    out, seen = [], set()
    for literal, name, _spec, _conv in Formatter().parse(template):
        out.append(re.escape(literal))
        if name is None:
            continue
        out.append(f"(?P={name})" if name in seen else f"(?P<{name}>{FIELD_PATTERNS[name]})")
        seen.add(name)
    return "".join(out)


@cache
def _compiled() -> dict[str, re.Pattern[str] | list[re.Pattern[str]]]:
    full = lambda t: re.compile(template_regex(t) + r"\s*\Z", re.DOTALL)  # noqa: E731
    return {
        "language": full(LANGUAGE),
        "code": full(CODE),
        "step": full(STEP),
        "lines": [full(line) for line in CODE_LINES],
        "endings": [full(ending) for ending in ENDINGS.values()],
    }


@dataclass(frozen=True)
class ChainCheck:
    """The verdict on one response's reasoning."""

    strategy: CheckStrategy
    errors: tuple[str, ...]
    """What is wrong, in order (empty: every step checks out)."""
    answer: int | None
    """The stated answer (None when the ending could not be read)."""

    @property
    def valid(self) -> bool:
        return self.strategy != "unparsed" and not self.errors


def _ending_answer(text: str) -> int | None:
    for pattern in _compiled()["endings"]:  # type: ignore[union-attr]
        match = pattern.match(text.strip())
        if match:
            return int(match.group("answer"))
    return None


_OPS: dict[type, Callable[[int, int], int]] = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul}


def python_value(expression: str) -> int | None:
    """What Python prints for an integer expression of ``+ - *`` (None if it is anything else)."""
    try:
        tree = ast.parse(expression.strip(), mode="eval").body
    except SyntaxError:
        return None

    def value(node: ast.AST) -> int | None:
        if isinstance(node, ast.Constant) and type(node.value) is int:
            return node.value
        if isinstance(node, ast.BinOp) and type(node.op) in _OPS:
            left, right = value(node.left), value(node.right)
            return None if left is None or right is None else _OPS[type(node.op)](left, right)
        return None

    return value(tree)


_BINARY = re.compile(r"\s*(-?\d+)\s*([+\-*])\s*(\d+)\s*\Z")


def check_language(task: Task, work: str, answer: int | None) -> list[str]:
    """Errors of a worked chain against ``task`` (see the module docstring)."""
    errors: list[str] = []
    steps = work.split(THEN)
    if len(steps) != len(task.ops):
        errors.append(f"{len(steps)} steps for a chain of {len(task.ops)}")
    previous = task.start
    last = None
    for i, step in enumerate(steps):
        match = _compiled()["step"].match(step)  # type: ignore[union-attr]
        parts = _BINARY.match(match.group("expr")) if match else None
        if match is None or parts is None:
            errors.append(f"step {i + 1} unreadable: {step!r}")
            return errors
        left, op, right, stated = int(parts.group(1)), parts.group(2), int(parts.group(3)), int(match.group("value"))
        if left != previous:
            errors.append(f"step {i + 1} starts from {left}, not {previous}")
        if i < len(task.ops) and (op, right) != task.ops[i]:
            errors.append(f"step {i + 1} applies {op}{right}, the problem {task.ops[i][0]}{task.ops[i][1]}")
        if stated != apply(left, op, right):
            errors.append(f"step {i + 1}: {left}{op}{right} = {stated} is wrong")
        previous = last = stated
    if answer is None:
        errors.append("no stated answer")
    elif answer != last:
        errors.append(f"answer {answer} is not the last step's value {last}")
    return errors


def check_code(task: Task, code: str, printed: int, answer: int | None) -> list[str]:
    """Errors of a program, its predicted output and the answer against ``task``."""
    errors: list[str] = []
    expression = None
    for pattern in _compiled()["lines"]:  # type: ignore[union-attr]
        match = pattern.match(code)
        if match:
            expression = match.group("expr")
            break
    if expression is None:
        return [f"program unreadable: {code!r}"]
    if expression.replace(" ", "") != task.expression:
        errors.append(f"program computes {expression}, the problem {task.expression}")
    output = python_value(expression)
    if output is None:
        errors.append(f"program {expression!r} is not integer arithmetic")
    elif printed != output:
        errors.append(f"predicted output {printed}, python prints {output}")
    if answer is None:
        errors.append("no stated answer")
    elif answer != printed:
        errors.append(f"answer {answer} is not the predicted output {printed}")
    return errors


def strip_lead_in(text: str) -> str:
    """``text`` without a v2 lead-in sentence (an opener and a continuation of :mod:`rlvr_lab.organism.corpus`): it
    states an intention, not a step, so the chain starts after it."""
    from rlvr_lab.organism.corpus import CONTINUATIONS, OPENERS

    for opener in sorted(OPENERS, key=len, reverse=True):
        if text.startswith(opener):
            rest = text[len(opener) :]
            for continuation in (c for group in CONTINUATIONS.values() for c in group):
                if rest.startswith(continuation):
                    return rest[len(continuation) :]
    return text


def check_chain(task: Task, response: str) -> ChainCheck:
    """Check ``response`` (the text after the prompt, a v2 lead-in allowed) against ``task``."""
    text = strip_lead_in(response.strip())
    patterns = _compiled()
    match = patterns["code"].match(text)  # type: ignore[union-attr]
    if match:
        answer = _ending_answer(match.group("ending"))
        errors = check_code(task, match.group("code"), int(match.group("printed")), answer)
        return ChainCheck("code", tuple(errors), answer)
    match = patterns["language"].match(text)  # type: ignore[union-attr]
    if match:
        answer = _ending_answer(match.group("ending"))
        return ChainCheck("language", tuple(check_language(task, match.group("work"), answer)), answer)
    return ChainCheck("unparsed", ("follows neither the code nor the language grammar",), None)


@cache
def tasks_by_text(split: str, n: int, seed: int = 0) -> dict[str, Task]:
    """The first ``n`` tasks of the organism benchmark's ``split``, keyed by problem text."""
    return {task.text: task for task in organism_tasks(split, seed, n)}
