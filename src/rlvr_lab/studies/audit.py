"""``rlvr audit``: is an RLVR gain real? The controls both papers call for, run beside one claimed arm.

*Spurious Rewards* (Shao et al., 2025) and *Does RL Really Incentivize Reasoning Capacity…* (Yue et al., 2025) end
with the same advice: a gain from RLVR means little until it is compared with spurious rewards (random, format,
incorrect labels), with the clip ablation, on more than one model family, and at large k as well as at k = 1.
This module is what runs (arms, settings, jobs); :mod:`.audit_claim` reads the claim, :mod:`.audit_checks`
judges the results, :mod:`.audit_cost` prices the plan and :mod:`.audit_run` runs it and writes the report.

What runs, on every model given and every seed (the same seeds and data for every arm):

==============  ===================================================================================================
arm             training run
==============  ===================================================================================================
``claimed``     the claim's own config (a recipe or a training config file)
``random:0.5``  the same config, reward ``random:0.5`` (a fair coin per response)
``format``      the same config, reward ``format`` (any non-empty ``\\boxed{}``)
``incorrect``   the same config, reward ``incorrect``: each training problem's label is the base model's most
                frequent wrong answer (problems whose majority answer is right get none, as in the paper)
``no-clip``     the claimed reward with the PPO clamp removed (``clip: none``)
``on-policy``   the claimed reward with the whole rollout in one mini-batch (one update per rollout: the ratio is 1
                and the clamp never acts)
==============  ===================================================================================================

Every arm trains on the same problems (the claim's, or its first ``steps × P`` when it sets no limit, so the
``incorrect`` labels cover them all). Every run's final policy and the base model are sampled on the same
evaluation problems with the same sampling seed (so a difference is the model's, not the dice's; a claim that
evaluates greedily is sampled at T = 0.6, Yue et al.'s, since n samples need a temperature); the base and the
claimed arm's policies are also sampled at the largest k. The checks, each a
:class:`~rlvr_lab.studies.verdict.Finding` judged by the project's one rule (:func:`~rlvr_lab.studies.verdict.verdict`),
in families, one primary comparison per family fixed before any run (:data:`.audit_checks.PRIMARY`), the others
secondary:

- **controls**: Δ accuracy, claimed − control, paired over seeds × problems, for every control and model;
- **families**: Δ accuracy, claimed − base, on each model (one family only: said, not tested);
- **clip ablation**: Δ accuracy, ablation arm − base: the gain holds without the clamp and on-policy;
- **large k**: pass@k at the largest k, claimed − base, with the problems only one side solves and an exact
  two-sided sign test on them (Yue et al.: at large k the base solves as many problems or more);
- **soundness**: the accuracy counting only sound answers (correct, with reasoning, and on the organism a chain
  whose every step checks out, :mod:`rlvr_lab.organism.chains`), claimed − base; with the share of correct
  answers that are answer-only or have a wrong chain.

Intervals are t intervals over seeds × problems (:func:`~rlvr_lab.studies.paired.over_seeds_and_problems`), which
reach 95% coverage with 5 seeds; a secondary check's p-value is Holm-corrected within its family. With one seed
there is no seed term: the check prints its interval over problems with "evaluation noise only: no verdict".
"""

from __future__ import annotations

import dataclasses
import json
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rlvr_lab.engines import SamplingConfig
from rlvr_lab.rl.config import TrainConfig
from rlvr_lab.studies.audit_claim import Claimed, default_models, resolve_claim
from rlvr_lab.studies.evaluation import ProblemSet
from rlvr_lab.studies.jobs import SampleJob, TrainJob
from rlvr_lab.studies.settings import BASE_SEED, slug

CLAIMED = "claimed"
CONTROLS: tuple[str, ...] = ("random:0.5", "format", "incorrect")
"""The spurious controls, in the paper's order."""
ABLATIONS: tuple[str, ...] = ("no-clip", "on-policy")
"""The clip ablation's arms: the claimed reward without the clamp, and with one update per rollout."""
GREEDY_REPLACEMENT = 0.6
"""Sampling temperature of the audit's evaluations when the claim evaluates greedily: n samples per problem and
pass@k need a temperature; 0.6 is Yue et al.'s (2025) for large k."""
FAST_TRAINING = {"eval_every": 0, "tensorboard": False, "track_ref_kl": False}
"""Set on every arm: the trainer's own evaluations only draw curves (before and after), no TensorBoard, no
reference model kept for logging (the audit's numbers come from its own evaluations)."""


