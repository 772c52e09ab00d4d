"""Exact tests and Student's t for findings: the sign test, t quantiles, and the minimum detectable effect.

Why these, beside the bootstrap of :mod:`.bootstrap`:

- **Sign test.** When only a handful of problems differ between two models (at large k, the problems only one of
  them solves), a percentile bootstrap over problems is too narrow: 4 problems solved only by one model and 0 by
  the other make an interval that excludes 0, while the exact two-sided binomial test of 4 against 0 gives
  p = 0.125. Under the null that the two models are exchangeable on each problem, a problem's difference is as
  likely positive as negative, so the count of positive ones among the non-zero ones is Binomial(m, 1/2) exactly
  (Dixon & Mood, 1946, "The statistical sign test").
- **Student's t** (for intervals whose spread is estimated from few seeds): the quantile of t with ``df`` degrees
  of freedom, computed from its density (Simpson's rule on a grid fine enough for 1e-9) and bisection, so no
  statistics package is needed. Fractional ``df`` is allowed.
- **Minimum detectable effect** at 80% power for a two-sided 5% test on an estimate with standard error ``se``:
  ``(q_{0.975} + q_{0.80}) · se`` (the usual power formula; Cohen, 1988, ch. 2), with normal or t quantiles.
"""

from __future__ import annotations

import math
from functools import lru_cache
from statistics import NormalDist

import numpy as np

ALPHA = 0.05
"""Two-sided level of every test and interval of the findings (95% intervals)."""
POWER = 0.80
"""Power at which the minimum detectable effect is quoted."""


def sign_test(wins: int, losses: int) -> float:
    """Exact two-sided sign test: p-value of ``wins`` against ``losses`` under Binomial(wins + losses, 1/2).

    Ties (problems on which the two models do not differ) are left out before calling. ``p = 1`` with no
    non-zero difference at all.
    """
    if wins < 0 or losses < 0:
        raise ValueError(f"counts must be >= 0, got {wins} and {losses}")
    m, k = wins + losses, min(wins, losses)
    if m == 0:
        return 1.0
    tail = sum(math.comb(m, i) for i in range(k + 1)) / 2.0**m
    return min(1.0, 2.0 * tail)


def signs(differences: np.ndarray) -> tuple[int, int]:
    """(number of positive, number of negative) entries of ``differences``; zeros are ties."""
    d = np.asarray(differences, dtype=np.float64)
    return int((d > 0).sum()), int((d < 0).sum())


def t_cdf(t: float, df: float) -> float:
    """P(T <= t) for Student's t with ``df`` >= 1 degrees of freedom.

    Simpson's rule on the density: over [0, |t|] for |t| <= 1, and for |t| > 1 over the tail written in
    ``u = 1 / x`` (the integrand ``f(1/u) / u²`` is bounded on [0, 1/|t|] when df >= 1), so far tails (the 1e-7
    quantiles of one degree of freedom lie near 6e5) are as accurate as the centre.
    """
    if df < 1:
        raise ValueError(f"degrees of freedom must be >= 1, got {df}")
    x = abs(float(t))
    if x == 0.0:
        return 0.5
    if math.isinf(x):
        return 1.0 if t > 0 else 0.0
    if df in (1, 2):  # closed forms (Cauchy; t_2), exact to the last bit
        upper = math.atan(x) / math.pi if df == 1 else x / (2.0 * math.sqrt(2.0 + x * x))
        return 0.5 + upper if t > 0 else 0.5 - upper
    log_norm = math.lgamma((df + 1) / 2) - math.lgamma(df / 2) - 0.5 * math.log(df * math.pi)
    steps = 400
    if x <= 1.0:
        grid = np.linspace(0.0, x, steps + 1)
        values = np.exp(log_norm - (df + 1) / 2 * np.log1p(grid**2 / df))
        upper = 0.5 - _simpson(values, x / steps)
    else:
        u = np.linspace(0.0, 1.0 / x, steps + 1)
        inner = u[1:]
        # f(1/u) / u² = C · u^(df - 1) · (u² + 1/df)^(-(df + 1)/2): bounded, and C · df^((df + 1)/2) at u = 0 for df = 1
        logs = log_norm + (df - 1) * np.log(inner) - (df + 1) / 2 * np.log(inner**2 + 1.0 / df)
        at_zero = math.exp(log_norm + (df + 1) / 2 * math.log(df)) if df == 1 else 0.0
        values = np.concatenate([[at_zero], np.exp(logs)])
        upper = _simpson(values, (1.0 / x) / steps)
    upper = min(max(float(upper), 0.0), 0.5)
    return 1.0 - upper if t > 0 else upper


def _simpson(values: np.ndarray, h: float) -> float:
    """Simpson's rule over equally spaced ``values`` (an odd count) with spacing ``h``."""
    return float(h / 3 * (values[0] + values[-1] + 4 * values[1:-1:2].sum() + 2 * values[2:-1:2].sum()))


def t_density(t: float, df: float) -> float:
    """The density of Student's t with ``df`` degrees of freedom at ``t``."""
    log_norm = math.lgamma((df + 1) / 2) - math.lgamma(df / 2) - 0.5 * math.log(df * math.pi)
    return math.exp(log_norm - (df + 1) / 2 * math.log1p(t * t / df))


@lru_cache(maxsize=4096)
def t_quantile(q: float, df: float) -> float:
    """The ``q`` quantile of Student's t with ``df`` degrees of freedom (``math.inf`` df: the normal's).

    Newton's method on :func:`t_cdf` from the normal quantile, kept inside a bracket that bisection shrinks
    whenever a Newton step would leave it.
    """
    if not 0.0 < q < 1.0:
        raise ValueError(f"q must be in (0, 1), got {q}")
    if math.isinf(df):
        return NormalDist().inv_cdf(q)
    target = max(q, 1.0 - q)
    lo, hi = 0.0, max(1.0, NormalDist().inv_cdf(target))
    while t_cdf(hi, df) < target and hi < 1e15:
        lo, hi = hi, 2.0 * hi
    x = hi
    for _ in range(200):
        error = t_cdf(x, df) - target
        if error > 0:
            hi = x
        else:
            lo = x
        if abs(error) < 1e-14 or hi - lo < 1e-12 * max(1.0, hi):
            break
        density = t_density(x, df)
        step = x - error / density if density > 0 else math.nan
        x = step if lo < step < hi else 0.5 * (lo + hi)
    return x if q >= 0.5 else -x


def minimum_detectable_effect(se: float, df: float = math.inf, alpha: float = ALPHA, power: float = POWER) -> float:
    """The smallest true effect a two-sided level-``alpha`` test detects with probability ``power``, for an
    estimate with standard error ``se`` (t quantiles with ``df`` degrees of freedom; normal by default)."""
    if se < 0 or math.isnan(se):
        return float("nan")
    return (t_quantile(1.0 - alpha / 2.0, df) + t_quantile(power, df)) * se
