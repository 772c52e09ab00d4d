"""``rlvr audit``: is an RLVR gain real? The controls both papers call for, run beside one claimed arm.

*Spurious Rewards* (Shao et al., 2025) and *Does RL Really Incentivize Reasoning Capacity…* (Yue et al., 2025) end
with the same advice: a gain from RLVR means little until it is compared with spurious rewards (random, format,
incorrect labels), with the clip ablation, on more than one model family, and at large k as well as at k = 1.
This module is that check as jobs and verdicts; :mod:`.audit_run` runs them and writes the report.

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

Every run's final policy and the base model are sampled on the same evaluation problems with the same sampling
seed (so a difference is the model's, not the dice's); the base and the claimed arm's policies are also sampled at
the largest k. The checks, each a :class:`~rlvr_lab.studies.verdict.Finding` judged by the project's one rule
(:func:`~rlvr_lab.studies.verdict.verdict`), in families, one primary comparison per family fixed here before
any run (:data:`PRIMARY`), the others secondary:

- **controls**: Δ accuracy, claimed − control, paired over seeds × problems, for every control and model;
- **families**: Δ accuracy, claimed − base, on each model (one family only: said, not tested);
- **clip ablation**: Δ accuracy, ablation arm − base: the gain holds without the clamp and on-policy;
- **large k**: pass@k at the largest k, claimed − base, with the problems only one side solves and an exact
  two-sided sign test on them (Yue et al.: at large k the base solves as many problems or more);
- **soundness**: the accuracy counting only sound answers (correct, with reasoning, and on the organism a chain
  whose every step checks out, :mod:`rlvr_lab.organism.chains`), claimed − base; with the share of correct
  answers that are answer-only or have a wrong chain.

With one seed there is no interval over seeds: the bounds are NaN and the verdict "not significant"
(:mod:`.paired`), whatever the point estimate.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from rlvr_lab.engines import SamplingConfig
from rlvr_lab.rl.config import TrainConfig, resolve_config
from rlvr_lab.studies.evaluation import ProblemSet
from rlvr_lab.studies.jobs import SampleJob, TrainJob
from rlvr_lab.studies.paired import over_seeds_and_problems
from rlvr_lab.studies.settings import BASE_SEED, slug
from rlvr_lab.studies.verdict import Claim, Finding

CLAIMED = "claimed"
CONTROLS: tuple[str, ...] = ("random:0.5", "format", "incorrect")
"""The spurious controls, in the paper's order."""
ABLATIONS: tuple[str, ...] = ("no-clip", "on-policy")
"""The clip ablation's arms: the claimed reward without the clamp, and with one update per rollout."""
FAMILIES = ("controls", "families", "clip ablation", "large k", "soundness")
PRIMARY = {
    "controls": "random:0.5 on the first model (else the first control)",
    "families": "the first model",
    "clip ablation": "no-clip on the first model",
    "large k": "the first model",
    "soundness": "the first model",
}
"""The primary comparison of each family, named before the run; every other check of the family is secondary."""
AUDIT = "Audit of an RLVR gain"
FAST_TRAINING = {"eval_every": 0, "tensorboard": False, "track_ref_kl": False}
"""Set on every arm: the trainer's own evaluations only draw curves (before and after), no TensorBoard, no
reference model kept for logging (the audit's numbers come from its own evaluations)."""


# ----------------------------------------------------------------------------------------------------------------
# What is audited


@dataclass(frozen=True)
class Claimed:
    """The claimed arm: a training config (field → value of :class:`~rlvr_lab.rl.config.TrainConfig`)."""

    name: str
    """Recipe name or config file stem."""
    values: tuple[tuple[str, Any], ...]
    """The config's explicit values (defaults < preset < these), sorted by field name."""
    largest_k: int
    """The largest k of the evaluation (pass@k is measured for every k up to it)."""
    source: str
    """Where the values came from (recipe, file, built-in table)."""

    def config(self, **overrides: Any) -> TrainConfig:
        return resolve_config(dict(self.values), overrides)

    @property
    def model(self) -> str:
        return self.config().model

    @property
    def reward(self) -> str:
        return self.config().reward


