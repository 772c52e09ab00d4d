"""How many CPU threads torch uses: one rule for every command.

Resolution: the command's ``--threads`` option, else ``RLVR_THREADS``, else :data:`DEFAULT_THREADS`. ``0`` means
torch's own default (one thread per core).

Why one thread by default: torch's intra-op threads meet at a barrier after every parallel kernel. When another
process holds a core, each barrier waits for a descheduled thread for a scheduler slice, and a decode step of
hundreds of small kernels collapses (measured on a loaded 2-core machine, ``docs/performance.md``: SmolLM2
sampling and the organism run several times slower with torch's default than with one thread). One thread never
waits on a sibling, is what every rlvr-lab result so far was measured with, and makes float sums independent of
the machine's core count. On an idle many-core machine pass ``--threads 0`` (or a count) for speed.

Commands that run a model (``sample``, ``train``, ``organism``, ``demo``) print the resolved count to stderr at
the start, so ``--json`` output on stdout stays clean; the others (``grade``, ``passk``, ``compare``, ``report``)
apply the rule silently, for any torch they or their worker processes import.
"""

from __future__ import annotations

import os
import sys

THREADS_ENV = "RLVR_THREADS"
DEFAULT_THREADS = 1
"""Threads when neither ``--threads`` nor ``RLVR_THREADS`` says otherwise (see the module docstring)."""


def resolve_threads(option: int | None = None) -> int:
    """The thread count the rule gives: ``option``, else ``$RLVR_THREADS``, else the default; 0 = torch's own."""
    if option is not None:
        value, source = option, "--threads"
    else:
        raw = os.environ.get(THREADS_ENV, "").strip()
        if not raw:
            return DEFAULT_THREADS
        try:
            value, source = int(raw), THREADS_ENV
        except ValueError:
            raise ValueError(f"{THREADS_ENV} must be a whole number of threads, got {raw!r}") from None
    if value < 0:
        raise ValueError(f"{source} must be >= 0 (0: torch's default), got {value}")
    return value


def use_threads(option: int | None = None, announce: bool = True) -> int:
    """Apply the rule and return the thread count (0: torch's default); print it to stderr if ``announce``.

    Sets ``OMP_NUM_THREADS`` and ``MKL_NUM_THREADS`` too, so a torch imported later (commands import it lazily)
    and worker processes start with the same count; a torch already imported is set directly.
    """
    wanted = resolve_threads(option)
    if wanted > 0:
        for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            os.environ[name] = str(wanted)
        if "torch" in sys.modules:
            sys.modules["torch"].set_num_threads(wanted)
    if announce:
        shown = f"{wanted}" if wanted else f"torch's default (one per core, {os.cpu_count()} CPUs)"
        print(f"threads: {shown} [--threads, else ${THREADS_ENV}, else {DEFAULT_THREADS}]", file=sys.stderr, flush=True)
    return wanted


def available_cpus() -> int:
    """CPU cores this process may run on (the affinity mask where the platform has one)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1
