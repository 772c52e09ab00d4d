"""The *Spurious Rewards* table: every profile trained with every training signal, before and after.

Shao et al., 2025, "Spurious Rewards: Rethinking Training Signals in RLVR": on Qwen2.5-Math, GRPO with rewards that
carry little or no information about correctness (random, format, incorrect labels, "contains python") still
raises MATH-500 accuracy, mostly by making the model answer with code more often (its code answers being the more
accurate ones); on OLMo and Llama the same rewards do not help. The organism's two profiles carry the two priors:
``qwen-math-like`` (code frequent and more accurate) and ``olmo-like`` (code frequent and less accurate).

The signals, one reward spec each (:mod:`rlvr_lab.rewards`): ``ground_truth``; ``majority_vote`` (online, TTRL:
the group's most common answer is the label); ``format`` (a non-empty ``\\boxed{}``); ``random:0.5``; ``incorrect``
(each training problem's label is the base model's most frequent answer over ``incorrect_votes`` samples, and
problems where that answer is correct are dropped, as in the paper); ``python`` (the response contains "python").

"Before" is the base model's held-out evaluation, shared by all runs of the profile; "after" is the run's final
held-out evaluation with the same problems, samples per problem and temperature (see :mod:`.settings`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rlvr_lab.report import Table
from rlvr_lab.studies import settings
from rlvr_lab.studies.evaluation import ProblemSet, SetStats, load_set, set_stats
from rlvr_lab.studies.jobs import SampleJob, TrainJob
from rlvr_lab.studies.settings import (
    BASE_SEED,
    EvalSettings,
    TrainingSettings,
    base_eval_job,
    base_store,
    run_dir,
    slug,
)

SIGNALS: tuple[str, ...] = ("ground_truth", "majority_vote", "format", "random:0.5", "incorrect", "python")
"""The training signals of the table, in the paper's order (``incorrect`` gets its label store added)."""


@dataclass(frozen=True)
class SpuriousConfig:
    """Which profiles and signals the table crosses, and the schedule they train with."""

    profiles: tuple[str, ...] = ("qwen-math-like", "olmo-like")
    """Models to train (shipped organism profiles or model folders): first the prior whose code answers are the
    more accurate, then the one whose code answers are the less accurate (the findings compare them in this order)."""
    rewards: tuple[str, ...] = SIGNALS
    """Training signals (reward specs; ``incorrect`` is completed with the base model's label store)."""
    preset: str = "clip"
    """Schedule preset of every run (``clip``: several updates per rollout, as in the paper's runs)."""
    seeds: tuple[int, ...] = (0,)
    """Training seeds of every (profile, signal); the first seed's runs are the boundary study's models. With one
    seed the findings print their intervals with no verdict (evaluation noise only); 5 give each a verdict."""
    incorrect_votes: int = 8
    """Base-model samples per training problem whose most frequent answer is the ``incorrect`` label."""


def votes_store(root: Path, model: str) -> Path:
    """The base model's samples on the training problems, from which ``incorrect`` labels are voted."""
    return Path(root) / "base" / slug(model) / "train_votes.jsonl"


def reward_spec(reward: str, root: Path, model: str, votes: int) -> str:
    """The full spec of a signal: ``incorrect`` needs the base model's label store; the others are complete."""
    if reward == "incorrect":
        return f"incorrect:store={votes_store(root, model)},votes={votes}"
    return reward


def votes_job(root: Path, model: str, config: SpuriousConfig, training: TrainingSettings) -> SampleJob:
    """Sample the base model on the training problems for the ``incorrect`` labels."""
    from rlvr_lab.engines import SamplingConfig

    return SampleJob(
        name=f"base votes {model}",
        phase="base models",
        model=model,
        problems=ProblemSet("train", training.train_problems),
        sampling=SamplingConfig(
            n=config.incorrect_votes, temperature=1.0, max_new_tokens=training.max_new_tokens, seed=BASE_SEED
        ),
        store=votes_store(root, model),
        batch_size=training.engine_batch_size,
        decoder=training.decoder,
        dtype=training.dtype,
    )


