"""Bootstrap confidence intervals over problems.

The unit of resampling is the **problem**: samples of one problem are correlated (same difficulty), so resampling
samples would understate the spread. For two models graded on the same problems the comparison is **paired**: the
per-problem difference ``b - a`` is resampled as one value, which removes the between-problem difficulty variance
that an unpaired comparison would carry (Efron & Tibshirani, 1993, "An Introduction to the Bootstrap", ch. 13;
the percentile interval).

A resample is drawn as multinomial counts over the P problems (the same distribution as P indices drawn with
replacement), so the mean of a resample is ``counts @ x / P`` and a whole pass@k curve ``(P, K)`` is resampled
with one matrix product. Resamples are processed in blocks to bound memory. Deterministic given ``seed``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

_BLOCK = 256
"""Resamples per block: a ``(256, P)`` count matrix stays small for P in the tens of thousands."""


@dataclass(frozen=True)
class BootstrapCI:
    """A point estimate with a percentile confidence interval."""

    mean: float
    """The estimate on the original data (not the mean of the resamples)."""
    lo: float
    hi: float
    confidence: float
    resamples: int
    seed: int

    def as_dict(self) -> dict[str, float | int]:
        return {
            "mean": self.mean,
            "lo": self.lo,
            "hi": self.hi,
            "confidence": self.confidence,
            "resamples": self.resamples,
            "seed": self.seed,
        }


def _check(resamples: int, confidence: float) -> None:
    if resamples < 1:
        raise ValueError(f"resamples must be >= 1, got {resamples}")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")


def resampled_means(x: ArrayLike, resamples: int = 2000, seed: int = 0) -> NDArray[np.float64]:
    """``(resamples, K)``: the column means of ``x`` (``(P, K)``, or ``(P,)`` as one column) over problems
    resampled with replacement, the same resample for every column (so a statistic of several columns, such as
    their range, can be bootstrapped jointly). Raises ``ValueError`` for P = 0."""
    _check(resamples, 0.95)
    values = np.asarray(x, dtype=np.float64)
    if values.ndim not in (1, 2) or values.shape[0] == 0:
        raise ValueError(f"need a (P,) or (P, K) array with P >= 1, got shape {values.shape}")
    n_problems = values.shape[0]
    flat = values.reshape(n_problems, -1)
    rng = np.random.default_rng(seed)
    means = np.empty((resamples, flat.shape[1]), dtype=np.float64)
    uniform = np.full(n_problems, 1.0 / n_problems)
    for start in range(0, resamples, _BLOCK):
        size = min(_BLOCK, resamples - start)
        counts = rng.multinomial(n_problems, uniform, size=size).astype(np.float64)
        means[start : start + size] = counts @ flat / n_problems
    return means


def bootstrap_mean_band(
    x: ArrayLike, resamples: int = 2000, seed: int = 0, confidence: float = 0.95
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """Mean over problems (axis 0) and its percentile band.

    ``x``: ``(P,)`` or ``(P, K)`` per-problem values (e.g. a pass@k matrix). Returns ``(mean, lo, hi)``, each of
    shape ``x.shape[1:]``. With one problem, or identical rows, the band collapses onto the mean. Raises
    ``ValueError`` for P = 0.
    """
    _check(resamples, confidence)
    values = np.asarray(x, dtype=np.float64)
    means = resampled_means(values, resamples, seed)
    flat = values.reshape(values.shape[0], -1)
    tail = (1.0 - confidence) / 2.0
    lo, hi = np.quantile(means, [tail, 1.0 - tail], axis=0)
    shape = values.shape[1:]
    return flat.mean(axis=0).reshape(shape), lo.reshape(shape), hi.reshape(shape)


def paired_bootstrap_diff(
    a: ArrayLike, b: ArrayLike, resamples: int = 10000, seed: int = 0, confidence: float = 0.95
) -> BootstrapCI:
    """Mean of ``b - a`` over the same problems with a paired percentile CI.

    ``a``, ``b``: ``(P,)`` per-problem scores of models A and B on the same problems in the same order (e.g.
    per-problem pass@1). A positive mean means B scores higher. Raises ``ValueError`` if the shapes differ.
    """
    a_arr, b_arr = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a_arr.ndim != 1 or a_arr.shape != b_arr.shape:
        raise ValueError(f"a and b must be 1-D over the same problems, got shapes {a_arr.shape} and {b_arr.shape}")
    mean, lo, hi = bootstrap_mean_band(b_arr - a_arr, resamples, seed, confidence)
    return BootstrapCI(float(mean), float(lo), float(hi), confidence, resamples, seed)
