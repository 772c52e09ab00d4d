"""Code benchmarks: HumanEval and MBPP (sanitized), whose answers are checked by running unit tests.

A code problem is an ordinary :class:`~rlvr_lab.tasks.problem.Problem` whose ``meta["code"]`` holds a
:class:`CodeSpec`: the tests, the function under test, and the code a base model's completion continues. Graders
look for that key (:func:`code_spec`) to decide that a problem is graded by execution, not by math-verify.
``answer`` holds the reference solution as a whole program, so a reference can be graded like any sample.

========== =============================== ========================================== =============================
name       local file                      prompt                                     tests
========== =============================== ========================================== =============================
humaneval  humaneval/HumanEval.jsonl.gz    ``prompt`` (signature and docstring),      ``test`` (defines
           (hub: openai/openai_humaneval)  which a body completion continues          ``check``) then
                                                                                      ``check(<entry_point>)``
mbpp       mbpp/sanitized-mbpp.json        ``prompt``, then "Your code should pass    ``test_imports``, then the
           (hub: google-research-datasets/ these tests:" and the three asserts        asserts of ``test_list``
           mbpp, config sanitized)         (Austin et al., 2021)
========== =============================== ========================================== =============================

MBPP splits follow its README: task ids 11-510 test (257 sanitized problems), 601-974 train (120), 511-600
validation (43), 1-10 prompt (7). Ids are ``HumanEval/N`` and ``Mbpp/N``, as in EvalPlus, so EvalPlus-style
extra tests join by id (:func:`load_extra_tests`).
"""

from __future__ import annotations

import dataclasses
import json
import re
from dataclasses import dataclass
from pathlib import Path

from rlvr_lab.tasks.loaders import (
    FieldError,
    ProblemDataError,
    ProblemSourceError,
    Row,
    file_format,
    load_file,
    text_field,
)
from rlvr_lab.tasks.problem import Problem
from rlvr_lab.tasks.sources import FileBenchmark, HubSource

CODE_META = "code"
"""The ``Problem.meta`` key that marks a problem as graded by execution."""


@dataclass(frozen=True)
class CodeSpec:
    """How to test a code problem's completions."""

    tests: str
    """Python run after the program; it raises (AssertionError) on a wrong program."""
    entry_point: str | None = None
    """The function under test, which a full-program completion must define (None: unknown)."""
    prefix: str = ""
    """Code a body completion continues (HumanEval's signature and docstring); empty when there is none."""


def code_spec(problem: Problem) -> CodeSpec | None:
    """The problem's :class:`CodeSpec`, or None for a problem graded by its answer (maths)."""
    spec = problem.meta.get(CODE_META)
    return spec if isinstance(spec, CodeSpec) else None


# ---------------------------------------------------------------------------------------------- row converters


def code_field(row: Row, name: str) -> str:
    """A non-empty string field kept exactly: code's leading indentation and trailing newline matter."""
    text_field(row, name)
    return row[name]


def humaneval_row(row: Row, index: int) -> Problem:
    """HumanEval: the prompt is the code to continue; the tests call ``check(entry_point)``."""
    prompt = code_field(row, "prompt")
    entry_point = text_field(row, "entry_point")
    tests = f"{code_field(row, 'test')}\n\ncheck({entry_point})\n"
    return Problem(
        id=text_field(row, "task_id"),
        prompt=prompt,
        answer=prompt + code_field(row, "canonical_solution"),
        source="humaneval",
        meta={CODE_META: CodeSpec(tests=tests, entry_point=entry_point, prefix=prompt)},
    )


def _string_list(row: Row, name: str) -> list[str]:
    value = row.get(name)
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise FieldError(name, f"expected a list of strings, got {type(value).__name__}")
    return value


def mbpp_entry_point(code: str, tests: list[str]) -> str | None:
    """The first function the tests call that the reference solution defines."""
    defined = set(re.findall(r"^\s*def\s+([A-Za-z_]\w*)\s*\(", code, flags=re.MULTILINE))
    called = re.findall(r"([A-Za-z_]\w*)\s*\(", "\n".join(tests))
    return next((name for name in called if name in defined), None)


def mbpp_row(row: Row, index: int) -> Problem:
    """MBPP sanitized: the task text with its asserts (as in the paper's prompt); tests = imports + asserts."""
    tests = _string_list(row, "test_list")
    imports = _string_list(row, "test_imports") if row.get("test_imports") is not None else []
    code = code_field(row, "code").replace("\r\n", "\n")
    task_id = row.get("task_id")
    if not isinstance(task_id, int):
        raise FieldError("task_id", f"expected an integer, got {task_id!r}")
    prompt = f"{text_field(row, 'prompt')}\nYour code should pass these tests:\n\n" + "\n".join(tests)
    return Problem(
        id=f"Mbpp/{task_id}",
        prompt=prompt,
        answer=code,
        source="mbpp",
        meta={CODE_META: CodeSpec("\n".join([*imports, *tests]) + "\n", mbpp_entry_point(code, tests))},
    )


