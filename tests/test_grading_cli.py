"""Smoke tests of `rlvr grade`: problem files with renamed fields, a benchmark by name, Parquet and JSONL sample
files (a sample store's header line included), the output's columns and metadata, and errors."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import typer
from typer.testing import CliRunner

from rlvr_lab.cli import grade, passk

RUNNER = CliRunner()


def run(*args: str) -> tuple[int, str]:
    cli = typer.Typer()
    grade.register(cli)
    passk.register(cli)
    result = RUNNER.invoke(cli, list(args))
    return result.exit_code, result.output


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


def test_grade_problem_file_with_mapped_fields(tmp_path: Path) -> None:
    problems = write_jsonl(
        tmp_path / "problems.jsonl",
        [
            {"qid": "half", "question": "1/2 as a decimal?", "final": "0.5"},
            {"qid": "six", "question": "2*3?", "final": 6},
        ],
    )
    samples = write_jsonl(
        tmp_path / "samples.jsonl",
        [
            {"type": "header", "model": "unit"},  # a sample store's first line; the reader skips it
            {"problem_id": "half", "sample_idx": 0, "completion": "so \\boxed{\\frac{1}{2}}", "finish_reason": "stop"},
            {"problem_id": "half", "sample_idx": 1, "completion": "so \\boxed{\\frac{1}{3}}", "finish_reason": "stop"},
            {"problem_id": "six", "sample_idx": 0, "completion": "The answer is 6.", "finish_reason": "stop"},
            {"problem_id": "six", "sample_idx": 1, "completion": "I ran out of tok", "finish_reason": "length"},
        ],
    )
    out = tmp_path / "graded" / "g.parquet"
    code, output = run(
        "grade",
        *("--problems", str(problems), "--samples", str(samples), "--out", str(out)),
        *("--fields", "id=qid,prompt=question,answer=final"),
        *("--fallbacks", "answer_is", "--timeout", "10", "--workers", "1", "--json"),
    )
    assert code == 0, output
    summary = json.loads(output)
    assert summary["samples"] == 4
    assert summary["problems"] == 2
    assert summary["status"] == {"ok": 3, "no_answer": 1, "timeout": 0, "error": 0}
    assert summary["accuracy"] == 0.5
    table = pq.read_table(out)
    assert table.column("correct").to_pylist() == [True, False, True, False]
    assert table.column("answer").to_pylist() == ["\\frac{1}{2}", "\\frac{1}{3}", "6", None]
    assert table.column("extract_strategy").to_pylist() == ["boxed", "boxed", "answer_is", "none"]
    assert table.column("finish_reason").to_pylist() == ["stop", "stop", "stop", "length"]
    assert "completion" in table.column_names
    metadata = {key.decode(): json.loads(value) for key, value in table.schema.metadata.items()}
    assert metadata["grading"] == {
        "timeout_s": 10.0,
        "workers": 1,
        "fallbacks": ["answer_is"],
        "batch_size": 32,
        "cache_size": 1_000_000,
    }
    assert metadata["problems"] == str(problems)
    assert metadata["samples"] == str(samples)
    assert metadata["fields"] == {"id": "qid", "prompt": "question", "answer": "final"}

    # The graded file meets the `rlvr passk` contract.
    code, output = run("passk", str(out), "--k", "1,2", "--json")
    assert code == 0, output
    assert json.loads(output)["pass_at_k"] == {"1": 0.5, "2": 1.0}


def test_grade_benchmark_by_name_with_parquet_samples(tmp_path: Path, data_dir: Path) -> None:
    samples = tmp_path / "samples.parquet"
    pq.write_table(
        pa.table(
            {
                "problem_id": ["test/precalculus/807.json", "test/precalculus/807.json"],
                "sample_idx": [0, 1],
                "completion": ["$\\boxed{(3, \\frac{\\pi}{2})}$", "$\\boxed{(3, \\pi)}$"],
                "token_ids": [[1, 2], [3]],
            }
        ),
        samples,
    )
    out = tmp_path / "g.parquet"
    code, output = run(
        "grade",
        *("--problems", "math500", "--data-dir", str(data_dir), "--samples", str(samples), "--out", str(out)),
        "--workers",
        "1",
    )
    assert code == 0, output
    assert "graded 2 samples of 1 problems" in output
    assert "accuracy 0.5000; ok 2, no_answer 0, timeout 0, error 0" in output
    table = pq.read_table(out)
    assert table.column("correct").to_pylist() == [True, False]
    assert "token_ids" not in table.column_names  # list columns stay in the sample file


def test_grade_names_an_unknown_problem(tmp_path: Path) -> None:
    problems = write_jsonl(tmp_path / "p.jsonl", [{"id": "a", "problem": "?", "answer": "1"}])
    samples = write_jsonl(tmp_path / "s.jsonl", [{"problem_id": "zz", "sample_idx": 0, "completion": "\\boxed{1}"}])
    code, output = run(
        "grade", "--problems", str(problems), "--samples", str(samples), "--out", str(tmp_path / "g.parquet")
    )
    assert code == 1
    assert "problem_id 'zz' is not among the 1 problems" in output
    assert not (tmp_path / "g.parquet").exists()


def test_grade_rejects_an_unknown_fallback(tmp_path: Path) -> None:
    problems = write_jsonl(tmp_path / "p.jsonl", [{"id": "a", "problem": "?", "answer": "1"}])
    samples = write_jsonl(tmp_path / "s.jsonl", [{"problem_id": "a", "sample_idx": 0, "completion": "1"}])
    code, output = run(
        "grade",
        *("--problems", str(problems), "--samples", str(samples), "--out", str(tmp_path / "g.parquet")),
        *("--fallbacks", "answer_is,guess"),
    )
    assert code == 1
    assert "unknown answer extractor 'guess'; choose one of: answer_is, answer_tag, boxed, last_number" in output


def test_grade_help_explains_the_inputs() -> None:
    code, output = run("grade", "--help")
    assert code == 0
    for words in ("--problems", "Benchmark name", "--samples", "problem_id", "--out", "Parquet", "--fallbacks"):
        assert words in output


def test_grade_reads_a_glob_or_directory_of_sample_files_and_passk_a_directory_of_graded_files(tmp_path: Path) -> None:
    problems = write_jsonl(tmp_path / "p.jsonl", [{"id": pid, "problem": "?", "answer": "1"} for pid in "ab"])
    (tmp_path / "shards").mkdir()
    for pid in "ab":
        rows = [{"problem_id": pid, "sample_idx": i, "completion": f"\\boxed{{{i}}}"} for i in range(2)]
        write_jsonl(tmp_path / "shards" / f"{pid}.jsonl", rows)
    (tmp_path / "graded").mkdir()
    for name, spec in (("glob", str(tmp_path / "shards" / "*.jsonl")), ("dir", str(tmp_path / "shards"))):
        out = tmp_path / "graded" / f"{name}.parquet"
        code, output = run("grade", "--problems", str(problems), "--samples", spec, "--out", str(out), "--json")
        assert code == 0, output
        assert (json.loads(output)["samples"], json.loads(output)["accuracy"]) == (4, 0.5)
    code, output = run("passk", str(tmp_path / "graded" / "glob.parquet"), "--json")
    assert code == 0 and json.loads(output)["pass_at_k"] == {"1": 0.5, "2": 1.0}, output
    code, output = run("passk", str(tmp_path / "graded"), "--json")  # both files together: each sample twice
    assert code == 1 and "duplicate rows for problem 'a', sample_idx 0" in output


def test_empty_inputs_fail_naming_the_file(tmp_path: Path) -> None:
    problems = write_jsonl(tmp_path / "p.jsonl", [{"id": "a", "problem": "?", "answer": "1"}])
    empty = tmp_path / "empty.jsonl"
    empty.write_text("", encoding="utf-8")
    out = tmp_path / "g.parquet"
    code, output = run("grade", "--problems", str(problems), "--samples", str(empty), "--out", str(out))
    assert code == 1 and "empty.jsonl: no samples" in output.replace("\n", "")
    code, output = run("grade", "--problems", str(empty), "--samples", str(problems), "--out", str(out))
    assert code == 1 and "empty.jsonl: no problems to grade against" in output.replace("\n", "")
    assert not out.exists()
    cut = tmp_path / "cut.jsonl"
    cut.write_bytes(b'{"problem_id": "a", "sample_idx": 0, "completion": "\\\\boxed{1}"}\n{"problem_id": "a", "samp')
    code, output = run("grade", "--problems", str(problems), "--samples", str(cut), "--out", str(out))
    assert code == 1 and "cut.jsonl:2: last line cut off (no newline, invalid JSON" in output.replace("\n", "")
    assert not out.exists()
