"""A pool of worker processes that verifies (gold, answer) pairs with a hard, killable timeout per pair.

Why processes and not math-verify's own timeouts: those use ``signal.alarm``, which works only on the main
thread, and a signal cannot interrupt a hang inside C code (a regex scanning a megabyte answer, a big-integer
power such as ``10^{10^{10^{10}}}``). Here a pair that runs past the limit costs only its worker: the parent
kills it with SIGKILL, starts a fresh one, records the pair as ``timeout`` and sends the rest of that worker's
batch elsewhere.

How the timing works although pairs travel in batches (one pipe message per batch, which keeps IPC cheap): a
worker replies after every pair, so the pair in progress on a worker is the first unanswered one in its batch,
and it started when the last reply (or the batch) arrived. Each pair gets ``timeout_s``; so does parsing a gold
the worker has not seen, which the worker reports separately. When a gold's own parse times out, every other
pair with that gold is recorded ``timeout`` at once, since each would hang the same way.

Lifecycle: a context manager; workers start on entry (or the first :meth:`VerifierPool.verify`) and are killed
on exit, or as soon as an exception such as KeyboardInterrupt leaves :meth:`VerifierPool.verify`. Workers
ignore SIGINT (the parent decides), are daemonic, and exit when the parent's end of their pipe closes, so none
outlives the parent; the exception is a worker stuck in C code when the parent is killed with SIGKILL, which
ends when that computation does. The parent never uses signals, so any thread may call :meth:`verify`; calls are
serialised by a lock. Workers come from a fork server that has math-verify imported already (on platforms
without one, from ``spawn``), so a restart after a kill takes milliseconds and never forks a threaded parent.
"""

from __future__ import annotations

import contextlib
import math
import multiprocessing
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from multiprocessing.connection import wait

from rlvr_lab.grading.equivalence import Pair
from rlvr_lab.grading.verdict import Status
from rlvr_lab.grading.worker import serve

STARTUP_LIMIT_S = 120.0
"""A worker that has not said ``ready`` by then means a broken installation, not a slow answer."""


@dataclass(frozen=True)
class Outcome:
    """The verdict on one (gold, answer) pair; ``detail`` says why when the status is not ``ok``."""

    correct: bool
    status: Status
    detail: str = ""


FORKSERVER_PRELOAD = ["math_verify", "sympy.physics.units", "rlvr_lab.grading.worker"]
"""Imported once in the fork server, so every worker starts with them: math-verify, and what sympy's
``simplify`` imports on its first call (``sympy.physics.units``, 0.15 s that each worker would pay again)."""


def _context() -> multiprocessing.context.BaseContext:
    if "forkserver" in multiprocessing.get_all_start_methods():
        context = multiprocessing.get_context("forkserver")
        # Takes effect only if this process has not started its fork server yet; otherwise workers import
        # math-verify themselves on start, which is slower but the same.
        context.set_forkserver_preload(FORKSERVER_PRELOAD)
        return context
    return multiprocessing.get_context("spawn")


@contextlib.contextmanager
def _main_not_reimported() -> Iterator[None]:
    """Hide ``__main__``'s origin while a worker starts, so the worker does not re-import the user's script.

    A ``spawn`` or fork-server child re-runs the parent's main script (as ``__mp_main__``) before its target,
    which lets a training script without an ``if __name__ == "__main__"`` guard start its training again inside
    every grader worker, and fail. Workers need nothing from that script (their target is
    :func:`~rlvr_lab.grading.worker.serve`), so the origin is hidden for the duration of ``start()``.
    """
    main = sys.modules.get("__main__")
    saved = {name: vars(main)[name] for name in ("__file__", "__spec__") if main and name in vars(main)}
    for name in saved:
        setattr(main, name, None)  # multiprocessing.spawn.get_preparation_data reads both with getattr(..., None)
    try:
        yield
    finally:
        for name, value in saved.items():
            setattr(main, name, value)


