"""Per-problem accuracy histograms with exactly-0 and exactly-1 as their own bins.

The two ends carry the story of a reasoning-boundary study: problems never solved (accuracy exactly 0) and
problems always solved (exactly 1) are where RL moves mass (Yue et al., 2025, "Does Reinforcement Learning
Really Incentivize Reasoning Capacity in LLMs Beyond the Base Model?", whose accuracy histograms have these bins).
An ordinary [0, 0.1) bin would mix "never" with "rarely", so the ends get their own bins and the open interval
(0, 1) is split into ``bins`` equal parts:

    "0" | (0, 1/B] | (1/B, 2/B] | ... | ((B-1)/B, 1) | "1"

Bin membership uses integer arithmetic on (c, n), so an accuracy exactly on an edge (c/n = 0.3 for n = 10) lands in
the same bin on every machine: interior bin index = ceil(B * c / n) - 1.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from rlvr_lab.metrics.passk import check_counts


@dataclass(frozen=True)
class AccuracyHistogram:
    """Counts of problems per accuracy bin; ``labels[i]`` names ``counts[i]``; ``B + 2`` bins in order."""

    labels: tuple[str, ...]
    counts: NDArray[np.int64]

    @property
    def total(self) -> int:
        return int(self.counts.sum())

    def fractions(self) -> NDArray[np.float64]:
        """Share of problems per bin; NaN everywhere for an empty set (no problems, no distribution)."""
        if self.total == 0:
            return np.full(self.counts.shape, np.nan)
        return self.counts / self.total

    def as_dict(self) -> dict[str, int]:
        return {label: int(count) for label, count in zip(self.labels, self.counts, strict=True)}


def _fmt(x: float) -> str:
    return f"{x:.3g}"


def histogram_labels(bins: int) -> tuple[str, ...]:
    """Bin names: ``"0"``, ``"(0, 0.1]"``, ..., ``"(0.9, 1)"``, ``"1"`` for ``bins = 10``."""
    edges = [i / bins for i in range(bins + 1)]
    interior = [f"({_fmt(edges[i])}, {_fmt(edges[i + 1])}]" for i in range(bins - 1)]
    interior.append(f"({_fmt(edges[bins - 1])}, 1)")
    return ("0", *interior, "1")


def accuracy_histogram(n: ArrayLike, c: ArrayLike, bins: int = 10) -> AccuracyHistogram:
    """Histogram of per-problem accuracy ``c / n``.

    ``n``: scalar or ``(P,)``; ``c``: ``(P,)``; ``bins``: number of equal parts of the open interval (0, 1).
    Returns ``bins + 2`` counts: exactly 0, the interior bins, exactly 1.
    """
    if bins < 1:
        raise ValueError(f"bins must be >= 1, got {bins}")
    n_int, c_int = check_counts(n, c)
    index = np.where(
        c_int == 0,
        0,
        np.where(c_int == n_int, bins + 1, (bins * c_int + n_int - 1) // n_int),  # ceil(B c / n), 1-based
    )
    counts = np.bincount(index, minlength=bins + 2).astype(np.int64)
    return AccuracyHistogram(histogram_labels(bins), counts)
