"""The clipping ablation: random rewards under each schedule preset, several seeds, mean and spread.

Shao et al., 2025 trace the gain from random rewards to GRPO's clip term: with several optimiser updates per
rollout the clipped objective is biased toward what the model already prefers (for Qwen2.5-Math, code), so
accuracy and code frequency rise; with the clamp removed, or with one update per rollout (on-policy, where the
ratio is 1 and the clamp never acts), the gain should vanish. The presets (:mod:`rlvr_lab.rl.schedule`):
``clip`` (4 updates per rollout, ε = 0.2), ``no-clip`` (same schedule, no clamp), ``on-policy-batch`` (one
update on the whole rollout) and ``small-rollout`` (the rollout shrunk to one mini-batch).

Each (preset, seed) run's change is its final held-out evaluation minus the base model's (seed 0, shared); the
table gives the mean over seeds and the spread (sample standard deviation, ``ddof=1``), plus the mean clip
fractions the trainer logged, which must be 0 for the on-policy presets.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rlvr_lab.report import Table
from rlvr_lab.studies import settings
from rlvr_lab.studies.evaluation import SetStats, load_set, set_stats
from rlvr_lab.studies.jobs import SampleJob, TrainJob
from rlvr_lab.studies.settings import EvalSettings, TrainingSettings, base_eval_job, base_store, run_dir

PRESET_ORDER: tuple[str, ...] = ("clip", "no-clip", "on-policy-batch", "small-rollout")
PAPER_PRESETS: tuple[str, ...] = ("paper", "paper-no-clip", "paper-on-policy", "paper-small-rollout")
"""The same four arms on the *Spurious Rewards* schedule (64 prompts × 16, mini-batches of 128)."""


@dataclass(frozen=True)
class AblationConfig:
    """The model, the signal, and the presets × seeds grid."""

    profile: str = "qwen-math-like"
    """Model trained in every run."""
    reward: str = "random:0.5"
    """Training signal of every run."""
    presets: tuple[str, ...] = PRESET_ORDER
    """Schedule presets compared; the first is the arm with the clip acting, the findings compare it with each."""
    seeds: tuple[int, ...] = (0, 1, 2)
    """Seeds per preset (data order, sampling, random rewards)."""


def train_job(
    root: Path, preset: str, seed: int, config: AblationConfig, training: TrainingSettings, evaluation: EvalSettings
) -> TrainJob:
    """The run of one (preset, seed) cell (``clip`` with seed 0 may be a spurious-rewards run: same name, same run)."""
    return settings.train_job(
        f"train {config.profile} {config.reward} {preset} s{seed}",
        training,
        evaluation,
        model=config.profile,
        reward=config.reward,
        preset=preset,
        seed=seed,
        out=run_dir(root, config.profile, config.reward, preset, seed),
    )


def ablation_jobs(
    root: Path, config: AblationConfig, training: TrainingSettings, evaluation: EvalSettings
) -> list[SampleJob | TrainJob]:
    """The base evaluation and one run per (preset, seed)."""
    runs = [
        train_job(root, preset, seed, config, training, evaluation)
        for preset in config.presets
        for seed in config.seeds
    ]
    return [base_eval_job(root, config.profile, training, evaluation), *runs]


@dataclass(frozen=True)
class AblationRun:
    """One (preset, seed) run's changes and clip fractions."""

    preset: str
    seed: int
    updates_per_rollout: int
    after: SetStats
    clip_frac_low: float
    """Mean over steps of ``actor/clip_frac_low``."""
    clip_frac_high: float
    run_dir: Path


@dataclass(frozen=True)
class AblationResult:
    before: SetStats
    runs: tuple[AblationRun, ...]

    def by_preset(self) -> dict[str, list[AblationRun]]:
        out: dict[str, list[AblationRun]] = {}
        for run in self.runs:
            out.setdefault(run.preset, []).append(run)
        return out

    def as_dict(self) -> dict[str, Any]:
        presets = {}
        for preset, runs in self.by_preset().items():
            acc = [r.after.accuracy - self.before.accuracy for r in runs]
            code = [r.after.code_frequency - self.before.code_frequency for r in runs]
            presets[preset] = {
                "updates_per_rollout": runs[0].updates_per_rollout,
                "seeds": [r.seed for r in runs],
                "accuracy_change": {"per_seed": acc, "mean": float(np.mean(acc)), "std": _std(acc)},
                "code_frequency_change": {"per_seed": code, "mean": float(np.mean(code)), "std": _std(code)},
                "clip_frac_low": float(np.mean([r.clip_frac_low for r in runs])),
                "clip_frac_high": float(np.mean([r.clip_frac_high for r in runs])),
                "run_dirs": [str(r.run_dir) for r in runs],
            }
        return {"before": self.before.as_dict(), "presets": presets}


def _std(values: list[float]) -> float:
    """Sample standard deviation; NaN for a single seed (no spread to measure)."""
    return float(np.std(values, ddof=1)) if len(values) > 1 else float("nan")


def mean_logged(run_dir: Path, key: str) -> float:
    """Mean of ``key`` over the training steps logged in ``run_dir/metrics.jsonl``."""
    values = []
    for line in (run_dir / "metrics.jsonl").read_text().splitlines():
        record = json.loads(line)
        if key in record:
            values.append(float(record[key]))
    return float(np.mean(values)) if values else float("nan")


def ablation_result(
    root: Path, config: AblationConfig, training: TrainingSettings, evaluation: EvalSettings
) -> AblationResult:
    """Read every finished run of the grid."""
    runs = []
    for preset in config.presets:
        for seed in config.seeds:
            job = train_job(root, preset, seed, config, training, evaluation)
            runs.append(
                AblationRun(
                    preset=preset,
                    seed=seed,
                    updates_per_rollout=job.config.schedule().updates_per_rollout,
                    after=set_stats(load_set(job.final_store)),
                    clip_frac_low=mean_logged(job.run_dir, "actor/clip_frac_low"),
                    clip_frac_high=mean_logged(job.run_dir, "actor/clip_frac_high"),
                    run_dir=job.run_dir,
                )
            )
    return AblationResult(set_stats(load_set(base_store(root, config.profile))), tuple(runs))


def ablation_table(result: AblationResult, config: AblationConfig) -> Table:
    """One row per preset: updates per rollout, seeds, Δ accuracy and Δ code frequency (mean ± std), clip fractions."""
    rows = []
    for preset, summary in result.as_dict()["presets"].items():
        acc, code = summary["accuracy_change"], summary["code_frequency_change"]
        rows.append(
            (
                preset,
                summary["updates_per_rollout"],
                len(summary["seeds"]),
                acc["mean"],
                acc["std"],
                code["mean"],
                code["std"],
                summary["clip_frac_low"],
                summary["clip_frac_high"],
            )
        )
    columns = (
        "preset",
        "updates/rollout",
        "seeds",
        "Δ acc. mean",
        "Δ acc. std",
        "Δ code mean",
        "Δ code std",
        "clip frac. low",
        "clip frac. high",
    )
    note = (
        f"{config.profile} trained with {config.reward}; changes are final held-out evaluation minus the base model's "
        f"(accuracy {result.before.accuracy:.3f}, code frequency {result.before.code_frequency:.3f}); std over seeds "
        "(ddof=1); clip fractions are means over steps and seeds"
    )
    return Table("Clipping ablation (random reward)", columns, tuple(rows), note=note)
