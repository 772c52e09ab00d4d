"""Run independent jobs in worker processes, in dependency order, under one rich progress display.

Why a pool of processes and not threads: a training run and a sampler are CPU-bound torch loops. On a small CPU,
two processes with one torch thread each beat one process with two threads for tiny models (threads of one
process wait on each other at every small matrix product), so the default is one worker per core, each pinned
to ``threads`` torch threads.

Design choices:
- **spawn**, not fork: a forked child of a process that has started torch's thread pools can deadlock, and spawn
  behaves the same on every platform. Each worker imports torch once and then serves many jobs. Workers are not
  daemonic (``concurrent.futures`` workers never are), so the grading pool a job starts inside its worker (its
  own fork server of math-verify processes) works as it does in a plain process.
- **Dependencies by name**: a job starts when every job named in its ``after`` has finished; among ready jobs the
  list order is the priority, so callers put long jobs and jobs others wait on first. A job is submitted only
  when a worker is free, which keeps that order exact.
- **Progress from files**: a job names the file its work appends one line to per unit (a training run's
  ``metrics.jsonl``: one line per step after the step-0 evaluation; a sample store: one line per sample after
  its header). The parent counts new lines every half second; jobs need no callback channel across processes.
- **Nothing lost when killed**: jobs write their results durably and say whether they are already finished, so
  a re-run skips finished jobs and resumes the rest (training from its checkpoint, sampling from its store).
"""

from __future__ import annotations

import concurrent.futures as cf
import ctypes
import multiprocessing
import os
import signal
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

POLL_S = 0.5
"""Seconds between progress updates (and the latency of noticing a finished job)."""


class Job(Protocol):
    """A unit of work for :func:`run_jobs`: picklable, resumable, and able to say whether it is done."""

    name: str
    """Unique among the jobs of one call; shown in the progress display."""
    phase: str
    """The phase it belongs to, for the timing table."""
    after: tuple[str, ...]
    """Names of the jobs that must finish before it starts."""

    @property
    def total(self) -> int:
        """Units of work (training steps, samples) for the progress bar."""
        ...

    def progress_file(self) -> Path | None:
        """The file that gains one line per unit of work after a first line (None: no progress shown)."""
        ...

    def finished(self) -> bool:
        """True when the job's results are complete on disk (a re-run skips it)."""
        ...

    def run(self) -> None:
        """Do the work, in a worker process."""
        ...


@dataclass(frozen=True)
class PhaseTiming:
    """Wall time of one phase: from its first job's start to its last job's end."""

    phase: str
    jobs: int
    skipped: int
    """Jobs already finished on disk before this call."""
    seconds: float


