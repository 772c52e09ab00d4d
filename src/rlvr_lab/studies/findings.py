"""The papers' findings, each checked against the demo's numbers with a criterion stated up front.

A finding is *reproduced* when the measured effect has the paper's direction and is larger than the noise
yardstick the demo itself measures: the spread (std over seeds) of the random-reward ``clip`` runs' accuracy or
code-frequency change in the clipping ablation, which is how much one run's change moves with its seed alone. A
single run's change within that spread counts as no effect. With one seed per preset there is no yardstick and the
verdict falls back to the sign alone (said in the text). Nothing here changes a measurement: the criteria are fixed
in this file, and every verdict carries the numbers it was read from.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from rlvr_lab.report import Table
from rlvr_lab.studies.ablation import AblationResult
from rlvr_lab.studies.boundary import BASE, RL_MODELS, BoundaryResult
from rlvr_lab.studies.spurious import SpuriousRow

GT_LABEL = RL_MODELS[0][0]
"""The ground-truth RL model of the boundary study."""
SPURIOUS_SIGNALS = ("format", "random:0.5", "incorrect", "python")
"""Signals carrying little or no information about correctness."""
NO_CODE_INCENTIVE = ("format", "random:0.5", "incorrect")
"""The spurious signals that do not reward code by construction (``python`` does), so a rise in code frequency
under them is the model's own drift, the paper's explanation of the gain."""


@dataclass(frozen=True)
class Finding:
    paper: str
    claim: str
    observed: str
    reproduced: bool

    def as_dict(self) -> dict[str, object]:
        return {"paper": self.paper, "claim": self.claim, "observed": self.observed, "reproduced": self.reproduced}


def _noise(ablation: AblationResult, key: str) -> float:
    """Std over seeds of the clip preset's change in ``key`` (0 when it cannot be measured)."""
    spread = ablation.as_dict()["presets"].get("clip", {}).get(key, {}).get("std", float("nan"))
    return 0.0 if spread is None or math.isnan(spread) else float(spread)


def _changes(rows: list[SpuriousRow], model: str, rewards: tuple[str, ...]) -> dict[str, tuple[float, float]]:
    """reward -> (accuracy change, code-frequency change) of ``model``'s runs with those rewards."""
    return {
        r.reward: (r.after.accuracy - r.before.accuracy, r.after.code_frequency - r.before.code_frequency)
        for r in rows
        if r.model == model and r.reward in rewards
    }


def _fmt(values: dict[str, tuple[float, float]], index: int) -> str:
    return ", ".join(f"{reward} {change[index]:+.3f}" for reward, change in values.items())


def spurious_findings(rows: list[SpuriousRow], ablation: AblationResult) -> list[Finding]:
    paper = "Spurious Rewards (Shao et al., 2025)"
    acc_noise, code_noise = _noise(ablation, "accuracy_change"), _noise(ablation, "code_frequency_change")
    models = list(dict.fromkeys(r.model for r in rows))
    out = []
    for model in models:
        gt = _changes(rows, model, ("ground_truth",))
        if gt:
            change = gt["ground_truth"][0]
            out.append(
                Finding(
                    paper,
                    f"ground-truth rewards raise held-out accuracy ({model})",
                    f"Δ accuracy {change:+.3f} (seed spread {acc_noise:.3f})",
                    change > acc_noise,
                )
            )
    if len(models) >= 2:
        prior_code, prior_lang = models[0], models[1]
        on_code = _changes(rows, prior_code, SPURIOUS_SIGNALS)
        on_lang = _changes(rows, prior_lang, SPURIOUS_SIGNALS)
        if on_code:
            mean_code = float(np.mean([c[0] for c in on_code.values()]))
            out.append(
                Finding(
                    paper,
                    f"spurious rewards (format, random, incorrect, python) raise accuracy on {prior_code}",
                    f"Δ accuracy {_fmt(on_code, 0)}; mean {mean_code:+.3f} (seed spread {acc_noise:.3f})",
                    mean_code > acc_noise,
                )
            )
        drift = _changes(rows, prior_code, NO_CODE_INCENTIVE)
        if drift:
            mean_more_code = float(np.mean([c[1] for c in drift.values()]))
            out.append(
                Finding(
                    paper,
                    f"rewards that do not reward code (format, random, incorrect) raise code frequency on {prior_code}",
                    f"Δ code frequency {_fmt(drift, 1)}; mean {mean_more_code:+.3f} (seed spread {code_noise:.3f})",
                    mean_more_code > code_noise,
                )
            )
        if on_code and on_lang:
            mean_code = float(np.mean([c[0] for c in on_code.values()]))
            mean_lang = float(np.mean([c[0] for c in on_lang.values()]))
            out.append(
                Finding(
                    paper,
                    f"the same rewards do not help {prior_lang} (code less accurate than language)",
                    f"Δ accuracy {_fmt(on_lang, 0)}; mean {mean_lang:+.3f} vs {mean_code:+.3f} on {prior_code}",
                    mean_lang <= acc_noise and mean_code - mean_lang > acc_noise,
                )
            )
    return out


