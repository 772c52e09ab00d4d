"""The papers' findings, each a function with its criterion fixed here, before any run is read.

Every finding measures one effect, gives it a 95% paired interval (:mod:`.paired`) and is judged by the one rule of
:mod:`.verdict`: *reproduced* only when the interval excludes 0 on the paper's side; *opposite* when it excludes
0 on the other; *not significant* otherwise. Nothing here changes a measurement or picks among measurements.

- Evaluation differences (a model before and after training, or two models) are per-problem differences on the
  same held-out problems, sampled with the same seed, resampled over problems. The spurious-rewards table trains
  one seed per signal, so its intervals carry evaluation noise only (said in the interval's text).
- Training arms (the clipping ablation) run on the same seeds; the per-(seed, problem) difference is resampled over
  seeds and problems, and every seed's value is listed.
- The boundary claims compare per-problem pass@k of the base and the RL model at k = 1 and at the largest k.
"""

from __future__ import annotations

import numpy as np

from rlvr_lab.metrics import pass_at_k
from rlvr_lab.studies.ablation import AblationResult
from rlvr_lab.studies.boundary import BASE, RL_MODELS, BoundaryResult
from rlvr_lab.studies.evaluation import SetStats
from rlvr_lab.studies.paired import mean_of, over_problems, over_seeds_and_problems
from rlvr_lab.studies.spurious import SpuriousRow
from rlvr_lab.studies.verdict import Claim, Finding

GT_LABEL = RL_MODELS[0][0]
"""The ground-truth RL model of the boundary study."""
SPURIOUS_SIGNALS = ("format", "random:0.5", "incorrect", "python")
"""Signals carrying little or no information about correctness."""
NO_CODE_INCENTIVE = ("format", "random:0.5", "incorrect")
"""The spurious signals that do not reward code by construction (``python`` does), so a rise in code frequency
under them is the model's own drift, the paper's explanation of the gain."""
METRICS = (("accuracy", "accuracy"), ("code_frequency", "code frequency"))

SPURIOUS = "Spurious Rewards (Shao et al., 2025)"
ABLATION = "Spurious Rewards (Shao et al., 2025), clipping ablation"
BOUNDARY = "Yue et al., 2025 (reasoning boundary)"


def change(before: SetStats, after: SetStats, key: str) -> np.ndarray:
    """(P,) per-problem ``after − before`` of ``accuracy`` or ``code_frequency``, in ``before``'s problem order."""
    order = before.problem_ids
    return after.per_problem(key, order) - before.per_problem(key, order)


# ----------------------------------------------------------------------------------------------------------------
# Spurious rewards


def _changes(rows: list[SpuriousRow], model: str, rewards: tuple[str, ...], key: str) -> dict[str, np.ndarray]:
    return {r.reward: change(r.before, r.after, key) for r in rows if r.model == model and r.reward in rewards}


def _listed(changes: dict[str, np.ndarray]) -> str:
    return ", ".join(f"{reward} {values.mean():+.3f}" for reward, values in changes.items())