MBPP_SPLITS = {"test": (11, 510), "train": (601, 974), "validation": (511, 600), "prompt": (1, 10)}
"""Task-id ranges of MBPP's splits (inclusive), from its README."""


# ---------------------------------------------------------------------------------------------- benchmarks


@dataclass(frozen=True)
class CodeBenchmark:
    """A code benchmark from a local file under the data directory, else from the hub."""

    name: str
    description: str
    file: str
    """Path relative to the data directory."""
    hub: tuple[str, str | None]
    """(dataset, config) on the Hugging Face hub, the fallback when the local file is absent."""
    splits: dict[str, tuple[int, int] | None]
    """Split -> inclusive task-id range within the file (None: the whole file)."""

    def load(self, split: str, folders: list[Path], limit: int | None) -> list[Problem]:
        """The split's problems from the first of ``folders`` holding the file, else the hub (offline: an error
        naming every path searched), as :class:`rlvr_lab.tasks.sources.FileBenchmark` does."""
        if split not in self.splits:
            raise ValueError(f"benchmark {self.name!r} has no split {split!r}; choose one of: {', '.join(self.splits)}")
        convert = humaneval_row if self.name == "humaneval" else mbpp_row
        dataset, config = self.hub
        source = FileBenchmark(self.name, self.description, {split: self.file}, convert, HubSource(dataset, config))
        local = source.local_file(split, folders)
        span = self.splits[split]
        if local is None:
            return source.load(split, folders, limit)
        if span is None:
            return load_file(local, convert, limit=limit)
        kept = [p for p in load_file(local, convert) if span[0] <= int(p.id.rpartition("/")[2]) <= span[1]]
        return kept if limit is None else kept[:limit]


HUMANEVAL = CodeBenchmark(
    "humaneval",
    "HumanEval (Chen et al., 2021), 164 Python functions graded by unit tests in the sandbox",
    "humaneval/HumanEval.jsonl.gz",
    ("openai/openai_humaneval", None),
    {"test": None},
)
MBPP = CodeBenchmark(
    "mbpp",
    "MBPP sanitized (Austin et al., 2021), 427 Python tasks: test 257 / train 120 / validation 43 / prompt 7",
    "mbpp/sanitized-mbpp.json",
    ("google-research-datasets/mbpp", "sanitized"),
    dict(MBPP_SPLITS),
)


# ---------------------------------------------------------------------------------------------- extra tests


def _extra_test(row: Row, entry_point: str | None) -> str:
    """One row's tests: ``test`` (code), or ``inputs`` with ``outputs`` (and optional ``atol``) as asserts."""
    if row.get("test") is not None:
        return code_field(row, "test")
    inputs, outputs = row.get("inputs"), row.get("outputs")
    if not isinstance(inputs, list) or not isinstance(outputs, list) or len(inputs) != len(outputs):
        raise FieldError("inputs", "give either 'test' (code) or 'inputs' and 'outputs' lists of equal length")
    if entry_point is None:
        raise FieldError("inputs", "the problem's function under test is unknown; give 'test' code instead")
    atol = row.get("atol") or 0
    pairs = json.dumps(json.dumps([[args, out] for args, out in zip(inputs, outputs, strict=True)]))
    compare = f"abs(_got - _expected) <= {float(atol)!r}" if atol else "_got == _expected"
    return (
        f"import json as _json\nfor _args, _expected in _json.loads({pairs}):\n"
        f"    _got = {entry_point}(*_args)\n    assert {compare}, (_args, _got, _expected)\n"
    )


def load_extra_tests(path: Path, problems: list[Problem]) -> list[Problem]:
    """``problems`` with the tests of an EvalPlus-style file (JSONL, JSON array or Parquet) appended to their own.

    One row per problem: ``task_id`` (the problem's id) and either ``test`` (Python code run after the original
    tests) or ``inputs`` (a list of argument lists) with ``outputs`` (the expected return values) and an optional
    ``atol``. Rows for unknown ids raise, naming the file and line; problems without a row keep their tests.
    """
    by_id = {p.id: p for p in problems}
    extra: dict[str, str] = {}
    if not path.is_file():
        raise ProblemSourceError(f"{path}: no such extra-tests file")
    reader, unit = file_format(path)
    for position, row in reader(path):
        try:
            problem_id = text_field(row, "task_id")
            if problem_id not in by_id or code_spec(by_id[problem_id]) is None:
                raise FieldError("task_id", f"{problem_id!r} is not one of the loaded code problems")
            extra[problem_id] = _extra_test(row, code_spec(by_id[problem_id]).entry_point)  # type: ignore[union-attr]
        except FieldError as err:
            raise ProblemDataError(str(path), position, err.field, err.reason, unit) from None
    out = []
    for problem in problems:
        spec = code_spec(problem)
        if problem.id in extra and spec is not None:
            spec = dataclasses.replace(spec, tests=f"{spec.tests}\n{extra[problem.id]}\n")
            problem = dataclasses.replace(problem, meta={**problem.meta, CODE_META: spec})
        out.append(problem)
    return out