def ablation_findings(ablation: AblationResult) -> list[Finding]:
    paper = "Spurious Rewards (Shao et al., 2025), clipping ablation"
    presets = ablation.as_dict()["presets"]
    if "clip" not in presets:
        return []
    clip = presets["clip"]
    others = {name: p for name, p in presets.items() if name != "clip"}
    out = []
    for key, label in (("accuracy_change", "accuracy"), ("code_frequency_change", "code frequency")):
        spread = _noise(ablation, key)
        gaps = {name: clip[key]["mean"] - p[key]["mean"] for name, p in others.items()}
        observed = f"clip Δ {label} {clip[key]['mean']:+.3f} ± {spread:.3f}; " + ", ".join(
            f"{name} {p[key]['mean']:+.3f}" for name, p in others.items()
        )
        out.append(
            Finding(
                paper,
                f"random rewards raise {label} only with the clip term acting (clip beats no-clip and on-policy)",
                observed,
                clip[key]["mean"] > spread and all(gap > spread for gap in gaps.values()),
            )
        )
    return out


def boundary_findings(boundary: BoundaryResult) -> list[Finding]:
    paper = "Yue et al., 2025 (reasoning boundary)"
    out = []
    # The boundary claims are about RL with a correct signal; the random-reward model is compared in the report,
    # but its pass@1 is the spurious-rewards question, checked above.
    for comp in (c for c in boundary.comparisons if c.label_b == GT_LABEL):
        diff = comp.pass_at_1_diff
        out.append(
            Finding(
                paper,
                f"{comp.label_b} beats the base at pass@1 (paired bootstrap CI above 0)",
                f"pass@1 {comp.label_b} − base {diff.mean:+.3f} [{diff.lo:+.3f}, {diff.hi:+.3f}]",
                diff.lo > 0,
            )
        )
        crossing = "none" if comp.crossover_k is None else f"k ≈ {comp.crossover_k:.1f}"
        out.append(
            Finding(
                paper,
                f"the base catches up with {comp.label_b} at large k (pass@k curves cross)",
                f"crossover {crossing}; coverage only base {comp.coverage.only_a}, only RL {comp.coverage.only_b}; "
                f"ΔSE {comp.delta_se:+.3f}",
                comp.crossover_k is not None,
            )
        )
    matrix = boundary.perplexity
    if BASE in matrix.sources and BASE in matrix.scorers:
        column = matrix.scorers.index(BASE)
        own = matrix.values[matrix.sources.index(BASE), column]
        for i, source in enumerate(matrix.sources):
            if source != BASE:
                ratio = matrix.values[i, column] / own
                out.append(
                    Finding(
                        paper,
                        f"{source}'s responses are no more surprising to the base than its own (ratio ≤ 1.1)",
                        f"perplexity under base: {source} {matrix.values[i, column]:.3f} vs base {own:.3f} "
                        f"(ratio {ratio:.2f})",
                        ratio <= 1.1,
                    )
                )
    return out


def findings_table(findings: list[Finding]) -> Table:
    rows = tuple((f.paper, f.claim, f.observed, "yes" if f.reproduced else "no") for f in findings)
    note = (
        "reproduced: the paper's direction, beyond the seed-to-seed spread of the random-reward clip runs "
        "(see rlvr_lab/studies/findings.py for each criterion)"
    )
    return Table("Findings: what the organism reproduces", ("paper", "claim", "observed", "reproduced"), rows, note)
