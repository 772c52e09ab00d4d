"""Six RL algorithms on one organism: do they all stay below the base model's pass@k at large k?

Yue et al. (2025, §4.4, Fig. 8): PPO, GRPO, REINFORCE++, RLOO, ReMax and DAPO reach similar pass@1 and all stay
far from the base model's pass@k at large k; their sampling-efficiency gap ``ΔSE = pass@k(base) − pass@1(RL)``
at large k is similar and clearly positive. The study trains each algorithm (:data:`rlvr_lab.rl.algorithms.ALGORITHMS`)
from the same base with the same settings (ground-truth reward, same steps, prompts, group size, learning rate and
seed, hence the same number of sampled responses, plus ReMax's one greedy response per prompt), evaluates base and
every final policy with the same samples per problem and sampling seed, and reports pass@1, pass@n and ΔSE, each
with a paired bootstrap interval over problems.

Findings, their criteria fixed here: for each algorithm, ΔSE > 0 (the interval above 0); and "they perform
alike": the range of the six ΔSE (max − min) lies below :data:`ALIKE_TOLERANCE`, judged on the joint bootstrap of
the range (the same problem resample for every algorithm).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from rich.console import Console

from rlvr_lab.metrics.bootstrap import resampled_means
from rlvr_lab.report import Table
from rlvr_lab.rl.algorithms import ALGORITHMS
from rlvr_lab.studies.output import (
    RESAMPLES,
    curve_band,
    ensure_trained,
    eval_store,
    evaluate_model,
    per_problem_pass,
    rl_run,
    run_label,
    write_study,
)
from rlvr_lab.studies.paired import over_problems
from rlvr_lab.studies.settings import BASE_SEED, EvalSettings, TrainingSettings
from rlvr_lab.studies.verdict import Claim, Finding

NAME = "algorithms"
PAPER = "Yue et al., 2025 (six RL algorithms)"
ALIKE_TOLERANCE = 0.05
"""ΔSE of the algorithms "alike": their range is below this (pass@k points)."""


@dataclass(frozen=True)
class AlgorithmsConfig:
    """The base model, the algorithms, and the shared training and evaluation settings."""

    model: str = "qwen-math-like"
    """The base model (an organism profile or a model folder)."""
    algorithms: tuple[str, ...] = ("grpo", "rloo", "reinforce_pp", "remax", "ppo", "dapo")
    training: TrainingSettings = field(default_factory=lambda: TrainingSettings(steps=50))
    """Shared by every algorithm's run (ground-truth reward, clip preset's schedule)."""
    seed: int = 0
    problems: int = 60
    """The first N organism test problems."""
    samples: int = 256
    """Samples per problem of every evaluation; the large k of pass@k and ΔSE."""

    def __post_init__(self) -> None:
        for name in self.algorithms:
            ALGORITHMS.get(name)


def run_algorithms_study(config: AlgorithmsConfig, root: Path, console: Console | None = None) -> Path:
    """Train, evaluate and compare every algorithm (see the module docstring) under ``root``; return the summary's
    path (``ROOT/algorithms/summary.json``)."""
    console = console or Console(stderr=True)
    root = Path(root)
    t = config.training
    evaluation = EvalSettings(problems=config.problems, samples=config.samples)  # sampling seed 0, temperature 1
    problems, sampling = evaluation.problem_set(), evaluation.sampling(t.max_new_tokens)
    console.print(f"[bold]six algorithms[/] on {config.model}: {', '.join(config.algorithms)} → {root / NAME}")
    base_store = eval_store(root, config.model, problems, sampling)
    base = evaluate_model(config.model, problems, sampling, base_store, console=console)
    n = config.samples
    base1, basen = per_problem_pass(base, 1), per_problem_pass(base, n)
    curves = {"base": curve_band(base)}
    rows = [("base", None, float(base1.mean()), None, float(basen.mean()), None, None)]
    findings: list[Finding] = []
    gaps = []
    for name in config.algorithms:
        run = rl_run(root, config.model, t, name, config.seed)
        store = eval_store(root, run_label(run), problems, sampling)
        graded = evaluate_model(str(ensure_trained(run, console)), problems, sampling, store, console=console)
        graded = graded.aligned(base.problem_ids, other=str(base.path))
        p1, pn = per_problem_pass(graded, 1), per_problem_pass(graded, n)
        curves[name] = curve_band(graded)
        gap = over_problems(_gap_claim(name, n), p1, basen)
        d1 = over_problems(Claim(PAPER, "", "Δ pass@1 vs base"), base1, p1)
        dn = over_problems(Claim(PAPER, "", f"Δ pass@{n} vs base"), basen, pn)
        budget = t.steps * run.prompts_per_step * (run.group_size + (name == "remax"))
        rows.append((name, budget, float(p1.mean()), d1.observed(), float(pn.mean()), dn.observed(), gap.observed()))
        findings.append(gap)
        gaps.append(basen - p1)
    findings.append(alike_finding(np.stack(gaps, axis=1), config.algorithms))
    table = Table(
        f"Six RL algorithms on {config.model}",
        ("model", "samples drawn", "pass@1", "Δ pass@1 vs base", f"pass@{n}", f"Δ pass@{n} vs base", "ΔSE [95% CI]"),
        tuple(rows),
        note=f"{config.problems} held-out problems × {n} samples per model, sampling seed {BASE_SEED}; "
        f"ΔSE = pass@{n}(base) − pass@1(RL); every interval a paired bootstrap over problems; "
        f"{t.steps} steps of ground-truth RL each",
    )
    from rlvr_lab.report.plots import plot_passk_curves

    figure = plot_passk_curves(curves, f"pass@k of the base and six RL algorithms ({config.model})")
    result = {row[0]: {"samples": row[1], "pass@1": row[2], f"pass@{n}": row[4]} for row in rows}
    return write_study(
        root / NAME, NAME, f"Six RL algorithms ({config.model})", config, table, figure, findings, result
    )


def _gap_claim(name: str, n: int) -> Claim:
    return Claim(
        PAPER,
        f"{name} stays below the base at large k (ΔSE > 0)",
        f"ΔSE = pass@{n}(base) − pass@1({name}), paired over problems",
        1,
    )


def alike_finding(gaps: np.ndarray, names: tuple[str, ...]) -> Finding:
    """The six ΔSE are alike: ``range − tolerance`` < 0, on the joint bootstrap of the range over problems.

    ``gaps``: (P, A) per-problem ``pass@n(base) − pass@1(algorithm)``."""
    means = gaps.mean(axis=0)
    resampled = resampled_means(gaps, RESAMPLES, seed=0)  # (R, A), one problem resample for all algorithms
    ranges = resampled.max(axis=1) - resampled.min(axis=1)
    lo, hi = np.quantile(ranges, [0.025, 0.975])
    effect = float(means.max() - means.min())
    claim = Claim(
        PAPER,
        f"the algorithms' ΔSE are alike (range below {ALIKE_TOLERANCE})",
        f"max − min of ΔSE over the algorithms, minus {ALIKE_TOLERANCE}",
        -1,
    )
    detail = ", ".join(f"{name} {m:.3f}" for name, m in zip(names, means, strict=True))
    return Finding(
        claim,
        effect - ALIKE_TOLERANCE,
        float(lo) - ALIKE_TOLERANCE,
        float(hi) - ALIKE_TOLERANCE,
        f"joint bootstrap over {gaps.shape[0]} problems",
        detail,
    )