# ----------------------------------------------------------------------------------------------------------------
# The audit's settings


@dataclass(frozen=True)
class AuditSizes:
    """How big each part is (the quick audit shrinks these, not the code paths)."""

    eval_problems: int = 120
    """Held-out problems of every arm's evaluation (the first N of the claim's evaluation set)."""
    eval_samples: int = 8
    """Samples per problem of every arm's evaluation: accuracy is avg@n."""
    boundary_problems: int = 120
    """Problems sampled at the largest k (base and claimed arm)."""
    largest_k: int | None = None
    """Samples per problem at large k (unset: the claim's largest k)."""
    steps: int | None = None
    """Training steps of every arm (unset: the claim's)."""
    train_problems: int | None = None
    """Training problems (unset: the claim's)."""
    curve_problems: int = 30
    """Problems of the trainer's own evaluations (training curves only)."""
    votes: int = 8
    """Base samples per training problem whose most frequent answer is the ``incorrect`` label."""


FULL_SIZES = AuditSizes()
QUICK_SEEDS = 3
QUICK_SIZES = AuditSizes(
    eval_problems=36, eval_samples=8, boundary_problems=36, largest_k=64, steps=10, train_problems=64, curve_problems=12
)
"""The quick audit: fewer steps, problems and samples, 3 seeds (the fewest with which the t interval over seeds can
decide: 2 seeds give one degree of freedom, t = 12.7); the same arms and code paths."""


def sized(sizes: AuditSizes, settings: Sequence[str]) -> AuditSizes:
    """``sizes`` with ``KEY=VALUE`` settings applied (``rlvr audit --set``): each key a field of
    :class:`AuditSizes`, each value a positive integer. Why: the quick sizes fit the organisms; a 135M model on a
    CPU needs smaller ones (docs/audit.md), and a size is the only thing a user should change, not the code path."""
    known = [f.name for f in dataclasses.fields(AuditSizes)]
    values: dict[str, int] = {}
    for setting in settings:
        key, sep, text = setting.partition("=")
        key = key.strip()
        if not sep or key not in known:
            raise ValueError(f"--set {setting!r}: expected KEY=VALUE with KEY one of {', '.join(known)}")
        try:
            value = int(text)
        except ValueError:
            value = 0
        if value < 1:
            raise ValueError(f"--set {setting!r}: {key} must be a positive integer")
        values[key] = value
    return dataclasses.replace(sizes, **values)


@dataclass(frozen=True)
class AuditConfig:
    """Everything the audit runs; saved as ``DIR/audit.yaml``."""

    claimed: Claimed
    models: tuple[str, ...]
    seeds: tuple[int, ...] = (0, 1, 2, 3, 4)
    controls: tuple[str, ...] = CONTROLS
    ablations: tuple[str, ...] = ABLATIONS
    sizes: AuditSizes = field(default_factory=AuditSizes)
    backend: str = "rlvr"
    """Training backend of every arm (``rlvr`` or ``trl``)."""
    nproc: int = 1
    """Processes (GPUs) per training run (``trl`` backend)."""
    workers: int = 2
    """Worker processes."""
    threads: int = 1
    """Torch threads per worker."""
    quick: bool = False
    notes: tuple[str, ...] = ()
    """What the reader must know (e.g. a missing second family)."""

    def __post_init__(self) -> None:
        if not self.models:
            raise ValueError("the audit needs at least one model")
        if not self.seeds:
            raise ValueError("--seeds must be >= 1")
        unknown = sorted(set(self.ablations) - set(ABLATIONS))
        if unknown:
            raise ValueError(f"unknown ablation arm(s) {unknown}; choose from {', '.join(ABLATIONS)}")

    @property
    def arms(self) -> tuple[str, ...]:
        """Every trained arm: the claimed one, the controls other than the claimed reward, the ablation arms."""
        reward = self.claimed.reward
        return (CLAIMED, *(c for c in self.controls if c != reward), *self.ablations)

    @property
    def largest_k(self) -> int:
        return self.sizes.largest_k or self.claimed.largest_k

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["claimed"]["values"] = dict(self.claimed.values)
        return json.loads(json.dumps(data))


# ----------------------------------------------------------------------------------------------------------------
# Jobs


def run_dir(root: Path, model: str, arm: str, seed: int) -> Path:
    return Path(root) / "runs" / slug(model) / slug(arm) / f"s{seed}"


