"""Shared fixtures: where the real benchmark files live."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

GET_DATA = (
    "get them with `rlvr data import math500` (and `humaneval`, `mbpp`; from the hub, into ~/.cache/rlvr-lab/data) "
    "or name a folder laid out like shared/data with `make test RLVR_DATA_DIR=/path`"
)
"""How a user without ``../shared/data`` gets the benchmark files the skipped tests read."""


def shared_data_dir() -> Path | None:
    """The benchmark folder: ``$RLVR_DATA_DIR`` (the Makefile passes ``../shared/data`` when it exists), else the
    user data cache that ``rlvr data import`` fills; nothing here guesses another path."""
    from rlvr_lab.runtime.data import user_data_dir

    env = os.environ.get("RLVR_DATA_DIR")
    return Path(env) if env else user_data_dir()


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The benchmark folder; a test that needs it skips, saying how to get the files, where they are missing."""
    path = shared_data_dir()
    if path is None or not (path / "math500" / "test.jsonl").is_file():
        pytest.skip(f"benchmark files not found under {path}: {GET_DATA}")
    return path
