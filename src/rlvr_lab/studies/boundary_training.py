"""The boundary over training: pass@1 and pass@256 of every saved checkpoint of one run.

Yue et al. (2025, §4.4, Fig. 1 right): as RL training goes on, pass@1 rises while pass@k at large k falls,
checkpoint after checkpoint: the boundary shrinks. The study evaluates the run's base model (step 0) and each
checkpoint in ``RUN_DIR/checkpoints/`` (and the final ``model/``) with the same samples per problem, sampling seed
and held-out problems, and compares each with step 0 per problem (paired bootstrap over problems).

How long to train, measured on v1 ``qwen-math-like`` (GRPO on ground truth with the demo's settings: 16 prompts ×
8 samples per step, learning rate 2e-4, max 64 tokens; 100 steps, a checkpoint every 20; 30 test problems × 256
samples per checkpoint; ``rlvr study boundary-over-training runs/bot/gt-run --problems 30``, 17 min of training and
14 min of evaluation on a loaded 2-core machine):

- pass@1 rises measurably by step 20 (+0.070 [+0.042, +0.102]) and then plateaus (+0.08 to +0.09 at steps
  40-100): the run has converged on what it will sharpen long before 100 steps;
- pass@256 does not move (0.933 at every checkpoint but step 40's 0.967): on 30 problems one problem is 0.033 of
  pass@256 and problems move both ways (by step 100 one two-digit product went from 1/256 to 0/256 correct, another
  from 0 to 5/256), so the paired interval stays about ±0.08 wide.

So the trend is limited by the number of hard problems evaluated, not by the steps: :data:`DEMO_STEPS` = 100 with
checkpoints every 20 covers the rise and plateau of pass@1 (five points after step 0), and the pass@256 claim
needs at least 120 problems (a quarter of them the never-solved types) for one lost problem to be 0.008 and a
shrink of a few problems to clear the interval.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console

from rlvr_lab.engines import SamplingConfig
from rlvr_lab.report import Table
from rlvr_lab.rl.checkpoint import list_checkpoints
from rlvr_lab.rl.config import TrainConfig, load_config_file
from rlvr_lab.studies.evaluation import ProblemSet
from rlvr_lab.studies.output import ensure_trained, evaluate_model, per_problem_pass, write_study
from rlvr_lab.studies.paired import over_problems
from rlvr_lab.studies.settings import BASE_SEED, EvalSettings, TrainingSettings, train_config
from rlvr_lab.studies.verdict import Claim, Finding

NAME = "boundary_over_training"
PAPER = "Yue et al., 2025 (reasoning boundary)"
DEMO_STEPS = 100
"""Ground-truth GRPO steps the demo trains for this study (checkpoints every 20); why: the module docstring."""


@dataclass(frozen=True)
class BoundaryTrainingConfig:
    """Problems and samples of each checkpoint's evaluation."""

    problems: int = 120
    """The first N organism test problems (see the module docstring for why this many)."""
    samples: int = 256
    """Samples per problem; the large k is this."""
    temperature: float = 1.0
    batch_size: int = 256
    """Rows the sampler keeps busy at once."""


def checkpoint_models(run_dir: Path) -> list[tuple[int, str]]:
    """(step, model spec) of the run's base model (step 0), every saved checkpoint and the final model."""
    run_dir = Path(run_dir)
    saved = run_dir / "config.yaml"
    if not saved.is_file():
        raise FileNotFoundError(f"{saved} not found: {run_dir} is not a training run")
    models = [(0, str(load_config_file(saved)["model"]))]
    for path in list_checkpoints(run_dir):
        models.append((int(re.sub(r"\D", "", path.name)), str(path)))
    final = run_dir / "model" / "rlvr_train.json"
    if final.is_file():
        import json

        step = int(json.loads(final.read_text())["step"])
        if step not in {s for s, _ in models}:
            models.append((step, str(final.parent)))
    return sorted(models)