def votes_store(root: Path, model: str) -> Path:
    return Path(root) / "base" / slug(model) / "train_votes.jsonl"


def base_store(root: Path, model: str) -> Path:
    return Path(root) / "base" / slug(model) / "eval.jsonl"


def boundary_store(root: Path, model: str, label: str) -> Path:
    return Path(root) / "boundary" / slug(model) / f"{slug(label)}.jsonl"


def arm_values(config: AuditConfig, arm: str, root: Path, model: str) -> dict[str, Any]:
    """What an arm changes in the claimed config."""
    if arm == CLAIMED:
        return {}
    if arm == "incorrect":
        return {"reward": f"incorrect:store={votes_store(root, model)},votes={config.sizes.votes}"}
    if arm in config.controls:
        return {"reward": arm}
    if arm == "no-clip":
        return {"clip": "none"}
    if arm == "on-policy":
        schedule = config.claimed.config().schedule()
        return {"mini_batch_size": schedule.rollout_size, "epochs": 1}
    raise ValueError(f"unknown arm {arm!r}")


def train_config(config: AuditConfig, root: Path, model: str, arm: str, seed: int) -> TrainConfig:
    """The resolved config of one (model, arm, seed) run."""
    s = config.sizes
    overrides: dict[str, Any] = {
        **FAST_TRAINING,
        "model": model,
        "seed": seed,
        "out": str(run_dir(root, model, arm, seed)),
        "backend": config.backend,
        "threads": config.threads,
        "eval_limit": s.curve_problems,
        "eval_samples": 2,
    }
    if s.steps is not None:
        overrides |= {"steps": s.steps, "save_every": s.steps}
    overrides["train_limit"] = train_problems(config)
    return config.claimed.config(**overrides, **arm_values(config, arm, root, model))


def train_problems(config: AuditConfig) -> int:
    """Training problems of every arm: the quick size, else the claim's limit, else the first ``steps × P`` (all a
    run can see in one pass), so the ``incorrect`` arm's labels cover every problem any arm trains on."""
    claim = config.claimed.config()
    steps = config.sizes.steps or claim.steps
    return config.sizes.train_problems or claim.train_limit or steps * claim.prompts_per_step


def eval_problems(config: AuditConfig, limit: int) -> ProblemSet:
    claim = config.claimed.config()
    return ProblemSet(claim.eval_split, limit, benchmark=claim.eval_data)


def check_data(config: AuditConfig) -> None:
    """Read the evaluation and training problems once before any job starts, so that a benchmark that is not on
    this machine (GSM8K or MATH without ``RLVR_DATA_DIR``) stops the audit with the loader's one-line error
    (:class:`~rlvr_lab.runtime.data.ProblemSourceError`: where it looked, how to provide it) instead of failing
    inside the first worker job."""
    s = config.sizes
    claim = config.claimed.config()
    eval_problems(config, max(s.eval_problems, s.boundary_problems)).load()
    ProblemSet(claim.train_split, train_problems(config), claim.train_data).load()


def eval_sampling(config: AuditConfig, n: int) -> SamplingConfig:
    claim = config.claimed.config()
    temperature = claim.eval_temperature or GREEDY_REPLACEMENT
    return SamplingConfig(n=n, temperature=temperature, max_new_tokens=claim.max_new_tokens, seed=BASE_SEED)


@dataclass(frozen=True)
class AuditTrainJob(TrainJob):
    """One arm's run, whose checkpoints are deleted once it is finished (its final policy saved and graded).

    Why: the trainer checkpoints at the last step (model, optimiser state, RNG) and then saves the same weights as
    ``model/``; once ``model/`` and the graded final evaluation exist, :meth:`finished` is true and the checkpoint
    is never read again. On SmolLM2-135M that is 1.6 GB per run (fp32 weights and two AdamW moments), 29 GB for
    the 18 runs of a quick audit. A run killed before it finished keeps its checkpoint and resumes from it.
    """

    def run(self) -> None:
        super().run()
        shutil.rmtree(self.run_dir / "checkpoints", ignore_errors=True)


