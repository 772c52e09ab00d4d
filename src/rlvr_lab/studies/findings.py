"""The papers' findings, each a function with its criterion fixed here, before any run is read.

Every finding measures one effect, gives it a 95% paired interval and a p-value of the same method
(:mod:`.paired`) and is judged by the one rule of :mod:`.verdict`. Nothing here changes a measurement or picks
among measurements.

**One primary comparison per claim family, named here before the runs** (the rest are secondary, Holm-corrected
within their family by :func:`~rlvr_lab.studies.verdict.correct`):

- *Spurious Rewards*: primary: the spurious signals (format, random, incorrect, python), averaged, raise held-out
  accuracy on the code-preferring profile (the paper's headline); secondary: ground truth raises accuracy on each
  profile, the signals that do not reward code raise code frequency, and they help the code-preferring profile
  more than the other.
- *the clipping ablation*: primary: with random rewards, accuracy rises more with the clipped arm than with the
  same schedule without the clamp (the second preset: ``no-clip`` or ``paper-no-clip``); secondary: every other
  arm comparison and the clipped arm against the base, on accuracy and code frequency.
- *the reasoning boundary*: primary: the base solves more than GT-RL at the largest k reported; secondary: GT-RL
  beats the base at pass@1.

Designs:

- Training claims (every spurious-rewards row and ablation arm) are differences per (seed, problem), with a t
  interval over seeds and problems; with one training seed the interval carries evaluation noise only and the
  finding prints "evaluation noise only: no verdict".
- The boundary compares one trained model with its base (as Yue et al. compare released checkpoints): per-problem
  pass@k differences with the bootstrap over problems. At the largest k, few problems differ, so the interval is the
  union of the bootstrap and t intervals, and the verdict also needs the exact sign test on the problems only one
  of the two models solves (:func:`~rlvr_lab.studies.paired.at_large_k`).
  The largest k reported is a quarter of the samples per problem, so pass@k rests on at least 4 samples per k.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

import numpy as np

from rlvr_lab.metrics import pass_at_k
from rlvr_lab.studies.ablation import AblationResult
from rlvr_lab.studies.boundary import BASE, RL_MODELS, BoundaryResult
from rlvr_lab.studies.evaluation import SetStats
from rlvr_lab.studies.paired import at_large_k, mean_of, over_problems, over_seeds_and_problems
from rlvr_lab.studies.spurious import SpuriousRow
from rlvr_lab.studies.verdict import Claim, Finding, correct

GT_LABEL = RL_MODELS[0][0]
"""The ground-truth RL model of the boundary study."""
SPURIOUS_SIGNALS = ("format", "random:0.5", "incorrect", "python")
"""Signals carrying little or no information about correctness."""
NO_CODE_INCENTIVE = ("format", "random:0.5", "incorrect")
"""The spurious signals that do not reward code by construction (``python`` does), so a rise in code frequency
under them is the model's own drift, the paper's explanation of the gain."""
METRICS = (("accuracy", "accuracy"), ("code_frequency", "code frequency"))
SAMPLES_PER_K = 4
"""The largest k reported is the samples per problem divided by this: pass@k then rests on >= 4 samples per k."""

SPURIOUS = "Spurious Rewards (Shao et al., 2025)"
ABLATION = "Spurious Rewards (Shao et al., 2025), clipping ablation"
BOUNDARY = "Yue et al., 2025 (reasoning boundary)"


def change(before: SetStats, after: SetStats, key: str) -> np.ndarray:
    """(P,) per-problem ``after − before`` of ``accuracy`` or ``code_frequency``, in ``before``'s problem order."""
    order = before.problem_ids
    return after.per_problem(key, order) - before.per_problem(key, order)


# ----------------------------------------------------------------------------------------------------------------
# Spurious rewards


def _per_seed(
    rows: list[SpuriousRow], model: str, rewards: Iterable[str], key: str
) -> dict[str, dict[int, np.ndarray]]:
    """``{reward: {seed: (P,) change}}`` of ``model``'s rows."""
    wanted = set(rewards)
    out: dict[str, dict[int, np.ndarray]] = {}
    for r in rows:
        if r.model == model and r.reward in wanted:
            out.setdefault(r.reward, {})[r.seed] = change(r.before, r.after, key)
    return out


def _averaged(changes: dict[str, dict[int, np.ndarray]]) -> dict[int, np.ndarray]:
    """Per seed, the mean change over the signals (only seeds every signal ran)."""
    seeds = sorted(set.intersection(*(set(by_seed) for by_seed in changes.values())))
    return {s: mean_of([by_seed[s] for by_seed in changes.values()]) for s in seeds}


def _listed(changes: dict[str, dict[int, np.ndarray]]) -> str:
    return ", ".join(
        f"{reward} {np.mean([v.mean() for v in by_seed.values()]):+.3f}" for reward, by_seed in changes.items()
    )


