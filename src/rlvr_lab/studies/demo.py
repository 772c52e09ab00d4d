"""``rlvr demo``: both papers' studies on the shipped organisms, in one resumable run with one report.

What runs (each part in its own module): the spurious-rewards table (:mod:`.spurious`), the clipping ablation
(:mod:`.ablation`) and the reasoning-boundary study (:mod:`.boundary`). Their jobs are pooled and de-duplicated
(the ablation's ``clip`` seed-0 run *is* the table's random-reward run of the same profile; the boundary study
samples the table's ground-truth and random-reward models) and run by :func:`.parallel.run_jobs` in worker
processes, in an order that lets the long boundary sampling start as soon as its two runs are done.

Sizing: :data:`FULL` took 1,263 s (21 minutes) with 5 ablation seeds and the boundary at 120 problems × 256
samples on two cores shared with a third job. The boundary study now samples 500 problems × 1,024 samples per
model (the size its large-k claim needs to decide, :mod:`.boundary`): 1.5 million samples at about 500 per CPU
second (sampling and grading ``qwen-math-like-v2``, measured on 12 problems × 1,024), about 51 minutes of CPU
where the old size took 3. Measured since (``make demo`` on fresh clones, docs/demo/README.md): 30 to 45 minutes of
wall time on two cores (1,778 s for the demo on a 2-core Xeon, 2,656 s there with other jobs running; 34 min 50 s
on an idle 2-core AMD EPYC).
``--spurious-seeds 5`` trains every spurious-rewards run on 5 seeds: 44 more runs (12 arms × 4 seeds, less the 4
that the clipping ablation already trains), measured at about 1,600 s more CPU on the Xeon and 2,534 s on the AMD EPYC
(37-58 s a run); 43 and 56 minutes of wall time in all (docs/demo/README.md). ``TrainingSettings.decoder``
``native`` (``rlvr demo --decoder native``) samples everything with the native float32 step: on the AMD EPYC 24 min 46 s
for the default design and 43 min 19 s with 5 seeds, the same tables but one perplexity digit (docs/performance.md).
:data:`QUICK` takes under 3 minutes. Both run the same code paths; the quick one trains
fewer steps, evaluates fewer problems and samples, and runs two seeds per preset.
The sizes were set from measured costs (a training step and an evaluation on the organism); they are knobs of
the study, not of its measurements, and ``demo.yaml`` in the output folder records them.

Files under ``DIR``: ``demo.yaml`` (this config), ``base/`` (base evaluations and label stores), ``runs/`` (one
training run per folder), ``boundary/`` (1,024-sample stores, graded files, ``perplexity.json``), ``report.html``,
``summary.json`` and ``README_table.md``. A re-run with the same settings skips finished work and resumes the
rest; a different config for the same ``DIR`` is refused rather than mixed.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from rich.console import Console

from rlvr_lab.report import Plot, ReportInputs, Section, Table, TrainingRun, load_run, write_report
from rlvr_lab.report.plots import plot_arms_over_seeds, plot_passk, plot_spurious_summary
from rlvr_lab.studies import ablation, boundary, findings, spurious
from rlvr_lab.studies.jobs import PerplexityJob, SampleJob, TrainJob
from rlvr_lab.studies.markdown import markdown_table
from rlvr_lab.studies.parallel import PhaseTiming, run_jobs
from rlvr_lab.studies.settings import EvalSettings, TrainingSettings
from rlvr_lab.studies.verdict import findings_table

Job = SampleJob | TrainJob | PerplexityJob
CONFIG_FILE = "demo.yaml"
TABLE_FILE = "README_table.md"
TIMINGS_FILE = "timings.json"
PASSK_PLOT = "passk_base_vs_gt_rl.png"


@dataclass(frozen=True)
class DemoConfig:
    """Everything the demo runs; saved as ``DIR/demo.yaml``."""

    training: TrainingSettings = field(default_factory=TrainingSettings)
    """Knobs shared by every training run."""
    evaluation: EvalSettings = field(default_factory=EvalSettings)
    """The held-out evaluation behind every before/after number."""
    spurious: spurious.SpuriousConfig = field(default_factory=spurious.SpuriousConfig)
    ablation: ablation.AblationConfig = field(default_factory=ablation.AblationConfig)
    boundary: boundary.BoundaryConfig = field(default_factory=boundary.BoundaryConfig)
    workers: int = 2
    """Worker processes (one per core is fastest for the organisms)."""
    quick: bool = False
    """Whether this is the quick configuration (recorded for the reader of ``summary.json``)."""

    def to_dict(self) -> dict[str, Any]:
        """Plain YAML/JSON types (tuples as lists)."""
        return json.loads(json.dumps(dataclasses.asdict(self)))


FULL = DemoConfig(ablation=ablation.AblationConfig(seeds=(0, 1, 2, 3, 4)))
"""The default demo: the ablation on 5 paired seeds per preset."""

QUICK = DemoConfig(
    training=TrainingSettings(steps=3, train_problems=64, save_every=3, curve_problems=12),
    evaluation=EvalSettings(problems=36, samples=4),
    ablation=ablation.AblationConfig(seeds=(0, 1)),
    boundary=boundary.BoundaryConfig(problems=12, samples=64, perplexity_samples=2, resamples=200),
    quick=True,
)
"""Fewer steps, problems, samples and seeds, same code paths (about 3 minutes on two idle cores)."""


# ----------------------------------------------------------------------------------------------------------------
# Jobs


def with_seeds(config: DemoConfig, seeds: int, spurious_seeds: int | None = None) -> DemoConfig:
    """``config`` with the clipping ablation run on seeds ``0 .. seeds - 1`` (every preset on the same seeds) and,
    with ``spurious_seeds``, every spurious-rewards run on seeds ``0 .. spurious_seeds - 1`` (one seed: its
    findings print "evaluation noise only: no verdict")."""
    if seeds < 1 or (spurious_seeds is not None and spurious_seeds < 1):
        raise ValueError(f"--seeds and --spurious-seeds must be >= 1, got {seeds} and {spurious_seeds}")
    out = dataclasses.replace(config, ablation=dataclasses.replace(config.ablation, seeds=tuple(range(seeds))))
    if spurious_seeds is None:
        return out
    return dataclasses.replace(out, spurious=dataclasses.replace(config.spurious, seeds=tuple(range(spurious_seeds))))


def with_profiles(config: DemoConfig, profiles: tuple[str, ...]) -> DemoConfig:
    """``config`` on other organism profiles: the spurious-rewards table crosses all of them; the first (the one whose
    code answers are the more accurate, as Qwen2.5-Math's) is the clipping ablation's and the boundary study's."""
    if len(profiles) < 2:
        raise ValueError(f"--profiles needs at least two profiles (a code-preferring one first), got {profiles}")
    return dataclasses.replace(
        config,
        spurious=dataclasses.replace(config.spurious, profiles=profiles),
        ablation=dataclasses.replace(config.ablation, profile=profiles[0]),
        boundary=dataclasses.replace(config.boundary, profile=profiles[0]),
    )


def demo_jobs(config: DemoConfig, root: Path) -> list[Job]:
    """Every job of the three studies, de-duplicated by name, in priority order (see the module docstring)."""
    t, e = config.training, config.evaluation
    everything: list[Job] = [
        *spurious.spurious_jobs(root, config.spurious, t, e),
        *ablation.ablation_jobs(root, config.ablation, t, e),
    ]
    boundary_jobs = boundary.boundary_jobs(root, config.boundary, config.spurious, t, e)
    waited_on = {name for job in boundary_jobs for name in job.after}
    unique: dict[str, Job] = {}
    for job in everything:
        if unique.setdefault(job.name, job) != job:
            raise ValueError(f"two different jobs are both named {job.name!r}")

    def rank(job: Job) -> int:
        if isinstance(job, SampleJob):
            return 0  # base evaluations and label stores: short, and everything else waits on them
        return 1 if job.name in waited_on else 3

    ordered = sorted(unique.values(), key=rank)  # stable: studies' own order within a rank
    head = [job for job in ordered if rank(job) < 3]
    return [*head, *boundary_jobs, *(job for job in ordered if rank(job) == 3)]


# ----------------------------------------------------------------------------------------------------------------
# Output


def _with_defaults(saved: Any, defaults: Any) -> Any:
    """``saved`` with every key it lacks taken from ``defaults``, at every depth."""
    if not isinstance(saved, dict) or not isinstance(defaults, dict):
        return saved
    return {**defaults, **{k: _with_defaults(v, defaults.get(k)) for k, v in saved.items()}}


def check_saved_config(config: DemoConfig, root: Path) -> None:
    """Write ``demo.yaml``, or refuse a folder that holds a demo made with other settings. A setting the saved
    file lacks (written before the setting existed) counts as its default, which is how that demo ran."""
    path = root / CONFIG_FILE
    wanted = config.to_dict()
    if path.is_file():
        saved = _with_defaults(yaml.safe_load(path.read_text()) or {}, DemoConfig().to_dict())
        if saved != wanted:
            changed = sorted(k for k in set(saved) | set(wanted) if saved.get(k) != wanted.get(k))
            raise ValueError(
                f"{root} holds a demo run with other settings (differences in {changed}); "
                "choose another --out, or delete the folder to start over"
            )
        return
    root.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(wanted, sort_keys=False))