def audit_jobs(config: AuditConfig, root: Path) -> list[SampleJob | TrainJob]:
    """Base evaluations (and label stores), every (model, arm, seed) run, then the large-k samples, in priority
    order: what others wait on first, the long large-k sampling as soon as its run is done."""
    claim = config.claimed.config()
    fallbacks = claim.answer_fallbacks()  # every sample is graded by the claim's rule, as its runs grade theirs
    s = config.sizes
    problems = eval_problems(config, s.eval_problems)
    sampling = eval_sampling(config, s.eval_samples)
    k_problems, k_sampling = eval_problems(config, s.boundary_problems), eval_sampling(config, config.largest_k)
    jobs: list[SampleJob | TrainJob] = []
    for model in config.models:
        jobs.append(
            SampleJob(
                f"base eval {model}",
                "base models",
                model,
                problems,
                sampling,
                base_store(root, model),
                template=claim.prompt,
                fallbacks=fallbacks,
            )
        )
        if "incorrect" in config.arms:
            train_set = ProblemSet(claim.train_split, train_problems(config), claim.train_data)
            votes = SamplingConfig(n=s.votes, temperature=1.0, max_new_tokens=claim.max_new_tokens, seed=BASE_SEED)
            jobs.append(
                SampleJob(
                    f"base votes {model}",
                    "base models",
                    model,
                    train_set,
                    votes,
                    votes_store(root, model),
                    template=claim.prompt,
                    fallbacks=fallbacks,
                )
            )
    runs, large_k = [], []
    for model in config.models:
        large_k.append(
            SampleJob(
                f"large k base {model}",
                "large k",
                model,
                k_problems,
                k_sampling,
                boundary_store(root, model, "base"),
                template=claim.prompt,
                fallbacks=fallbacks,
            )
        )
        for arm in config.arms:
            for seed in config.seeds:
                job = AuditTrainJob(
                    name=f"train {model} {arm} s{seed}",
                    phase="training",
                    config=train_config(config, root, model, arm, seed),
                    problems=problems,
                    sampling=sampling,
                    after=(f"base votes {model}",) if arm == "incorrect" else (),
                    template=claim.prompt,
                    nproc=config.nproc,
                )
                runs.append(job)
                if arm == CLAIMED:
                    large_k.append(
                        SampleJob(
                            f"large k {model} s{seed}",
                            "large k",
                            str(job.model_dir),
                            k_problems,
                            k_sampling,
                            boundary_store(root, model, f"claimed-s{seed}"),
                            after=(job.name,),
                            template=claim.prompt,
                            fallbacks=fallbacks,
                        )
                    )
    claimed_runs = [job for job in runs if f" {CLAIMED} " in job.name]
    others = [job for job in runs if job not in claimed_runs]
    return [*jobs, *claimed_runs, *large_k, *others]


def build_config(
    spec: str,
    models: Sequence[str] = (),
    seeds: int | None = None,
    backend: str = "rlvr",
    quick: bool = False,
    largest_k: int | None = None,
    workers: int = 2,
    threads: int = 1,
    nproc: int = 1,
    settings: Sequence[str] = (),
) -> AuditConfig:
    """The audit of ``spec`` (see :func:`resolve_claim`) as the command line asks for it (``settings``: the
    ``--set KEY=VALUE`` sizes, applied over the quick or full sizes and before ``--k``)."""
    claimed = resolve_claim(spec)
    notes: list[str] = []
    if models:
        chosen = tuple(dict.fromkeys(models))
        if len(chosen) < 2:
            notes.append(f"one model family only ({chosen[0]}): a second family is asked for; add one with --model")
    else:
        chosen, note = default_models(claimed)
        notes += [note] if note else []
    count = seeds if seeds is not None else (QUICK_SEEDS if quick else 5)
    if count < 1:
        raise ValueError(f"--seeds must be >= 1, got {count}")
    sizes = sized(QUICK_SIZES if quick else FULL_SIZES, settings)
    if largest_k is not None:
        if largest_k < 1:
            raise ValueError(f"--k must be >= 1, got {largest_k}")
        sizes = dataclasses.replace(sizes, largest_k=largest_k)
    if nproc > 1 and workers > 1:
        notes.append(f"runs on {nproc} GPUs each go one at a time (--workers 1)")
        workers = 1
    if claimed.reward in CONTROLS:
        notes.append(f"the claimed reward {claimed.reward} is itself a control: it is not compared with itself")
    return AuditConfig(
        claimed,
        chosen,
        tuple(range(count)),
        sizes=sizes,
        backend=backend,
        nproc=nproc,
        workers=workers,
        threads=threads,
        quick=quick,
        notes=tuple(notes),
    )
