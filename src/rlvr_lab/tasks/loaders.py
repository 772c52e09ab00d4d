"""Read problems from JSONL (optionally gzipped), JSON arrays, Parquet files and hub datasets.

Design choices:
- A row becomes a :class:`Problem` through a *converter*: a function of the row alone that raises
  :class:`FieldError` naming the bad field. The reader knows where the row came from and re-raises it as
  :class:`ProblemDataError` with file, line and field, so every data bug points at the byte to fix. For Parquet
  files, JSON arrays and hub datasets there are no meaningful lines, so the position is the 1-based row number.
- Ids are strings everywhere (they key sample stores, grades and labels). Integer ids are converted; a row
  without the id field gets its 0-based row index.
- Duplicate ids raise: two problems under one id would silently merge their samples and grades.
- Only the outermost whitespace of the prompt is stripped; the text is otherwise kept byte for byte.
"""

from __future__ import annotations

import dataclasses
import gzip
import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from rlvr_lab.runtime.data import ProblemSourceError
from rlvr_lab.tasks.problem import Problem

Row = dict[str, Any]
Converter = Callable[[Row, int], Problem | None]
"""Turns one row (and its 0-based index, the fallback id) into a problem, or raises :class:`FieldError`; None drops
the row (used only for a benchmark's documented known defects)."""

Unit = Literal["line", "row"]


class FieldError(ValueError):
    """A row's field is missing or malformed; the reader adds the file and line."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"field {field!r}: {reason}")
        self.field = field
        self.reason = reason


class ProblemDataError(ValueError):
    """A problem file is malformed at a known place (``path``, ``line`` in ``unit``, ``field``)."""

    def __init__(self, path: str, line: int, field: str | None, reason: str, unit: Unit = "line") -> None:
        where = f"{path}:{line}" if unit == "line" else f"{path} (row {line})"
        what = f"field {field!r}: " if field else ""
        super().__init__(f"{where}: {what}{reason}")
        self.path = path
        self.line = line
        self.field = field
        self.unit = unit


@dataclass(frozen=True)
class FieldMap:
    """Which columns of a file hold the problem's parts."""

    id: str = "id"
    """Unique id; when a row lacks it, the 0-based row index is used."""
    prompt: str = "problem"
    """The problem statement."""
    answer: str = "answer"
    """The gold final answer (a string, or a number that is written out)."""

    @classmethod
    def parse(cls, text: str) -> FieldMap:
        """Build from ``"prompt=question,answer=final"`` (the command line's ``--fields``); unnamed parts keep
        their defaults."""
        known = {f.name for f in dataclasses.fields(cls)}
        mapping: dict[str, str] = {}
        for item in filter(None, (part.strip() for part in text.split(","))):
            key, sep, value = item.partition("=")
            key, value = key.strip(), value.strip()
            if not sep or key not in known or not value:
                raise ValueError(f"bad field mapping {item!r}: expected one of {sorted(known)} as name=column")
            mapping[key] = value
        return cls(**mapping)


# ---------------------------------------------------------------------------------------------- field helpers


def text_field(row: Row, name: str) -> str:
    """The non-empty string in ``row[name]``, outer whitespace stripped."""
    if name not in row or row[name] is None:
        raise FieldError(name, "missing")
    value = row[name]
    if not isinstance(value, str):
        raise FieldError(name, f"expected a string, got {type(value).__name__}")
    if not value.strip():
        raise FieldError(name, "empty")
    return value.strip()


def answer_text(value: Any, name: str) -> str:
    """A gold answer as text: strings as they are, integral numbers without a fractional part (``27.0`` ->
    ``"27"``, as some files store AMC answers), other numbers by ``repr``."""
    if value is None:
        raise FieldError(name, "missing")
    if isinstance(value, bool):
        raise FieldError(name, f"expected a string or a number, got {value!r}")
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, str):
        if not value.strip():
            raise FieldError(name, "empty")
        return value.strip()
    raise FieldError(name, f"expected a string or a number, got {type(value).__name__}")


def id_field(row: Row, name: str, index: int) -> str:
    """The id in ``row[name]`` as a string; the row index when the field is absent."""
    if name not in row or row[name] is None:
        return str(index)
    value = row[name]
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise FieldError(name, f"expected a string or an integer id, got {type(value).__name__}")
    if isinstance(value, str) and not value.strip():
        raise FieldError(name, "empty")
    return str(value)


def map_fields(row: Row, index: int, *, fields: FieldMap, source: str) -> Problem:
    """The generic converter: the three mapped columns, every other column kept in ``meta``."""
    used = {fields.id, fields.prompt, fields.answer}
    return Problem(
        id=id_field(row, fields.id, index),
        prompt=text_field(row, fields.prompt),
        answer=answer_text(row.get(fields.answer), fields.answer),
        source=source,
        meta={k: v for k, v in row.items() if k not in used},
    )


# ---------------------------------------------------------------------------------------------- readers


