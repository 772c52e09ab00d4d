"""Plots of the report, one function per figure, each returning a matplotlib ``Figure``.

Figures are built with ``matplotlib.figure.Figure`` directly, never ``pyplot``: no global figure registry, no
interactive backend, nothing to close, safe in threads and tests. :func:`figure_png` renders one with Agg.
"""

from __future__ import annotations

import fnmatch
import io
from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from rlvr_lab.analysis.comparison import ModelComparison
from rlvr_lab.analysis.perplexity import PerplexityMatrix
from rlvr_lab.analysis.switches import SwitchTable
from rlvr_lab.metrics import AccuracyHistogram, Coverage
from rlvr_lab.report.runs import TrainingRun

TRAINING_PANELS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Accuracy", ("*accuracy",)),
    ("Reward", ("reward/mean",)),
    ("Code frequency", ("*code_frequency",)),
    ("Clip fraction", ("*clip_frac*",)),
)
"""(panel title, ``fnmatch`` patterns of the metrics.jsonl keys drawn in it)."""

COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#7f7f7f")


def figure_png(fig: Figure, dpi: int = 110) -> bytes:
    """Render a figure to PNG bytes (Agg)."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight")
    return buffer.getvalue()


def is_sparse(points: int, densest: int) -> bool:
    """A series with at most a quarter of the points of the densest one beside it (or at most 3) is drawn as
    markers: a line through two evaluations would suggest a trajectory that was never measured."""
    return points <= 3 or 4 * points <= densest


def plot_training_curves(run: TrainingRun) -> Figure:
    """One run's logged curves: accuracy, reward, code frequency and clip fractions against the step.

    Each panel draws every key matching its patterns (e.g. ``eval/accuracy`` and ``train/accuracy``); a panel
    with no logged key says so instead of staying blank.
    """
    fig = Figure(figsize=(11, 2.8))
    axes = fig.subplots(1, len(TRAINING_PANELS))
    for ax, (title, patterns) in zip(axes, TRAINING_PANELS, strict=True):
        keys = sorted(k for k in run.series if any(fnmatch.fnmatch(k, p) for p in patterns))
        densest = max((run.series[key].steps.size for key in keys), default=0)
        for color, key in zip(COLORS, keys, strict=False):
            s = run.series[key]
            if is_sparse(s.steps.size, densest):  # a few evaluation points: markers, no line drawn between them
                ax.plot(s.steps, s.values, color=color, marker="o", markersize=4, linestyle="none", label=key)
            else:
                ax.plot(s.steps, s.values, color=color, marker="." if s.steps.size < 30 else None, label=key)
        if keys:
            ax.legend(fontsize=7, loc="best")
        else:
            ax.text(0.5, 0.5, "not logged", ha="center", va="center", transform=ax.transAxes, color="gray")
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("step", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.3)
    fig.suptitle(run.name, fontsize=11)
    fig.tight_layout()
    return fig


def training_curves_png(runs: Sequence[TrainingRun], processes: int = 1) -> list[bytes]:
    """Each run's :func:`plot_training_curves` as PNG bytes, in order, rendered in ``processes`` spawned processes
    when more than one: the demo's 75 figures took about 30 s in one, the report's last step, after every job has
    finished and the cores are free. Agg renders the same bytes in any process."""
    if processes <= 1 or len(runs) < 2:
        return [_training_curves_png(run) for run in runs]
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    context = multiprocessing.get_context("spawn")  # no fork of a parent that may hold torch's thread pools
    with ProcessPoolExecutor(min(processes, len(runs)), mp_context=context) as pool:
        return list(pool.map(_training_curves_png, runs, chunksize=max(1, len(runs) // (4 * processes))))


def _training_curves_png(run: TrainingRun) -> bytes:
    return figure_png(plot_training_curves(run))


def plot_passk(comparison: ModelComparison) -> Figure:
    """pass@k of both models on a log-k axis, with bootstrap bands and the crossover k marked."""
    fig = Figure(figsize=(6.4, 4.2))
    ax = fig.subplots()
    for color, label, curve in (
        (COLORS[0], comparison.label_a, comparison.curve_a),
        (COLORS[1], comparison.label_b, comparison.curve_b),
    ):
        ax.plot(curve.ks, curve.values, color=color, label=f"{label} (n={int(curve.ks[-1])})")
        ax.fill_between(curve.band_ks, curve.lo, curve.hi, color=color, alpha=0.2, linewidth=0)
    if comparison.crossover_k is not None:
        ax.axvline(comparison.crossover_k, color="gray", linestyle="--", linewidth=1)
        ax.annotate(
            f"crossover k≈{comparison.crossover_k:.1f}",
            (comparison.crossover_k, 0.02),
            fontsize=8,
            color="gray",
            xytext=(4, 0),
            textcoords="offset points",
        )
    ax.set_xscale("log", base=2)
    ax.xaxis.set_major_formatter(FuncFormatter(lambda k, _: f"{k:g}"))  # 1, 2, 4, ... rather than 2^0, 2^1
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("k (samples)")
    ax.set_ylabel("pass@k")
    ax.set_title(f"pass@k on {comparison.problems} problems (bands: bootstrap 95% over problems)", fontsize=9)
    ax.grid(alpha=0.3, which="both")
    ax.legend(loc="upper left")  # curves rise from the lower left; this corner stays clear
    fig.tight_layout()
    return fig


def plot_accuracy_histograms(histograms: Mapping[str, AccuracyHistogram]) -> Figure:
    """Share of problems per accuracy bin, one bar group per bin and one bar per model."""
    if not histograms:
        raise ValueError("no histograms to plot")
    labels = next(iter(histograms.values())).labels
    fig = Figure(figsize=(8, 3.6))
    ax = fig.subplots()
    width = 0.8 / len(histograms)
    x = np.arange(len(labels))
    for i, (name, hist) in enumerate(histograms.items()):
        if hist.labels != labels:
            raise ValueError(f"histogram {name!r} has different bins")
        ax.bar(x + (i - (len(histograms) - 1) / 2) * width, hist.fractions(), width, label=name, color=COLORS[i % 8])
    ax.set_xticks(x, labels, rotation=45, ha="right", fontsize=8)
    ax.set_ylabel("share of problems")
    ax.set_xlabel("per-problem accuracy (0 and 1 exact)")
    ax.grid(alpha=0.3, axis="y")
    ax.legend()
    fig.tight_layout()
    return fig


def plot_coverage(cov: Coverage, label_a: str, label_b: str) -> Figure:
    """Problems solved (>= 1 correct sample) by both models, only one, or neither."""
    names = ("both", f"only {label_a}", f"only {label_b}", "neither")
    counts = (cov.both, cov.only_a, cov.only_b, cov.neither)
    fig = Figure(figsize=(6, 2.6))
    ax = fig.subplots()
    bars = ax.barh(names[::-1], counts[::-1], color=["#bbbbbb", COLORS[1], COLORS[0], "#4c9f70"])
    ax.bar_label(bars, fontsize=8, padding=2)
    ax.set_xlabel("problems")
    ax.set_title(f"coverage: {label_a} vs {label_b}", fontsize=10)
    ax.grid(alpha=0.3, axis="x")
    fig.tight_layout()
    return fig


def plot_strategy_switches(table: SwitchTable, title: str = "") -> Figure:
    """Left: problems per switch group; right: accuracy before/after per group, with the partial contribution."""
    names = [g.name for g in table.groups]
    fig = Figure(figsize=(9, 3.2))
    left, right = fig.subplots(1, 2)
    bars = left.bar(names, [g.problems for g in table.groups], color=COLORS[:4])
    left.bar_label(bars, fontsize=8)
    left.set_ylabel("problems")
    left.set_title("strategy switches (majority label)", fontsize=9)
    x = np.arange(len(names))
    right.bar(x - 0.2, [g.acc_before for g in table.groups], 0.4, label="before", color="#999999")
    right.bar(x + 0.2, [g.acc_after for g in table.groups], 0.4, label="after", color=COLORS[0])
    ticks = [
        name if np.isnan(g.contribution) else f"{name}\nC={g.contribution:+.0%}"
        for name, g in zip(names, table.groups, strict=True)
    ]
    right.set_xticks(x, ticks)
    right.set_ylim(0, 1.25)
    right.set_ylabel("accuracy")
    right.set_title("accuracy per group, C = partial contribution", fontsize=9)
    right.legend(fontsize=8, loc="upper center", ncol=2)
    for ax in (left, right):
        ax.tick_params(labelsize=8)
        ax.grid(alpha=0.3, axis="y")
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def plot_perplexity_matrix(matrix: PerplexityMatrix) -> Figure:
    """Heat map of perplexity: rows = whose responses, columns = scoring model; log colour scale."""
    fig = Figure(figsize=(1.6 + 1.1 * len(matrix.scorers), 1.2 + 0.8 * len(matrix.sources)))
    ax = fig.subplots()
    logs = np.log(matrix.values)
    image = ax.imshow(logs, cmap="viridis_r", aspect="auto")
    low, high = float(logs.min()), float(logs.max())
    for i in range(len(matrix.sources)):
        for j in range(len(matrix.scorers)):
            light = high == low or (logs[i, j] - low) / (high - low) < 0.5  # viridis_r is light at the low end
            color = "black" if light else "white"
            ax.text(j, i, f"{matrix.values[i, j]:.3g}", ha="center", va="center", color=color, fontsize=9)
    ax.set_xticks(range(len(matrix.scorers)), matrix.scorers, fontsize=8)
    ax.set_yticks(range(len(matrix.sources)), matrix.sources, fontsize=8)
    ax.set_xlabel("scored by")
    ax.set_ylabel("responses of")
    fig.colorbar(image, ax=ax, label="log perplexity")
    fig.tight_layout()
    return fig


def plot_spurious_summary(
    changes: Mapping[str, Mapping[str, tuple[float, float]]], spread: tuple[float, float] | None = None
) -> Figure:
    """The spurious-rewards table at a glance: Δ accuracy and Δ code frequency per reward, one bar per model.

    ``changes`` maps model -> reward -> (Δ accuracy, Δ code frequency); ``spread`` (the seed-to-seed standard
    deviation of the same two changes, when measured) is drawn as a grey band around 0, the size a change must
    exceed to be told from noise.
    """
    models = list(changes)
    rewards = list(dict.fromkeys(reward for per_model in changes.values() for reward in per_model))
    fig = Figure(figsize=(11, 3.4))
    axes = fig.subplots(1, 2)
    x = np.arange(len(rewards))
    width = 0.8 / max(1, len(models))
    for panel, (ax, title) in enumerate(zip(axes, ("Δ held-out accuracy", "Δ code frequency"), strict=True)):
        if spread is not None and np.isfinite(spread[panel]):
            ax.axhspan(-spread[panel], spread[panel], color="#dddddd", label="± seed spread (random:0.5, clip)")
        for i, model in enumerate(models):
            values = [changes[model].get(reward, (np.nan, np.nan))[panel] for reward in rewards]
            offset = (i - (len(models) - 1) / 2) * width
            ax.bar(x + offset, values, width, label=model, color=COLORS[i % len(COLORS)])
        ax.axhline(0, color="black", linewidth=0.8)
        ax.set_xticks(x, rewards, rotation=20, ha="right", fontsize=8)
        ax.set_title(title, fontsize=10)
        ax.tick_params(labelsize=8)
        ax.grid(alpha=0.3, axis="y")
    axes[0].legend(fontsize=8, loc="best")
    fig.tight_layout()
    return fig


Band = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]
"""(x, values, lo, hi) of one line with its interval."""


def plot_over_steps(series: Mapping[str, Band], title: str, ylabel: str = "pass@k") -> Figure:
    """Lines against the training step, each with error bars (e.g. pass@1 and pass@256 per checkpoint with
    intervals paired against the step-0 model)."""
    fig = Figure(figsize=(6.4, 4.0))
    ax = fig.subplots()
    for color, (label, (x, values, lo, hi)) in zip(COLORS, series.items(), strict=False):
        err = np.vstack([np.asarray(values) - np.asarray(lo), np.asarray(hi) - np.asarray(values)])
        ax.errorbar(x, values, yerr=err, color=color, marker="o", capsize=3, label=label)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("training step")
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(loc="best", fontsize=8)
    fig.tight_layout()
    return fig


def plot_arms_over_seeds(
    arms: Mapping[str, Sequence[TrainingRun]],
    keys: Sequence[tuple[str, str]] = (
        ("train/accuracy", "training accuracy"),
        ("strategy/code_frequency", "code frequency"),
    ),
) -> Figure:
    """Each arm's curves over training steps: the mean over its seeds as a line, the min-max range as a band.

    ``arms`` maps arm name -> its runs (one per seed); ``keys`` are (metrics.jsonl key, panel title). Steps are
    those every seed of the arm logged.
    """
    fig = Figure(figsize=(11, 3.4))
    axes = fig.subplots(1, len(keys))
    for ax, (key, title) in zip(np.atleast_1d(axes), keys, strict=True):
        for i, (arm, runs) in enumerate(arms.items()):
            series = [run.series[key] for run in runs if key in run.series]
            if not series:
                continue
            steps = sorted(set.intersection(*(set(s.steps.tolist()) for s in series)))
            values = np.array([[dict(zip(s.steps.tolist(), s.values.tolist(), strict=True))[t] for t in steps]
                               for s in series])  # fmt: skip
            color = COLORS[i % len(COLORS)]
            ax.plot(steps, values.mean(axis=0), color=color, label=f"{arm} ({len(series)} seeds)")
            ax.fill_between(steps, values.min(axis=0), values.max(axis=0), color=color, alpha=0.18, linewidth=0)
        ax.set_title(f"{title}: mean over seeds, band = min-max", fontsize=10)
        ax.set_xlabel("step", fontsize=8)
        ax.tick_params(labelsize=8)
        ax.grid(alpha=0.3)
    np.atleast_1d(axes)[0].legend(fontsize=8, loc="best")
    fig.tight_layout()
    return fig


def plot_passk_curves(curves: Mapping[str, Band], title: str) -> Figure:
    """pass@k of several models on a log-k axis, each with its bootstrap band (empty lo/hi: no band)."""
    fig = Figure(figsize=(6.4, 4.2))
    ax = fig.subplots()
    for color, (label, (ks, values, lo, hi)) in zip(COLORS, curves.items(), strict=False):
        ax.plot(ks, values, color=color, label=label)
        if len(lo) == len(ks):
            ax.fill_between(ks, lo, hi, color=color, alpha=0.15, linewidth=0)
    ax.set_xscale("log", base=2)
    ax.xaxis.set_major_formatter(FuncFormatter(lambda k, _: f"{k:g}"))
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("k (samples)")
    ax.set_ylabel("pass@k")
    ax.set_title(title, fontsize=9)
    ax.grid(alpha=0.3, which="both")
    ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    return fig


def plot_paired_effects(effects: Mapping[str, tuple[float, float, float]], title: str, xlabel: str) -> Figure:
    """Horizontal bars of effects with their 95% intervals (one per arm or profile), a line at 0."""
    fig = Figure(figsize=(6.4, 0.6 * len(effects) + 1.4))
    ax = fig.subplots()
    labels = list(effects)
    values = np.array([effects[k][0] for k in labels])
    lo = np.array([effects[k][1] for k in labels])
    hi = np.array([effects[k][2] for k in labels])
    y = np.arange(len(labels))
    colors = [COLORS[0] if v >= 0 else COLORS[1] for v in values]
    ax.barh(y, values, color=colors, alpha=0.7)
    ax.errorbar(values, y, xerr=np.vstack([values - lo, hi - values]), fmt="none", color="black", capsize=3)
    ax.axvline(0, color="gray", linewidth=1)
    ax.set_yticks(y, labels, fontsize=8)
    ax.set_xlabel(xlabel)
    ax.set_title(title, fontsize=9)
    ax.grid(alpha=0.3, axis="x")
    fig.tight_layout()
    return fig
