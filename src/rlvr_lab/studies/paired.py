"""Paired intervals for findings: a per-problem difference, over problems and, for training arms, seeds.

Two models evaluated on the same problems with the same sampling seed differ per problem by ``d_p``; two training
arms run on the same seeds (or an arm against the base evaluation it shares) differ per seed *and* problem by
``d_{s,p}``. Each finding gets its interval and its p-value from one method:

- evaluation differences (:func:`over_problems`): the wider bounds of the project's percentile bootstrap over
  problems (:func:`~rlvr_lab.metrics.bootstrap.resampled_means`, Efron & Tibshirani, 1993) and the t interval over
  problems, p the larger of the two tests' (the bootstrap's: twice the smaller share of resampled means on either
  side of 0). Simulated at the boundary's size (500 problems × 1,024 samples, ``rlvr study calibration``), the
  bootstrap alone covered 93.3% of a known effect, the t interval 94.7%. Such an interval carries the
  evaluation's sampling noise and the choice of problems, not the training's seed: a training claim read from it
  (one seed) is marked ``noise_only`` and gets no verdict.
- training arms (:func:`over_seeds_and_problems`): a t interval over seeds and problems. With the two-way mean
  squares of the (S, P) matrix, ``MS_seeds = P · var(row means)`` and ``MS_problems = S · var(column means)``, the
  half-width is ``sqrt(t²_{S-1} · MS_seeds + t²_{P-1} · MS_problems) / sqrt(S · P)`` (t quantiles at 97.5%): each
  source of variation is scaled by the t quantile of its own degrees of freedom, so 5 seeds get t_4 = 2.78, not
  the normal's 1.96. The variance is the two-way random-effects variance of the grand mean, σ²_seed/S +
  σ²_problem/P + σ²_residual/(SP), with the residual counted twice (as a bootstrap over both factors also does,
  Owen 2007, "The pigeonhole bootstrap"), so the interval errs wide. Simulated through this function
  (``rlvr study calibration``), it covers 95.3-97.9% with 5 seeds, where the percentile bootstrap over seeds and
  problems (:func:`seeds_problems_interval`, kept for that comparison) covered 91-93%.

One seed gives no seed term: the interval is the evaluation's alone, and the finding is ``noise_only``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import replace

import numpy as np
from numpy.typing import ArrayLike

from rlvr_lab.metrics.bootstrap import resampled_means
from rlvr_lab.metrics.passk import pass_at_k
from rlvr_lab.metrics.significance import ALPHA, POWER, sign_test, t_cdf, t_quantile
from rlvr_lab.studies.verdict import Claim, Finding

RESAMPLES = 10_000
CONFIDENCE = 1.0 - ALPHA


def bootstrap_p(means: np.ndarray) -> float:
    """Two-sided bootstrap p-value of "mean = 0": twice the smaller share of resampled means on either side."""
    values = np.asarray(means, dtype=np.float64)
    return float(min(1.0, 2.0 * min(np.mean(values <= 0.0), np.mean(values >= 0.0))))


def over_problems(
    claim: Claim,
    a: ArrayLike,
    b: ArrayLike,
    detail: str = "",
    note: str = "",
    noise_only: bool = False,
    resamples: int = RESAMPLES,
) -> Finding:
    """``b − a`` averaged over problems (same problems, same order): the wider bounds of the paired percentile
    bootstrap and the t interval over problems, p the larger of the two tests' (module docstring).

    ``noise_only``: the claim is about training but ``a`` and ``b`` come from one training seed (the finding
    then prints its interval with no verdict).
    """
    a_arr, b_arr = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a_arr.ndim != 1 or a_arr.shape != b_arr.shape or a_arr.size == 0:
        raise ValueError(f"a and b must be 1-D over the same problems, got shapes {a_arr.shape} and {b_arr.shape}")
    d = b_arr - a_arr
    P, mean = d.size, float(d.mean())
    means = resampled_means(d, resamples, seed=0)[:, 0]
    tail = ALPHA / 2.0
    low, high = (float(v) for v in np.quantile(means, [tail, 1.0 - tail]))
    p = bootstrap_p(means)
    se = float(np.std(d, ddof=1) / math.sqrt(P)) if P > 1 else math.nan
    if P > 1:
        q = t_quantile(1.0 - tail, P - 1)
        low, high = min(low, mean - q * se), max(high, mean + q * se)
        # no spread: a difference that is the same on every problem is certain (p 0), unless it is 0 (p 1)
        t_p = float(mean == 0) if se == 0 else 2.0 * (1.0 - t_cdf(abs(mean) / se, P - 1))
        p = max(p, t_p)
    mde = (t_quantile(1.0 - tail, math.inf) + t_quantile(POWER, math.inf)) * se
    interval = f"paired bootstrap ∪ t over {P} problems" + (f" ({note})" if note else "")
    return Finding(claim, mean, low, high, interval, detail, p, noise_only=noise_only, mde=mde)


def at_large_k(
    claim: Claim, base_c: ArrayLike, rl_c: ArrayLike, samples: int, k: int, resamples: int = RESAMPLES
) -> Finding:
    """pass@k of the base − the RL model per problem (``base_c``, ``rl_c``: correct samples of ``samples`` per
    problem), judged as the boundary's large-k claim: :func:`over_problems`, and the exact sign test on the problems
    only one of the two models solves, because at large k the few problems that differ are heavy-tailed (a problem
    one model solves once in 256 samples) and 4 against 0 would otherwise pass; ``p_value`` is the largest of the
    tests' p-values, so "reproduced" needs all of them.
    """
    base, rl = np.asarray(base_c), np.asarray(rl_c)
    found = over_problems(claim, pass_at_k(samples, rl, k), pass_at_k(samples, base, k), resamples=resamples)
    only_base, only_rl = int(((base > 0) & (rl == 0)).sum()), int(((rl > 0) & (base == 0)).sum())
    sign_p = sign_test(only_base, only_rl)
    return replace(
        found,
        interval=f"{found.interval}, exact sign test on the {only_base + only_rl} problems one model solves",
        detail=f"solved only by base {only_base}, only by RL {only_rl}: sign test p = {sign_p:.3g}; "
        f"bootstrap ∪ t p = {found.p_value:.3g}",
        p_value=max(found.p_value, sign_p),
    )


def mean_squares(matrix: ArrayLike) -> tuple[float, float]:
    """``(MS_seeds, MS_problems)`` of an (S, P) matrix with S, P >= 2: ``P · var(row means)``, ``S · var(column
    means)`` (ddof 1)."""
    values = np.asarray(matrix, dtype=np.float64)
    S, P = values.shape
    if S < 2 or P < 2:
        raise ValueError(f"need at least 2 seeds and 2 problems, got {S} × {P}")
    return float(P * values.mean(axis=1).var(ddof=1)), float(S * values.mean(axis=0).var(ddof=1))


def seeds_problems_half_width(ms_seeds: float, ms_problems: float, S: int, P: int, q: float) -> float:
    """Half-width of the two-sided interval at quantile ``q`` (0.975 for 95%) of the t interval over seeds and
    problems (module docstring)."""
    return math.sqrt(t_quantile(q, S - 1) ** 2 * ms_seeds + t_quantile(q, P - 1) ** 2 * ms_problems) / math.sqrt(S * P)


def seeds_problems_t(matrix: ArrayLike, p_value: bool = True) -> tuple[float, float, float, float]:
    """``(low, high, p, mde)`` of the mean of ``matrix`` (S, P): the t interval over seeds and problems, its
    two-sided p-value (the level at which the interval's bound reaches 0, found by bisection; NaN when
    ``p_value`` is False) and the minimum detectable effect at 80% power."""
    values = np.asarray(matrix, dtype=np.float64)
    S, P = values.shape
    ms_s, ms_p = mean_squares(values)
    mean = float(values.mean())
    half = seeds_problems_half_width(ms_s, ms_p, S, P, 1.0 - ALPHA / 2.0)
    power = math.sqrt(
        (t_quantile(1 - ALPHA / 2, S - 1) + t_quantile(POWER, S - 1)) ** 2 * ms_s
        + (t_quantile(1 - ALPHA / 2, P - 1) + t_quantile(POWER, P - 1)) ** 2 * ms_p
    ) / math.sqrt(S * P)
    p = math.nan
    if p_value:
        p = 1.0 if mean == 0.0 else _inverted_p(abs(mean), ms_s, ms_p, S, P)
    return mean - half, mean + half, p, power


def _inverted_p(effect: float, ms_s: float, ms_p: float, S: int, P: int) -> float:
    """The two-sided level α at which the half-width equals ``effect`` (bisection on log α; at least 1e-6)."""
    if ms_s + ms_p == 0.0:
        return 0.0

    def half(alpha: float) -> float:
        return seeds_problems_half_width(ms_s, ms_p, S, P, 1.0 - alpha / 2.0)

    if half(1.0 - 1e-9) >= effect:
        return 1.0
    lo, hi = -6.0, 0.0  # log10 α: the half-width falls as α grows; below 1e-6 the t quantiles are not resolved
    if half(10.0**lo) <= effect:
        return 10.0**lo
    for _ in range(30):
        mid = 0.5 * (lo + hi)
        if half(10.0**mid) > effect:
            lo = mid
        else:
            hi = mid
    return 10.0 ** (0.5 * (lo + hi))


def over_seeds_and_problems(
    claim: Claim, diffs: Mapping[int, ArrayLike], what: str = "", p_value: bool = True, resamples: int = RESAMPLES
) -> Finding:
    """Mean of ``diffs[seed]`` (a (P,) per-problem difference per seed) with the t interval over seeds and problems.

    ``detail`` lists each seed's mean difference (``what`` names it, e.g. "clip − no-clip Δ accuracy"). One seed:
    the interval over its problems alone (``resamples`` bootstrap resamples), marked ``noise_only`` (no verdict).
    """
    seeds = sorted(diffs)
    matrix = np.stack([np.asarray(diffs[s], dtype=np.float64) for s in seeds])  # (S, P)
    if matrix.ndim != 2 or matrix.shape[1] == 0:
        raise ValueError(f"need one (P,) difference per seed, got shape {matrix.shape}")
    per_seed = matrix.mean(axis=1)
    detail = (f"{what}: " if what else "") + ", ".join(f"s{s} {v:+.3f}" for s, v in zip(seeds, per_seed, strict=True))
    S, P = matrix.shape
    if S < 2:
        return over_problems(claim, np.zeros(P), matrix[0], detail, "one training seed", True, resamples)
    low, high, p, mde = seeds_problems_t(matrix, p_value)
    interval = f"t over {S} seeds × {P} problems"
    return Finding(claim, float(matrix.mean()), low, high, interval, detail, p, mde=mde)


def seeds_problems_interval(matrix: ArrayLike, resamples: int = RESAMPLES, seed: int = 0) -> tuple[float, float]:
    """The percentile bootstrap over seeds and problems (rows and columns resampled independently), the findings'
    interval for training arms before the t interval; kept so ``rlvr study calibration`` can show its coverage.

    A resample's mean is ``(u @ matrix @ v)`` with ``u``, ``v`` multinomial counts over seeds and problems divided
    by S and P, so no (S, P) resample is ever built.
    """
    values = np.asarray(matrix, dtype=np.float64)
    S, P = values.shape
    rng = np.random.default_rng(seed)
    u = rng.multinomial(S, np.full(S, 1.0 / S), size=resamples) / S  # (R, S)
    v = rng.multinomial(P, np.full(P, 1.0 / P), size=resamples) / P  # (R, P)
    means = np.einsum("rs,sp,rp->r", u, values, v)
    tail = ALPHA / 2.0
    low, high = np.quantile(means, [tail, 1.0 - tail])
    return float(low), float(high)


def mean_of(arrays: Sequence[ArrayLike]) -> np.ndarray:
    """Element-wise mean of several (P,) arrays (e.g. one change per training signal)."""
    return np.mean(np.stack([np.asarray(a, dtype=np.float64) for a in arrays]), axis=0)