class _Worker:
    """One worker process, its pipe, and the batch it is working through."""

    def __init__(self, context: multiprocessing.context.BaseContext, name: str) -> None:
        self.conn, child = context.Pipe()
        self.process = context.Process(target=serve, args=(child,), name=name, daemon=True)
        with _main_not_reimported():
            self.process.start()
        child.close()
        self.started_at = time.monotonic()
        self.ready = False
        self.inflight: deque[int] = deque()
        self.since = 0.0
        self.golds: set[str] = set()

    def kill(self) -> None:
        if self.process.is_alive():
            self.process.kill()
        self.process.join()
        self.conn.close()


class VerifierPool:
    """Verify (gold, answer) pairs in ``workers`` processes, each pair under a hard ``timeout_s`` limit."""

    def __init__(self, workers: int, timeout_s: float, batch_size: int = 32) -> None:
        if workers < 1:
            raise ValueError(f"workers must be >= 1, got {workers}")
        if not timeout_s > 0:
            raise ValueError(f"timeout_s must be > 0, got {timeout_s}")
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.workers = workers
        self.timeout_s = timeout_s
        self.batch_size = batch_size
        self.dispatched = 0
        """Pairs sent to workers so far: the real math-verify calls, before any caching layer above."""
        self.gold_parses = 0
        """Times a worker parsed a gold it had not seen (one per gold and worker at most, cache permitting)."""
        self.restarts = 0
        """Workers killed (timeout) or lost (crash) and replaced."""
        self.worker_cpu_s = 0.0
        """CPU seconds the workers reported for the pairs they finished (killed pairs are not counted)."""
        self._context = _context()
        self._pool: list[_Worker] = []
        self._spawned = 0
        self._lock = threading.RLock()  # verify() closes the pool on an exception while holding it

    @property
    def pids(self) -> list[int]:
        """Process ids of the current workers (for monitoring; empty when stopped)."""
        return [worker.process.pid for worker in self._pool if worker.process.pid is not None]

    # ---------------------------------------------------------------- lifecycle

    def start(self) -> None:
        """Start the workers (idempotent)."""
        with self._lock:
            while len(self._pool) < self.workers:
                self._pool.append(self._spawn())

    def close(self) -> None:
        """Kill the workers: they hold nothing worth a graceful exit, and a busy one may be stuck in C code."""
        with self._lock:
            for worker in self._pool:
                worker.kill()
            self._pool.clear()

    def __enter__(self) -> VerifierPool:
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def _spawn(self) -> _Worker:
        self._spawned += 1
        return _Worker(self._context, name=f"rlvr-grader-{self._spawned}")

    # ---------------------------------------------------------------- verification

    def verify(
        self,
        pairs: Sequence[Pair],
        on_result: Callable[[int, Outcome], None] | None = None,
    ) -> list[Outcome]:
        """Verdicts for ``(gold, answer)`` pairs, in order. ``on_result(index, outcome)`` fires as each finishes.

        Every pair is verified (callers dedupe and cache); an exception such as KeyboardInterrupt kills the
        workers, which a later call replaces.
        """
        if not pairs:
            return []
        self.start()
        with self._lock:
            try:
                return _Run(self, pairs, on_result).run()
            except BaseException:
                self.close()
                raise