def spurious_findings(rows: list[SpuriousRow]) -> list[Finding]:
    """Ground truth helps each model; spurious signals help the code-prior model, raise its code frequency, and
    help it more than the model whose code is the less accurate."""
    one_seed = "one training seed per signal: seed-to-seed spread not included"
    models = list(dict.fromkeys(r.model for r in rows))
    out = []
    for model in models:
        gt = _changes(rows, model, ("ground_truth",), "accuracy")
        if gt:
            claim = Claim(
                SPURIOUS,
                f"ground-truth rewards raise held-out accuracy ({model})",
                "Δ accuracy, after − before, per problem",
            )
            out.append(over_problems(claim, np.zeros_like(gt["ground_truth"]), gt["ground_truth"], note=one_seed))
    if len(models) < 2:
        return out
    prior_code, prior_lang = models[0], models[1]
    on_code = _changes(rows, prior_code, SPURIOUS_SIGNALS, "accuracy")
    on_lang = _changes(rows, prior_lang, SPURIOUS_SIGNALS, "accuracy")
    if on_code:
        claim = Claim(
            SPURIOUS,
            f"spurious rewards (format, random, incorrect, python) raise accuracy on {prior_code}",
            "Δ accuracy averaged over the spurious signals, per problem",
        )
        mean = mean_of(list(on_code.values()))
        out.append(over_problems(claim, np.zeros_like(mean), mean, f"Δ accuracy {_listed(on_code)}", one_seed))
    drift = _changes(rows, prior_code, NO_CODE_INCENTIVE, "code_frequency")
    if drift:
        claim = Claim(
            SPURIOUS,
            f"rewards that do not reward code (format, random, incorrect) raise code frequency on {prior_code}",
            "Δ code frequency averaged over those signals, per problem",
        )
        mean = mean_of(list(drift.values()))
        out.append(over_problems(claim, np.zeros_like(mean), mean, f"Δ code frequency {_listed(drift)}", one_seed))
    if on_code and on_lang and set(on_code) == set(on_lang):
        claim = Claim(
            SPURIOUS,
            f"the same rewards help {prior_code} more than {prior_lang} (code less accurate there)",
            f"mean Δ accuracy {prior_code} − {prior_lang}, per problem",
        )
        a, b = mean_of(list(on_lang.values())), mean_of(list(on_code.values()))
        detail = f"{prior_code}: {_listed(on_code)}; {prior_lang}: {_listed(on_lang)}"
        out.append(over_problems(claim, a, b, detail, one_seed))
    return out


# ----------------------------------------------------------------------------------------------------------------
# Clipping ablation


def ablation_findings(ablation: AblationResult) -> list[Finding]:
    """With random rewards, the clipped arm (the first preset: ``clip``, or ``paper``) raises accuracy and code
    frequency over the base, and beats each arm without the clip acting (no clamp, or on-policy) on the same
    seeds."""
    by_preset = {preset: {r.seed: r for r in runs} for preset, runs in ablation.by_preset().items()}
    if not by_preset:
        return []
    ref, clip = next(iter(by_preset.items()))
    out = []
    for key, label in METRICS:
        claim = Claim(ABLATION, f"random rewards with {ref} raise {label}", f"Δ {label}, {ref} − base")
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
            )
            diffs = {s: change(runs[s].after, clip[s].after, key) for s in seeds}
            out.append(over_seeds_and_problems(claim, diffs, f"{ref} − {other} Δ {label}"))
    return out


# ----------------------------------------------------------------------------------------------------------------
# Reasoning boundary


def boundary_findings(boundary: BoundaryResult) -> list[Finding]:
    """GT-RL beats the base at pass@1; the base matches or beats it at the largest k (pass@k per problem).

    The boundary claims are about RL with a correct signal; the random-reward model is compared in the report,
    and its pass@1 is the spurious-rewards question, checked above.
    """
    sets = dict(boundary.eval_sets)
    if BASE not in sets or GT_LABEL not in sets:
        return []
    base = sets[BASE]
    rl = sets[GT_LABEL].aligned(base.problem_ids, other=str(base.path))
    k_max = min(int(base.n.min()), int(rl.n.min()))
    claim = Claim(BOUNDARY, f"{GT_LABEL} beats the base at pass@1", f"pass@1, {GT_LABEL} − base, per problem")
    first = over_problems(claim, pass_at_k(base.n, base.c, 1), pass_at_k(rl.n, rl.c, 1))
    claim = Claim(
        BOUNDARY,
        f"the base solves more than {GT_LABEL} at large k (k = {k_max})",
        f"pass@{k_max}, base − {GT_LABEL}, per problem",
    )
    base_k, rl_k = pass_at_k(base.n, base.c, k_max), pass_at_k(rl.n, rl.c, k_max)
    only_base, only_rl = int(((base.c > 0) & (rl.c == 0)).sum()), int(((rl.c > 0) & (base.c == 0)).sum())
    detail = (
        f"pass@{k_max} base {base_k.mean():.3f}, {GT_LABEL} {rl_k.mean():.3f}; "
        f"solved only by base {only_base}, only by RL {only_rl}"
    )
    return [first, over_problems(claim, rl_k, base_k, detail)]