def training_runs(jobs: list[Job]) -> tuple[TrainingRun, ...]:
    """Every training run, named ``model · reward · preset · seed`` for the report."""
    runs = []
    for job in jobs:
        if isinstance(job, TrainJob):
            name = job.name.removeprefix("train ").replace(" ", " · ")
            runs.append(load_run(job.run_dir, name=name))
    return tuple(runs)


def kept_timings(root: Path, timings: list[PhaseTiming]) -> list[PhaseTiming]:
    """The phases' wall times, where a phase whose every job an earlier run finished keeps that run's time.

    A re-run measures nothing for such a phase (0 s); the time of the run that did the work, saved in
    ``DIR/timings.json``, is what a reader wants. The merged times are saved back.
    """
    path = root / TIMINGS_FILE
    earlier = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    merged = [
        dataclasses.replace(t, seconds=float(earlier[t.phase])) if t.skipped == t.jobs and t.phase in earlier else t
        for t in timings
    ]
    path.write_text(json.dumps({t.phase: t.seconds for t in merged}, indent=2) + "\n", encoding="utf-8")
    return merged


def timing_table(timings: list[PhaseTiming], extra: dict[str, float]) -> Table:
    rows = [(t.phase, t.jobs, t.skipped, round(t.seconds, 1)) for t in timings]
    rows += [(phase, None, None, round(seconds, 1)) for phase, seconds in extra.items()]
    note = (
        "phases overlap: a job starts as soon as the jobs it needs are done; skipped = finished by an earlier run "
        "(a phase whose jobs were all skipped shows the time of the run that did them)"
    )
    return Table("Wall time per phase (s)", ("phase", "jobs", "skipped", "seconds"), tuple(rows), note=note)


