"""Metrics over graded samples: pure functions over per-problem arrays, plus one loader at the I/O edge.

- :mod:`.passk`: unbiased pass@k (product form, float64) for every k <= n, avg@n;
- :mod:`.majority`: maj@k (first k samples) and its expected value over random k-subsets;
- :mod:`.bootstrap`: bootstrap bands over problems and paired CIs for the difference of two models;
- :mod:`.histogram`: per-problem accuracy histograms with exactly-0 and exactly-1 bins;
- :mod:`.boundary`: coverage sets, crossover k of two pass@k curves, ΔSE;
- :mod:`.graded`: graded Parquet file -> per-problem ``(n, c)`` arrays and answers.
"""

from rlvr_lab.metrics.bootstrap import BootstrapCI, bootstrap_mean_band, paired_bootstrap_diff
from rlvr_lab.metrics.boundary import Coverage, coverage, crossover_k, delta_se
from rlvr_lab.metrics.graded import GradedSamples, load_graded
from rlvr_lab.metrics.histogram import AccuracyHistogram, accuracy_histogram
from rlvr_lab.metrics.majority import expected_maj_at_k, maj_at_k, maj_at_k_matrix
from rlvr_lab.metrics.passk import (
    avg_at_n,
    log_spaced_ks,
    pass_at_k,
    pass_at_k_curve,
    pass_at_k_matrix,
    powers_of_two,
)

__all__ = [
    "AccuracyHistogram",
    "BootstrapCI",
    "Coverage",
    "GradedSamples",
    "accuracy_histogram",
    "avg_at_n",
    "bootstrap_mean_band",
    "coverage",
    "crossover_k",
    "delta_se",
    "expected_maj_at_k",
    "load_graded",
    "log_spaced_ks",
    "maj_at_k",
    "maj_at_k_matrix",
    "paired_bootstrap_diff",
    "pass_at_k",
    "pass_at_k_curve",
    "pass_at_k_matrix",
    "powers_of_two",
]
