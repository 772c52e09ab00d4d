"""The grading worker process: verify (gold, answer) pairs with math-verify and report each one as it finishes.

Protocol over one duplex pipe (the parent in :mod:`rlvr_lab.grading.pool` owns the other end):
- parent -> worker: a list of jobs ``(key, gold, answer)``, or None to exit; ``answer`` is an answer text, or a
  completion's readings (a tuple, :func:`~rlvr_lab.grading.equivalence.parse_readings`);
- worker -> parent: ``("ready",)`` once, after imports; then per job, ``("gold", key)`` right after the job's
  gold was parsed, the first time this worker meets that gold, and ``("done", key, correct, status, detail,
  cpu_s)`` when the job is over (``cpu_s``: the job's CPU seconds, for the benchmark and logs).

Per-job replies are what keep the timeout per item although jobs travel in batches: the parent times the job
in progress from the last message it got. The ``gold`` message splits a job in two timed phases, so a gold that
hangs the parser is told apart from an answer that does.

Parses are kept in one LRU cache keyed by text (golds and answers are parsed the same way, so the pair
(gold, gold) costs one parse): one problem's pairs usually share a worker (the parent sends pairs sorted by
gold), and short answers such as ``2`` recur across problems.

The worker ignores SIGINT: on Ctrl-C the parent decides, and kills the workers it started; on Linux it dies with
its parent (:func:`die_with_parent`), so a grading process killed with SIGKILL leaves no worker behind.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import time
from collections import OrderedDict
from multiprocessing.connection import Connection

from rlvr_lab.grading.equivalence import ParsedAnswer, Readings, equivalent, parse_for_verify, parse_readings

PARSE_CACHE_SIZE = 16384
_DETAIL_LIMIT = 300


class _ParseCache:
    """A bounded map text -> parsed answer, evicting the least recently used."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._items: OrderedDict[str | Readings, ParsedAnswer] = OrderedDict()

    def get(self, text: str | Readings) -> ParsedAnswer | None:
        parsed = self._items.get(text)
        if parsed is not None:
            self._items.move_to_end(text)
        return parsed

    def put(self, text: str | Readings, parsed: ParsedAnswer) -> None:
        self._items[text] = parsed
        if len(self._items) > self.size:
            self._items.popitem(last=False)


def _parsed(cache: _ParseCache, text: str | Readings) -> ParsedAnswer:
    """The parse of ``text`` (a boxed answer, or a completion's readings), from the cache when it has one."""
    parsed = cache.get(text)
    if parsed is None:
        parsed = parse_for_verify(text) if isinstance(text, str) else parse_readings(text)
        cache.put(text, parsed)
    return parsed


def die_with_parent() -> None:
    """Linux: have the kernel SIGKILL this process when its parent exits.

    Why: a worker busy in C code (a huge power, a regex on a megabyte answer) reads no pipe, so it never learns that
    the grading process was killed with SIGKILL, and ran on at 100% CPU, orphaned. Its parent is the fork server,
    which exits when no process holds its "alive" pipe any more; every child it forks inherits that pipe, so the
    worker closes its copy (it starts no process itself), and the fork server then ends with the grading process.
    A parent gone before the call leaves this process adopted: exit.
    """
    from multiprocessing import forkserver

    server = getattr(forkserver, "_forkserver", None)
    alive = getattr(server, "_forkserver_alive_fd", None)
    if alive is not None:
        os.close(alive)
        server._forkserver_alive_fd = None  # type: ignore[union-attr]
    if not sys.platform.startswith("linux"):
        return
    import ctypes

    parent = os.getppid()
    libc = ctypes.CDLL(None, use_errno=True)
    pr_set_pdeathsig = 1
    libc.prctl(pr_set_pdeathsig, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent:
        os._exit(1)


def serve(conn: Connection) -> None:
    """Worker main loop; returns when the parent sends None or goes away."""
    die_with_parent()
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # With its signal timeouts off, math-verify warns once per process that we must time out ourselves: we do.
    logging.getLogger("math_verify").setLevel(logging.ERROR)
    parses = _ParseCache(PARSE_CACHE_SIZE)
    announced: set[str] = set()  # golds the parent has been told are parsed here
    conn.send(("ready",))
    while True:
        try:
            jobs = conn.recv()
        except EOFError:
            return
        if jobs is None:
            return
        for key, gold, answer in jobs:
            started = time.process_time()
            try:
                gold_parsed = _parsed(parses, gold)
                if gold not in announced:
                    announced.add(gold)
                    conn.send(("gold", key))
                if not gold_parsed:
                    detail = "math-verify found nothing to parse in the gold answer"
                    conn.send(("done", key, False, "error", detail, time.process_time() - started))
                    continue
                # verify() only reads its lists; copies keep the cached ones safe all the same.
                correct = equivalent(list(gold_parsed), list(_parsed(parses, answer)))
                conn.send(("done", key, correct, "ok", "", time.process_time() - started))
            except Exception as error:  # a library bug must cost one verdict, not the worker
                detail = f"{type(error).__name__}: {error}"[:_DETAIL_LIMIT]
                conn.send(("done", key, False, "error", detail, time.process_time() - started))
