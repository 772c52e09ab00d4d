"""The reasoning-boundary study: does RL widen what the model can solve, or only sharpen what it already samples?

Yue et al., 2025, "Does Reinforcement Learning Really Incentivize Reasoning Capacity in LLMs Beyond the Base
Model?": sampled many times, the base model solves as many problems as the RL model, or more; RL wins at pass@1
and loses at large k, the curves crossing at some k. The study samples ``samples`` (1,024) responses per problem on
the first ``problems`` held-out problems from the base model, the ground-truth RL model and the random-reward RL
model (the ``ground_truth`` and ``random:0.5`` runs of the spurious-rewards table, not extra runs), grades them,
and compares each RL model with the base (:func:`rlvr_lab.analysis.comparison.compare_models`: pass@k for every
k ≤ n with bootstrap bands, crossover k, coverage, ΔSE, accuracy histograms). Two more views of the same samples:

- the strategy-switch table base → each RL model (*Spurious Rewards* §4.2), per problem by the majority label of
  its samples, with each group's share of the accuracy change;
- the perplexity matrix: the first ``perplexity_samples`` responses per problem of each model scored under every
  model (if RL only re-weights what the base says, the base finds the RL answers unsurprising).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rlvr_lab.analysis.comparison import ModelComparison, compare_models
from rlvr_lab.analysis.perplexity import PerplexityMatrix
from rlvr_lab.analysis.switches import SwitchTable, code_shares, strategy_switches
from rlvr_lab.engines import SamplingConfig
from rlvr_lab.metrics import GradedSamples, pass_at_k_curve
from rlvr_lab.report import Table
from rlvr_lab.studies import spurious
from rlvr_lab.studies.evaluation import ProblemSet, load_set
from rlvr_lab.studies.jobs import PerplexityJob, SampleJob
from rlvr_lab.studies.settings import BASE_SEED, EvalSettings, TrainingSettings

BASE = "base"
RL_MODELS: tuple[tuple[str, str], ...] = (("GT-RL", "ground_truth"), ("random-RL", "random:0.5"))
"""(label, training signal of the spurious-rewards run it names)."""


@dataclass(frozen=True)
class BoundaryConfig:
    """Problems and samples of the study."""

    profile: str = "qwen-math-like"
    """The base model; its ground-truth and random-reward runs come from the spurious-rewards table."""
    problems: int = 500
    """The first N organism test problems (500: the large-k claim's minimum detectable effect at 80% power is then
    about 0.02, the size of the effect the 120-problem study saw, which it had about 11% power to detect)."""
    samples: int = 1024
    """Samples per problem and model: pass@k is measured for every k up to it; the findings judge k = samples / 4
    (pass@256 at 1,024), so every k reported rests on at least 4 samples per k."""
    perplexity_samples: int = 4
    """Responses per problem and model scored for the perplexity matrix."""
    resamples: int = 1000
    """Bootstrap resamples of the confidence bands."""


def store(root: Path, label: str) -> Path:
    return Path(root) / "boundary" / f"{label.lower()}.jsonl"


def perplexity_path(root: Path) -> Path:
    return Path(root) / "boundary" / "perplexity.json"


def boundary_jobs(
    root: Path,
    config: BoundaryConfig,
    study: spurious.SpuriousConfig,
    training: TrainingSettings,
    evaluation: EvalSettings,
) -> list[SampleJob | PerplexityJob]:
    """Sample base and both RL models (each after its run), then score the perplexity matrix."""
    if config.profile not in study.profiles:
        raise ValueError(f"the boundary profile {config.profile!r} must be one of the spurious-rewards profiles")
    problems = ProblemSet("test", config.problems)
    sampling = SamplingConfig(
        n=config.samples, temperature=evaluation.temperature, max_new_tokens=training.max_new_tokens, seed=BASE_SEED
    )
    models = [(BASE, config.profile, ())]
    for label, reward in RL_MODELS:
        if reward not in study.rewards:
            raise ValueError(f"the boundary study needs the {reward!r} run of the spurious-rewards table")
        run = spurious.train_job(root, config.profile, reward, study, training, evaluation)
        models.append((label, str(run.model_dir), (run.name,)))
    jobs: list[SampleJob | PerplexityJob] = [
        SampleJob(
            name=f"boundary sample {label}",
            phase="boundary",
            model=model,
            problems=problems,
            sampling=sampling,
            store=store(root, label),
            batch_size=4 * training.engine_batch_size,
            decoder=training.decoder,
            dtype=training.dtype,
            after=after,
        )
        for label, model, after in models
    ]
    jobs.append(
        PerplexityJob(
            name="boundary perplexity",
            phase="boundary",
            models=tuple((label, model) for label, model, _ in models),
            responses=tuple((label, store(root, label)) for label, _, _ in models),
            problems=problems,
            per_problem=config.perplexity_samples,
            out=perplexity_path(root),
            after=tuple(job.name for job in jobs),
        )
    )
    return jobs


@dataclass(frozen=True)
class BoundaryResult:
    """The graded sets (base first), each RL model compared with the base, switches and perplexities."""

    eval_sets: tuple[tuple[str, GradedSamples], ...]
    comparisons: tuple[ModelComparison, ...]
    switches: tuple[tuple[str, SwitchTable], ...]
    perplexity: PerplexityMatrix

    def as_dict(self) -> dict[str, Any]:
        def curve(g: GradedSamples) -> dict[str, float]:
            n = int(g.n.min())
            ks = sorted({k for k in (1, 2, 4, 8, 16, 32, 64, 128, 256, 512) if k <= n} | {n})
            return {str(k): float(v) for k, v in zip(ks, pass_at_k_curve(g.n, g.c, ks), strict=True)}

        return {
            "pass_at_k": {name: curve(g) for name, g in self.eval_sets},
            "comparisons": {
                c.label_b: {
                    "crossover_k": c.crossover_k,
                    "crossover_k_rl_catches_base": c.crossover_k_b_catches_a,
                    "delta_se": c.delta_se,
                    "coverage": c.coverage.as_dict(),
                    "pass_at_1_diff": c.pass_at_1_diff.as_dict(),
                }
                for c in self.comparisons
            },
            "strategy_switches": {title: table.as_dict() for title, table in self.switches},
            "perplexity": self.perplexity.as_dict(),
        }


def load_perplexity(path: Path) -> PerplexityMatrix:
    record = json.loads(Path(path).read_text())
    return PerplexityMatrix(
        tuple(record["responses_of"]), tuple(record["scored_by"]), np.asarray(record["perplexity"], dtype=np.float64)
    )


def boundary_result(root: Path, config: BoundaryConfig) -> BoundaryResult:
    """Compare the finished study's graded sets (see the module docstring)."""
    labels = [BASE, *(label for label, _ in RL_MODELS)]
    sets = [(label, load_set(store(root, label))) for label in labels]
    base = sets[0][1]
    comparisons, switches = [], []
    for label, graded in sets[1:]:
        comparisons.append(compare_models(base, graded, BASE, label, config.resamples, seed=0))
        aligned = graded.aligned(base.problem_ids, other=str(base.path))
        table = strategy_switches(
            code_shares(base.completions or ()),
            base.c / base.n,
            code_shares(aligned.completions or ()),
            aligned.c / aligned.n,
        )
        switches.append((f"{BASE} → {label}", table))
    return BoundaryResult(tuple(sets), tuple(comparisons), tuple(switches), load_perplexity(perplexity_path(root)))


