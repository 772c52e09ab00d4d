"""Shared fixtures: where the real benchmark files live."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def shared_data_dir() -> Path:
    """``$RLVR_DATA_DIR`` if set, else ``../shared/data`` beside the checkout (where CI puts it)."""
    env = os.environ.get("RLVR_DATA_DIR")
    return Path(env) if env else REPO.parent / "shared" / "data"


@pytest.fixture(scope="session")
def data_dir() -> Path:
    path = shared_data_dir()
    if not (path / "math500" / "test.jsonl").is_file():
        pytest.fail(f"benchmark files not found under {path}; set RLVR_DATA_DIR")
    return path
