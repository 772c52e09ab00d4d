"""Lucky guesses: how many correct answers rest on a wrong chain, for the base and the RL model, by k.

Yue et al. (2025, §C) checked chains of thought by hand and found that at large k some correct maths answers
come from wrong reasoning. On the organism every chain can be checked exactly
(:func:`rlvr_lab.organism.chains.check_chain`: every arithmetic step, every predicted code output). For each
problem with ``n`` samples, ``c`` correct ones and ``c_v`` correct ones with a valid chain, the unbiased
estimators give pass@k (some correct answer among k samples) and pass@k with a valid chain; their difference is
the probability that k samples contain a correct answer but only lucky ones, and

    lucky share at k = (pass@k − pass@k valid) / pass@k

is the share of the problems solved at k that are solved only by luck. The models are the base and the ground-truth
GRPO run of :mod:`.algorithms` (same folder, trained once), evaluated on the same stores.

Findings, criteria fixed here: for each model, pass@n − pass@n with a valid chain > 0 (paired bootstrap over
problems): some problems are solved at large k only by answers whose reasoning is wrong.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from rich.console import Console

from rlvr_lab.metrics import GradedSamples, pass_at_k_matrix
from rlvr_lab.organism.chains import check_chain, tasks_by_text
from rlvr_lab.report import Table
from rlvr_lab.studies.evaluation import ProblemSet
from rlvr_lab.studies.output import (
    ensure_trained,
    eval_store,
    evaluate_model,
    rl_run,
    run_label,
    write_study,
)
from rlvr_lab.studies.paired import over_problems
from rlvr_lab.studies.settings import EvalSettings, TrainingSettings
from rlvr_lab.studies.verdict import Claim

NAME = "lucky_guesses"
PAPER = "Yue et al., 2025 (lucky guesses)"


@dataclass(frozen=True)
class LuckyConfig:
    model: str = "qwen-math-like"
    """The base model; the RL model is its ground-truth GRPO run with ``training``."""
    training: TrainingSettings = field(default_factory=lambda: TrainingSettings(steps=50))
    problems: int = 60
    """The first N organism test problems."""
    samples: int = 256


def valid_counts(graded: GradedSamples, problems: ProblemSet) -> NDArray[np.int64]:
    """(P,) correct samples whose chain checks out, per problem of ``graded``."""
    if graded.completions is None:
        raise ValueError(f"{graded.path}: no completion column, so no chains to check")
    tasks = tasks_by_text(problems.split, problems.limit)
    prompts = {p.id: p.prompt for p in problems.load()}
    out = []
    for pid, correct, texts in zip(graded.problem_ids, graded.correct, graded.completions, strict=True):
        task = tasks[prompts[pid]]
        out.append(sum(1 for ok, text in zip(correct, texts, strict=True) if ok and check_chain(task, text).valid))
    return np.asarray(out, dtype=np.int64)


def lucky_rows(label: str, graded: GradedSamples, valid: NDArray[np.int64], ks: list[int]) -> list[tuple]:
    """(model, k, pass@k, pass@k valid chain, lucky share) for each k."""
    solved = pass_at_k_matrix(graded.n, graded.c, ks).mean(axis=0)
    sound = pass_at_k_matrix(graded.n, valid, ks).mean(axis=0)
    return [
        (label, k, float(s), float(v), float((s - v) / s) if s > 0 else None)
        for k, s, v in zip(ks, solved, sound, strict=True)
    ]


def run_lucky_study(config: LuckyConfig, root: Path, console: Console | None = None) -> Path:
    """Check every chain of the base's and the RL model's samples; write ``ROOT/lucky_guesses/``."""
    console = console or Console(stderr=True)
    root = Path(root)
    t = config.training
    evaluation = EvalSettings(problems=config.problems, samples=config.samples)  # sampling seed 0, temperature 1
    problems, sampling = evaluation.problem_set(), evaluation.sampling(t.max_new_tokens)
    console.print(f"[bold]lucky guesses[/] on {config.model} → {root / NAME}")
    run = rl_run(root, config.model, t, "grpo")
    models = {"base": (config.model, config.model), "GT-RL": (str(ensure_trained(run, console)), run_label(run))}
    n = config.samples
    ks = sorted({k for k in (1, 4, 16, 64, 256) if k < n} | {n})
    rows, findings, curves, result = [], [], {}, {}
    for label, (spec, name) in models.items():
        graded = evaluate_model(spec, problems, sampling, eval_store(root, name, problems, sampling), console=console)
        valid = valid_counts(graded, problems)
        rows += lucky_rows(label, graded, valid, ks)
        all_ks = list(range(1, int(graded.n.min()) + 1))
        curves[f"{label}: correct"] = (np.array(all_ks), pass_at_k_matrix(graded.n, graded.c, all_ks).mean(0), [], [])
        curves[f"{label}: correct, valid chain"] = (
            np.array(all_ks),
            pass_at_k_matrix(graded.n, valid, all_ks).mean(0),
            [],
            [],
        )
        lucky_samples = int(graded.c.sum() - valid.sum())
        claim = Claim(
            PAPER,
            f"{label}: at k = {n} some problems are solved only by lucky guesses",
            f"pass@{n} − pass@{n} with a valid chain ({label}), paired over problems",
            1,
        )
        detail = f"{lucky_samples} of {int(graded.c.sum())} correct samples have a wrong chain"
        a = pass_at_k_matrix(graded.n, valid, [n])[:, 0]
        b = pass_at_k_matrix(graded.n, graded.c, [n])[:, 0]
        findings.append(over_problems(claim, a, b, detail))
        result[label] = {
            "correct_samples": int(graded.c.sum()),
            "lucky_samples": lucky_samples,
            "by_k": {
                str(r[1]): {"pass@k": r[2], "pass@k_valid": r[3], "lucky_share": r[4]} for r in rows if r[0] == label
            },
        }
    table = Table(
        f"Lucky guesses: correct answers with a wrong chain ({config.model})",
        ("model", "k", "pass@k", "pass@k, valid chain", "lucky share of solved"),
        tuple(rows),
        note=f"{config.problems} held-out problems × {n} samples; a chain is valid when every arithmetic step, every "
        "predicted code output and the stated answer check out (rlvr_lab.organism.chains)",
    )
    from rlvr_lab.report.plots import plot_passk_curves

    figure = plot_passk_curves(curves, "pass@k counting every correct answer vs only those with a valid chain")
    return write_study(root / NAME, NAME, f"Lucky guesses ({config.model})", config, table, figure, findings, result)
