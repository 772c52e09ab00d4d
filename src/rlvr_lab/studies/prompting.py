"""Prompt-induced code reasoning: the python hint against the default prompt on each organism profile.

*Spurious Rewards* (Shao et al., 2025, §4.3): prompting "Let's solve this using Python" raises Qwen2.5-Math's
accuracy (its code reasoning is more accurate than its language reasoning) and lowers OLMo's and Llama's (whose
code is worse). On the organism the hint is ``organism-python-hint`` (the corpus's hinted prompt: the v2 organisms
saw it on 10% of their pretraining problems, with a stronger lean to code after it, see :mod:`rlvr_lab.organism`;
the v1 organisms never saw it, so on them it is only noise), against the ``organism`` prompt; each profile is
sampled with both, on the same problems with the same sampling seed, and the change in accuracy is judged per
profile.

Criteria fixed here: on a profile whose name contains ``qwen`` the hint helps (Δ accuracy > 0); on any other
profile (OLMo-like, Llama-like) it hurts (Δ < 0); each a paired bootstrap over problems.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from rich.console import Console

from rlvr_lab.analysis.strategy import code_frequency
from rlvr_lab.metrics import GradedSamples
from rlvr_lab.prompts import resolve_template
from rlvr_lab.report import Table
from rlvr_lab.studies.evaluation import TEMPLATE
from rlvr_lab.studies.output import eval_store, evaluate_model, per_problem_pass, write_study
from rlvr_lab.studies.paired import over_problems
from rlvr_lab.studies.settings import BASE_SEED, EvalSettings
from rlvr_lab.studies.verdict import Claim, Finding

NAME = "prompting"
PAPER = "Spurious Rewards (Shao et al., 2025), python prompt"
HINT = "organism-python-hint"


@dataclass(frozen=True)
class PromptingConfig:
    profiles: tuple[str, ...] = ("qwen-math-like-v2", "olmo-like-v2", "llama-like-v2")
    """The v2 organisms: only they learned to answer the hint (see the module docstring)."""
    problems: int = 120
    """The first N organism test problems."""
    samples: int = 16
    """Samples per problem and prompt; accuracy is avg@n."""
    max_new_tokens: int = 64


def expected_direction(profile: str) -> int:
    """+1 where the paper saw the hint help (Qwen-Math), -1 elsewhere (OLMo, Llama)."""
    return 1 if "qwen" in profile.lower() else -1


def _code_share(graded: GradedSamples, template: str) -> float:
    prefix = resolve_template(template).assistant_prefix  # the hint's opening is part of the answer
    return code_frequency(prefix + text for texts in graded.completions or () for text in texts)


def run_prompting_study(config: PromptingConfig, root: Path, console: Console | None = None) -> Path:
    """Sample each profile with both prompts and write ``ROOT/prompting/``."""
    console = console or Console(stderr=True)
    root = Path(root)
    evaluation = EvalSettings(problems=config.problems, samples=config.samples)  # sampling seed 0, temperature 1
    problems, sampling = evaluation.problem_set(), evaluation.sampling(config.max_new_tokens)
    console.print(f"[bold]python hint[/] on {', '.join(config.profiles)} → {root / NAME}")
    rows, effects = [], {}
    findings: list[Finding] = []
    for profile in config.profiles:
        sets = {
            template: evaluate_model(
                profile,
                problems,
                sampling,
                eval_store(root, profile, problems, sampling, template),
                template,
                console=console,
            )
            for template in (TEMPLATE, HINT)
        }
        default, hint = sets[TEMPLATE], sets[HINT].aligned(sets[TEMPLATE].problem_ids, other=str(sets[TEMPLATE].path))
        direction = expected_direction(profile)
        claim = Claim(
            PAPER,
            f"{profile}: the python hint {'helps' if direction > 0 else 'hurts'}",
            f"accuracy with {HINT} − with {TEMPLATE} ({profile}), paired over problems",
            direction,  # type: ignore[arg-type]
        )
        finding = over_problems(claim, per_problem_pass(default, 1), per_problem_pass(hint, 1))
        findings.append(finding)
        effects[profile] = (finding.effect, finding.low, finding.high)
        rows.append(
            (
                profile,
                float(per_problem_pass(default, 1).mean()),
                float(per_problem_pass(hint, 1).mean()),
                finding.observed(),
                _code_share(default, TEMPLATE),
                _code_share(hint, HINT),
            )
        )
    table = Table(
        "Prompt-induced code reasoning",
        (
            "profile",
            "accuracy (default)",
            "accuracy (python hint)",
            "Δ [95% CI]",
            "code freq. (default)",
            "code freq. (hint)",
        ),
        tuple(rows),
        note=f"{config.problems} held-out problems × {config.samples} samples per prompt, sampling seed {BASE_SEED}; "
        f"the hint ({HINT}) opens the answer with the code fence",
    )
    from rlvr_lab.report.plots import plot_paired_effects

    figure = plot_paired_effects(effects, "Δ accuracy, python hint − default (paired 95% CI)", "Δ accuracy")
    result = {
        row[0]: {"accuracy_default": row[1], "accuracy_hint": row[2], "code_default": row[4], "code_hint": row[5]}
        for row in rows
    }
    return write_study(root / NAME, NAME, "Prompt-induced code reasoning", config, table, figure, findings, result)
