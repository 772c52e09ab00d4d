"""The run directory: created fresh or reopened for a resume, with the saved config checked against the new one."""

from __future__ import annotations

import dataclasses
import fcntl
import os
from pathlib import Path

from rlvr_lab.rl.checkpoint import list_checkpoints
from rlvr_lab.rl.config import TrainConfig, load_config_file, save_config


def prepare_run_dir(config: TrainConfig, resume: bool) -> tuple[Path, Path | None]:
    """Create or reopen the run directory; return it and the checkpoint to resume from (None: start fresh).

    A fresh run refuses a directory that already holds one; a resumed run refuses a config that differs from the
    saved one in anything but ``steps`` (extending a finished run is allowed). A field the saved file lacks (it was
    written before the field existed) counts as that field's default, which is how that run ran.
    """
    run_dir = Path(config.out)
    saved = run_dir / "config.yaml"
    if not resume:
        if (run_dir / "metrics.jsonl").exists():
            raise FileExistsError(f"{run_dir} already holds a run: resume it with --resume or choose another --out")
        run_dir.mkdir(parents=True, exist_ok=True)
        lock_run_dir(run_dir)
        save_config(config, saved)
        return run_dir, None
    if not saved.is_file():
        raise FileNotFoundError(f"nothing to resume: {saved} does not exist")
    defaults = {f.name: f.default for f in dataclasses.fields(TrainConfig)}
    before = {**defaults, **load_config_file(saved)}
    before.pop("steps", None)
    now = {k: v for k, v in config.to_dict().items() if k != "steps"}
    diffs = [f"{k}: saved {before.get(k)!r}, now {now.get(k)!r}" for k in now if before.get(k) != now.get(k)]
    if diffs:
        raise ValueError(f"cannot resume {run_dir} with a different config: " + "; ".join(diffs))
    lock_run_dir(run_dir)
    save_config(config, saved)
    checkpoints = list_checkpoints(run_dir)
    return run_dir, checkpoints[-1] if checkpoints else None


LOCK_FILE = ".lock"
LOCK_HELD_ENV = "RLVR_RUN_DIR_LOCKED"
"""Set by a launcher that holds a run directory's lock for the ranks it starts (``rlvr train --nproc N``): the
ranks train in that directory under their parent's lock instead of refusing it."""
_HELD: dict[Path, int] = {}


class RunDirLockedError(OSError):
    """Another process is training in this run directory."""


def lock_run_dir(run_dir: Path) -> None:
    """Take an exclusive ``flock`` on ``run_dir/.lock`` for the rest of this process (POSIX), before anything in the
    directory is written: two trainings of one run directory (two ``--resume``) would both append to its metrics
    and checkpoints, so the second is refused. A process that already holds it (a training resumed in the same
    process) keeps it; the kernel releases it when the process ends, killed or not.
    """
    key = run_dir.resolve()
    if key in _HELD or os.environ.get(LOCK_HELD_ENV) == str(key):
        return
    fd = os.open(run_dir / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise RunDirLockedError(
            f"{run_dir} is being trained by another process (it holds {run_dir / LOCK_FILE}); "
            "wait for it to end, or write to another --out"
        ) from None
    _HELD[key] = fd
