"""Problem loaders: formats, field mapping, and data bugs reported with file, line and field."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from rlvr_lab.tasks import FieldMap, Problem, ProblemDataError, ProblemSourceError, load_problems

ROWS = [
    {"qid": "p1", "question": "What is 2+3?", "final": "5", "level": 1},
    {"qid": "p2", "question": "  What is 7*6?\n", "final": 42, "level": 2},
    {"qid": 3, "question": "Half of 5?", "final": 2.5, "level": 3},
]
MAPPING = FieldMap(id="qid", prompt="question", answer="final")
EXPECTED = [("p1", "What is 2+3?", "5"), ("p2", "What is 7*6?", "42"), ("3", "Half of 5?", "2.5")]
"""(id, prompt, answer): ids become strings, outer whitespace goes, numeric answers are written out."""


def parts(problems: list[Problem]) -> list[tuple[str, str, str]]:
    return [(p.id, p.prompt, p.answer) for p in problems]


def write_jsonl(path: Path, rows: list[dict] | list[str]) -> Path:
    lines = [row if isinstance(row, str) else json.dumps(row) for row in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_field_map_parse() -> None:
    assert FieldMap.parse("prompt=question, answer=final") == FieldMap(prompt="question", answer="final")
    assert FieldMap.parse("id=qid,prompt=q,answer=a") == FieldMap("qid", "q", "a")
    with pytest.raises(ValueError, match="bad field mapping 'question'"):
        FieldMap.parse("question")
    with pytest.raises(ValueError, match="bad field mapping 'solution=x'"):
        FieldMap.parse("solution=x")


@pytest.mark.parametrize("fmt", ["jsonl", "jsonl.gz", "json", "parquet"])
def test_every_format_loads_with_a_field_mapping(tmp_path: Path, fmt: str) -> None:
    path = tmp_path / f"problems.{fmt}"
    if fmt == "jsonl":
        write_jsonl(path, ROWS)
    elif fmt == "jsonl.gz":
        with gzip.open(path, "wt", encoding="utf-8") as handle:
            handle.writelines(json.dumps(row) + "\n" for row in ROWS)
    elif fmt == "json":
        path.write_text(json.dumps(ROWS), encoding="utf-8")
    else:  # Parquet needs one type per column
        rows = [{**row, "qid": str(row["qid"]), "final": str(row["final"])} for row in ROWS]
        pq.write_table(pa.Table.from_pylist(rows), path)
    problems = load_problems(str(path), fields=MAPPING)
    assert parts(problems) == EXPECTED
    assert [p.meta for p in problems] == [{"level": 1}, {"level": 2}, {"level": 3}]
    assert {p.source for p in problems} == {str(path)}


def test_missing_id_falls_back_to_row_index_and_limit_keeps_the_first(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "p.jsonl", [{"problem": f"q{i}", "answer": str(i)} for i in range(5)])
    problems = load_problems(str(path), limit=3)
    assert [(p.id, p.prompt, p.answer) for p in problems] == [("0", "q0", "0"), ("1", "q1", "1"), ("2", "q2", "2")]
    assert load_problems(str(path), limit=0) == []


@pytest.mark.parametrize(
    ("bad_row", "field", "reason"),
    [
        ('{"id": "b", "answer": "1"}', "problem", "missing"),
        ('{"id": "b", "problem": 7, "answer": "1"}', "problem", "expected a string, got int"),
        ('{"id": "b", "problem": "   ", "answer": "1"}', "problem", "empty"),
        ('{"id": "b", "problem": "q"}', "answer", "missing"),
        ('{"id": "b", "problem": "q", "answer": true}', "answer", "expected a string or a number"),
        ('{"id": "b", "problem": "q", "answer": ["1"]}', "answer", "expected a string or a number, got list"),
        ('{"id": 1.5, "problem": "q", "answer": "1"}', "id", "expected a string or an integer id"),
    ],
)
def test_malformed_row_names_file_line_and_field(tmp_path: Path, bad_row: str, field: str, reason: str) -> None:
    path = write_jsonl(tmp_path / "p.jsonl", ['{"id": "a", "problem": "q", "answer": "1"}', "", bad_row])
    with pytest.raises(ProblemDataError) as info:
        load_problems(str(path))
    err = info.value
    assert (err.path, err.line, err.field) == (str(path), 3, field)  # the blank line 2 still counts as a line
    assert str(err).startswith(f"{path}:3: field '{field}': {reason}")


def test_invalid_json_and_non_objects_name_the_line(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "p.jsonl", ['{"id": "a", "problem": "q", "answer": "1"}', '{"id": "b", "problem":'])
    with pytest.raises(ProblemDataError, match=r"p\.jsonl:2: invalid JSON"):
        load_problems(str(path))
    write_jsonl(path, ['["not", "an", "object"]'])
    with pytest.raises(ProblemDataError, match=r"p\.jsonl:1: expected a JSON object, got list"):
        load_problems(str(path))
    array = tmp_path / "p.json"
    array.write_text(json.dumps([{"problem": "q", "answer": "1"}, {"problem": "q"}]), encoding="utf-8")
    with pytest.raises(ProblemDataError, match=r"p\.json \(row 2\): field 'answer': missing"):
        load_problems(str(array))


def test_duplicate_ids_raise_with_both_lines(tmp_path: Path) -> None:
    rows = [{"id": "a", "problem": "q", "answer": "1"}, {"id": "b", "problem": "q", "answer": "1"}]
    path = write_jsonl(tmp_path / "p.jsonl", [*rows, {"id": "a", "problem": "r", "answer": "2"}])
    with pytest.raises(ProblemDataError, match=r"p\.jsonl:3: duplicate id 'a' \(first at line 1\)"):
        load_problems(str(path))


def test_unknown_specs_and_misused_options_raise(tmp_path: Path) -> None:
    with pytest.raises(ProblemSourceError, match=r"neither a benchmark .*math500.* nor an existing file"):
        load_problems(str(tmp_path / "nope.jsonl"))
    path = write_jsonl(tmp_path / "p.jsonl", [{"problem": "q", "answer": "1"}])
    with pytest.raises(ValueError, match="a split applies only to benchmarks"):
        load_problems(str(path), split="test")
    with pytest.raises(ValueError, match="has its own field mapping"):
        load_problems("math500", fields=MAPPING)
    text = tmp_path / "p.txt"
    text.write_text("x", encoding="utf-8")
    with pytest.raises(ProblemSourceError, match="unknown problem file type"):
        load_problems(str(text))