class LineCounter:
    """Counts the lines of a growing file incrementally (reads only new bytes; a truncated file starts over)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset = 0
        self.lines = 0

    def update(self) -> int:
        try:
            size = self.path.stat().st_size
        except FileNotFoundError:
            return self.lines
        if size < self.offset:
            self.offset = self.lines = 0
        if size > self.offset:
            with self.path.open("rb") as f:
                f.seek(self.offset)
                data = f.read(size - self.offset)
            self.offset += len(data)
            self.lines += data.count(b"\n")
        return self.lines


def check_graph(jobs: Sequence[Job]) -> None:
    """Names are unique, every dependency exists, and there is no cycle (``ValueError`` otherwise)."""
    names = [job.name for job in jobs]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ValueError(f"duplicate job names: {duplicates}")
    known = set(names)
    for job in jobs:
        unknown = [d for d in job.after if d not in known]
        if unknown:
            raise ValueError(f"job {job.name!r} waits for unknown job(s) {unknown}")
    resolved: set[str] = set()
    remaining = list(jobs)
    while remaining:
        ready = [job for job in remaining if all(d in resolved for d in job.after)]
        if not ready:
            raise ValueError(f"dependency cycle among {[job.name for job in remaining]}")
        resolved.update(job.name for job in ready)
        remaining = [job for job in remaining if job.name not in resolved]


def _init_worker(threads: int) -> None:
    """Pin the worker's torch to ``threads`` intra-op threads, and silence per-file progress bars.

    Threads go through the environment, which torch reads when first imported, so a worker whose jobs never need
    torch does not pay for importing it; a torch already imported (by the spawned copy of ``__main__``) is set
    directly. The Hugging Face loading and saving bars of every job would otherwise scroll through the display.
    """
    for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[name] = str(threads)
    os.environ["HF_HUB_DISABLE_PROGRESS_BARS"] = "1"
    if sys.platform.startswith("linux"):
        # PR_SET_PDEATHSIG (1): the kernel kills this worker when the parent dies, so a killed run leaves no orphan
        # still writing into the folder that the next run resumes. Elsewhere a worker ends after its current job.
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(threads)


def _run(job: Job) -> None:
    job.run()


def run_jobs(jobs: Sequence[Job], workers: int, threads: int = 1, console: Console | None = None) -> list[PhaseTiming]:
    """Run ``jobs`` (see the module docstring) in ``workers`` processes; return the wall time of each phase.

    A failed job stops the run: jobs not yet started are cancelled, running ones are left to finish, and the
    error is raised as ``RuntimeError`` naming the job (its partial results stay on disk for a re-run).
    """
    if workers < 1 or threads < 1:
        raise ValueError(f"workers and threads must be >= 1, got {workers} and {threads}")
    check_graph(jobs)
    console = console or Console(stderr=True)
    skipped = {job.name for job in jobs if job.finished()}
    done = set(skipped)
    pending = [job for job in jobs if job.name not in done]
    spans: dict[str, list[float]] = {}
    running: dict[cf.Future[None], tuple[Job, TaskID, LineCounter | None]] = {}
    columns = (
        TextColumn("{task.description}", markup=False),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    context = multiprocessing.get_context("spawn")
    # A progress bar draws nothing into a file: a redirected log gets one line per started and finished job
    # instead, so that it can be told from a hang.
    log = None if console.is_terminal else console
    started_at = time.monotonic()
    if log is not None:
        log.print(f"{len(jobs)} jobs, {len(skipped)} already finished", highlight=False, soft_wrap=True)
    with (
        Progress(*columns, console=console) as bar,
        cf.ProcessPoolExecutor(workers, mp_context=context, initializer=_init_worker, initargs=(threads,)) as pool,
    ):
        overall = bar.add_task("all jobs", total=len(jobs), completed=len(done))
        try:
            while pending or running:
                for job in [j for j in pending if all(d in done for d in j.after)]:
                    if len(running) >= workers:
                        break
                    pending.remove(job)
                    file = job.progress_file()
                    task = bar.add_task(f"  {job.name}", total=job.total)
                    running[pool.submit(_run, job)] = (job, task, None if file is None else LineCounter(file))
                    spans.setdefault(job.phase, []).append(time.monotonic())
                    if log is not None:
                        elapsed = time.monotonic() - started_at
                        log.print(f"[{elapsed:6.0f} s] start  {job.name}", highlight=False, soft_wrap=True)
                if not running:
                    raise RuntimeError(f"jobs {[j.name for j in pending]} wait for jobs that never finish")
                finished, _ = cf.wait(running, timeout=POLL_S, return_when=cf.FIRST_COMPLETED)
                for future in finished:
                    job, task, _ = running.pop(future)
                    try:
                        future.result()
                    except BaseException as error:
                        raise RuntimeError(f"job {job.name!r} failed: {error}") from error
                    done.add(job.name)
                    spans[job.phase].append(time.monotonic())
                    if log is not None:
                        elapsed = time.monotonic() - started_at
                        line = f"[{elapsed:6.0f} s] done   {job.name} ({len(done)}/{len(jobs)} jobs)"
                        log.print(line, highlight=False, soft_wrap=True)
                    bar.remove_task(task)
                    bar.advance(overall)
                for job, task, counter in running.values():
                    if counter is not None:
                        bar.update(task, completed=min(job.total, max(0, counter.update() - 1)))
        except BaseException:
            pool.shutdown(wait=False, cancel_futures=True)
            raise
    timings = []
    for phase in dict.fromkeys(job.phase for job in jobs):
        members = [job for job in jobs if job.phase == phase]
        marks = spans.get(phase, [])
        seconds = max(marks) - min(marks) if marks else 0.0
        timings.append(PhaseTiming(phase, len(members), sum(job.name in skipped for job in members), seconds))
    return timings
