"""Per-step metrics to ``DIR/metrics.jsonl`` (one JSON object per line) and TensorBoard.

Keys are namespaced (``reward/``, ``train/``, ``actor/``, ``response/``, ``strategy/``, ``optim/``, ``perf/``,
``eval/``) plus ``step``; :data:`STEP_KEYS` lists the ones every training step logs. Step 0 is the evaluation
before any update and carries only ``eval/`` keys.

Resuming from the checkpoint of step ``k`` first cuts every log back to steps ``<= k`` (the steps after it are
re-run and would otherwise appear twice), and TensorBoard purges its events after ``k``.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from pathlib import Path
from typing import Any

METRICS_FILE = "metrics.jsonl"

STEP_KEYS = (
    "step",
    "reward/mean",
    "reward/std",
    "reward/zero_std_frac",
    "train/accuracy",
    "actor/pg_loss",
    "actor/clip_frac_low",
    "actor/clip_frac_high",
    "actor/clip_frac_strategy",
    "actor/clip_frac_not_strategy",
    "actor/entropy",
    "actor/kl",
    "actor/grad_norm",
    "actor/logprob_mismatch",
    "actor/logprob_mismatch_max",
    "response/length_mean",
    "response/truncated_frac",
    "strategy/code_frequency",
    "strategy/code_entry_prob",
    "optim/lr",
    "optim/updates",
    "perf/step_time",
    "perf/rollout_time",
    "perf/update_time",
    "perf/tokens_per_s",
    "perf/samples_per_s",
    "perf/dtype",
)
"""Keys of every training step's record (``actor/kl`` only when a reference model is kept).

``actor/clip_frac_strategy`` is the share of *strategy tokens* (those before the strategy is settled, see
:func:`rlvr_lab.analysis.strategy.strategy_token_counts`) the clamp acted on, ``actor/clip_frac_not_strategy`` the
share of the others; ``strategy/code_entry_prob`` the policy's mean probability, over the step's prompts, that its
first token already enters code; ``actor/entropy`` the mean token entropy of the policy on the rollout."""

EVAL_KEYS = (
    "eval/accuracy",
    "eval/pass@n",
    "eval/greedy_accuracy",
    "eval/code_frequency",
    "eval/code_entry_prob",
    "eval/boxed_rate",
    "eval/length_mean",
)
"""Keys of an evaluation; ``eval/pass@n`` is written with the number, e.g. ``eval/pass@4``; ``eval/greedy_accuracy``
(one greedy sample per problem) only when the evaluation samples at a temperature above 0."""


def truncate_jsonl(path: Path, last_step: int) -> None:
    """Keep only records with ``step <= last_step`` (and drop a partial last line left by a kill).

    Atomic: the kept lines go to a temporary file of a unique name, fsynced, then renamed over ``path``, so a kill
    at any moment leaves the old log or the new one, never a truncated one (a log rewritten in place lost its
    steps for good when a kill hit between the truncate and the write).
    """
    if not path.is_file():
        return
    text = path.read_text()
    kept = []
    for line in text.splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if record.get("step", math.inf) <= last_step:
            kept.append(line)
    new = "".join(f"{line}\n" for line in kept)
    if new != text:
        atomic_write_text(path, new)


def atomic_write_text(path: Path, text: str) -> None:
    """Replace ``path`` with ``text``: a unique temporary file beside it, fsync, rename, fsync of the folder."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, 0o644)  # mkstemp's 0600 would make the log private to its writer
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    folder = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(folder)
    finally:
        os.close(folder)


def append_jsonl(path: Path, record: dict[str, Any]) -> None:
    """Append one record as a line and flush it to disk (the log survives a kill right after)."""
    with path.open("a") as f:
        f.write(json.dumps(record, allow_nan=True) + "\n")
        f.flush()


class MetricsLogger:
    """Writes step records to JSONL and, optionally, TensorBoard."""

    def __init__(self, run_dir: Path, resume_step: int, tensorboard: bool) -> None:
        self.path = Path(run_dir) / METRICS_FILE
        truncate_jsonl(self.path, resume_step)
        self._tb = None
        if tensorboard:
            from torch.utils.tensorboard import SummaryWriter

            self._tb = SummaryWriter(str(Path(run_dir) / "tb"), purge_step=resume_step + 1)

    def log(self, record: dict[str, Any]) -> None:
        append_jsonl(self.path, record)
        if self._tb is not None:
            for key, value in record.items():
                if key != "step" and isinstance(value, int | float):
                    self._tb.add_scalar(key, value, record["step"])
            self._tb.flush()

    def close(self) -> None:
        if self._tb is not None:
            self._tb.close()
