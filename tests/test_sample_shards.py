"""Sharded sampling: a problem's shard is a pure function of its id, N shards hold exactly the samples of one
unsharded run (the organism with the torch engine, through the launcher's child processes), and grade, passk and
merge read the directory of shards. Also: a sampling run refused before its first sample leaves a store that the
corrected command starts over."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from rlvr_lab.cli import build_app
from rlvr_lab.sampling import parse_shard, select_shard, shard_of
from rlvr_lab.store import read_header, read_sample_table
from rlvr_lab.tasks import Problem

ORGANISM = ["--model", "qwen-math-like", "--problems", "organism", "--template", "organism", "--limit", "8"]


def invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(build_app(), list(args))
    return result.exit_code, result.output


def test_a_problems_shard_depends_on_its_id_alone() -> None:
    ids = [f"test/algebra/{i}.json" for i in range(400)]
    shards = [shard_of(pid, 4) for pid in ids]
    assert shards[:6] == [shard_of(pid, 4) for pid in ids[:6]]  # a pure function
    # stable across runs and machines (SHA-256, not Python's salted hash()): these values are the format
    assert (shard_of("test/algebra/0.json", 4), shard_of("org-test-00000", 1000), shard_of("a", 4)) == (1, 628, 2)
    assert all(count > 70 for count in (shards.count(i) for i in range(4)))  # and balanced
    problems = [Problem(pid, "q", "1") for pid in ids]
    parts = [select_shard(problems, f"{i}/4") for i in range(4)]
    assert sorted(p.id for part in parts for p in part) == sorted(ids)
    assert select_shard(list(reversed(problems)), "1/4") == list(reversed(parts[1]))  # order of the file kept
    assert parse_shard("2/3") == (2, 3)
    for bad, message in (("3/3", "need 0 <= i < N"), ("1-of-2", "a shard is written i/N")):
        with pytest.raises(ValueError, match=message):
            parse_shard(bad)


def rows(spec: Path | str) -> list[tuple]:
    table = read_sample_table(spec, columns=["finish_reason", "num_tokens"])
    return sorted(zip(*(table[name].to_pylist() for name in table.column_names), strict=True))


@pytest.mark.slow
def test_sharded_run_gives_exactly_the_unsharded_samples(tmp_path: Path, data_dir: Path) -> None:
    common = [*ORGANISM, "--n", "3", "--max-new-tokens", "48", "--seed", "5", "--data-dir", str(data_dir)]
    whole = tmp_path / "whole.jsonl"
    code, output = invoke("sample", *common, "--out", str(whole))
    assert code == 0, output

    shards = tmp_path / "shards"
    code, output = invoke("sample", *common, "--out", str(shards), "--shards", "3", "--json")
    assert code == 0, output
    launched = json.loads(output[output.index("{\n") :])
    assert [s["shard"] for s in launched["shards"]] == ["0/3", "1/3", "2/3"]
    assert sum(s["sampled"] for s in launched["shards"]) == 24
    assert sorted(p.name for p in shards.iterdir()) == [f"shard-{i}-of-3.jsonl" for i in range(3)]
    assert read_header(shards / "shard-1-of-3.jsonl").shard == "1/3"  # type: ignore[union-attr]
    assert rows(shards) == rows(whole)  # completions, finish reasons and lengths, sample for sample

    code, output = invoke("sample", *common, "--out", str(shards), "--shards", "3", "--json")  # resumes: nothing new
    assert code == 0 and sum(s["sampled"] for s in json.loads(output[output.index("{\n") :])["shards"]) == 0

    graded = {}
    for name, spec in (("whole", whole), ("shards", shards)):
        out = tmp_path / f"{name}.parquet"
        code, output = invoke(
            "grade", "--problems", "organism", "--data-dir", str(data_dir), "--samples", str(spec), "--out", str(out),
            "--workers", "1", "--json",
        )  # fmt: skip
        assert code == 0, output
        assert json.loads(output)["samples"] == 24
        table = pq.read_table(out)
        graded[name] = sorted(
            zip(*(table[c].to_pylist() for c in ("problem_id", "sample_idx", "correct")), strict=True)
        )
    assert graded["shards"] == graded["whole"]

    merged = tmp_path / "merged.jsonl"
    code, output = invoke("store", "merge", str(shards), "--out", str(merged))
    assert code == 0 and "merged 3 shards" in output and "24 samples written" in output, output
    assert rows(merged) == rows(whole)


def test_a_store_left_without_samples_is_started_over_by_the_corrected_command(tmp_path: Path, data_dir: Path) -> None:
    """A run killed after writing its header and before its first sample leaves a store of other settings and no
    sample: the corrected command starts it over rather than refusing it (a store with samples is never dropped)."""
    from rlvr_lab.engines.base import SamplingConfig
    from rlvr_lab.prompts import resolve_template
    from rlvr_lab.store import SampleStore, StoreHeader

    out = tmp_path / "s.jsonl"
    sampling = SamplingConfig(n=2, max_new_tokens=64)
    header = StoreHeader.for_run(
        model="qwen-math-like",
        engine="torch",
        template=resolve_template("organism"),
        sampling=sampling,
        problems="organism [test]",
    )
    with SampleStore.open(out, header):
        pass  # the header is written; the run dies before its first sample
    assert read_header(out).sampling["max_new_tokens"] == 64  # type: ignore[union-attr]
    base = ["sample", *ORGANISM, "--n", "2", "--data-dir", str(data_dir), "--out", str(out)]
    code, output = invoke(*base, "--max-new-tokens", "32", "--json")
    assert code == 0, output
    assert "held no sample of another run's settings; started it over" in output
    assert json.loads(output[output.index("{\n") :])["sampled"] == 16
    assert read_header(out).sampling["max_new_tokens"] == 32  # type: ignore[union-attr]


def test_shard_options_are_checked(tmp_path: Path) -> None:
    code, output = invoke("sample", *ORGANISM, "--out", str(tmp_path / "s.jsonl"), "--shard", "2/2")
    assert code == 1 and "shard '2/2': need 0 <= i < N" in output
    code, output = invoke("sample", *ORGANISM, "--out", str(tmp_path), "--shards", "2", "--shard", "0/2")
    assert code == 1 and "--shards N (N >= 1, or --devices) launches all shards; --shard i/N runs one" in output


def test_an_empty_problems_file_fails_naming_it_and_writes_no_store(tmp_path: Path) -> None:
    empty = tmp_path / "empty.jsonl"
    empty.write_text("", encoding="utf-8")
    out = tmp_path / "s.jsonl"
    code, output = invoke("sample", "--model", "qwen-math-like", "--problems", str(empty), "--out", str(out))
    assert code == 1 and "empty.jsonl: no problems to sample" in output.replace("\n", "")
    assert not out.exists()
