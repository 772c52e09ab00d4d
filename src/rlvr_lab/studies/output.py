"""What the boundary-extension studies share: evaluating a model once, training a run once, and writing a study's
outputs (report page, summary, Markdown table, plots) in one place.

The studies share one root folder, so work is done once for all of them: training runs live where
:func:`rlvr_lab.studies.settings.run_dir` puts them (the ground-truth GRPO run of the algorithms study is the GT-RL
model of the distillation and lucky-guess studies, and, with the demo's settings, the demo's own ground-truth
run), and evaluations where :func:`eval_store` puts them (the base model's 256-sample evaluation is sampled once).
Every study of :mod:`.boundary_training`, :mod:`.algorithms`, :mod:`.distillation`, :mod:`.lucky` and
:mod:`.prompting` writes into its own folder ``ROOT/<study>/``:

- ``report.html`` and ``summary.json`` (:func:`rlvr_lab.report.write_report`): the findings table, the study's
  table and plot, and under ``findings`` every finding with its verdict (:mod:`rlvr_lab.studies.verdict`),
  under ``study`` the study's name and config, under ``result`` its numbers;
- ``<name>.md`` (the tables in Markdown, for the README) and ``<name>.png`` (its plot).

Evaluations and runs are resumable: a graded file or a finished run is reused, so a study re-run after a kill
does only what is missing.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray
from rich.console import Console

from rlvr_lab.engines import SamplingConfig
from rlvr_lab.metrics import GradedSamples, pass_at_k
from rlvr_lab.report import Plot, ReportInputs, Section, Table, write_report
from rlvr_lab.studies.evaluation import TEMPLATE, ProblemSet, grade_store, graded_path, load_set, sample
from rlvr_lab.studies.markdown import markdown_table
from rlvr_lab.studies.verdict import Finding, findings_table

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from rlvr_lab.rl.config import TrainConfig
    from rlvr_lab.studies.settings import TrainingSettings

RESAMPLES = 2000
"""Bootstrap resamples of every interval of these studies."""


def eval_store(
    root: Path, label: str, problems: ProblemSet, sampling: SamplingConfig, template: str = TEMPLATE
) -> Path:
    """Where the evaluation of model ``label`` on ``problems`` with ``sampling`` and ``template`` lives under
    ``root`` (one store per distinct evaluation, shared by the studies)."""
    from rlvr_lab.studies.settings import slug

    name = f"{template}-{problems.split}{problems.limit}-n{sampling.n}-t{sampling.temperature:g}-s{sampling.seed}"
    return Path(root) / "evals" / slug(label) / f"{name}.jsonl"


def evaluate_model(
    model: str,
    problems: ProblemSet,
    sampling: SamplingConfig,
    store: Path,
    template: str = TEMPLATE,
    batch_size: int = 256,
    console: Console | None = None,
) -> GradedSamples:
    """Sample ``model`` into ``store`` and grade it, unless its graded file exists; return the graded set."""
    if not graded_path(store).is_file():
        if console is not None:
            console.print(f"  sampling {model} ({problems.limit} problems × {sampling.n}, {template}) → {store}")
        sample(model, problems, sampling, store, batch_size, template)
        grade_store(store, problems)
    return load_set(store)


def ensure_trained(config: TrainConfig, console: Console | None = None) -> Path:
    """Train ``config`` into ``config.out`` unless its final model exists (a killed run resumes); return the final
    model's folder."""
    from rlvr_lab.rl.trainer import train

    run_dir = Path(config.out)
    model_dir = run_dir / "model"
    if not (model_dir / "rlvr_train.json").is_file():
        if console is not None:
            console.print(f"  training {config.model} for {config.steps} steps → {run_dir}")
        train(config, resume=(run_dir / "config.yaml").is_file(), show_progress=False)
    return model_dir


def rl_run(root: Path, model: str, training: TrainingSettings, algorithm: str = "grpo", seed: int = 0) -> TrainConfig:
    """The ground-truth run of ``algorithm`` from ``model`` with ``training``: GRPO is the demo's own ground-truth
    run (same folder, same config); another algorithm lives beside it, its options applied to the same settings."""
    from rlvr_lab.rl.algorithms import options_for
    from rlvr_lab.studies.settings import EvalSettings, run_dir, train_config

    preset = "clip" if algorithm == "grpo" else f"clip-{algorithm}"
    config = train_config(
        training,
        EvalSettings(),
        model=model,
        reward="ground_truth",
        preset="clip",
        seed=seed,
        out=run_dir(root, model, "ground_truth", preset, seed),
    )
    return dataclasses.replace(config, **options_for(algorithm, training.max_new_tokens))


def run_label(config: TrainConfig) -> str:
    """A run's evaluation label: its folder below ``runs/``."""
    parts = Path(config.out).parts
    if "runs" not in parts:
        return Path(config.out).name
    return "-".join(parts[len(parts) - parts[::-1].index("runs") :])  # after the last "runs"


def per_problem_pass(graded: GradedSamples, k: int) -> NDArray[np.float64]:
    """(P,) unbiased pass@k of each problem."""
    return pass_at_k(graded.n, graded.c, k)


def curve_band(graded: GradedSamples, resamples: int = RESAMPLES) -> tuple[NDArray[Any], ...]:
    """``(ks, pass@k, lo, hi)`` at every k up to the smallest n, the band a bootstrap over problems."""
    from rlvr_lab.metrics import bootstrap_mean_band, pass_at_k_matrix

    ks = np.arange(1, int(graded.n.min()) + 1)
    values, lo, hi = bootstrap_mean_band(pass_at_k_matrix(graded.n, graded.c, ks), resamples, seed=0)
    return ks, values, lo, hi


def plain(value: Any) -> Any:
    """A dataclass config as JSON-ready values."""
    return json.loads(json.dumps(dataclasses.asdict(value) if dataclasses.is_dataclass(value) else value))


def write_study(
    out: Path,
    name: str,
    title: str,
    config: Any,
    table: Table,
    figure: Figure,
    findings: Sequence[Finding],
    result: dict[str, Any],
) -> Path:
    """Write the study's report, summary, Markdown and plot into ``out`` (see the module docstring); return the
    summary's path."""
    from rlvr_lab.report.plots import figure_png

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    tables = (findings_table(findings, "Findings"), table)
    (out / f"{name}.png").write_bytes(figure_png(figure))
    (out / f"{name}.md").write_text("\n".join(markdown_table(t) for t in tables))
    inputs = ReportInputs(
        sections=(Section(title, (*tables, Plot(figure, title)), lead=True),),
        sources=(str(out),),
        extra={
            "study": {"name": name, "config": plain(config)},
            "findings": [f.as_dict() for f in findings],
            "result": result,
        },
    )
    return write_report(inputs, out, title=title).summary
