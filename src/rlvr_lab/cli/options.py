"""Options every command shares, declared once so their flag, help and default cannot drift apart."""

from __future__ import annotations

from typing import Annotated

import typer

Threads = Annotated[
    int | None,
    typer.Option(
        "--threads",
        help="Torch CPU threads (default: $RLVR_THREADS, else 1; 0: torch's default, one per core). One thread "
        "does not collapse when other processes share the cores.",
        show_default=False,
    ),
]
"""``--threads``: resolved by :func:`rlvr_lab.runtime.threads.use_threads` at the start of the command."""