def spurious_findings(rows: list[SpuriousRow]) -> list[Finding]:
    """The spurious signals help the code-prior model (primary); ground truth helps each model, the signals that do
    not reward code raise its code frequency, and help it more than the model whose code is the less accurate
    (secondary). Each over the training seeds of its rows; one seed gives no verdict."""
    models = list(dict.fromkeys(r.model for r in rows))
    out = []
    for model in models:
        gt = _per_seed(rows, model, ("ground_truth",), "accuracy")
        if gt:
            claim = Claim(
                SPURIOUS,
                f"ground-truth rewards raise held-out accuracy ({model})",
                "Δ accuracy, after − before, per seed and problem",
                role="secondary",
            )
            out.append(over_seeds_and_problems(claim, gt["ground_truth"], "Δ accuracy"))
    if len(models) < 2:
        return correct(out)
    prior_code, prior_lang = models[0], models[1]
    on_code = _per_seed(rows, prior_code, SPURIOUS_SIGNALS, "accuracy")
    on_lang = _per_seed(rows, prior_lang, SPURIOUS_SIGNALS, "accuracy")
    if on_code:
        claim = Claim(
            SPURIOUS,
            f"spurious rewards (format, random, incorrect, python) raise accuracy on {prior_code}",
            "Δ accuracy averaged over the spurious signals, per seed and problem",
            role="primary",
        )
        found = over_seeds_and_problems(claim, _averaged(on_code), "mean Δ accuracy")
        out.append(_with_detail(found, f"Δ accuracy {_listed(on_code)}"))
    drift = _per_seed(rows, prior_code, NO_CODE_INCENTIVE, "code_frequency")
    if drift:
        claim = Claim(
            SPURIOUS,
            f"rewards that do not reward code (format, random, incorrect) raise code frequency on {prior_code}",
            "Δ code frequency averaged over those signals, per seed and problem",
            role="secondary",
        )
        found = over_seeds_and_problems(claim, _averaged(drift), "mean Δ code frequency")
        out.append(_with_detail(found, f"Δ code frequency {_listed(drift)}"))
    if on_code and on_lang and set(on_code) == set(on_lang):
        claim = Claim(
            SPURIOUS,
            f"the same rewards help {prior_code} more than {prior_lang} (code less accurate there)",
            f"mean Δ accuracy {prior_code} − {prior_lang}, per seed and problem",
            role="secondary",
        )
        code_seeds, lang_seeds = _averaged(on_code), _averaged(on_lang)
        diffs = {s: code_seeds[s] - lang_seeds[s] for s in sorted(set(code_seeds) & set(lang_seeds))}
        found = over_seeds_and_problems(claim, diffs, f"{prior_code} − {prior_lang}")
        out.append(_with_detail(found, f"{prior_code}: {_listed(on_code)}; {prior_lang}: {_listed(on_lang)}"))
    return correct(out)


def _with_detail(finding: Finding, signals: str) -> Finding:
    """``finding`` with the per-signal means after its per-seed values."""
    return replace(finding, detail=f"{finding.detail}; {signals}")


# ----------------------------------------------------------------------------------------------------------------
# Clipping ablation


def ablation_findings(ablation: AblationResult) -> list[Finding]:
    """With random rewards, the clipped arm (the first preset: ``clip``, or ``paper``) raises accuracy more than the
    same schedule without the clamp (the second preset; primary), and, secondary, raises accuracy and code
    frequency over the base and beats each arm without the clip acting on the same seeds."""
    by_preset = {preset: {r.seed: r for r in runs} for preset, runs in ablation.by_preset().items()}
    if not by_preset:
        return []
    presets = list(by_preset)
    ref, clip = presets[0], by_preset[presets[0]]
    primary = (presets[1], "accuracy") if len(presets) > 1 else None
    out = []
    for key, label in METRICS:
        claim = Claim(
            ABLATION, f"random rewards with {ref} raise {label}", f"Δ {label}, {ref} − base", role="secondary"
        )
        diffs = {s: change(ablation.before, run.after, key) for s, run in clip.items()}
        out.append(over_seeds_and_problems(claim, diffs, f"{ref} − base Δ {label}"))
        for other, runs in by_preset.items():
            if other == ref:
                continue
            seeds = sorted(set(clip) & set(runs))
            claim = Claim(
                ABLATION,
                f"random rewards raise {label} more with {ref} than with {other}",
                f"Δ {label}, {ref} − {other}, same seeds",
                role="primary" if (other, key) == primary else "secondary",
            )
            diffs = {s: change(runs[s].after, clip[s].after, key) for s in seeds}
            out.append(over_seeds_and_problems(claim, diffs, f"{ref} − {other} Δ {label}"))
    return correct(out)


# ----------------------------------------------------------------------------------------------------------------
# Reasoning boundary


def boundary_findings(boundary: BoundaryResult) -> list[Finding]:
    """The base solves more than GT-RL at the largest k reported (primary: bootstrap interval and the exact sign test
    on the problems only one model solves); GT-RL beats the base at pass@1 (secondary).

    The boundary claims are about RL with a correct signal; the random-reward model is compared in the report,
    and its pass@1 is the spurious-rewards question, checked above.
    """
    sets = dict(boundary.eval_sets)
    if BASE not in sets or GT_LABEL not in sets:
        return []
    base = sets[BASE]
    rl = sets[GT_LABEL].aligned(base.problem_ids, other=str(base.path))
    samples = min(int(base.n.min()), int(rl.n.min()))
    k_max = max(1, samples // SAMPLES_PER_K)
    claim = Claim(
        BOUNDARY,
        f"{GT_LABEL} beats the base at pass@1",
        f"pass@1, {GT_LABEL} − base, per problem",
        role="secondary",
    )
    first = over_problems(claim, pass_at_k(base.n, base.c, 1), pass_at_k(rl.n, rl.c, 1))
    claim = Claim(
        BOUNDARY,
        f"the base solves more than {GT_LABEL} at large k (k = {k_max})",
        f"pass@{k_max}, base − {GT_LABEL}, per problem",
        role="primary",
    )
    large = at_large_k(claim, base.c, rl.c, samples, k_max)
    base_k, rl_k = pass_at_k(base.n, base.c, k_max), pass_at_k(rl.n, rl.c, k_max)
    detail = (
        f"pass@{k_max} base {base_k.mean():.3f}, {GT_LABEL} {rl_k.mean():.3f} ({samples} samples per problem); "
        f"{large.detail}"
    )
    return correct([first, replace(large, detail=detail)])
