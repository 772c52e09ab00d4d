"""The sample store: header checks, kill artefacts cut off, duplicates refused, token ids only when kept, and
reading sample files (streamed, shards and globs, every bad line reported with file, line and reason)."""

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
    iter_sample_batches,
    merge_stores,
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
    with SampleStore.open(path, header(keep_tokens=True)) as store:
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


def test_token_ids_are_kept_only_when_asked(tmp_path: Path) -> None:
    """Token ids and log-probs are ~6x the text at scale: a store leaves them out unless its header keeps them."""
    path = tmp_path / "s.jsonl"
    with SampleStore.open(path, header()) as store:
        store.append([sample("a", 0)])
    assert lines(path)[1] == {
        "problem_id": "a", "sample_idx": 0, "completion": "ok", "finish_reason": "stop", "num_tokens": 2,
    }  # fmt: skip
    assert lines(path)[0]["keep_tokens"] is False
    with pytest.raises(SampleStoreError, match="keep_tokens: file has no token ids, this run asks for them"):
        SampleStore.open(path, header(keep_tokens=True))
    kept = tmp_path / "kept.jsonl"
    SampleStore.open(kept, header(keep_tokens=True)).close()
    with SampleStore.open(kept, header()) as store:  # a store with token ids keeps getting them
        store.append([sample("a", 0)])
    assert lines(kept)[1]["token_ids"] == [5, 6]
    assert read_sample_table(kept)["token_ids"].to_pylist() == [[5, 6]]
    assert read_sample_table(kept, columns=["num_tokens"]).column_names == [
        "problem_id", "sample_idx", "completion", "num_tokens",
    ]  # fmt: skip


def test_headers_from_before_keep_tokens_and_shards_read_as_keeping_tokens(tmp_path: Path) -> None:
    record = header().to_record()
    del record["keep_tokens"], record["shard"]
    path = tmp_path / "old.jsonl"
    path.write_text(json.dumps(record) + "\n", encoding="utf-8")
    old = read_header(path)
    assert old is not None and old.keep_tokens is True and old.shard is None


def test_a_failed_runs_header_alone_is_restarted_by_a_corrected_command(tmp_path: Path) -> None:
    """A run refused before its first sample (a prompt past the context) leaves only a header: the same command
    resumes it, a corrected one starts it over instead of refusing it as another run's store."""
    path = tmp_path / "s.jsonl"
    SampleStore.open(path, header(sampling={**header().sampling, "max_new_tokens": 9999})).close()
    with SampleStore.open(path, header(sampling={**header().sampling, "max_new_tokens": 9999})) as store:
        assert not store.restarted
    with SampleStore.open(path, header()) as store:
        assert store.restarted and store.header.sampling["max_new_tokens"] == header().sampling["max_new_tokens"]
        store.append([sample("a", 0)])
    assert len(lines(path)) == 2
    with pytest.raises(SampleStoreError, match="holds samples of a different run"):  # samples are never discarded
        SampleStore.open(path, header(sampling={**header().sampling, "max_new_tokens": 9999}))


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
    with SampleStore.open(path, header()) as store:  # a store without samples would be started over instead
        store.append([sample("a", 0)])
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
        ("not json", r"s\.jsonl:2: invalid JSON \(Expecting value at column 1\)"),
        (
            '{"problem_id": "a", "sample_idx": 1, "completion": "x\\ud800"}',
            r"s\.jsonl:2: field 'completion' holds a lone surrogate '\\ud800' at character 1, which is not valid",
        ),
        (
            '{"problem_id": "\\udfff", "sample_idx": 1, "completion": "x"}',
            r"s\.jsonl:2: field 'problem_id' holds a lone surrogate",
        ),
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


def test_invalid_utf8_names_file_line_and_byte(tmp_path: Path) -> None:
    path = tmp_path / "s.jsonl"
    path.write_bytes(
        b'{"problem_id": "a", "sample_idx": 0, "completion": "x"}\n{"problem_id": "a", "completion": "\xff"}\n'
    )
    with pytest.raises(SampleStoreError, match=r"s\.jsonl:2: not valid UTF-8 \(byte 0xff at column 36\)"):
        read_sample_table(path)


@pytest.mark.parametrize(
    ("tail", "reason"),
    [
        (b'{"problem_id": "c", "sample_idx": 0, "compl', "invalid JSON"),
        (b'{"problem_id": "c", "sample_idx": 0, "completion": "\xe2\x82', "not valid UTF-8"),
    ],
)
def test_a_cut_off_last_line_is_reported_not_dropped(tmp_path: Path, tail: bytes, reason: str) -> None:
    """Three records in, two readable: the reader says which line it cannot read rather than returning two rows."""
    path = tmp_path / "s.jsonl"
    good = b"".join(json.dumps({"problem_id": p, "sample_idx": 0, "completion": "x"}).encode() + b"\n" for p in "ab")
    path.write_bytes(good + tail)
    with pytest.raises(SampleStoreError, match=rf"s\.jsonl:3: last line cut off \(no newline, {reason}.*resume the"):
        read_sample_table(path)


