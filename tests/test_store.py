"""The sample store: header checks, kill artefacts cut off, duplicates refused, and reading sample tables."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from rlvr_lab.engines.base import SamplingConfig
from rlvr_lab.prompts import PROMPTS
from rlvr_lab.store import (
    SampleStore,
    SampleStoreError,
    StoredSample,
    StoreHeader,
    read_header,
    read_sample_table,
)


def header(**changes: object) -> StoreHeader:
    base = StoreHeader.for_run(
        model="tiny", engine="torch", template=PROMPTS.get("none"), sampling=SamplingConfig(n=2), problems="p.jsonl"
    )
    return dataclasses.replace(base, **changes)


def sample(pid: str, idx: int, text: str = "ok") -> StoredSample:
    return StoredSample(pid, idx, text, [5, 6], [-0.5, -1.25], "stop", 2)


def lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_new_store_writes_header_then_samples(tmp_path: Path) -> None:
    path = tmp_path / "runs" / "s.jsonl"
    with SampleStore.open(path, header()) as store:
        store.append([sample("a", 0, "line one\nline two"), sample("a", 1)])
        store.append([sample("b", 0)])
        assert len(store) == 3
        assert store.missing(["a", "b", "c"], 2) == {"b": (1,), "c": (0, 1)}
    records = lines(path)
    assert records[0]["type"] == "header"
    assert records[0]["template"] == PROMPTS.get("none").to_dict()
    assert records[0]["sampling"]["n"] == 2 and records[0]["seed"] == 0
    assert records[1] == {
        "problem_id": "a",
        "sample_idx": 0,
        "completion": "line one\nline two",
        "token_ids": [5, 6],
        "logprobs": [-0.5, -1.25],
        "finish_reason": "stop",
        "num_tokens": 2,
    }
    assert read_header(path) == StoreHeader.from_record(records[0], "here")


def test_reopening_keeps_samples_and_the_original_header(tmp_path: Path) -> None:
    path = tmp_path / "s.jsonl"
    first = header(created_at="2020-01-01T00:00:00+00:00")
    with SampleStore.open(path, first) as store:
        store.append([sample("a", 0)])
    with SampleStore.open(path, header(rlvr_version="9.9")) as store:  # version and time are not identity
        assert ("a", 0) in store and len(store) == 1
        assert store.header == first
        assert store.dropped_bytes == 0


def test_header_mismatch_says_what_differs(tmp_path: Path) -> None:
    path = tmp_path / "s.jsonl"
    SampleStore.open(path, header()).close()
    other = header(model="big", sampling={**header().sampling, "temperature": 0.5})
    with pytest.raises(SampleStoreError) as info:
        SampleStore.open(path, other)
    message = str(info.value)
    assert "holds samples of a different run" in message
    assert "model: file has 'tiny', this run has 'big'" in message
    assert "sampling.temperature: file has 1.0, this run has 0.5" in message
    assert "engine" not in message


@pytest.mark.parametrize(
    "tail",
    [
        b'{"problem_id": "b", "sample_idx": 0, "compl',  # killed mid-record
        b'{"problem_id": "b", "sample_idx": 0, "completion": "x"}',  # killed just before the newline
        b"\x00\x00\x00\x00\n",  # zero-filled block after a crash
    ],
)
def test_a_bad_last_line_is_cut_off_and_regenerated(tmp_path: Path, tail: bytes) -> None:
    path = tmp_path / "s.jsonl"
    with SampleStore.open(path, header()) as store:
        store.append([sample("a", 0), sample("a", 1)])
    good = path.read_bytes()
    path.write_bytes(good + tail)
    with SampleStore.open(path, header()) as store:
        assert store.dropped_bytes == len(tail)
        assert path.read_bytes() == good
        assert store.missing(["a", "b"], 2) == {"b": (0, 1)}
        store.append([sample("b", 0), sample("b", 1)])
    table = read_sample_table(path)
    assert list(zip(table["problem_id"].to_pylist(), table["sample_idx"].to_pylist(), strict=True)) == [
        ("a", 0),
        ("a", 1),
        ("b", 0),
        ("b", 1),
    ]


def test_a_half_written_header_starts_the_file_over(tmp_path: Path) -> None:
    path = tmp_path / "s.jsonl"
    path.write_bytes(b'{"type": "header", "mod')
    with SampleStore.open(path, header()) as store:
        assert len(store) == 0
    assert lines(path)[0]["model"] == "tiny"


def test_corruption_before_the_last_line_raises(tmp_path: Path) -> None:
    path = tmp_path / "s.jsonl"
    with SampleStore.open(path, header()) as store:
        store.append([sample("a", 0)])
    with path.open("ab") as handle:
        handle.write(b"garbage\n" + json.dumps(dataclasses.asdict(sample("a", 1))).encode() + b"\n")
    with pytest.raises(SampleStoreError, match=r"s\.jsonl:3: corrupt record before the last line"):
        SampleStore.open(path, header())


def test_duplicates_are_never_written(tmp_path: Path) -> None:
    path = tmp_path / "s.jsonl"
    with SampleStore.open(path, header()) as store:
        store.append([sample("a", 0)])
        size = path.stat().st_size
        with pytest.raises(SampleStoreError, match=r"sample \('a', 0\) is already stored"):
            store.append([sample("a", 1), sample("a", 0)])
        with pytest.raises(SampleStoreError, match=r"sample \('b', 0\) is already stored"):
            store.append([sample("b", 0), sample("b", 0)])
        assert path.stat().st_size == size  # nothing of a refused batch reaches the file
        assert len(store) == 1


def test_a_duplicate_already_in_the_file_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "s.jsonl"
    with SampleStore.open(path, header()) as store:
        store.append([sample("a", 0)])
    with path.open("ab") as handle:
        handle.write(json.dumps(dataclasses.asdict(sample("a", 0))).encode() + b"\n")
    with pytest.raises(SampleStoreError, match=r"s\.jsonl:3: duplicate sample \('a', 0\)"):
        SampleStore.open(path, header())


def test_one_writer_at_a_time(tmp_path: Path) -> None:
    path = tmp_path / "s.jsonl"
    with SampleStore.open(path, header()), pytest.raises(SampleStoreError, match="being written by another process"):
        SampleStore.open(path, header())
    SampleStore.open(path, header()).close()  # the lock goes with the first store


def test_a_file_that_is_not_a_store_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "s.jsonl"
    path.write_text('{"problem_id": "a", "sample_idx": 0, "completion": "x"}\n', encoding="utf-8")
    with pytest.raises(SampleStoreError, match=r"s\.jsonl:1: first line is not a sample-store header"):
        SampleStore.open(path, header())
    assert read_header(path) is None


def test_read_foreign_jsonl_and_parquet(tmp_path: Path) -> None:
    rows = [
        {"problem_id": 7, "sample_idx": 1, "completion": "b", "model": "m"},
        {"problem_id": "x", "sample_idx": 0, "completion": "a"},
    ]
    jsonl = tmp_path / "s.jsonl"
    jsonl.write_text("\n".join(json.dumps(r) for r in rows), encoding="utf-8")  # no final newline: still read
    table = read_sample_table(jsonl)
    assert table.column_names == ["problem_id", "sample_idx", "completion", "model"]
    assert table.schema.field("problem_id").type == pa.string()
    assert table.to_pylist() == [
        {"problem_id": "7", "sample_idx": 1, "completion": "b", "model": "m"},
        {"problem_id": "x", "sample_idx": 0, "completion": "a", "model": None},
    ]
    parquet = tmp_path / "s.parquet"
    pq.write_table(pa.table({"problem_id": [7, 8], "sample_idx": [0, 0], "completion": ["a", "b"]}), parquet)
    table = read_sample_table(parquet)
    assert table["problem_id"].to_pylist() == ["7", "8"]
    assert table.schema.field("sample_idx").type == pa.int64()
    assert read_header(parquet) is None


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('{"problem_id": "a", "completion": "x"}', r"s\.jsonl:2: field 'sample_idx' missing"),
        ('{"problem_id": "a", "sample_idx": -1, "completion": "x"}', r"s\.jsonl:2: field 'sample_idx' must be"),
        ('{"problem_id": "a", "sample_idx": 0, "completion": 3}', r"s\.jsonl:2: field 'completion' must be a string"),
        ('{"problem_id": "a", "sample_idx": 0, "completion": "y"}', r"s\.jsonl:2: duplicate sample \('a', 0\)"),
        ("not json", r"s\.jsonl:2: invalid JSON"),
    ],
)
def test_bad_sample_rows_name_file_line_and_field(tmp_path: Path, line: str, message: str) -> None:
    path = tmp_path / "s.jsonl"
    path.write_text('{"problem_id": "a", "sample_idx": 0, "completion": "x"}\n' + line + "\n", encoding="utf-8")
    with pytest.raises(SampleStoreError, match=message):
        read_sample_table(path)


def test_bad_parquet_sample_files(tmp_path: Path) -> None:
    path = tmp_path / "s.parquet"
    pq.write_table(pa.table({"problem_id": ["a"], "completion": ["x"]}), path)
    with pytest.raises(SampleStoreError, match=r"s\.parquet: field 'sample_idx' missing"):
        read_sample_table(path)
    pq.write_table(pa.table({"problem_id": ["a", "a"], "sample_idx": [0, 0], "completion": ["x", "y"]}), path)
    with pytest.raises(SampleStoreError, match=r"s\.parquet \(row 2\): duplicate sample \('a', 0\)"):
        read_sample_table(path)
