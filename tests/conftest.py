"""Shared fixtures: where the real benchmark files live."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


def shared_data_dir() -> Path | None:
    """``$RLVR_DATA_DIR``: the Makefile sets it to ``../shared/data``; nothing here guesses a path."""
    env = os.environ.get("RLVR_DATA_DIR")
    return Path(env) if env else None


@pytest.fixture(scope="session")
def data_dir() -> Path:
    path = shared_data_dir()
    if path is None or not (path / "math500" / "test.jsonl").is_file():
        pytest.fail(f"benchmark files not found under {path}; set RLVR_DATA_DIR (`make test` sets ../shared/data)")
    return path
