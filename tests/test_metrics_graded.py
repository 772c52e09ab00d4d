"""The graded-file loader: per-problem arrays, ordering, metadata and the errors that name the file.

``write_graded`` is imported by the CLI and report tests: it writes the column contract of ``rlvr grade``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from rlvr_lab.metrics import load_graded


def write_graded(
    path: Path,
    verdicts: Mapping[str, Sequence[bool]],
    answers: Mapping[str, Sequence[str | None]] | None = None,
    completions: Mapping[str, Sequence[str]] | None = None,
    config: Mapping[str, object] | None = None,
) -> Path:
    """Write a graded Parquet file: one row per (problem, sample), rows in reverse order to test sorting."""
    rows = []
    for pid, oks in verdicts.items():
        for i, ok in enumerate(oks):
            answer = answers[pid][i] if answers else ("42" if ok else "41")
            row = {
                "problem_id": pid,
                "sample_idx": i,
                "answer": answer,
                "correct": bool(ok),
                "status": "ok" if answer else "no_answer",
            }
            if completions:
                row["completion"] = completions[pid][i]
            rows.append(row)
    table = pa.Table.from_pylist(rows[::-1])
    meta = {"config": json.dumps(dict(config or {"grader": "test"}))}
    pq.write_table(table.replace_schema_metadata(meta), path)
    return path


def test_loads_counts_in_order(tmp_path: Path) -> None:
    path = write_graded(
        tmp_path / "g.parquet",
        {"p1": [True, False, True], "p0": [False, False, False]},
        answers={"p1": ["1", None, "1"], "p0": ["2", "3", "2"]},
        completions={"p1": ["a", "b", "c"], "p0": ["d", "e", "f"]},
        config={"grader": "math-verify", "timeout": 5},
    )
    graded = load_graded(path)
    # Rows were written in reverse, so p0 appears first in the file.
    assert graded.problem_ids == ("p0", "p1")
    np.testing.assert_array_equal(graded.n, [3, 3])
    np.testing.assert_array_equal(graded.c, [0, 2])
    assert graded.answers == (("2", "3", "2"), ("1", None, "1"))
    assert graded.completions == (("d", "e", "f"), ("a", "b", "c"))
    np.testing.assert_array_equal(graded.correct[1], [True, False, True])
    assert graded.metadata == {"config": {"grader": "math-verify", "timeout": 5}}
    assert graded.uniform_n() == 3
    swapped = graded.aligned(["p1", "p0"], other="other.parquet")
    np.testing.assert_array_equal(swapped.c, [2, 0])
    assert swapped.answers[0] == ("1", None, "1")


def test_completions_joined_by_key(tmp_path: Path) -> None:
    graded = load_graded(write_graded(tmp_path / "g.parquet", {"a": [True, False], "b": [True]}))
    texts = {("a", 0): "x", ("a", 1): "y", ("b", 0): "z", ("c", 0): "unused"}
    assert graded.with_completions(texts, "s.jsonl").completions == (("z",), ("x", "y"))
    with pytest.raises(ValueError, match=r"s\.jsonl: no completion for graded sample \('a', 1\)"):
        graded.with_completions({("a", 0): "x", ("b", 0): "z"}, "s.jsonl")


def test_uneven_n_is_reported_with_the_file(tmp_path: Path) -> None:
    graded = load_graded(write_graded(tmp_path / "uneven.parquet", {"a": [True] * 4, "b": [False] * 3}))
    np.testing.assert_array_equal(graded.n, [3, 4])  # b first: written in reverse
    assert graded.completions is None
    with pytest.raises(ValueError, match=r"uneven\.parquet: problems have different numbers of samples"):
        graded.uniform_n()


def test_different_problem_sets_refuse_to_pair(tmp_path: Path) -> None:
    graded = load_graded(write_graded(tmp_path / "a.parquet", {"x": [True], "y": [False]}))
    with pytest.raises(ValueError, match=r"a\.parquet and b\.parquet cover different problems"):
        graded.aligned(["x", "z"], other="b.parquet")


def test_data_bugs_raise_naming_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.parquet"
    pq.write_table(pa.table({"problem_id": ["a"], "sample_idx": [0], "correct": [True]}), bad)
    with pytest.raises(ValueError, match=r"bad\.parquet: missing column\(s\) \['answer', 'status'\]"):
        load_graded(bad)
    cols = {"problem_id": ["a", "a"], "sample_idx": [0, 0], "answer": ["1", "1"], "status": ["ok", "ok"]}
    pq.write_table(pa.table({**cols, "correct": [True, False]}), bad)
    with pytest.raises(ValueError, match=r"bad\.parquet: duplicate rows for problem 'a', sample_idx 0"):
        load_graded(bad)
    pq.write_table(pa.table({**cols, "sample_idx": [0, 1], "correct": [1, 0]}), bad)
    with pytest.raises(ValueError, match=r"bad\.parquet: field 'correct' must be boolean"):
        load_graded(bad)
    pq.write_table(pa.table({**cols, "sample_idx": [0, None], "correct": [True, False]}), bad)
    with pytest.raises(ValueError, match=r"bad\.parquet: row 1: field 'sample_idx' is null"):
        load_graded(bad)
    with pytest.raises(FileNotFoundError, match=r"missing\.parquet"):
        load_graded(tmp_path / "missing.parquet")