ORGANISM_CLAIMS: dict[str, dict[str, Any]] = {
    "organism-ground-truth": {"reward": "ground_truth"},
    "organism-random-reward": {"reward": "random:0.5"},
}
"""Built-in claims on the shipped organism (used when no recipe of that name is found): the demo's schedule
(:class:`~rlvr_lab.studies.settings.TrainingSettings`, ``clip`` preset) on ``qwen-math-like-v2``."""
ORGANISM_BASE: dict[str, Any] = {
    "model": "qwen-math-like-v2",
    "preset": "clip",
    "steps": 50,
    "lr": 2e-4,
    "train_data": "organism",
    "train_split": "train",
    "train_limit": 400,
    "eval_data": "organism",
    "eval_split": "test",
    "eval_limit": 120,
    "prompt": "organism",
    "max_new_tokens": 64,
}
ORGANISM_LARGEST_K = 256
SECOND_FAMILY = {
    "qwen-math-like-v2": "olmo-like-v2",
    "olmo-like-v2": "qwen-math-like-v2",
    "llama-like-v2": "qwen-math-like-v2",
    "qwen-math-like": "olmo-like",
    "olmo-like": "qwen-math-like",
}
"""The organism of the other family, added when only one organism is audited (a second family is asked for)."""
DEFAULT_LARGEST_K = 256
"""Largest k when the claim does not give one (Yue et al. use 256 on MATH-500)."""


def resolve_claim(spec: str) -> Claimed:
    """The claimed arm named by ``spec``: a training config YAML file, a recipe, or a built-in organism claim.

    The one place a RECIPE_OR_CONFIG argument is read; ``ValueError`` listing the names when none matches.
    """
    from rlvr_lab.rl.config import FIELDS, load_config_file

    path = Path(spec)
    if path.suffix in (".yaml", ".yml") or path.is_file():
        if not path.is_file():
            raise ValueError(f"{spec}: no such config file")
        values = load_config_file(path)
        largest = int(values.pop("largest_k", DEFAULT_LARGEST_K))
        resolve_config(values)  # unknown keys and bad values fail here, naming the field
        return Claimed(path.stem, tuple(sorted(values.items())), largest, f"config file {path}")
    recipe = _recipe(spec)
    if recipe is not None:
        return recipe
    if spec in ORGANISM_CLAIMS:
        values = {**ORGANISM_BASE, **ORGANISM_CLAIMS[spec]}
        known = {k: v for k, v in values.items() if k in FIELDS}
        return Claimed(spec, tuple(sorted(known.items())), ORGANISM_LARGEST_K, "built-in organism claim")
    raise ValueError(
        f"{spec!r} is neither a config file (.yaml) nor a known claim; choose one of {', '.join(ORGANISM_CLAIMS)}, "
        "or give a training config file"
    )


def _recipe(name: str) -> Claimed | None:
    """The recipe ``name`` from :mod:`rlvr_lab.recipes`, if that module exists and knows it."""
    try:
        from rlvr_lab import recipes  # type: ignore[attr-defined]
    except ImportError:
        return None
    loader = getattr(recipes, "load_recipe", None)
    if loader is None:
        return None
    try:
        recipe = loader(name)
    except (KeyError, ValueError, FileNotFoundError):
        return None
    values = dict(recipe.train_values()) if hasattr(recipe, "train_values") else dict(recipe.get("train", {}))
    largest = int(getattr(recipe, "largest_k", None) or DEFAULT_LARGEST_K)
    return Claimed(name, tuple(sorted(values.items())), largest, f"recipe {name}")


def default_models(claimed: Claimed) -> tuple[tuple[str, ...], str]:
    """The models to audit when none is given, and a note: the claim's model plus, for an organism, the other
    family's; otherwise the claim's model alone, with the missing second family said."""
    model = claimed.model
    other = SECOND_FAMILY.get(model)
    if other is not None:
        return (model, other), ""
    return (model,), f"one model family only ({model}): a second family is asked for; give it with --model"


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
QUICK_SIZES = AuditSizes(
    eval_problems=36, eval_samples=8, boundary_problems=36, largest_k=64, steps=10, train_problems=64, curve_problems=12
)
"""The quick audit: fewer steps, problems and samples, 2 seeds; the same arms and code paths."""


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
    if s.train_problems is not None:
        overrides["train_limit"] = s.train_problems
    return config.claimed.config(**overrides, **arm_values(config, arm, root, model))


def eval_problems(config: AuditConfig, limit: int) -> ProblemSet:
    claim = config.claimed.config()
    return ProblemSet(claim.eval_split, limit, benchmark=claim.eval_data)


def eval_sampling(config: AuditConfig, n: int) -> SamplingConfig:
    claim = config.claimed.config()
    return SamplingConfig(
        n=n, temperature=claim.eval_temperature or 1.0, max_new_tokens=claim.max_new_tokens, seed=BASE_SEED
    )


