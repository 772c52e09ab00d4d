"""The studies' process pool: dependency order, skipping finished jobs, failures, progress counting, and the
grading pool (math-verify worker processes) working inside a pool worker.

Jobs are real and run in real spawned processes; they write files, and the tests read the files.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from rlvr_lab.studies.parallel import LineCounter, check_graph, run_jobs


@dataclass(frozen=True)
class StampJob:
    """Writes ``total`` lines after a first one, then its start and end times; fails if ``fail`` is set."""

    name: str
    out: Path
    after: tuple[str, ...] = ()
    phase: str = "stamps"
    total: int = 3
    fail: bool = False

    def progress_file(self) -> Path:
        return self.out.with_suffix(".lines")

    def finished(self) -> bool:
        return self.out.is_file()

    def run(self) -> None:
        if self.fail:
            raise ValueError(f"{self.name} was told to fail")
        start = time.time()
        with self.progress_file().open("w") as f:
            for i in range(self.total + 1):
                f.write(f"{i}\n")
                f.flush()
                time.sleep(0.05)
        self.out.write_text(json.dumps({"start": start, "end": time.time()}))


@dataclass(frozen=True)
class GradeJob:
    """Grades pairs that need math-verify (not plain numbers), so the Grader starts its own worker processes."""

    name: str
    out: Path
    after: tuple[str, ...] = ()
    phase: str = "grading"
    total: int = 1

    def progress_file(self) -> None:
        return None

    def finished(self) -> bool:
        return self.out.is_file()

    def run(self) -> None:
        from rlvr_lab.grading import Grader

        with Grader() as grader:
            verdicts = grader.grade(r"\frac{\pi}{2}", [r"so \boxed{\pi/2}", r"\boxed{\frac{1}{2}\pi}", r"\boxed{\pi}"])
            pool_used = grader._pool is not None
        record = {"verdicts": [[v.correct, v.status] for v in verdicts], "pool_used": pool_used}
        self.out.write_text(json.dumps(record))


@dataclass(frozen=True)
class SleepJob:
    """Writes its worker's pid, then sleeps far longer than the test."""

    name: str
    out: Path
    after: tuple[str, ...] = ()
    phase: str = "sleep"
    total: int = 1

    def progress_file(self) -> None:
        return None

    def finished(self) -> bool:
        return False

    def run(self) -> None:
        self.out.write_text(str(os.getpid()))
        time.sleep(120)


def _span(job: StampJob) -> dict[str, float]:
    return json.loads(job.out.read_text())


def test_dependencies_run_in_order_and_phases_are_timed(tmp_path: Path) -> None:
    first = StampJob("first", tmp_path / "first.json")
    second = StampJob("second", tmp_path / "second.json", after=("first",))
    free = StampJob("free", tmp_path / "free.json", phase="other")
    timings = run_jobs([second, first, free], workers=2)
    assert _span(second)["start"] >= _span(first)["end"]
    assert [(t.phase, t.jobs, t.skipped) for t in timings] == [("stamps", 2, 0), ("other", 1, 0)]
    stamps = timings[0].seconds
    assert _span(second)["end"] - _span(first)["start"] <= stamps + 0.01
    assert first.progress_file().read_text().count("\n") == first.total + 1


def test_finished_jobs_are_skipped(tmp_path: Path) -> None:
    done = StampJob("done", tmp_path / "done.json", fail=True)  # would fail if it ran
    done.out.write_text("{}")
    after = StampJob("after", tmp_path / "after.json", after=("done",))
    timings = run_jobs([done, after], workers=1)
    assert after.finished()
    assert [(t.jobs, t.skipped) for t in timings] == [(2, 1)]


def test_a_failing_job_is_named_and_later_jobs_do_not_start(tmp_path: Path) -> None:
    bad = StampJob("bad", tmp_path / "bad.json", fail=True)
    later = StampJob("later", tmp_path / "later.json", after=("bad",))
    with pytest.raises(RuntimeError, match="job 'bad' failed: bad was told to fail"):
        run_jobs([bad, later], workers=1)
    assert not later.out.exists()


def test_the_grading_pool_works_inside_a_worker(tmp_path: Path) -> None:
    job = GradeJob("grade", tmp_path / "grade.json")
    run_jobs([job], workers=1)
    record = json.loads(job.out.read_text())
    assert record == {"verdicts": [[True, "ok"], [True, "ok"], [False, "ok"]], "pool_used": True}


@pytest.mark.parametrize(
    ("jobs", "message"),
    [
        (lambda p: [StampJob("a", p / "a"), StampJob("a", p / "b")], "duplicate job names: \\['a'\\]"),
        (lambda p: [StampJob("a", p / "a", after=("zzz",))], "waits for unknown job\\(s\\) \\['zzz'\\]"),
        (lambda p: [StampJob("a", p / "a", after=("b",)), StampJob("b", p / "b", after=("a",))], "dependency cycle"),
    ],
)
def test_bad_graphs_raise(tmp_path: Path, jobs, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        check_graph(jobs(tmp_path))


def test_line_counter_reads_only_new_bytes_and_restarts_on_truncation(tmp_path: Path) -> None:
    path = tmp_path / "log.jsonl"
    counter = LineCounter(path)
    assert counter.update() == 0  # no file yet
    path.write_text("a\nb\n")
    assert counter.update() == 2
    with path.open("a") as f:
        f.write("c\npartial")
    assert counter.update() == 3
    assert counter.offset == len("a\nb\nc\npartial")
    path.write_text("x\n")  # a resumed run cut the log back
    assert counter.update() == 1


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie (dead, not yet reaped by its new parent) counts as dead
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rsplit(")", 1)[1].split()[0] != "Z"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="parent-death signal is Linux only")
def test_workers_die_with_a_killed_parent(tmp_path: Path) -> None:
    pid_file = tmp_path / "worker.pid"
    script = (
        "import sys; sys.path.insert(0, sys.argv[1]);"
        "from pathlib import Path; from test_studies_parallel import SleepJob;"
        "from rlvr_lab.studies.parallel import run_jobs;"
        "run_jobs([SleepJob('sleep', Path(sys.argv[2]))], workers=1)"
    )
    parent = subprocess.Popen([sys.executable, "-c", script, str(Path(__file__).parent), str(pid_file)])
    try:
        deadline = time.monotonic() + 60
        while not (pid_file.is_file() and pid_file.read_text()) and time.monotonic() < deadline:
            time.sleep(0.1)
        worker = int(pid_file.read_text())
        assert _alive(worker)
    finally:
        parent.send_signal(signal.SIGKILL)
        parent.wait()
    deadline = time.monotonic() + 10
    while _alive(worker) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _alive(worker)


def test_a_redirected_log_gets_one_line_per_started_and_finished_job(tmp_path: Path) -> None:
    """A progress bar writes nothing into a file; the log must still tell progress from a hang."""
    import io

    from rich.console import Console

    buffer = io.StringIO()
    done = StampJob("done", tmp_path / "done.json")
    done.out.write_text("{}")
    first = StampJob("first", tmp_path / "first.json")
    second = StampJob("second", tmp_path / "second.json", after=("first",))
    run_jobs([done, first, second], workers=1, console=Console(file=buffer, force_terminal=False, width=60))
    lines = [line.split("] ", 1)[-1] for line in buffer.getvalue().splitlines()]
    assert lines[0] == "3 jobs, 1 already finished"
    assert [line for line in lines if line.startswith(("start", "done"))] == [
        "start  first", "done   first (2/3 jobs)", "start  second", "done   second (3/3 jobs)"
    ]  # fmt: skip