def demo_run_config(out: Path, model: str, steps: int = DEMO_STEPS, save_every: int = 20) -> TrainConfig:
    """Ground-truth GRPO with the demo's settings, keeping every checkpoint (``save_every`` apart)."""
    training = TrainingSettings(steps=steps, save_every=save_every)
    config = train_config(
        training, EvalSettings(), model=model, reward="ground_truth", preset="clip", seed=0, out=Path(out)
    )
    return dataclasses.replace(config, keep_checkpoints=steps // save_every + 1)


def run_boundary_over_training(
    run_dir: Path, config: BoundaryTrainingConfig, out: Path | None = None, console: Console | None = None
) -> tuple[Path, list[Finding]]:
    """Evaluate every checkpoint of ``run_dir`` and write the study into ``out`` (default ``RUN_DIR/NAME``)."""
    console = console or Console(stderr=True)
    run_dir = Path(run_dir)
    out = Path(out) if out is not None else run_dir / NAME
    saved = load_config_file(run_dir / "config.yaml")
    problems = ProblemSet("test", config.problems)
    sampling = SamplingConfig(
        n=config.samples, temperature=config.temperature, max_new_tokens=int(saved["max_new_tokens"]), seed=BASE_SEED
    )
    models = checkpoint_models(run_dir)
    if len(models) < 2:
        raise ValueError(f"{run_dir} has no saved checkpoint yet: train it first (keep_checkpoints > 1)")
    console.print(f"[bold]boundary over training[/]: {len(models)} models of {run_dir}")
    graded = {
        step: evaluate_model(model, problems, sampling, out / f"step_{step:06d}.jsonl", console=console)
        for step, model in models
    }
    n = config.samples
    base1, basen = per_problem_pass(graded[0], 1), per_problem_pass(graded[0], n)
    rows, result = [], {}
    for step, g in graded.items():
        g = g.aligned(graded[0].problem_ids, other=str(graded[0].path))
        p1, pn = per_problem_pass(g, 1), per_problem_pass(g, n)
        d1 = over_problems(_claim_pass1(n), base1, p1)
        dn = over_problems(_claim_passn(n), basen, pn)
        rows.append((step, float(p1.mean()), d1.observed(), float(pn.mean()), dn.observed()))
        result[str(step)] = {
            "pass@1": float(p1.mean()),
            f"pass@{n}": float(pn.mean()),
            "delta_pass@1": [d1.effect, d1.low, d1.high],
            f"delta_pass@{n}": [dn.effect, dn.low, dn.high],
        }
    last = max(graded)
    final = graded[last].aligned(graded[0].problem_ids, other=str(graded[0].path))
    detail = f"step 0 → step {last}; " + "; ".join(f"step {r[0]}: pass@1 {r[1]:.3f}, pass@{n} {r[3]:.3f}" for r in rows)
    findings = [
        over_problems(_claim_pass1(n), base1, per_problem_pass(final, 1), detail),
        over_problems(_claim_passn(n), basen, per_problem_pass(final, n), detail),
    ]
    table = Table(
        f"Boundary over training: {run_dir.name}",
        ("step", "pass@1", "Δ pass@1 vs step 0 [95% CI]", f"pass@{n}", f"Δ pass@{n} vs step 0 [95% CI]"),
        tuple(rows),
        note=f"{config.problems} held-out problems × {n} samples per checkpoint, sampling seed {BASE_SEED}; "
        "intervals: paired bootstrap over problems against the step-0 model",
    )
    figure = _figure(rows, result, n)
    summary = write_study(
        out, NAME, f"Boundary over training ({run_dir})", config, table, figure, findings, {"steps": result}
    )
    return summary, findings


def _claim_pass1(n: int) -> Claim:
    return Claim(PAPER, "pass@1 rises over RL training", "pass@1(final checkpoint) − pass@1(step 0), paired", 1)


def _claim_passn(n: int) -> Claim:
    return Claim(
        PAPER,
        f"pass@{n} falls over RL training (the boundary shrinks)",
        f"pass@{n}(final checkpoint) − pass@{n}(step 0), paired",
        -1,
    )


def _figure(rows: list[tuple[Any, ...]], result: dict[str, Any], n: int) -> Any:
    from rlvr_lab.report.plots import plot_over_steps

    steps = np.array([r[0] for r in rows])
    base = result[str(steps[0])]
    series = {}
    for key in ("pass@1", f"pass@{n}"):
        values = np.array([result[str(s)][key] for s in steps])
        lo = np.array([base[key] + result[str(s)][f"delta_{key}"][1] for s in steps])
        hi = np.array([base[key] + result[str(s)][f"delta_{key}"][2] for s in steps])
        series[key] = (steps, values, lo, hi)
    return plot_over_steps(series, "pass@1 and pass@k per checkpoint (bars: step 0 + paired 95% CI of the change)")


def train_demo_run(
    run_dir: Path, model: str, steps: int = DEMO_STEPS, save_every: int = 20, console: Console | None = None
) -> Path:
    """Train (or resume, or reuse) the ground-truth run the study evaluates; return ``run_dir``."""
    ensure_trained(demo_run_config(run_dir, model, steps, save_every), console)
    return Path(run_dir)
