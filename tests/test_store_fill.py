"""Filling a store: only missing pairs are drawn, in chunks saved one by one, with keys checked.

The engine here is a CPU fake that writes ``key#index`` (the real engines are exercised by the ``rlvr sample``
tests); it records the requests it gets, which is what these tests are about.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest

from rlvr_lab.engines.base import Completion, ProgressFn, SampleRequest, SamplingConfig
from rlvr_lab.prompts import PROMPTS
from rlvr_lab.sampling import plan_chunks, sample_missing
from rlvr_lab.store import SampleStore, SampleStoreError, StoredSample, StoreHeader, read_sample_table
from rlvr_lab.tasks import Problem

PROBLEMS = [Problem(pid, f"question {pid}", "1") for pid in ("a", "b", "c")]


class EchoEngine:
    """Answers sample ``i`` of prompt ``key`` with the text ``key#i``; ``shift`` breaks the index contract."""

    name = "echo"

    def __init__(self, shift: int = 0) -> None:
        self.calls: list[list[tuple[str, tuple[int, ...]]]] = []
        self.shift = shift

    def sample(
        self, requests: Sequence[SampleRequest], config: SamplingConfig, progress: ProgressFn | None = None
    ) -> list[list[Completion]]:
        self.calls.append([(r.key, r.sample_indices) for r in requests])
        return [
            [
                Completion([len(r.prompt_ids), i], [-0.5, -1.0], "stop", f"{r.key}#{i}", i + self.shift)
                for i in r.sample_indices
            ]
            for r in requests
        ]


def open_store(path: Path, n: int) -> SampleStore:
    header = StoreHeader.for_run(
        model="m",
        engine="echo",
        template=PROMPTS.get("none"),
        sampling=SamplingConfig(n=n),
        problems="x",
        keep_tokens=True,
    )
    return SampleStore.open(path, header)


def encode(problem: Problem) -> list[int]:
    return [ord(c) for c in problem.prompt]


def test_plan_chunks_splits_problems_across_chunks() -> None:
    missing = {"a": (0, 1, 2), "b": (0, 1), "c": (0, 1, 2, 3, 4)}
    assert plan_chunks(missing, 4) == [
        [("a", (0, 1, 2)), ("b", (0,))],
        [("b", (1,)), ("c", (0, 1, 2))],
        [("c", (3, 4))],
    ]
    assert plan_chunks({}, 4) == []
    with pytest.raises(ValueError, match="chunk_size must be >= 1"):
        plan_chunks(missing, 0)


def test_fill_draws_everything_in_chunks(tmp_path: Path) -> None:
    engine, done = EchoEngine(), []
    with open_store(tmp_path / "s.jsonl", n=3) as store:
        summary = sample_missing(
            lambda: (engine, encode), store, PROBLEMS, SamplingConfig(n=3), chunk_size=4, progress=done.append
        )
    assert engine.calls == [[("a", (0, 1, 2)), ("b", (0,))], [("b", (1, 2)), ("c", (0, 1))], [("c", (2,))]]
    assert sum(done) == 9  # the fake reports nothing: the bar still moves chunk by chunk
    assert (summary.problems, summary.n, summary.existing, summary.sampled, summary.tokens) == (3, 3, 0, 9, 18)
    assert summary.finish_reasons == {"stop": 9}
    table = read_sample_table(tmp_path / "s.jsonl")
    assert table["completion"].to_pylist() == [f"{p}#{i}" for p in "abc" for i in range(3)]
    assert table["token_ids"].to_pylist()[0] == [len("question a"), 0]


def test_fill_draws_only_what_is_missing(tmp_path: Path) -> None:
    path = tmp_path / "s.jsonl"
    with open_store(path, n=3) as store:
        store.append(
            [StoredSample("a", i, "old", [], [], "stop", 0) for i in range(3)]
            + [StoredSample("c", 1, "old", [], [], "length", 0)]
        )
    engine = EchoEngine()
    with open_store(path, n=3) as store:
        summary = sample_missing(lambda: (engine, encode), store, PROBLEMS, SamplingConfig(n=3), chunk_size=10)
        assert store.missing([p.id for p in PROBLEMS], 3) == {}
    assert engine.calls == [[("b", (0, 1, 2)), ("c", (0, 2))]]
    assert (summary.existing, summary.sampled) == (4, 5)


def test_a_complete_store_loads_no_model(tmp_path: Path) -> None:
    with open_store(tmp_path / "s.jsonl", n=1) as store:
        store.append([StoredSample(p.id, 0, "x", [], [], "stop", 0) for p in PROBLEMS])

        def load() -> tuple[EchoEngine, object]:
            raise AssertionError("nothing is missing: the model must not be loaded")

        summary = sample_missing(load, store, PROBLEMS, SamplingConfig(n=1), chunk_size=4)
    assert (summary.existing, summary.sampled, summary.seconds) == (3, 0, 0.0)


def test_an_engine_returning_wrong_indices_is_caught_before_writing(tmp_path: Path) -> None:
    path = tmp_path / "s.jsonl"
    with open_store(path, n=2) as store, pytest.raises(RuntimeError, match=r"sample indices \(1, 2\) .* \(0, 1\)"):
        sample_missing(lambda: (EchoEngine(shift=1), encode), store, PROBLEMS, SamplingConfig(n=2), chunk_size=4)
    with pytest.raises(SampleStoreError, match="no samples"):  # nothing written (a store without samples is refused)
        read_sample_table(path)