def audit_jobs(config: AuditConfig, root: Path) -> list[SampleJob | TrainJob]:
    """Base evaluations (and label stores), every (model, arm, seed) run, then the large-k samples, in priority
    order: what others wait on first, the long large-k sampling as soon as its run is done."""
    claim = config.claimed.config()
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
            )
        )
        if "incorrect" in config.arms:
            train_set = ProblemSet(claim.train_split, s.train_problems or claim.train_limit or 0, claim.train_data)
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
            )
        )
        for arm in config.arms:
            for seed in config.seeds:
                job = TrainJob(
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
                        )
                    )
    claimed_runs = [job for job in runs if f" {CLAIMED} " in job.name]
    others = [job for job in runs if job not in claimed_runs]
    return [*jobs, *claimed_runs, *large_k, *others]


# ----------------------------------------------------------------------------------------------------------------
# Verdicts: pure functions of per-problem arrays


@dataclass(frozen=True)
class ModelData:
    """One model's per-problem numbers, in one problem order (what the verdicts read)."""

    model: str
    base: NDArray[np.float64]
    """(P,) base accuracy per problem (avg@n)."""
    arms: Mapping[str, Mapping[int, NDArray[np.float64]]]
    """arm → seed → (P,) accuracy per problem of that run's final policy."""
    base_sound: NDArray[np.float64] | None = None
    """(P,) the base's share of samples that are correct *and* sound (see the module docstring)."""
    claimed_sound: Mapping[int, NDArray[np.float64]] | None = None
    """seed → (P,) the same for the claimed arm."""
    unsound_shares: tuple[float, float] | None = None
    """Share of correct answers that are unsound: (base, claimed over seeds)."""
    base_k: NDArray[np.int64] | None = None
    """(Q,) correct samples of the base per large-k problem."""
    claimed_k: Mapping[int, NDArray[np.int64]] | None = None
    """seed → (Q,) correct samples of the claimed arm per large-k problem."""
    k: int = 0
    """Samples per large-k problem."""


@dataclass(frozen=True)
class Check:
    """One verdict of the audit, with its family and role."""

    family: str
    subject: str
    """The control, model or ablation arm compared."""
    model: str
    role: str
    """``primary`` or ``secondary`` (see :data:`PRIMARY`)."""
    finding: Finding
    seeds: int
    problems: int
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def holds(self) -> bool:
        return self.finding.verdict == "reproduced"

    def as_dict(self) -> dict[str, Any]:
        f = self.finding
        return {
            "family": self.family,
            "subject": self.subject,
            "model": self.model,
            "role": self.role,
            "claim": f.claim.claim,
            "effect_measured": f.claim.effect,
            "effect": _number(f.effect),
            "interval": [_number(f.low), _number(f.high)],
            "interval_kind": f.interval,
            "verdict": f.verdict,
            "holds": self.holds,
            "seeds": self.seeds,
            "problems": self.problems,
            "detail": f.detail,
            **self.extra,
        }


def _number(value: float) -> float | None:
    return None if math.isnan(value) else round(float(value), 6)


def sign_test(wins: int, losses: int) -> float:
    """Exact two-sided sign test: P(a split at least as uneven as ``wins``:``losses`` | each side 1/2).

    Ties are left out before the call. ``2 · P(X ≤ min)`` for X ~ Binomial(wins + losses, 1/2), capped at 1
    (Conover, 1999, *Practical Nonparametric Statistics*, §3.4); 1.0 when there is nothing to test.
    """
    n = wins + losses
    if n == 0:
        return 1.0
    low = min(wins, losses)
    tail = sum(math.comb(n, i) for i in range(low + 1)) / 2.0**n
    return min(1.0, 2.0 * tail)


def pass_at_k_rows(n: int, c: NDArray[np.int64], k: int) -> NDArray[np.float64]:
    from rlvr_lab.metrics import pass_at_k

    return pass_at_k(np.full(len(c), n), c, k)