def boundary_table(result: BoundaryResult) -> Table:
    """pass@k at a few k per model, and each RL model's crossover k, ΔSE and coverage against the base."""
    n = min(int(g.n.min()) for _, g in result.eval_sets)
    ks = sorted({k for k in (1, 8, 64) if k < n} | {max(1, n // 4), n})  # n / 4: the k the findings judge
    versus = {c.label_b: c for c in result.comparisons}
    rows = []
    for name, graded in result.eval_sets:
        values = [float(v) for v in pass_at_k_curve(graded.n, graded.c, ks)]
        comp = versus.get(name)
        rows.append(
            (
                name,
                *values,
                None if comp is None else comp.crossover_k,
                None if comp is None else comp.delta_se,
                None if comp is None else f"{comp.coverage.only_a} / {comp.coverage.only_b}",
            )
        )
    columns = ("model", *(f"pass@{k}" for k in ks), "crossover k", "ΔSE", "solved only by base / only by RL")
    note = (
        f"{result.eval_sets[0][1].num_problems} held-out problems × {n} samples per model; crossover k: where the base "
        f"catches up with the RL model (none: it never does within k ≤ {n}); ΔSE = pass@{n}(base) − pass@1(RL)"
    )
    return Table("Reasoning boundary: base vs RL", columns, tuple(rows), note=note)