def test_a_file_without_samples_is_an_error_naming_it(tmp_path: Path) -> None:
    empty = tmp_path / "empty.jsonl"
    empty.write_bytes(b"")
    with pytest.raises(SampleStoreError, match=r"empty\.jsonl: no samples"):
        read_sample_table(empty)
    header_only = tmp_path / "header_only.jsonl"
    SampleStore.open(header_only, header()).close()
    with pytest.raises(SampleStoreError, match=r"header_only\.jsonl: no samples"):
        read_sample_table(header_only)
    with pytest.raises(SampleStoreError, match=r"nothing\.jsonl: no such sample file or directory"):
        read_sample_table(tmp_path / "nothing.jsonl")


def test_batches_stream_the_same_rows(tmp_path: Path) -> None:
    path = tmp_path / "s.jsonl"
    with SampleStore.open(path, header()) as store:
        store.append([sample(pid, idx, f"{pid}{idx}") for pid in "abc" for idx in range(2)])
    batches = list(iter_sample_batches(path, columns=[], batch_rows=4))
    assert [batch.num_rows for batch in batches] == [4, 2]
    assert pa.concat_tables(batches).to_pylist() == read_sample_table(path, columns=[]).to_pylist()
    assert read_sample_table(path, columns=[])["completion"].to_pylist() == ["a0", "a1", "b0", "b1", "c0", "c1"]


def write_shards(folder: Path, count: int, problems: str = "abcd") -> None:
    from rlvr_lab.sampling import shard_of

    for index in range(count):
        with SampleStore.open(folder / f"shard-{index}-of-{count}.jsonl", header(shard=f"{index}/{count}")) as store:
            store.append([sample(p, i, f"{p}{i}") for p in problems if shard_of(p, count) == index for i in range(2)])


def test_a_directory_or_glob_of_shards_reads_as_one_store(tmp_path: Path) -> None:
    write_shards(tmp_path / "shards", 2)
    for spec in (tmp_path / "shards", str(tmp_path / "shards" / "shard-*.jsonl")):
        table = read_sample_table(spec, columns=[])
        assert sorted(zip(table["problem_id"].to_pylist(), table["sample_idx"].to_pylist(), strict=True)) == [
            (p, i) for p in "abcd" for i in range(2)
        ]
    merged = tmp_path / "merged.jsonl"
    assert merge_stores(tmp_path / "shards", merged) == 8
    assert merge_stores(tmp_path / "shards", merged) == 0  # a rerun finishes an interrupted merge, adds nothing
    merged_header = read_header(merged)
    assert merged_header is not None and merged_header.shard is None
    assert sorted(read_sample_table(merged, columns=[]).to_pylist(), key=str) == sorted(
        read_sample_table(tmp_path / "shards", columns=[]).to_pylist(), key=str
    )


def test_shard_sets_must_be_complete_and_of_one_run(tmp_path: Path) -> None:
    write_shards(tmp_path / "three", 3)
    assert read_sample_table(tmp_path / "three" / "shard-1-of-3.jsonl").num_rows > 0  # one shard by name: read
    (tmp_path / "three" / "shard-1-of-3.jsonl").unlink()
    with pytest.raises(SampleStoreError, match=r"shard\(s\) 1/3 of .*three missing"):
        read_sample_table(tmp_path / "three")
    write_shards(tmp_path / "two", 2)
    with SampleStore.open(tmp_path / "two" / "other.jsonl", header(model="big", shard="1/2")) as store:
        store.append([sample("z", 0)])
    with pytest.raises(
        SampleStoreError, match=r"are shards of different runs: model: file has 'big', this run has 'tiny'"
    ):
        read_sample_table(tmp_path / "two")
    copy = tmp_path / "dup"
    write_shards(copy, 1)
    (copy / "again.jsonl").write_bytes((copy / "shard-0-of-1.jsonl").read_bytes())
    with pytest.raises(SampleStoreError, match=r"are both shard 0/1"):
        read_sample_table(copy)


def test_a_sample_in_two_files_is_a_duplicate(tmp_path: Path) -> None:
    for name in ("x.jsonl", "y.jsonl"):
        (tmp_path / name).write_text('{"problem_id": "a", "sample_idx": 0, "completion": "x"}\n', encoding="utf-8")
    with pytest.raises(SampleStoreError, match=r"y\.jsonl:1: duplicate sample \('a', 0\) \(first at .*x\.jsonl:1\)"):
        read_sample_table(tmp_path)
