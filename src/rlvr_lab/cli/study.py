"""``rlvr study ...``: the reasoning-boundary studies beyond base vs RL, one sub-command each.

Each is a thin shell over its module in :mod:`rlvr_lab.studies` (the sizes and criteria live there). The studies
that train share one ``--root`` folder, where runs and evaluations are made once and reused: run several studies
with the same root and the ground-truth GRPO run, the base model's evaluation and the GT-RL evaluation are shared.
Each writes ``ROOT/<study>/report.html``, ``summary.json`` (findings with verdicts), ``<study>.md`` and
``<study>.png``; ``--json`` prints the summary's findings on stdout.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from rlvr_lab.cli.passk import fail, reflow

app = typer.Typer(
    name="study",
    help="Reasoning-boundary studies: boundary over training, six algorithms, distillation, lucky guesses, prompts.",
    no_args_is_help=True,
)

ROOT = Annotated[Path, typer.Option("--root", help="Folder of runs, evaluations and study outputs (resumable).")]
MODEL = Annotated[str, typer.Option("--model", help="Base model: an organism profile (v1 or v2) or a model folder.")]
STEPS = Annotated[int, typer.Option("--steps", help="RL steps of each training run.")]
PROBLEMS = Annotated[int, typer.Option("--problems", help="Held-out organism test problems evaluated.")]
SAMPLES = Annotated[int, typer.Option("--samples", help="Samples per problem: pass@k for every k up to it.")]
JSON = Annotated[bool, typer.Option("--json", help="Print the findings as JSON on stdout.")]


def _report(summary: Path, json_out: bool) -> None:
    record = json.loads(summary.read_text())
    if json_out:
        typer.echo(json.dumps({"summary": str(summary), "findings": record["findings"]}, indent=2))
        return
    for finding in record["findings"]:
        typer.echo(
            f"{finding['verdict']:>16}  {finding['claim']}: {finding['effect']:+.3f} "
            f"[{finding['low']:+.3f}, {finding['high']:+.3f}]"
        )
    typer.echo(f"wrote {summary.parent}")


def boundary_over_training(
    run_dir: Annotated[Path, typer.Argument(help="A training run with saved checkpoints (trained here if missing).")],
    model: MODEL = "qwen-math-like",
    steps: Annotated[
        int, typer.Option("--steps", help="When RUN_DIR holds no run: ground-truth GRPO steps to train first.")
    ] = 100,
    save_every: Annotated[int, typer.Option(help="When training here: a checkpoint every N steps, all kept.")] = 20,
    problems: PROBLEMS = 120,
    samples: SAMPLES = 256,
    out: Annotated[
        Path | None, typer.Option(help="Study folder (default RUN_DIR/boundary_over_training).", show_default=False)
    ] = None,
    json_out: JSON = False,
) -> None:
    """Evaluate every saved checkpoint of RUN_DIR at k = 1 … SAMPLES and plot pass@1 and pass@SAMPLES against the
    training step, with intervals paired against the step-0 model (Yue et al., 2025: pass@1 rises, pass@k at
    large k falls). A RUN_DIR with no run is first trained with ground-truth GRPO (the demo's settings), keeping a
    checkpoint every --save-every steps."""
    from rlvr_lab.studies.boundary_training import (
        BoundaryTrainingConfig,
        run_boundary_over_training,
        train_demo_run,
    )

    try:
        if not (run_dir / "config.yaml").is_file():
            train_demo_run(run_dir, model, steps, save_every)
        summary, _ = run_boundary_over_training(run_dir, BoundaryTrainingConfig(problems, samples), out)
    except (ValueError, FileNotFoundError) as error:
        raise fail(error) from None
    _report(summary, json_out)


def algorithms(
    root: ROOT = Path("runs/studies"),
    model: MODEL = "qwen-math-like",
    only: Annotated[str, typer.Option(help="Comma-separated algorithms (default: all six).")] = "",
    steps: STEPS = 50,
    problems: PROBLEMS = 60,
    samples: SAMPLES = 256,
    json_out: JSON = False,
) -> None:
    """Train PPO, GRPO, REINFORCE++, RLOO, ReMax and DAPO from MODEL with the same settings and sample budget
    (ground-truth reward) and report pass@1, pass@SAMPLES and ΔSE = pass@SAMPLES(base) − pass@1(RL), each with a
    paired bootstrap interval over problems."""
    from rlvr_lab.studies.algorithms import AlgorithmsConfig, run_algorithms_study
    from rlvr_lab.studies.settings import TrainingSettings

    try:
        names = tuple(n.strip() for n in only.split(",") if n.strip()) or AlgorithmsConfig.algorithms
        config = AlgorithmsConfig(model, names, TrainingSettings(steps=steps), problems=problems, samples=samples)
        summary = run_algorithms_study(config, root)
    except (ValueError, FileNotFoundError) as error:
        raise fail(error) from None
    _report(summary, json_out)


def distillation(
    root: ROOT = Path("runs/studies"),
    model: MODEL = "qwen-math-like",
    teacher: Annotated[str, typer.Option(help="Teacher model (default: MODEL pretrained further, error-free).")] = "",
    teacher_steps: Annotated[int, typer.Option(help="Further pretraining steps of a built teacher.")] = 400,
    steps: STEPS = 50,
    problems: PROBLEMS = 60,
    samples: SAMPLES = 256,
    json_out: JSON = False,
) -> None:
    """Compare the base, ground-truth GRPO and a student distilled from a stronger teacher at k = 1 … SAMPLES
    (Yue et al., 2025: distillation widens the boundary, RL does not)."""
    from rlvr_lab.studies.distillation import DistillationStudyConfig, run_distillation_study
    from rlvr_lab.studies.settings import TrainingSettings

    try:
        config = DistillationStudyConfig(
            model, teacher, teacher_steps, TrainingSettings(steps=steps), problems=problems, samples=samples
        )
        summary = run_distillation_study(config, root)
    except (ValueError, FileNotFoundError) as error:
        raise fail(error) from None
    _report(summary, json_out)


def lucky_guesses(
    root: ROOT = Path("runs/studies"),
    model: MODEL = "qwen-math-like",
    steps: STEPS = 50,
    problems: PROBLEMS = 60,
    samples: SAMPLES = 256,
    json_out: JSON = False,
) -> None:
    """Check every chain (each arithmetic step, each predicted code output) of the base's and the ground-truth RL
    model's samples and report, by k, the share of solved problems solved only by answers with a wrong chain."""
    from rlvr_lab.studies.lucky import LuckyConfig, run_lucky_study
    from rlvr_lab.studies.settings import TrainingSettings

    try:
        summary = run_lucky_study(LuckyConfig(model, TrainingSettings(steps=steps), problems, samples), root)
    except (ValueError, FileNotFoundError) as error:
        raise fail(error) from None
    _report(summary, json_out)


def prompting(
    root: ROOT = Path("runs/studies"),
    profiles: Annotated[
        str, typer.Option(help="Comma-separated organism profiles (the v2 ones learned the hint).")
    ] = "qwen-math-like-v2,olmo-like-v2,llama-like-v2",
    problems: PROBLEMS = 120,
    samples: SAMPLES = 16,
    json_out: JSON = False,
) -> None:
    """The python hint (organism-python-hint) against the default prompt on each profile: Δ accuracy with a paired
    interval; the paper's direction is + for Qwen-Math-like profiles and − for the others."""
    from rlvr_lab.studies.prompting import PromptingConfig, run_prompting_study

    try:
        names = tuple(p.strip() for p in profiles.split(",") if p.strip())
        summary = run_prompting_study(PromptingConfig(names, problems, samples), root)
    except (ValueError, FileNotFoundError) as error:
        raise fail(error) from None
    _report(summary, json_out)


for _command in (boundary_over_training, algorithms, distillation, lucky_guesses, prompting):
    app.command(_command.__name__.replace("_", "-"), help=reflow(_command.__doc__))(_command)


def register(root_app: typer.Typer) -> None:
    """Add ``rlvr study`` to the app."""
    root_app.add_typer(app, name="study")
