"""Unbiased pass@k and avg@n from per-problem sample counts.

For a problem with ``n`` samples of which ``c`` are correct, the unbiased estimator of the probability that at
least one of ``k`` samples is correct (Chen et al., 2021, "Evaluating Large Language Models Trained on Code",
eq. 1) is

    pass@k = 1 - C(n - c, k) / C(n, k).

Design choices:
- **Product form, float64.** ``C(n-c, k) / C(n, k) = prod_{j=0}^{k-1} (n - c - j) / (n - j)``, so the ratio for
  every k is one running product (``np.cumprod``) of factors in [0, 1]; no binomial ever exceeds 1. A factor with
  ``n - c - j <= 0`` is 0 (fewer than k wrong samples exist, so every k-subset holds a correct one) and the product
  stays 0 from there. The relative rounding error grows like ``k * eps``: about 1e-13 at k = 1024.
- **Every k at once.** One ``(P, k_max)`` cumulative product gives the whole curve; a single k is a column of it.
- **k > n is refused**, never silently dropped: with fewer samples than k the estimator is undefined. With a
  different ``n`` per problem, every k must be at most the smallest ``n``.
- pass@1 equals avg@n (the mean per-problem accuracy c / n); both are provided because papers report both names.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike, NDArray

_ROWS = 2048
"""Problems per block of the cumulative product: a (2048, 1024) float64 block is 16 MiB."""

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]


def check_counts(n: ArrayLike, c: ArrayLike) -> tuple[IntArray, IntArray]:
    """Validate per-problem sample counts and return them as int64 arrays of shape ``(P,)``.

    ``n`` may be a scalar (the same number of samples for every problem) or one value per problem. Raises
    ``ValueError`` on non-integers, ``n < 1``, ``c < 0`` or ``c > n``.
    """
    c_arr = np.asarray(c)
    n_arr = np.broadcast_to(np.asarray(n), c_arr.shape) if np.ndim(n) == 0 else np.asarray(n)
    if c_arr.ndim != 1 or n_arr.shape != c_arr.shape:
        raise ValueError(f"n and c must be 1-D with one entry per problem, got shapes {n_arr.shape} and {c_arr.shape}")
    for name, arr in (("n", n_arr), ("c", c_arr)):
        if arr.size and not (np.issubdtype(arr.dtype, np.integer) or np.all(np.mod(arr, 1) == 0)):
            raise ValueError(f"{name} must hold whole numbers of samples")
    n_int, c_int = n_arr.astype(np.int64), c_arr.astype(np.int64)
    if np.any(n_int < 1):
        raise ValueError(f"every problem needs n >= 1 samples; smallest n is {int(n_int.min())}")
    bad = np.flatnonzero((c_int < 0) | (c_int > n_int))
    if bad.size:
        i = int(bad[0])
        raise ValueError(f"c must lie in [0, n]; problem {i} has c={int(c_int[i])}, n={int(n_int[i])}")
    return n_int, c_int


def check_ks(ks: ArrayLike, n_min: int) -> IntArray:
    """Validate the k values against the smallest per-problem ``n``; raise ``ValueError`` for k < 1 or k > n."""
    ks_arr = np.atleast_1d(np.asarray(ks))
    if ks_arr.ndim != 1 or ks_arr.size == 0:
        raise ValueError("give at least one k")
    if not (np.issubdtype(ks_arr.dtype, np.integer) or np.all(np.mod(ks_arr, 1) == 0)):
        raise ValueError(f"k must be a whole number, got {ks_arr.tolist()}")
    ks_int = ks_arr.astype(np.int64)
    if np.any(ks_int < 1):
        raise ValueError(f"k must be >= 1, got {ks_int.tolist()}")
    if np.any(ks_int > n_min):
        raise ValueError(
            f"k={int(ks_int.max())} exceeds n={n_min} (the smallest number of samples of any problem); "
            "unbiased pass@k needs k <= n"
        )
    return ks_int


def pass_at_k_matrix(n: ArrayLike, c: ArrayLike, ks: Sequence[int] | ArrayLike) -> FloatArray:
    """Per-problem pass@k for each k: shape ``(P, len(ks))``, float64.

    ``n``: scalar or ``(P,)`` samples per problem; ``c``: ``(P,)`` correct samples per problem; ``ks``: the k values
    (any order, each 1 <= k <= min n). Column j holds ``1 - prod_{i<ks[j]} (n - c - i) / (n - i)``.
    """
    n_int, c_int = check_counts(n, c)
    if n_int.size == 0:
        return np.zeros((0, np.atleast_1d(np.asarray(ks)).size), dtype=np.float64)
    ks_int = check_ks(ks, int(n_int.min()))
    j = np.arange(int(ks_int.max()), dtype=np.float64)
    out = np.empty((n_int.size, ks_int.size), dtype=np.float64)
    for start in range(0, n_int.size, _ROWS):  # bounded memory: a (rows, k_max) block at a time
        rows = slice(start, start + _ROWS)
        wrong = (n_int[rows] - c_int[rows]).astype(np.float64)[:, None]
        # Factor (n-c-j)/(n-j); the denominator is >= 1 because j < k <= n. Clamp negatives: once n-c-j hits 0
        # the ratio C(n-c,k)/C(n,k) is exactly 0 for every larger k.
        factors = np.maximum(wrong - j, 0.0) / (n_int[rows].astype(np.float64)[:, None] - j)
        out[rows] = 1.0 - np.cumprod(factors, axis=1)[:, ks_int - 1]
    return out


def pass_at_k(n: ArrayLike, c: ArrayLike, k: int) -> FloatArray:
    """Per-problem unbiased pass@k, shape ``(P,)``; raises ``ValueError`` if ``k`` exceeds any problem's ``n``."""
    return pass_at_k_matrix(n, c, [k])[:, 0]