class _Run:
    """The scheduling state of one :meth:`VerifierPool.verify` call."""

    def __init__(
        self,
        pool: VerifierPool,
        pairs: Sequence[Pair],
        on_result: Callable[[int, Outcome], None] | None,
    ) -> None:
        self.pool = pool
        self.pairs = pairs
        self.on_result = on_result
        self.results: list[Outcome | None] = [None] * len(pairs)
        self.remaining = len(pairs)
        # Sorted by gold, so consecutive batches (and one worker's gold cache) serve one problem.
        self.queue: deque[int] = deque(sorted(range(len(pairs)), key=lambda index: pairs[index][0]))
        self.bad_golds: dict[str, Outcome] = {}

    def run(self) -> list[Outcome]:
        pool = self.pool
        while self.remaining:
            for worker in pool._pool:
                if worker.ready and not worker.inflight:
                    self._dispatch(worker)
            if not self.remaining:
                break
            watched = [worker for worker in pool._pool if worker.inflight or not worker.ready]
            ready = wait([worker.conn for worker in watched], timeout=self._seconds_to_deadline(watched))
            for worker in watched:
                if worker.conn in ready:
                    self._drain(worker)
            self._enforce_deadlines()
        assert all(outcome is not None for outcome in self.results)
        return self.results  # type: ignore[return-value]

    def _finish(self, index: int, outcome: Outcome) -> None:
        self.results[index] = outcome
        self.remaining -= 1
        if self.on_result is not None:
            self.on_result(index, outcome)

    def _dispatch(self, worker: _Worker) -> None:
        # Share the tail fairly: never give one worker more than its part of what is left.
        size = min(self.pool.batch_size, max(1, math.ceil(len(self.queue) / self.pool.workers)))
        batch: list[tuple[int, str, str]] = []
        while self.queue and len(batch) < size:
            index = self.queue.popleft()
            gold, answer = self.pairs[index]
            if gold in self.bad_golds:
                self._finish(index, self.bad_golds[gold])
            else:
                batch.append((index, gold, answer))
        if not batch:
            return
        worker.conn.send(batch)
        self.pool.dispatched += len(batch)
        worker.inflight.extend(index for index, _, _ in batch)
        worker.since = time.monotonic()

    def _seconds_to_deadline(self, watched: list[_Worker]) -> float:
        now = time.monotonic()
        deadlines = [
            worker.since + self.pool.timeout_s if worker.ready else worker.started_at + STARTUP_LIMIT_S
            for worker in watched
        ]
        return max(0.0, min(deadlines) - now) if deadlines else 0.0

    def _drain(self, worker: _Worker) -> None:
        try:
            while worker.conn.poll():
                message = worker.conn.recv()
                worker.since = time.monotonic()
                if message[0] == "ready":
                    worker.ready = True
                elif message[0] == "gold":
                    worker.golds.add(self.pairs[message[1]][0])
                    self.pool.gold_parses += 1
                else:
                    _, index, correct, status, detail, cpu_s = message
                    worker.inflight.popleft()
                    self.pool.worker_cpu_s += cpu_s
                    self._finish(index, Outcome(correct=correct, status=status, detail=detail))
        except (EOFError, OSError):
            worker.process.join(timeout=1.0)
            code = worker.process.exitcode
            if not worker.ready:
                raise RuntimeError(f"grading worker {worker.process.name} exited on start (code {code})") from None
            self._replace(worker, "error", f"the grading worker died (exit code {code})")

    def _enforce_deadlines(self) -> None:
        now = time.monotonic()
        for worker in list(self.pool._pool):
            if not worker.ready and now > worker.started_at + STARTUP_LIMIT_S:
                raise RuntimeError(f"grading worker {worker.process.name} did not start in {STARTUP_LIMIT_S:.0f} s")
            if worker.inflight and now >= worker.since + self.pool.timeout_s:
                self._replace(worker, "timeout", f"killed after {self.pool.timeout_s:g} s")

    def _replace(self, worker: _Worker, status: Status, detail: str) -> None:
        """Kill ``worker``; its current pair gets ``status``; the rest of its batch goes back to the queue."""
        worker.kill()
        self.pool.restarts += 1
        if worker.inflight:
            index = worker.inflight.popleft()
            gold = self.pairs[index][0]
            if gold not in worker.golds:
                outcome = Outcome(False, status, f"{detail} while parsing the gold answer")
                self.bad_golds[gold] = outcome
            else:
                outcome = Outcome(False, status, detail)
            self._finish(index, outcome)
            self.queue.extendleft(reversed(worker.inflight))
            worker.inflight.clear()
        slot = self.pool._pool.index(worker)
        self.pool._pool[slot] = self.pool._spawn()
