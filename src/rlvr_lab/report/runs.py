"""Read a training run directory: ``config.yaml`` and ``metrics.jsonl``.

The trainer writes one JSON object per line to ``metrics.jsonl``, one line per logged step, with namespaced keys
(``reward/mean``, ``eval/accuracy``, ``actor/clip_frac_low``, ``strategy/code_frequency``, ...). The step number is
the ``step`` key (``train/step`` also accepted), else the line's position. Keys may come and go between lines
(evaluation runs every N steps), so each key keeps only the steps that logged it.

Data bugs raise ``ValueError`` naming the file and line. One exception: a last line without its newline is the
trace of a run still writing (or killed mid-write); it is dropped, since the trainer writes whole lines.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from numpy.typing import NDArray

STEP_KEYS = ("step", "train/step")


@dataclass(frozen=True)
class Series:
    """One logged quantity: values at the steps that logged it, both ``(T,)``."""

    steps: NDArray[np.float64]
    values: NDArray[np.float64]


@dataclass(frozen=True)
class TrainingRun:
    """A run's name, config and logged series by metric key."""

    name: str
    path: Path
    config: dict[str, Any] = field(default_factory=dict)
    series: dict[str, Series] = field(default_factory=dict)

    def last(self, key: str) -> float | None:
        """The last logged value of ``key``, or ``None`` if it was never logged."""
        s = self.series.get(key)
        return float(s.values[-1]) if s is not None and s.values.size else None

    def first(self, key: str) -> float | None:
        """The first logged value of ``key``, or ``None`` if it was never logged."""
        s = self.series.get(key)
        return float(s.values[0]) if s is not None and s.values.size else None


def is_run_dir(path: Path) -> bool:
    """A training run directory is one holding ``metrics.jsonl``."""
    return (path / "metrics.jsonl").is_file()


def _number(value: Any) -> float | None:
    """Numbers (and bools) become floats; anything else (strings, lists) is not a plottable metric."""
    if isinstance(value, bool | int | float):
        return float(value)
    return None


def load_run(path: str | Path, name: str | None = None) -> TrainingRun:
    """Read ``path/metrics.jsonl`` (required) and ``path/config.yaml`` (optional)."""
    path = Path(path)
    metrics_file = path / "metrics.jsonl"
    if not metrics_file.is_file():
        raise FileNotFoundError(f"{path} is not a training run: no metrics.jsonl")
    text = metrics_file.read_text(encoding="utf-8")
    lines = text.split("\n")
    if not text.endswith("\n"):
        lines = lines[:-1]  # a partly written last line; see the module docstring
    points: dict[str, tuple[list[float], list[float]]] = {}
    for lineno, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            raise ValueError(f"{metrics_file}:{lineno}: not JSON ({error.msg})") from None
        if not isinstance(record, dict):
            raise ValueError(f"{metrics_file}:{lineno}: expected a JSON object, got {type(record).__name__}")
        step_key = next((k for k in STEP_KEYS if k in record), None)
        step = _number(record[step_key]) if step_key else float(lineno - 1)
        if step is None:
            raise ValueError(f"{metrics_file}:{lineno}: field {step_key!r} is not a number")
        for key, value in record.items():
            number = _number(value)
            if key in STEP_KEYS or number is None or math.isnan(number):
                continue
            xs, ys = points.setdefault(key, ([], []))
            xs.append(step)
            ys.append(number)
    config: dict[str, Any] = {}
    config_file = path / "config.yaml"
    if config_file.is_file():
        loaded = yaml.safe_load(config_file.read_text(encoding="utf-8"))
        if loaded is not None and not isinstance(loaded, dict):
            raise ValueError(f"{config_file}: expected a mapping at the top level")
        config = loaded or {}
    series = {key: Series(np.asarray(xs), np.asarray(ys)) for key, (xs, ys) in points.items()}
    return TrainingRun(name or path.name, path, config, series)