def _open_text(path: Path) -> Any:
    return gzip.open(path, "rt", encoding="utf-8") if path.suffix == ".gz" else path.open(encoding="utf-8")


def _iter_jsonl(path: Path) -> Iterator[tuple[int, Row]]:
    # Read as bytes and decode line by line, so a byte that is not UTF-8 is reported with its file and line.
    with gzip.open(path, "rb") if path.suffix == ".gz" else path.open("rb") as handle:
        for line_no, raw in enumerate(handle, start=1):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as err:
                detail = f"not UTF-8 (byte {raw[err.start]:#04x} at column {err.start + 1}); save the file as UTF-8"
                raise ProblemDataError(str(path), line_no, None, detail) from None
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as err:
                raise ProblemDataError(str(path), line_no, None, f"invalid JSON ({err.msg})") from None
            if not isinstance(row, dict):
                raise ProblemDataError(str(path), line_no, None, f"expected a JSON object, got {type(row).__name__}")
            yield line_no, row


def _iter_json_array(path: Path) -> Iterator[tuple[int, Row]]:
    with _open_text(path) as handle:
        try:
            data = json.load(handle)
        except json.JSONDecodeError as err:
            raise ProblemDataError(str(path), err.lineno, None, f"invalid JSON ({err.msg})") from None
    if not isinstance(data, list):
        raise ProblemDataError(str(path), 1, None, "expected a JSON array of objects")
    for row_no, row in enumerate(data, start=1):
        if not isinstance(row, dict):
            raise ProblemDataError(str(path), row_no, None, f"expected an object, got {type(row).__name__}", "row")
        yield row_no, row


def _iter_parquet(path: Path) -> Iterator[tuple[int, Row]]:
    import pyarrow.parquet as pq

    yield from enumerate(pq.read_table(path).to_pylist(), start=1)


def file_format(path: Path) -> tuple[Callable[[Path], Iterator[tuple[int, Row]]], Unit]:
    """The reader for a path by its suffix, and whether positions are lines or rows."""
    name = path.name.lower()
    if name.endswith((".jsonl", ".jsonl.gz", ".ndjson")):
        return _iter_jsonl, "line"
    if name.endswith((".json", ".json.gz")):
        return _iter_json_array, "row"
    if name.endswith(".parquet"):
        return _iter_parquet, "row"
    raise ProblemSourceError(f"{path}: unknown problem file type; use .jsonl, .jsonl.gz, .json or .parquet")


def collect_problems(
    rows: Iterable[tuple[int, Row]], convert: Converter, where: str, unit: Unit, limit: int | None
) -> list[Problem]:
    """Convert rows in order, stopping after ``limit`` problems; bad rows and duplicate ids raise."""
    problems: list[Problem] = []
    first_seen: dict[str, int] = {}
    if limit is not None and limit <= 0:
        return problems
    for index, (position, row) in enumerate(rows):
        try:
            problem = convert(row, index)
        except FieldError as err:
            raise ProblemDataError(where, position, err.field, err.reason, unit) from None
        if problem is None:
            continue
        if problem.id in first_seen:
            raise ProblemDataError(
                where, position, None, f"duplicate id {problem.id!r} (first at {unit} {first_seen[problem.id]})", unit
            )
        first_seen[problem.id] = position
        problems.append(problem)
        if limit is not None and len(problems) >= limit:
            break
    return problems


def load_file(path: Path, convert: Converter, *, limit: int | None = None) -> list[Problem]:
    """Problems from one local file, its format chosen by suffix."""
    if not path.is_file():
        raise ProblemSourceError(f"{path}: no such problem file")
    reader, unit = file_format(path)
    return collect_problems(reader(path), convert, str(path), unit, limit)


def load_hub(
    dataset: str,
    split: str,
    convert: Converter,
    *,
    config: str | None = None,
    limit: int | None = None,
    hint: str = "",
) -> list[Problem]:
    """Problems from ``datasets.load_dataset(dataset, config, split=split)``.

    ``dataset`` may also be a local folder of data files, which ``datasets`` reads offline. An unreachable hub
    raises :class:`ProblemSourceError` carrying ``hint`` (where to put a local file instead).
    """
    where = f"hf:{dataset}" + (f":{config}" if config else "") + f" [{split}]"
    try:
        import datasets
    except ImportError:
        raise ProblemSourceError(f"{where}: loading hub datasets needs `pip install 'rlvr-lab[hub]'`. {hint}") from None
    try:
        table = datasets.load_dataset(dataset, config, split=split)
    except (OSError, ValueError) as err:  # ConnectionError / DatasetNotFoundError are OSErrors; bad split is ValueError
        raise ProblemSourceError(f"{where}: could not load ({type(err).__name__}: {err}). {hint}".strip()) from err
    rows = ((row_no, row) for row_no, row in enumerate(table, start=1))
    return collect_problems(rows, convert, where, "row", limit)
