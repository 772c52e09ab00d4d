"""Where rlvr-lab finds things without the Hugging Face hub, and whether the hub can be reached at all.

Why this module exists: on a machine without network the hub libraries retry for a minute before they fail, and
a user who typed a benchmark or model name wrong learned nothing from the traceback. So every name is first
looked up locally, and when the hub is out of reach a missing name fails at once, naming the places searched.

- The cache root is ``$RLVR_CACHE_DIR``, else ``~/.cache/rlvr-lab`` (converted models live there too).
- Benchmark files are searched, in order, in ``--data-dir`` (or ``$RLVR_DATA_DIR``) and then in the user data
  cache ``<cache root>/data``, each laid out like ``shared/data`` (``math500/test.jsonl``, ...); ``rlvr data``
  lists what is found and imports folders or hub datasets into the user data cache.
- The hub counts as unreachable when ``HF_HUB_OFFLINE`` (or ``TRANSFORMERS_OFFLINE``/``HF_DATASETS_OFFLINE``) is
  set, or when a TCP connection to the hub's host does not open within :data:`PROBE_TIMEOUT_S` (name resolution
  included). The answer is computed once per process; when the probe fails, ``HF_HUB_OFFLINE=1`` is set for the
  hub libraries imported after it, so they read their caches instead of retrying.
"""

from __future__ import annotations

import functools
import os
import socket
import threading
from pathlib import Path
from urllib.parse import urlparse

CACHE_ENV = "RLVR_CACHE_DIR"
"""Environment variable naming rlvr-lab's cache root (default ``~/.cache/rlvr-lab``)."""
DATA_DIR_ENV = "RLVR_DATA_DIR"
"""Environment variable naming the benchmark data directory searched first (the ``--data-dir`` option)."""
OFFLINE_ENVS = ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_DATASETS_OFFLINE")
PROBE_TIMEOUT_S = 3.0
"""How long the hub's host may take to accept a connection before the hub counts as unreachable."""


class ProblemSourceError(RuntimeError):
    """A problem source cannot be found or opened at all (missing file or data folder, hub unreachable, unknown
    name). Defined here, below the loaders, because the data folders are the first place a source is missing."""


def cache_root() -> Path:
    """``$RLVR_CACHE_DIR`` if set, else ``~/.cache/rlvr-lab``."""
    env = os.environ.get(CACHE_ENV)
    return Path(env).expanduser() if env else Path.home() / ".cache" / "rlvr-lab"


def user_data_dir() -> Path:
    """The user data cache that ``rlvr data import`` fills: ``<cache root>/data``."""
    return cache_root() / "data"


def data_dirs(data_dir: Path | None = None) -> list[Path]:
    """The benchmark folders to search, in order: ``data_dir`` (else ``$RLVR_DATA_DIR``), then the user data cache.

    A folder named explicitly must exist (a typo should not silently fall through to the hub); the user data
    cache is searched whether or not it exists yet.
    """
    if data_dir is None and os.environ.get(DATA_DIR_ENV):
        data_dir = Path(os.environ[DATA_DIR_ENV])
    folders = []
    if data_dir is not None:
        data_dir = Path(data_dir).expanduser()
        if not data_dir.is_dir():
            raise ProblemSourceError(f"data directory {data_dir} does not exist (from --data-dir or ${DATA_DIR_ENV})")
        folders.append(data_dir)
    user = user_data_dir()
    if user not in folders:
        folders.append(user)
    return folders


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in {"1", "true", "yes", "on"}


def _probe(host: str, port: int, timeout: float) -> str | None:
    """None if ``host:port`` accepts a TCP connection within ``timeout`` seconds, else why not."""
    outcome: list[str | None] = []

    def connect() -> None:
        try:
            socket.create_connection((host, port), timeout=timeout).close()
            outcome.append(None)
        except OSError as err:
            outcome.append(f"{host} unreachable ({err})")

    thread = threading.Thread(target=connect, daemon=True)  # name resolution ignores the socket timeout
    thread.start()
    thread.join(timeout)
    return outcome[0] if outcome else f"{host} did not answer within {timeout:.0f} s"


@functools.cache
def hub_offline() -> str | None:
    """None when the hub may be reachable, else the reason it is not (set once per process)."""
    for name in OFFLINE_ENVS:
        if _truthy(os.environ.get(name)):
            return f"{name}={os.environ[name]}"
    endpoint = urlparse(os.environ.get("HF_ENDPOINT") or "https://huggingface.co")
    reason = _probe(endpoint.hostname or "huggingface.co", endpoint.port or 443, PROBE_TIMEOUT_S)
    if reason is not None:
        os.environ["HF_HUB_OFFLINE"] = "1"
    return reason