def audit_checks(config: AuditConfig, data: Sequence[ModelData]) -> list[Check]:
    """Every check of the audit (see the module docstring), in family order; pure given ``data``."""
    claimed = config.claimed
    first = data[0].model if data else ""
    controls = [c for c in config.controls if c != claimed.reward]
    primary_control = "random:0.5" if "random:0.5" in controls else (controls[0] if controls else "")
    checks: list[Check] = []

    def role(primary: bool) -> str:
        return "primary" if primary else "secondary"

    def diffs(a: Mapping[int, NDArray[np.float64]], b: Mapping[int, NDArray[np.float64]] | NDArray[np.float64]):
        seeds = sorted(set(a) & (set(b) if isinstance(b, Mapping) else set(a)))
        return {s: np.asarray(a[s]) - np.asarray(b[s] if isinstance(b, Mapping) else b) for s in seeds}

    def add(family: str, subject: str, model: str, primary: bool, claim: Claim, d: dict, what: str, **extra: Any):
        finding = over_seeds_and_problems(claim, d, what)
        problems = len(next(iter(d.values()))) if d else 0
        checks.append(Check(family, subject, model, role(primary), finding, len(d), problems, dict(extra)))

    for m in data:
        own = m.arms.get(CLAIMED, {})
        for control in controls:
            if control not in m.arms:
                continue
            claim = Claim(
                AUDIT, f"{claimed.reward} beats {control} ({m.model})", f"Δ accuracy, {CLAIMED} − {control}, same seeds"
            )
            add(
                "controls",
                control,
                m.model,
                m.model == first and control == primary_control,
                claim,
                diffs(own, m.arms[control]),
                f"{CLAIMED} − {control} Δ accuracy",
            )
    for m in data:
        claim = Claim(AUDIT, f"{claimed.reward} raises accuracy on {m.model}", "Δ accuracy, claimed − base")
        add(
            "families",
            m.model,
            m.model,
            m.model == first,
            claim,
            diffs(m.arms.get(CLAIMED, {}), m.base),
            "claimed − base Δ accuracy",
        )
    for m in data:
        for arm in config.ablations:
            if arm not in m.arms:
                continue
            claim = Claim(AUDIT, f"the gain holds with {arm} ({m.model})", f"Δ accuracy, {arm} − base")
            add(
                "clip ablation",
                arm,
                m.model,
                m.model == first and arm == ABLATIONS[0],
                claim,
                diffs(m.arms[arm], m.base),
                f"{arm} − base Δ accuracy",
            )
    for m in data:
        if m.base_k is None or not m.claimed_k:
            continue
        k = m.k
        base_pk = pass_at_k_rows(k, m.base_k, k)
        rl_pk = {s: pass_at_k_rows(k, c, k) for s, c in m.claimed_k.items()}
        solved_rl = np.mean([c > 0 for c in m.claimed_k.values()], axis=0)
        step = solved_rl - (m.base_k > 0)
        only_rl, only_base = int((step > 0).sum()), int((step < 0).sum())
        p = sign_test(only_rl, only_base)
        claim = Claim(
            AUDIT, f"at k = {k} the RL model solves problems the base cannot ({m.model})", f"pass@{k}, claimed − base"
        )
        what = f"pass@{k} base {base_pk.mean():.3f}; claimed − base"
        add(
            "large k",
            m.model,
            m.model,
            m.model == first,
            claim,
            diffs(rl_pk, base_pk),
            what,
            k=k,
            solved_only_by_rl=only_rl,
            solved_only_by_base=only_base,
            sign_test_p=round(p, 6),
        )
    for m in data:
        if m.base_sound is None or not m.claimed_sound:
            continue
        claim = Claim(
            AUDIT,
            f"the gain is made of sound answers ({m.model})",
            "Δ accuracy counting only sound correct answers, claimed − base",
        )
        shares = m.unsound_shares or (float("nan"), float("nan"))
        add(
            "soundness",
            m.model,
            m.model,
            m.model == first,
            claim,
            diffs(m.claimed_sound, m.base_sound),
            "claimed − base Δ sound accuracy",
            unsound_share_base=_number(shares[0]),
            unsound_share_claimed=_number(shares[1]),
        )
    return checks


def gain_is_real(checks: Sequence[Check]) -> bool:
    """The audit's one-line answer: every primary check of controls, families and clip ablation holds."""
    needed = [c for c in checks if c.role == "primary" and c.family in ("controls", "families", "clip ablation")]
    return bool(needed) and all(c.holds for c in needed)


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
) -> AuditConfig:
    """The audit of ``spec`` (see :func:`resolve_claim`) as the command line asks for it."""
    claimed = resolve_claim(spec)
    notes: list[str] = []
    if models:
        chosen = tuple(dict.fromkeys(models))
        if len(chosen) < 2:
            notes.append(f"one model family only ({chosen[0]}): a second family is asked for; add one with --model")
    else:
        chosen, note = default_models(claimed)
        notes += [note] if note else []
    count = seeds if seeds is not None else (2 if quick else 5)
    if count < 1:
        raise ValueError(f"--seeds must be >= 1, got {count}")
    sizes = QUICK_SIZES if quick else FULL_SIZES
    if largest_k is not None:
        if largest_k < 1:
            raise ValueError(f"--k must be >= 1, got {largest_k}")
        sizes = dataclasses.replace(sizes, largest_k=largest_k)
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