def train_job(
    root: Path,
    model: str,
    reward: str,
    config: SpuriousConfig,
    training: TrainingSettings,
    evaluation: EvalSettings,
    seed: int | None = None,
) -> TrainJob:
    """The run of ``model`` with ``reward`` and ``seed`` (default: the first of ``config.seeds``); its name and folder
    are shared with any study training the same."""
    seed = config.seeds[0] if seed is None else seed
    return settings.train_job(
        f"train {model} {reward} {config.preset} s{seed}",
        training,
        evaluation,
        model=model,
        reward=reward_spec(reward, root, model, config.incorrect_votes),
        preset=config.preset,
        seed=seed,
        out=run_dir(root, model, reward, config.preset, seed),
        after=(f"base votes {model}",) if reward == "incorrect" else (),
    )


def spurious_jobs(
    root: Path, config: SpuriousConfig, training: TrainingSettings, evaluation: EvalSettings
) -> list[SampleJob | TrainJob]:
    """Base evaluations, label stores and one training run per (profile, signal, seed)."""
    jobs: list[SampleJob | TrainJob] = []
    for model in config.profiles:
        jobs.append(base_eval_job(root, model, training, evaluation))
        if "incorrect" in config.rewards:
            jobs.append(votes_job(root, model, config, training))
    jobs.extend(
        train_job(root, model, reward, config, training, evaluation, seed)
        for seed in config.seeds
        for model in config.profiles
        for reward in config.rewards
    )
    return jobs


@dataclass(frozen=True)
class SpuriousRow:
    """One run of the table: a profile trained with one signal and one seed."""

    model: str
    reward: str
    before: SetStats
    after: SetStats
    run_dir: Path
    seed: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "reward": self.reward,
            "seed": self.seed,
            "run_dir": str(self.run_dir),
            "before": self.before.as_dict(),
            "after": self.after.as_dict(),
            "accuracy_change": self.after.accuracy - self.before.accuracy,
            "code_frequency_change": self.after.code_frequency - self.before.code_frequency,
        }


def spurious_rows(
    root: Path, config: SpuriousConfig, training: TrainingSettings, evaluation: EvalSettings
) -> list[SpuriousRow]:
    """Read every finished run's before and after numbers (profiles, signals, then seeds in order)."""
    rows = []
    for model in config.profiles:
        before = set_stats(load_set(base_store(root, model)))
        for reward in config.rewards:
            for seed in config.seeds:
                job = train_job(root, model, reward, config, training, evaluation, seed)
                after = set_stats(load_set(job.final_store))
                rows.append(SpuriousRow(model, reward, before, after, job.run_dir, seed))
    return rows


def spurious_table(rows: list[SpuriousRow], steps: int) -> Table:
    """The table as the report and the README show it: one row per (profile, signal), "after" the mean over its
    seeds."""
    columns = (
        "model", "reward", "seeds", "acc. before", "acc. after", "Δ acc.", "code before", "code after", "Δ code"
    )  # fmt: skip
    groups: dict[tuple[str, str], list[SpuriousRow]] = {}
    for r in rows:
        groups.setdefault((r.model, r.reward), []).append(r)
    cells = []
    for (model, reward), runs in groups.items():
        before = runs[0].before
        acc = float(np.mean([r.after.accuracy for r in runs]))
        code = float(np.mean([r.after.code_frequency for r in runs]))
        cells.append(
            (model, reward, len(runs), before.accuracy, acc, acc - before.accuracy, before.code_frequency, code,
             code - before.code_frequency)
        )  # fmt: skip
    first = rows[0].before if rows else None
    note = (
        ""
        if first is None
        else f"held-out accuracy (avg@{first.samples}) and code frequency on {first.problems} organism test problems, "
        f"before and after {steps} GRPO steps"
    )
    return Table("Spurious rewards: held-out accuracy and code frequency", columns, tuple(cells), note=note)