@dataclass(frozen=True)
class DemoResult:
    """Where the demo wrote its outputs, and its tables."""

    report: Path
    summary: Path
    markdown: Path
    tables: tuple[Table, ...]
    seconds: float


def run_demo(config: DemoConfig, out: Path, docs: Path | None = None, console: Console | None = None) -> DemoResult:
    """Run (or resume) the demo into ``out``; with ``docs``, also copy its Markdown tables and pass@k plot there."""
    console = console or Console(stderr=True)
    started = time.monotonic()
    root = Path(out)
    check_saved_config(config, root)
    jobs = demo_jobs(config, root)
    mode = "quick" if config.quick else "full"
    console.print(f"[bold]rlvr demo[/] ({mode}): {len(jobs)} jobs in {config.workers} worker process(es) → {root}")
    timings = kept_timings(
        root, run_jobs(jobs, workers=config.workers, threads=config.training.threads, console=console)
    )

    t0 = time.monotonic()
    t, e = config.training, config.evaluation
    spurious_rows = spurious.spurious_rows(root, config.spurious, t, e)
    ablation_result = ablation.ablation_result(root, config.ablation, t, e)
    boundary_result = boundary.boundary_result(root, config.boundary)
    observed = [
        *findings.spurious_findings(spurious_rows),
        *findings.ablation_findings(ablation_result),
        *findings.boundary_findings(boundary_result),
    ]
    tables = (
        findings_table(observed),
        spurious.spurious_table(spurious_rows, t.steps),
        ablation.ablation_table(ablation_result, config.ablation),
        boundary.boundary_table(boundary_result),
    )
    analysis_s = time.monotonic() - t0

    t0 = time.monotonic()
    extra_timings = {"analysis (main process)": analysis_s}
    runs = training_runs(jobs)
    inputs = ReportInputs(
        runs=runs,
        eval_sets=boundary_result.eval_sets,
        comparisons=boundary_result.comparisons,
        switches=boundary_result.switches,
        perplexity=boundary_result.perplexity,
        sections=(
            findings_section(tables, spurious_rows, ablation_result, boundary_result, runs),
            Section("Run time", (timing_table(timings, extra_timings),)),
        ),
        sources=(str(root),),
        notes=(
            f"Training curves' eval/ points come from each trainer's own small evaluation ({t.curve_problems} "
            f"problems × {t.curve_samples} samples, the run's seed); the study tables use the shared evaluation "
            f"({e.problems} problems × {e.samples} samples, seed 0) of the base model and of every final policy.",
        ),
        extra={
            "demo": {"mode": mode, "config": config.to_dict()},
            "spurious_rewards": [row.as_dict() for row in spurious_rows],
            "clipping_ablation": ablation_result.as_dict(),
            "boundary": boundary_result.as_dict(),
            "findings": [finding.as_dict() for finding in observed],
            "timings_s": {t.phase: t.seconds for t in timings} | extra_timings,
        },
    )
    title = f"rlvr demo ({mode}): spurious rewards, clipping ablation, reasoning boundary"
    files = write_report(inputs, root, title=title, processes=config.workers)  # the workers' cores are free now
    markdown = root / TABLE_FILE
    markdown.write_text("\n".join(markdown_table(table) for table in tables))
    if docs is not None:
        write_docs(root, boundary_result, Path(docs))
    report_s = time.monotonic() - t0

    seconds = time.monotonic() - started
    for timing in timings:
        console.print(f"  {timing.phase:<24} {timing.seconds:7.1f} s  ({timing.jobs} jobs, {timing.skipped} skipped)")
    console.print(f"  {'analysis':<24} {analysis_s:7.1f} s")
    console.print(f"  {'report':<24} {report_s:7.1f} s")
    console.print(f"[bold]done in {seconds:.0f} s[/]: {files.html}, {files.summary}, {markdown}")
    return DemoResult(files.html, files.summary, markdown, tables, seconds)


