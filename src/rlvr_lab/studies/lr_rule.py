"""The learning-rate rule: a rate chosen by a control that cannot show the effect under study.

A clipping ablation's result depends on the learning rate, so a rate tuned while looking at ``clip`` against
``no-clip`` could be tuned toward the answer. The rule here reads only an *on-policy* random-reward control
(``paper-on-policy``: the paper's rollout in one update, so every ratio is 1 and the clamp never acts, whatever
the rate): the chosen rate is the largest of a grid at which the control's held-out accuracy stays within
``tolerance`` (1 point) of the base over the whole run, i.e. the largest rate whose updates alone, with no signal
and no clip bias, do not yet damage (or help) the model. Every rate runs on the same seeds.

"Over the whole run" is measured on the trainer's own periodic evaluations (``eval_every``): at each evaluation
step the change from the step-0 evaluation of the same run (same problems, same sampling seed) is averaged over
seeds, and the largest absolute mean change is the rate's *drift*. A rate passes when its drift is within
``tolerance``; the rule picks the largest rate below the first failing one, so a large rate that passes by
chance after a smaller one failed is not picked.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from rlvr_lab.report import Table
from rlvr_lab.studies import settings
from rlvr_lab.studies.jobs import TrainJob
from rlvr_lab.studies.settings import EvalSettings, TrainingSettings, slug


@dataclass(frozen=True)
class LrRuleConfig:
    """The control, the grid and the criterion."""

    profile: str = "qwen-math-like"
    """Model the rate is chosen for."""
    rates: tuple[float, ...] = (1e-4, 3e-4, 1e-3)
    """The grid, in increasing order."""
    seeds: tuple[int, ...] = (0, 1)
    """Seeds of every rate (paired: the same data order, rollouts' random numbers and rewards)."""
    preset: str = "paper-on-policy"
    """The on-policy control's schedule."""
    reward: str = "random:0.5"
    """The control's signal (carries no information)."""
    tolerance: float = 0.01
    """Largest allowed |mean change| of held-out accuracy at any evaluation (1 point)."""
    training: TrainingSettings = field(
        default_factory=lambda: TrainingSettings(steps=20, eval_every=5, curve_problems=120, curve_samples=4)
    )
    """Shared knobs of the control runs (the evaluation every ``eval_every`` steps is what the rule reads)."""

    def __post_init__(self) -> None:
        if list(self.rates) != sorted(self.rates) or not self.rates:
            raise ValueError(f"rates must be given in increasing order, got {self.rates}")
        if not self.seeds or self.tolerance <= 0:
            raise ValueError("need at least one seed and a positive tolerance")


def control_job(root: Path, config: LrRuleConfig, rate: float, seed: int) -> TrainJob:
    """The control run at ``rate`` with ``seed`` (its final evaluation is the trainer's last one, reused)."""
    training = dataclasses.replace(config.training, lr=rate)
    evaluation = EvalSettings(problems=training.curve_problems, samples=training.curve_samples)
    return settings.train_job(
        f"lr-rule {config.profile} {config.preset} lr{rate:g} s{seed}",
        training,
        evaluation,
        model=config.profile,
        reward=config.reward,
        preset=config.preset,
        seed=seed,
        out=Path(root) / "runs" / slug(config.profile) / slug(config.preset) / f"lr{rate:g}-s{seed}",
    )


def lr_rule_jobs(root: Path, config: LrRuleConfig) -> list[TrainJob]:
    return [control_job(root, config, rate, seed) for rate in config.rates for seed in config.seeds]


def accuracy_curve(run_dir: Path) -> dict[int, float]:
    """step -> ``eval/accuracy`` from a run's ``metrics.jsonl``."""
    out = {}
    for line in (Path(run_dir) / "metrics.jsonl").read_text().splitlines():
        record = json.loads(line)
        if "eval/accuracy" in record:
            out[int(record["step"])] = float(record["eval/accuracy"])
    return out


def drift(curves: dict[int, dict[int, float]]) -> tuple[float, dict[int, float]]:
    """``(max |mean change|, step -> mean change)`` from seed -> (step -> accuracy) curves.

    Changes are from each run's own step 0; only steps every seed evaluated count.
    """
    steps = sorted(set.intersection(*(set(c) for c in curves.values())) - {0})
    if not steps or any(0 not in c for c in curves.values()):
        raise ValueError("every control run needs its step-0 evaluation and at least one later one")
    mean = {s: float(np.mean([c[s] - c[0] for c in curves.values()])) for s in steps}
    return max(abs(v) for v in mean.values()), mean


def choose_rate(drifts: dict[float, float], tolerance: float) -> float | None:
    """The largest rate, going up the grid, before the first whose drift exceeds ``tolerance`` (None: not even the
    smallest passes)."""
    chosen = None
    for rate in sorted(drifts):
        if drifts[rate] > tolerance:
            break
        chosen = rate
    return chosen


@dataclass(frozen=True)
class LrRuleResult:
    config: LrRuleConfig
    drifts: dict[float, float]
    """rate -> max |mean change| over the run."""
    changes: dict[float, dict[int, float]]
    """rate -> step -> mean change."""
    per_seed: dict[float, dict[int, dict[int, float]]]
    """rate -> seed -> step -> accuracy."""

    @property
    def chosen(self) -> float | None:
        return choose_rate(self.drifts, self.config.tolerance)

    def as_dict(self) -> dict[str, Any]:
        return {
            "chosen_rate": self.chosen,
            "tolerance": self.config.tolerance,
            "preset": self.config.preset,
            "profile": self.config.profile,
            "seeds": list(self.config.seeds),
            "rates": {
                f"{rate:g}": {
                    "drift": self.drifts[rate],
                    "mean_change": {str(s): v for s, v in self.changes[rate].items()},
                    "accuracy_per_seed": {
                        str(seed): {str(s): v for s, v in curve.items()} for seed, curve in self.per_seed[rate].items()
                    },
                }
                for rate in self.config.rates
            },
        }


def lr_rule_result(root: Path, config: LrRuleConfig) -> LrRuleResult:
    drifts, changes, per_seed = {}, {}, {}
    for rate in config.rates:
        curves = {seed: accuracy_curve(control_job(root, config, rate, seed).run_dir) for seed in config.seeds}
        drifts[rate], changes[rate] = drift(curves)
        per_seed[rate] = curves
    return LrRuleResult(config, drifts, changes, per_seed)


def lr_rule_table(result: LrRuleResult) -> Table:
    rows = []
    for rate in result.config.rates:
        changes = ", ".join(f"{s}: {v:+.3f}" for s, v in result.changes[rate].items())
        verdict = "passes" if result.drifts[rate] <= result.config.tolerance else "fails"
        rows.append((f"{rate:g}", result.drifts[rate], changes, verdict, "chosen" if rate == result.chosen else ""))
    c = result.config
    note = (
        f"{c.profile}, {c.preset} with {c.reward}, seeds {list(c.seeds)}; drift: largest |mean over seeds of the "
        f"held-out accuracy change from step 0| over the evaluations; passes: drift ≤ {c.tolerance}"
    )
    columns = ("lr", "drift", "mean Δ acc. per evaluation step", "criterion", "")
    return Table("Learning-rate rule (on-policy random-reward control)", columns, tuple(rows), note)