def pass_at_k_curve(n: ArrayLike, c: ArrayLike, ks: Sequence[int] | ArrayLike | None = None) -> FloatArray:
    """Mean pass@k over problems for each k in ``ks`` (default: every k from 1 to min n), shape ``(len(ks),)``.

    Raises ``ValueError`` for an empty problem set: a mean over no problems is undefined, and an empty graded
    file is a data bug to surface, not a 0.
    """
    n_int, c_int = check_counts(n, c)
    if n_int.size == 0:
        raise ValueError("no problems: mean pass@k is undefined")
    if ks is None:
        ks = np.arange(1, int(n_int.min()) + 1)
    return pass_at_k_matrix(n_int, c_int, ks).mean(axis=0)


def avg_at_n(n: ArrayLike, c: ArrayLike) -> float:
    """avg@n: the mean over problems of the per-problem accuracy ``c / n`` (equal to mean pass@1)."""
    n_int, c_int = check_counts(n, c)
    if n_int.size == 0:
        raise ValueError("no problems: avg@n is undefined")
    return float(np.mean(c_int / n_int))


def powers_of_two(n: int) -> list[int]:
    """The default k list of the command line: 1, 2, 4, ... up to ``n`` (``n`` itself is not added)."""
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    return [1 << i for i in range(n.bit_length())]


def log_spaced_ks(n: int, per_octave: int = 4) -> list[int]:
    """Distinct integers ``round(2**(i / per_octave))`` up to ``n``, plus ``n``: even spacing on a log-k axis.

    Used for plots and bootstrap bands, where a point per k up to 1024 would cost time and show nothing more.
    """
    if n < 1 or per_octave < 1:
        raise ValueError(f"need n >= 1 and per_octave >= 1, got n={n}, per_octave={per_octave}")
    steps = int(np.floor(np.log2(n) * per_octave)) + 1
    ks = {round(2 ** (i / per_octave)) for i in range(steps)}
    return sorted(k for k in ks | {n} if k <= n)