def findings_section(
    tables: tuple[Table, ...],
    spurious_rows: list[spurious.SpuriousRow],
    ablation_result: ablation.AblationResult,
    boundary_result: boundary.BoundaryResult,
    runs: tuple[TrainingRun, ...],
) -> Section:
    """The page's lead: the findings table, then each study's summary figure above its table."""
    verdicts, spurious_table, ablation_table, boundary_table = tables
    per_seed: dict[str, dict[str, list[tuple[float, float]]]] = {}
    for row in spurious_rows:
        d_acc = row.after.accuracy - row.before.accuracy
        d_code = row.after.code_frequency - row.before.code_frequency
        per_seed.setdefault(row.model, {}).setdefault(row.reward, []).append((d_acc, d_code))
    changes = {
        model: {
            reward: (_mean(v[0] for v in values), _mean(v[1] for v in values)) for reward, values in rewards.items()
        }
        for model, rewards in per_seed.items()
    }
    clip = ablation_result.as_dict()["presets"].get("clip")
    spread = None if clip is None else (clip["accuracy_change"]["std"], clip["code_frequency_change"]["std"])
    by_dir = {run.path.resolve(): run for run in runs}
    arms = {
        preset: [by_dir[r.run_dir.resolve()] for r in members if r.run_dir.resolve() in by_dir]
        for preset, members in ablation_result.by_preset().items()
    }
    items: list[str | Table | Plot] = [
        verdicts,
        Plot(plot_spurious_summary(changes, spread), "Spurious rewards: change in held-out accuracy and code "
             "frequency per reward and model; grey band: seed-to-seed spread of the random-reward clip runs"),
        spurious_table,
        Plot(plot_arms_over_seeds(arms), "Clipping ablation (random reward): each preset's training accuracy and "
             "code frequency over steps, mean over seeds with the min-max band"),
        ablation_table,
    ]  # fmt: skip
    if boundary_result.comparisons:
        comparison = boundary_result.comparisons[0]
        caption = f"Reasoning boundary: pass@k, {comparison.label_a} vs {comparison.label_b}, bootstrap 95% bands"
        items.append(Plot(plot_passk(comparison), caption))
    items.append(boundary_table)
    return Section("Findings", tuple(items), lead=True)


def _mean(values: Iterable[float]) -> float:
    items = list(values)
    return sum(items) / len(items)


def write_docs(root: Path, result: boundary.BoundaryResult, docs: Path) -> None:
    """Copy the Markdown tables and draw the pass@k plot (base vs GT-RL) into ``docs`` for the README."""
    from rlvr_lab.report.plots import figure_png

    docs.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(root / TABLE_FILE, docs / TABLE_FILE)
    (docs / PASSK_PLOT).write_bytes(figure_png(plot_passk(result.comparisons[0])))
