"""Compare two models graded on the same problems: the reasoning-boundary numbers in one record.

Used by ``rlvr compare`` (which writes it as ``compare.json`` and plots it) and by the report. Conventions:
model A is the reference (default label ``base``), model B the trained model (default ``rl``).

- pass@k curves at every k from 1 to each model's n (smallest per-problem n when problems differ), and
  bootstrap bands (problems resampled) at log-spaced ks for the plot;
- ``crossover_k``: the k at which A catches up with B after B led (the boundary-study number: RL wins at small k,
  the base model catches up at large k); ``crossover_k_b_catches_a`` the opposite event; both over the ks the two
  curves share, interpolated in log k (see :func:`rlvr_lab.metrics.crossover_k`);
- coverage counts (solved = at least one correct sample), ΔSE = pass@n_A(A) - pass@1(B), the paired bootstrap CI
  of pass@1(B) - pass@1(A), and both accuracy histograms.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from rlvr_lab.metrics import (
    AccuracyHistogram,
    BootstrapCI,
    Coverage,
    GradedSamples,
    accuracy_histogram,
    bootstrap_mean_band,
    coverage,
    crossover_k,
    delta_se,
    log_spaced_ks,
    paired_bootstrap_diff,
    pass_at_k_matrix,
)


@dataclass(frozen=True)
class CurveWithBand:
    """A mean pass@k curve at every k, and its bootstrap band at ``band_ks``."""

    ks: NDArray[np.int64]
    values: NDArray[np.float64]
    band_ks: NDArray[np.int64]
    lo: NDArray[np.float64]
    hi: NDArray[np.float64]

    def as_dict(self) -> dict[str, Any]:
        return {
            "pass_at_k": {str(k): float(v) for k, v in zip(self.ks, self.values, strict=True)},
            "band": {"k": self.band_ks.tolist(), "lo": self.lo.tolist(), "hi": self.hi.tolist()},
        }


@dataclass(frozen=True)
class ModelComparison:
    """Everything ``compare.json`` holds; see the module docstring."""

    label_a: str
    label_b: str
    problems: int
    n_a: int
    n_b: int
    curve_a: CurveWithBand
    curve_b: CurveWithBand
    crossover_k: float | None
    crossover_k_b_catches_a: float | None
    coverage: Coverage
    delta_se: float
    pass_at_1_diff: BootstrapCI
    histogram_a: AccuracyHistogram
    histogram_b: AccuracyHistogram

    def as_dict(self) -> dict[str, Any]:
        a, b = self.label_a, self.label_b
        return {
            "labels": {"a": a, "b": b},
            "problems": self.problems,
            "n": {"a": self.n_a, "b": self.n_b},
            "pass_at_k": {a: self.curve_a.as_dict()["pass_at_k"], b: self.curve_b.as_dict()["pass_at_k"]},
            "bands": {a: self.curve_a.as_dict()["band"], b: self.curve_b.as_dict()["band"]},
            "crossover_k": self.crossover_k,
            "crossover_k_b_catches_a": self.crossover_k_b_catches_a,
            "coverage": self.coverage.as_dict(),
            "delta_se": {"k": self.n_a, "value": self.delta_se},
            "pass_at_1_diff": self.pass_at_1_diff.as_dict(),
            "accuracy_histogram": {a: self.histogram_a.as_dict(), b: self.histogram_b.as_dict()},
        }


def _curve(graded: GradedSamples, resamples: int, seed: int, confidence: float) -> CurveWithBand:
    n_min = int(graded.n.min())
    ks = np.arange(1, n_min + 1)
    matrix = pass_at_k_matrix(graded.n, graded.c, ks)
    band_ks = np.asarray(log_spaced_ks(n_min), dtype=np.int64)
    _, lo, hi = bootstrap_mean_band(matrix[:, band_ks - 1], resamples, seed, confidence)
    return CurveWithBand(ks, matrix.mean(axis=0), band_ks, lo, hi)


def compare_models(
    a: GradedSamples,
    b: GradedSamples,
    label_a: str = "base",
    label_b: str = "rl",
    resamples: int = 2000,
    seed: int = 0,
    confidence: float = 0.95,
) -> ModelComparison:
    """Compare A and B on their common problems (``ValueError`` naming both files if the sets differ)."""
    if label_a == label_b:
        raise ValueError(f"the two labels must differ, both are {label_a!r}")
    b = b.aligned(a.problem_ids, other=str(a.path))
    curve_a = _curve(a, resamples, seed, confidence)
    curve_b = _curve(b, resamples, seed, confidence)
    shared = min(curve_a.ks.size, curve_b.ks.size)
    ks, values_a, values_b = curve_a.ks[:shared], curve_a.values[:shared], curve_b.values[:shared]
    return ModelComparison(
        label_a=label_a,
        label_b=label_b,
        problems=a.num_problems,
        n_a=int(a.n.min()),
        n_b=int(b.n.min()),
        curve_a=curve_a,
        curve_b=curve_b,
        crossover_k=crossover_k(ks, leader=values_b, challenger=values_a),
        crossover_k_b_catches_a=crossover_k(ks, leader=values_a, challenger=values_b),
        coverage=coverage(a.c, b.c),
        delta_se=delta_se(a.n, a.c, b.n, b.c),
        pass_at_1_diff=paired_bootstrap_diff(a.c / a.n, b.c / b.n, resamples, seed, confidence),
        histogram_a=accuracy_histogram(a.n, a.c),
        histogram_b=accuracy_histogram(b.n, b.c),
    )
