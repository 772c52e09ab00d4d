"""What every training run and evaluation of a study shares, and how one run's config and folder are derived.

A study varies only a few things per run (model, reward, preset, seed); everything else comes from
:class:`TrainingSettings` and :class:`EvalSettings`, so runs of different studies with the same four values are
the same run, in the same folder (:func:`run_dir`), trained once. The ablation's ``clip`` run with seed 0 is, for
example, the spurious-rewards table's random-reward run of the same profile.

"Before" and "after" are measured alike, by the same evaluation (:class:`EvalSettings`): the base model once per
model, each run's final policy after training. All of them sample with seed 0, so every model draws with the same
random numbers for the same (problem, sample index) and a change is the model's, not the dice's; a run's seed
changes its training (data order, rollouts, random rewards), not its evaluation. The trainer's own small periodic
evaluations (``curve_problems`` × ``curve_samples``) only draw the training curves.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from rlvr_lab.engines import SamplingConfig
from rlvr_lab.rl.config import TrainConfig, resolve_config
from rlvr_lab.studies.evaluation import TEMPLATE, ProblemSet
from rlvr_lab.studies.jobs import SampleJob, TrainJob

BASE_SEED = 0
"""Sampling seed of every base-model evaluation."""


@dataclass(frozen=True)
class TrainingSettings:
    """The training knobs every run of the demo shares (the schedule comes from each run's preset)."""

    steps: int = 50
    """Training steps (rollouts) per run."""
    lr: float = 2e-4
    """Peak AdamW learning rate (constant schedule)."""
    train_problems: int = 400
    """Training problems: the first N of the organism train split."""
    max_new_tokens: int = 64
    """Generation budget of rollouts and evaluations in tokens (organism solutions stay under 25 tokens)."""
    eval_every: int = 0
    """The trainer's held-out evaluation every N steps (0: only before the first step and after the last)."""
    curve_problems: int = 30
    """Problems of the trainer's evaluations (training curves only; the tables use :class:`EvalSettings`)."""
    curve_samples: int = 2
    """Samples per problem of the trainer's evaluations."""
    save_every: int = 10
    """Resumable checkpoint every N steps."""
    engine_batch_size: int = 128
    """Rows the sampler keeps busy at once."""
    decoder: str = "auto"
    """The torch sampler's decoder for every sampling job and rollout (:attr:`rlvr_lab.rl.config.TrainConfig.decoder`):
    ``native`` runs each decode step in one C++ call (docs/performance.md), with samples that can differ from the
    default's where two tokens lie within rounding."""
    dtype: str = "auto"
    """Compute dtype of every rollout, update and sampling job (:attr:`rlvr_lab.rl.config.TrainConfig.dtype`; auto
    keeps the organisms in float32). The perplexity matrix is scored in float32 whatever this is."""
    attention: str = "compute"
    """The update's attention dtype (:attr:`rlvr_lab.rl.config.TrainConfig.attention`)."""
    compile: bool = False
    """torch.compile each run's update forward (:attr:`rlvr_lab.rl.config.TrainConfig.compile`): a worker compiles
    once and its later runs reuse the graphs."""
    track_ref_kl: bool = False
    """Log the KL to the initial model (one extra forward per update; off to save time, it is not a finding)."""
    threads: int = 1
    """Torch threads per run (see :mod:`rlvr_lab.studies.parallel` for why 1)."""


@dataclass(frozen=True)
class EvalSettings:
    """The held-out evaluation behind every "before" and "after" number."""

    problems: int = 120
    """The first N organism test problems (problem types in round-robin order)."""
    samples: int = 8
    """Samples per problem; accuracy is avg@n."""
    temperature: float = 1.0
    """Sampling temperature (the organisms' calibration is at 1)."""

    def problem_set(self) -> ProblemSet:
        return ProblemSet("test", self.problems)

    def sampling(self, max_new_tokens: int, seed: int = BASE_SEED) -> SamplingConfig:
        return SamplingConfig(n=self.samples, temperature=self.temperature, max_new_tokens=max_new_tokens, seed=seed)


def slug(text: str) -> str:
    """A folder-safe name: ``random:0.5`` -> ``random-0.5``."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-")


def run_dir(root: Path, model: str, reward: str, preset: str, seed: int) -> Path:
    """``root/runs/<model>/<reward>/<preset>-s<seed>``; ``reward`` is the short name (``incorrect``, not its
    store path)."""
    return Path(root) / "runs" / slug(model) / slug(reward) / f"{slug(preset)}-s{seed}"


def train_job(
    name: str,
    training: TrainingSettings,
    evaluation: EvalSettings,
    *,
    model: str,
    reward: str,
    preset: str,
    seed: int,
    out: Path,
    after: tuple[str, ...] = (),
) -> TrainJob:
    """One run of a study: its resolved config, and the final evaluation of its policy."""
    return TrainJob(
        name=name,
        phase="training",
        config=train_config(training, evaluation, model=model, reward=reward, preset=preset, seed=seed, out=out),
        problems=evaluation.problem_set(),
        sampling=evaluation.sampling(training.max_new_tokens),
        after=after,
    )


def train_config(
    training: TrainingSettings,
    evaluation: EvalSettings,
    *,
    model: str,
    reward: str,
    preset: str,
    seed: int,
    out: Path,
) -> TrainConfig:
    """The resolved config of one run: the preset's schedule, the shared settings, and this run's four values."""
    return resolve_config(
        cli_values={
            "model": model,
            "out": str(out),
            "seed": seed,
            "steps": training.steps,
            "train_data": "organism",
            "train_split": "train",
            "train_limit": training.train_problems,
            "eval_data": "organism",
            "eval_split": "test",
            "eval_limit": training.curve_problems,
            "eval_samples": training.curve_samples,
            "eval_temperature": evaluation.temperature,
            "prompt": TEMPLATE,
            "reward": reward,
            "preset": preset,
            "max_new_tokens": training.max_new_tokens,
            "engine_batch_size": training.engine_batch_size,
            "decoder": training.decoder,
            "dtype": training.dtype,
            "attention": training.attention,
            "compile": training.compile,
            "lr": training.lr,
            "eval_every": training.eval_every,
            "save_every": training.save_every,
            "track_ref_kl": training.track_ref_kl,
            "tensorboard": False,  # the report reads metrics.jsonl; TensorBoard would only cost start-up time
            "threads": training.threads,
        }
    )


def base_store(root: Path, model: str) -> Path:
    """The base model's held-out evaluation store (graded beside it)."""
    return Path(root) / "base" / slug(model) / "eval.jsonl"


def base_eval_job(root: Path, model: str, training: TrainingSettings, evaluation: EvalSettings) -> SampleJob:
    """The job evaluating ``model`` before training: once per model, shared by all its runs."""
    return SampleJob(
        name=f"base eval {model}",
        phase="base models",
        model=model,
        problems=evaluation.problem_set(),
        sampling=evaluation.sampling(training.max_new_tokens),
        store=base_store(root, model),
        batch_size=training.engine_batch_size,
        decoder=training.decoder,
        dtype=training.dtype,
    )
