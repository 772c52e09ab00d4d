"""``rlvr study spurious-mechanisms``: the competing explanations of spurious-reward gains, tested on the organism,
each with its prediction fixed here before its runs.

*Spurious Rewards* (Shao et al., 2025) explains random-reward gains by the clip term's bias; later work offers
other accounts. On the organism the headline does not reproduce (random reward with clip: accuracy −6.0
[−10.2, −2.5] in the demo) while the clamp binds on 1e-5 to 4.5e-4 of the strategy tokens, against 2.7% in the
clip-bias lab's cell where the bias shows. The accounts and what each predicts, written before any run of this
study:

- **clip-bias concentration** (the paper's): a fixed grid of learning rate × updates per rollout, random reward,
  ``clip`` and ``no-clip`` on the same seeds, each cell reported with its strategy-token clip fraction.
  *Prediction* (:data:`CLIP_FRACTION_THRESHOLD`): clip − base accuracy is positive in a cell only when its
  strategy-token clip fraction is at least 1% (the lab's bias shows at 2.7% and is absent at 0.2%; 1% lies
  between, fixed from the lab before any organism cell ran).
- **asymmetric clipping moves entropy** (arXiv 2509.26114: clip-high lowers entropy, clip-low raises it;
  arXiv 2512.16912): ``clip-high`` (ε_low 0.2, ε_high 0.1: the upper bound binds first) against ``clip-low``
  (ε_low 0.1, ε_high 0.2) on the same seeds. *Prediction*: the per-problem strategy entropy (the binary entropy of
  a problem's code share in the shared evaluation) falls more under ``clip-high`` (direction −1), and code
  frequency, the prior's mode on the code-preferring profile, rises more under it (direction +1): the two
  movements flip sign between the arms.
- **format** (the reward teaches the answer format): every accuracy change of the grid's ``clip`` arms is split
  per problem into a boxed-rate term and an accuracy-given-a-box term (``acc = boxed · acc|boxed + unboxed-correct``,
  each change split at the midpoint). *Prediction of the format account*: the boxed-rate term carries the change.
- **contamination** (arXiv 2507.10532: Qwen2.5-Math shows signs of having memorised MATH-500; on clean synthetic
  arithmetic only correct rewards help): ``qwen-math-like-v2-contaminated`` saw a known subset S of the
  evaluation's test problems with their gold answers in pretraining (:mod:`rlvr_lab.organism.contamination`: 10 of
  each type among the first 120, fixed by seed 0, each paired with a clean problem of its type). It is trained with
  random reward and ``clip`` at lr :attr:`MechanismsConfig.contamination_lr` × :attr:`~MechanismsConfig.
  contamination_updates` updates per rollout (the on-policy control's rate for the parent profile, where noise
  alone moves accuracy by under a point, and the grid's most updates per rollout, where the clamp binds most), on
  the study's seeds, each run paired with the contaminated base on the same problems. *Prediction of the
  contamination account* (primary): the gain on S minus the gain on its clean pair is positive (interval excludes
  0); secondary, the gain on S is positive. *Prediction of the clip account* (primary of its own family, on this
  organism): the gain on the clean problems is positive too. *Validity check*, fixed with them: the base answers S
  more often than the clean pairs (memorisation visible); if not, the test is void and the report says so.
  :func:`contamination_reading` turns the three verdicts into the account the organism supports.

Every comparison is a training claim over seeds × problems (:func:`~rlvr_lab.studies.paired.over_seeds_and_problems`:
a t interval, no verdict with one seed); within each account one comparison is primary (named in
:func:`mechanism_findings`), the rest secondary with Holm.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from rlvr_lab.metrics import GradedSamples
from rlvr_lab.report import Table
from rlvr_lab.studies import settings
from rlvr_lab.studies.evaluation import load_set
from rlvr_lab.studies.jobs import SampleJob, TrainJob
from rlvr_lab.studies.paired import over_problems, over_seeds_and_problems
from rlvr_lab.studies.settings import EvalSettings, TrainingSettings, base_eval_job, base_store, slug
from rlvr_lab.studies.verdict import Claim, Finding, correct

CLIP_FRACTION_THRESHOLD = 0.01
"""Strategy-token clip fraction at and above which the clip account predicts clip − base > 0 (module docstring)."""
ASYMMETRIC: dict[str, tuple[float, float]] = {"clip-high": (0.2, 0.1), "clip-low": (0.1, 0.2)}
"""(ε_low, ε_high) of the asymmetric arms: a smaller ε binds first."""
CLIP_ACCOUNT = "clip-bias concentration (Shao et al., 2025)"
ENTROPY_ACCOUNT = "asymmetric clipping moves entropy (arXiv 2509.26114)"
FORMAT_ACCOUNT = "format learning"
CONTAMINATION_ACCOUNT = "contamination (arXiv 2507.10532)"
CONTAMINATION_CHECK = "contamination check: memorisation visible in the base"
CLIP_ON_CLEAN = "clip-bias account on the contaminated organism"
"""Family of the clip account's prediction on the contaminated organism (its own primary, apart from the grid's)."""
CONTAMINATED_PROFILE = "qwen-math-like-v2-contaminated"
CONCENTRATES = "random-reward gain on S − gain on its clean pair > 0 (gains concentrate on the leaked problems)"
GAIN_ON_S = "random-reward gain on the leaked problems S > 0"
GAIN_ON_CLEAN = "random-reward gain on the clean problems > 0 (the clip bias owes nothing to the problems)"
MEMORISED = "the base answers S more often than the clean problems of the same types"


@dataclass(frozen=True)
class MechanismsConfig:
    """The grid, the asymmetric arms and their shared settings."""

    profile: str = "qwen-math-like-v2"
    reward: str = "random:0.5"
    lrs: tuple[float, ...] = (3e-4, 1e-3)
    """Learning rates of the grid (3e-4: the on-policy control's choice for this profile; 1e-3: its first failing
    rate, where the clamp binds more)."""
    updates: tuple[int, ...] = (4, 16)
    """Optimiser updates per rollout of the grid (16 prompts × 8: mini-batches of 32 and 8)."""
    asymmetric_lr: float = 3e-4
    asymmetric_updates: int = 16
    contamination: bool = True
    """Run the contamination arm (when ``contaminated_profile`` has a shipped checkpoint and the evaluation holds
    at least two (S, clean) pairs)."""
    contaminated_profile: str = CONTAMINATED_PROFILE
    contamination_lr: float = 3e-4
    contamination_updates: int = 16
    seeds: tuple[int, ...] = (0, 1, 2, 3, 4)
    training: TrainingSettings = field(default_factory=TrainingSettings)
    evaluation: EvalSettings = field(default_factory=EvalSettings)

    def __post_init__(self) -> None:
        rollout = 16 * 8
        for u in (*self.updates, self.asymmetric_updates, self.contamination_updates):
            if u < 1 or rollout % u:
                raise ValueError(f"updates per rollout must divide the rollout of {rollout}, got {u}")
        if not self.seeds or not self.lrs:
            raise ValueError("need at least one seed and one learning rate")


@dataclass(frozen=True)
class Arm:
    """One arm of the study: a schedule on every seed."""

    name: str
    lr: float
    updates: int
    clip: str = "clip"
    eps: tuple[float, float] = (0.2, 0.2)
    model: str = ""
    """The profile trained (empty: the study's ``profile``)."""

    @property
    def label(self) -> str:
        return f"{self.name} lr {self.lr:g} × {self.updates} updates"


def arms(config: MechanismsConfig) -> list[Arm]:
    """The grid's ``clip`` and ``no-clip`` cells, then the two asymmetric arms."""
    grid = [
        Arm(name, lr, updates, "clip" if name == "clip" else "none")
        for lr, updates in itertools.product(config.lrs, config.updates)
        for name in ("clip", "no-clip")
    ]
    asym = [Arm(name, config.asymmetric_lr, config.asymmetric_updates, "clip", eps) for name, eps in ASYMMETRIC.items()]
    return grid + asym


def contamination_arm(config: MechanismsConfig) -> Arm | None:
    """The contamination arm, or None when it is switched off, its profile has no shipped checkpoint, or the
    evaluation holds fewer than two (S, clean) pairs (:func:`contamination_pairs`); :func:`not_run` says which."""
    return None if contamination_skipped(config) else _contamination_arm(config)


def _contamination_arm(config: MechanismsConfig) -> Arm:
    return Arm("contaminated", config.contamination_lr, config.contamination_updates, model=config.contaminated_profile)


def contamination_skipped(config: MechanismsConfig) -> str:
    """Why the contamination arm does not run ("" when it runs)."""
    from rlvr_lab.organism.profiles import PROFILES, shipped_checkpoint

    if not config.contamination:
        return "not run: switched off (--no-contamination)"
    name = config.contaminated_profile
    if name not in PROFILES or shipped_checkpoint(name) is None:
        return f"not run: profile {name!r} has no shipped checkpoint (rlvr organism build --profile {name})"
    ids = tuple(p.id for p in _eval_problems(config))
    if len(contamination_pairs(ids, config.contaminated_profile)) < 2:
        return f"not run: the first {len(ids)} evaluation problems hold fewer than two (S, clean) pairs"
    return ""


def _eval_problems(config: MechanismsConfig) -> list[Any]:
    from rlvr_lab.organism.tasks import organism_problems

    return organism_problems("test", 0, config.evaluation.problems)


def contamination_pairs(order: tuple[str, ...], profile: str) -> np.ndarray:
    """(K, 2) positions in ``order`` (problem ids of the evaluation) of each (S, clean) pair of ``profile``'s
    contamination (:func:`rlvr_lab.organism.contamination.matched_pairs`) whose two problems are both evaluated."""
    from rlvr_lab.organism.contamination import matched_pairs
    from rlvr_lab.organism.profiles import get_profile
    from rlvr_lab.organism.tasks import organism_problems

    spec = get_profile(profile).corpus.contamination
    if spec is None:
        raise ValueError(f"profile {profile!r} has no contamination (corpus.contamination is None)")
    ids = [p.id for p in organism_problems("test", 0, spec.eval_problems)]
    where = {pid: i for i, pid in enumerate(order)}
    pairs = [(where[ids[a]], where[ids[b]]) for a, b in matched_pairs(spec) if ids[a] in where and ids[b] in where]
    return np.asarray(pairs, dtype=np.int64).reshape(-1, 2)


def train_job(root: Path, config: MechanismsConfig, arm: Arm, seed: int) -> TrainJob:
    """The run of ``arm`` with ``seed`` (preset ``clip``'s 16 × 8 rollout with the arm's mini-batch, clamp and ε)."""
    training = dataclasses.replace(config.training, lr=arm.lr)
    model = arm.model or config.profile
    out = Path(root) / "runs" / slug(model) / slug(f"{arm.name}-lr{arm.lr:g}-u{arm.updates}") / f"s{seed}"
    job = settings.train_job(
        f"mechanisms {model} {arm.label} s{seed}",
        training,
        config.evaluation,
        model=model,
        reward=config.reward,
        preset="clip",
        seed=seed,
        out=out,
    )
    run = dataclasses.replace(
        job.config, mini_batch_size=128 // arm.updates, clip=arm.clip, eps_low=arm.eps[0], eps_high=arm.eps[1]
    )
    return dataclasses.replace(job, config=run)


def mechanism_jobs(root: Path, config: MechanismsConfig) -> list[SampleJob | TrainJob]:
    """The base evaluation, then every arm on every seed; with the contamination arm, its base and its runs."""
    runs = [train_job(root, config, arm, seed) for arm in arms(config) for seed in config.seeds]
    jobs: list[SampleJob | TrainJob] = [base_eval_job(root, config.profile, config.training, config.evaluation), *runs]
    arm = contamination_arm(config)
    if arm is not None:
        jobs.append(base_eval_job(root, arm.model, config.training, config.evaluation))
        jobs += [train_job(root, config, arm, seed) for seed in config.seeds]
    return jobs


# ----------------------------------------------------------------------------------------------------------------
# Per-problem measures of one evaluation


def per_problem(graded: GradedSamples, order: tuple[str, ...]) -> dict[str, np.ndarray]:
    """(P,) per problem, in ``order``: accuracy, code share, strategy entropy (bits), boxed rate, accuracy given a
    box (0 where nothing is boxed) and the share correct without a box."""
    from rlvr_lab.analysis.strategy import is_code
    from rlvr_lab.rewards.text import has_boxed_answer

    if graded.completions is None:
        raise ValueError(f"{graded.path}: no completion column, so no strategy or format labels")
    index = {pid: i for i, pid in enumerate(graded.problem_ids)}
    if set(index) != set(order):
        raise ValueError(f"{graded.path}: the evaluations cover different problems; cannot pair")
    out: dict[str, list[float]] = {k: [] for k in ("accuracy", "code", "entropy", "boxed", "given_box", "unboxed")}
    for pid in order:
        i = index[pid]
        texts, right = graded.completions[i], np.asarray(graded.correct[i], dtype=bool)
        boxed = np.array([has_boxed_answer(t) for t in texts], dtype=bool)
        code = float(np.mean([is_code(t, "contains_python") for t in texts]))
        out["accuracy"].append(float(right.mean()))
        out["code"].append(code)
        out["entropy"].append(binary_entropy(code))
        out["boxed"].append(float(boxed.mean()))
        out["given_box"].append(float(right[boxed].mean()) if boxed.any() else 0.0)
        out["unboxed"].append(float((right & ~boxed).mean()))
    return {k: np.asarray(v) for k, v in out.items()}


def binary_entropy(p: float) -> float:
    """H(p) in bits (0 at p = 0 or 1)."""
    if p <= 0.0 or p >= 1.0:
        return 0.0
    return float(-(p * np.log2(p) + (1.0 - p) * np.log2(1.0 - p)))


def format_split(before: dict[str, np.ndarray], after: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """(P,) boxed-rate term and accuracy-given-a-box term of ``after − before`` accuracy (midpoint split; the rest is
    the change of answers correct without a box)."""
    d_boxed = after["boxed"] - before["boxed"]
    d_given = after["given_box"] - before["given_box"]
    return d_boxed * (before["given_box"] + after["given_box"]) / 2, d_given * (before["boxed"] + after["boxed"]) / 2


# ----------------------------------------------------------------------------------------------------------------
# Results and findings


@dataclass(frozen=True)
class ArmRun:
    arm: Arm
    seed: int
    measures: dict[str, np.ndarray]
    clip_frac_strategy: float
    """Mean over steps of ``actor/clip_frac_strategy`` (the share of strategy tokens the clamp acted on)."""


@dataclass(frozen=True)
class MechanismsResult:
    base: dict[str, np.ndarray]
    runs: tuple[ArmRun, ...]
    contaminated_base: dict[str, np.ndarray] | None = None
    """The contaminated profile's base evaluation (None: the arm did not run)."""
    pairs: np.ndarray | None = None
    """(K, 2) positions of the (S, clean) pairs in the evaluation's problem order."""

    def of(self, arm: Arm) -> dict[int, ArmRun]:
        return {r.seed: r for r in self.runs if r.arm == arm}


def mechanisms_result(root: Path, config: MechanismsConfig) -> MechanismsResult:
    """Read the finished study."""
    from rlvr_lab.studies.ablation import mean_logged

    base_set = load_set(base_store(root, config.profile))
    order = base_set.problem_ids
    runs = []
    for arm in arms(config):
        for seed in config.seeds:
            job = train_job(root, config, arm, seed)
            measures = per_problem(load_set(job.final_store), order)
            runs.append(ArmRun(arm, seed, measures, mean_logged(job.run_dir, "actor/clip_frac_strategy")))
    if contamination_arm(config) is None:
        return MechanismsResult(per_problem(base_set, order), tuple(runs))
    contaminated, leaked, pairs = contamination_result(root, config, tuple(order))
    return MechanismsResult(per_problem(base_set, order), (*runs, *leaked), contaminated, pairs)


def contamination_result(
    root: Path, config: MechanismsConfig, order: tuple[str, ...]
) -> tuple[dict[str, np.ndarray], list[ArmRun], np.ndarray]:
    """The finished contamination arm (it must run for ``config``): the contaminated base's measures, its runs,
    and the (S, clean) pairs' positions in ``order``."""
    from rlvr_lab.studies.ablation import mean_logged

    arm = _contamination_arm(config)
    base = per_problem(load_set(base_store(root, arm.model)), order)
    runs = []
    for seed in config.seeds:
        job = train_job(root, config, arm, seed)
        measures = per_problem(load_set(job.final_store), order)
        runs.append(ArmRun(arm, seed, measures, mean_logged(job.run_dir, "actor/clip_frac_strategy")))
    return base, runs, contamination_pairs(order, arm.model)


def mechanism_findings(result: MechanismsResult, config: MechanismsConfig) -> list[Finding]:
    """Every account's comparisons (module docstring); primary per account, fixed by the config before any run: the
    clip account's cell with the largest rate and the most updates per rollout (where the clamp should bind
    most), the asymmetric arms' entropy difference, and the boxed-rate term of that same cell."""
    base = result.base
    out: list[Finding] = []
    grid = [a for a in arms(config) if a.name == "clip"]
    fractions = {a: float(np.mean([r.clip_frac_strategy for r in result.of(a).values()])) for a in grid}
    top = max(grid, key=lambda a: (a.lr, a.updates))
    for arm in grid:
        runs = result.of(arm)
        above = fractions[arm] >= CLIP_FRACTION_THRESHOLD
        claim = Claim(
            CLIP_ACCOUNT,
            f"{arm.label}: strategy-token clip fraction {fractions[arm]:.1e} "
            f"({'at or above' if above else 'below'} {CLIP_FRACTION_THRESHOLD:.0%}): clip − base accuracy "
            f"{'> 0' if above else 'not > 0'}",
            "Δ accuracy, clip − base, per seed and problem",
            role="primary" if arm == top else "secondary",
        )
        diffs = {s: r.measures["accuracy"] - base["accuracy"] for s, r in runs.items()}
        out.append(over_seeds_and_problems(claim, diffs, "clip − base"))
        no_clip = result.of(dataclasses.replace(arm, name="no-clip", clip="none"))
        claim = Claim(
            CLIP_ACCOUNT,
            f"{arm.label}: clip − no-clip accuracy > 0",
            "Δ accuracy, clip − no-clip, same seeds",
            role="secondary",
        )
        seeds = sorted(set(runs) & set(no_clip))
        diffs = {s: runs[s].measures["accuracy"] - no_clip[s].measures["accuracy"] for s in seeds}
        out.append(over_seeds_and_problems(claim, diffs, "clip − no-clip"))
    high, low = (result.of(a) for a in arms(config) if a.name in ASYMMETRIC)
    seeds = sorted(set(high) & set(low))
    for key, label, direction, role in (("entropy", "strategy entropy", -1, "primary"),
                                        ("code", "code frequency", 1, "secondary")):  # fmt: skip
        claim = Claim(
            ENTROPY_ACCOUNT,
            f"{label} moves {'down' if direction < 0 else 'up'} more under clip-high than under clip-low",
            f"Δ {label}, clip-high − clip-low, same seeds",
            direction,  # type: ignore[arg-type]
            role=role,  # type: ignore[arg-type]
        )
        diffs = {s: high[s].measures[key] - low[s].measures[key] for s in seeds}
        out.append(over_seeds_and_problems(claim, diffs, "clip-high − clip-low"))
    for arm in grid:
        runs = result.of(arm)
        split = {s: format_split(base, r.measures) for s, r in runs.items()}
        for j, (term, label) in enumerate((("boxed", "boxed-rate term"), ("given", "accuracy-given-a-box term"))):
            claim = Claim(
                FORMAT_ACCOUNT,
                f"{arm.label}: the {label} of clip − base accuracy > 0",
                f"{label} of Δ accuracy, per seed and problem",
                role="primary" if (arm, j) == (top, 0) else "secondary",
            )
            out.append(over_seeds_and_problems(claim, {s: parts[j] for s, parts in split.items()}, term))
    arm = contamination_arm(config)
    if arm is not None and result.contaminated_base is not None and result.pairs is not None:
        after = {s: r.measures["accuracy"] for s, r in result.of(arm).items()}
        out += contamination_findings(result.contaminated_base["accuracy"], after, result.pairs)
    return correct(out)


def contamination_findings(base: np.ndarray, after: dict[int, np.ndarray], pairs: np.ndarray) -> list[Finding]:
    """The contamination arm's findings (module docstring), uncorrected: the validity check (base accuracy, S −
    clean, over the pairs), the contamination account's S − clean gain (primary) and gain on S, and the clip
    account's gain on clean problems. ``base`` and each ``after[seed]`` are (P,) accuracies in the evaluation's
    order; ``pairs`` (K, 2) the positions of each (S, clean) pair."""
    s, c = pairs[:, 0], pairs[:, 1]
    gains = {seed: np.asarray(a, dtype=np.float64) - base for seed, a in after.items()}
    check = Claim(CONTAMINATION_CHECK, MEMORISED, "base accuracy, S − clean, matched pairs")
    concentrates = Claim(
        CONTAMINATION_ACCOUNT, CONCENTRATES, "Δ accuracy (trained − base) on S − on its clean pair, per seed and pair"
    )
    on_s = Claim(CONTAMINATION_ACCOUNT, GAIN_ON_S, "Δ accuracy (trained − base) on S, per seed", role="secondary")
    on_clean = Claim(
        CLIP_ACCOUNT, GAIN_ON_CLEAN, "Δ accuracy (trained − base) on clean, per seed", family=CLIP_ON_CLEAN
    )
    return [
        over_problems(check, base[c], base[s], f"S {base[s].mean():.3f}, clean {base[c].mean():.3f}"),
        over_seeds_and_problems(concentrates, {k: g[s] - g[c] for k, g in gains.items()}, "S − clean gain"),
        over_seeds_and_problems(on_s, {k: g[s] for k, g in gains.items()}, "gain on S"),
        over_seeds_and_problems(on_clean, {k: g[c] for k, g in gains.items()}, "gain on clean"),
    ]


def contamination_reading(found: list[Finding]) -> str:
    """Which account the contamination arm supports, from the verdicts of :func:`contamination_findings` (after
    :func:`~rlvr_lab.studies.verdict.correct`): void when memorisation is not visible in the base; contamination
    when gains concentrate on S and none shows on clean problems; clip when clean problems gain and S no more;
    both or neither otherwise. Empty when the arm did not run."""
    verdicts = {f.claim.claim: f for f in found}
    if MEMORISED not in verdicts:
        return ""
    check, conc, clean = (verdicts[k] for k in (MEMORISED, CONCENTRATES, GAIN_ON_CLEAN))
    said = f"(S − clean gain {conc.observed()} {conc.verdict}; gain on clean {clean.observed()} {clean.verdict})"
    if check.verdict != "reproduced":
        return (
            f"void: the contaminated base does not answer S more often than clean problems ({check.observed()}, "
            f"{check.verdict}), so the memorisation the account needs is not visible {said}"
        )
    if conc.verdict == "reproduced" and clean.verdict != "reproduced":
        return f"contamination: gains concentrate on the leaked problems and none shows on clean ones {said}"
    if clean.verdict == "reproduced" and conc.verdict != "reproduced":
        return f"clip: clean problems gain and the leaked ones no more {said}"
    if clean.verdict == "reproduced":
        return f"both: clean problems gain, and the leaked ones more {said}"
    return f"neither: no gain on clean problems and none concentrated on the leaked ones {said}"


def predictions(found: list[Finding]) -> list[dict[str, Any]]:
    """Each account's prediction against its verdict: the clip account's cells predict "reproduced" at or above the
    threshold and anything else below it; the entropy account predicts both arm differences "reproduced"; the
    format account predicts the boxed-rate term "reproduced" and the given-a-box term not."""
    out = []
    for f in found:
        if f.claim.paper == CLIP_ACCOUNT and "clip − base" in f.claim.claim:
            wanted = "reproduced" if "at or above" in f.claim.claim else "not reproduced"
        elif f.claim.paper == ENTROPY_ACCOUNT:
            wanted = "reproduced"
        elif f.claim.paper == FORMAT_ACCOUNT:
            wanted = "reproduced" if "boxed-rate term" in f.claim.claim else "not reproduced"
        elif f.claim.paper in (CONTAMINATION_ACCOUNT, CONTAMINATION_CHECK) or f.claim.family_name == CLIP_ON_CLEAN:
            wanted = "reproduced"  # each account's own prediction; the check is the test's precondition
        else:
            continue
        held = (f.verdict == "reproduced") == (wanted == "reproduced") and "no verdict" not in f.verdict
        out.append({"account": f.claim.paper, "claim": f.claim.claim, "predicted": wanted, "verdict": f.verdict,
                    "observed": f.observed(), "held": held})  # fmt: skip
    return out


def grid_table(result: MechanismsResult, config: MechanismsConfig) -> Table:
    """One row per arm: strategy-token clip fraction and the mean changes (over seeds) from the base."""
    rows = []
    for arm in arms(config):
        runs = list(result.of(arm).values())
        mean = {k: float(np.mean([r.measures[k].mean() for r in runs])) - float(result.base[k].mean())
                for k in ("accuracy", "code", "entropy", "boxed", "given_box")}  # fmt: skip
        clip_frac = float(np.mean([r.clip_frac_strategy for r in runs]))
        rows.append((arm.name, arm.lr, arm.updates, f"{arm.eps[0]} / {arm.eps[1]}", len(runs), clip_frac,
                     *(mean[k] for k in ("accuracy", "code", "entropy", "boxed", "given_box"))))  # fmt: skip
    columns = ("arm", "lr", "updates/rollout", "ε low / high", "seeds", "strategy clip frac.", "Δ acc.", "Δ code",
               "Δ strategy entropy", "Δ boxed rate", "Δ acc. given a box")  # fmt: skip
    note = (
        f"{config.profile} trained with {config.reward} for {config.training.steps} steps; changes: final held-out "
        f"evaluation ({config.evaluation.problems} problems × {config.evaluation.samples} samples) minus the base "
        f"model's, mean over seeds; the clip account's threshold: {CLIP_FRACTION_THRESHOLD:.0%} of strategy tokens"
    )
    return Table("Spurious-reward mechanisms on the organism", columns, tuple(rows), note)


def summary(result: MechanismsResult, config: MechanismsConfig, found: list[Finding]) -> dict[str, Any]:
    """What the command writes to ``mechanisms.json``."""
    return {
        "config": json.loads(json.dumps(dataclasses.asdict(config))),
        "clip_fraction_threshold": CLIP_FRACTION_THRESHOLD,
        "findings": [f.as_dict() for f in found],
        "predictions": predictions(found),
        "not_run": {CONTAMINATION_ACCOUNT: why} if (why := contamination_skipped(config)) else {},
        "contamination": contamination_summary(result, config, found),
        "arms": [
            {
                "arm": dataclasses.asdict(r.arm),
                "seed": r.seed,
                "clip_frac_strategy": r.clip_frac_strategy,
                **{k: float(v.mean()) for k, v in r.measures.items()},
            }
            for r in result.runs
        ],
    }


def _contamination_means(result: MechanismsResult, config: MechanismsConfig) -> dict[str, tuple[float, float]]:
    """(base, trained: mean over seeds) accuracy on S and on clean; empty when the arm did not run."""
    arm = contamination_arm(config)
    if arm is None or result.contaminated_base is None or result.pairs is None:
        return {}
    base, runs = result.contaminated_base["accuracy"], list(result.of(arm).values())
    out = {}
    for j, name in enumerate(("S", "clean")):
        where = result.pairs[:, j]
        out[name] = (float(base[where].mean()), float(np.mean([r.measures["accuracy"][where].mean() for r in runs])))
    return out


def contamination_summary(result: MechanismsResult, config: MechanismsConfig, found: list[Finding]) -> dict[str, Any]:
    """The contamination arm in ``mechanisms.json``: its profile and schedule, the pairs, base and trained accuracy
    on S and clean, and :func:`contamination_reading`; or why it did not run."""
    means = _contamination_means(result, config)
    if not means or result.pairs is None:
        return {"run": False, "why": contamination_skipped(config) or "no evaluation of the arm"}
    ids = tuple(p.id for p in _eval_problems(config))
    return {
        "run": True,
        "profile": config.contaminated_profile,
        "lr": config.contamination_lr,
        "updates": config.contamination_updates,
        "pairs": [[ids[a], ids[b]] for a, b in result.pairs.tolist()],
        "accuracy": {name: {"base": b, "trained": t, "gain": t - b} for name, (b, t) in means.items()},
        "reading": contamination_reading(found),
    }


def contamination_table(result: MechanismsResult, config: MechanismsConfig, found: list[Finding]) -> Table | None:
    """Base and trained accuracy on S, on clean and their difference (None when the arm did not run)."""
    means = _contamination_means(result, config)
    if not means or result.pairs is None:
        return None
    (sb, st), (cb, ct) = means["S"], means["clean"]
    rows = (("S (leaked)", len(result.pairs), sb, st, st - sb), ("clean", len(result.pairs), cb, ct, ct - cb),
            ("S − clean", len(result.pairs), sb - cb, st - ct, (st - sb) - (ct - cb)))  # fmt: skip
    note = (
        f"{config.contaminated_profile} trained with {config.reward}, clip, lr {config.contamination_lr:g} × "
        f"{config.contamination_updates} updates per rollout, {config.training.steps} steps, {len(config.seeds)} "
        f"seeds; accuracy on the final held-out evaluation, trained: mean over seeds. Reading: "
        f"{contamination_reading(found)}"
    )
    columns = ("problems", "pairs", "base acc.", "trained acc.", "gain")
    return Table("Contamination arm: leaked problems against clean ones", columns, rows, note)
