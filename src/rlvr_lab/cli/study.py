"""``rlvr study ...``: single studies, one sub-command each: the clip-bias laboratory, the learning-rate rule and the
clipping ablation (*Spurious Rewards*), and the reasoning-boundary studies beyond base vs RL (Yue et al.).

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
    help="Single studies: calibration of the findings' intervals, clip-bias laboratory, learning-rate rule, "
    "clipping ablation, spurious-reward mechanisms; boundary over training, six algorithms, distillation, lucky "
    "guesses, prompting.",
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


def clip_bias(
    out: Annotated[Path, typer.Option("--out", help="Output folder.")] = Path("runs/clip_bias"),
    seeds: Annotated[int, typer.Option(help="Seeds per cell (vectorised: one batch).")] = 256,
    steps: Annotated[int, typer.Option(help="Rollouts per run.")] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON instead of the tables.")] = False,
) -> None:
    """The clip-bias laboratory: tabular policies trained with random rewards through the project's own grpo,
    update_policy and policy_loss, over learning rate × updates per rollout × ε, for the clip, no-clip,
    on-policy-batch and small-rollout arms (seeds paired across arms and rates).

    Writes OUT/clip_bias.json (every cell: clip fractions, Δ p(prior's mode), Δ accuracy with SE), OUT/clip_bias.md
    (the tables) and OUT/clip_bias.png (movement toward the mode and accuracy against the clip fraction). The
    claim is judged at one cell fixed in rlvr_lab/studies/clip_bias.py (TARGET): clip moves accuracy up, no-clip
    and the on-policy arms down, each beyond 3 standard errors. About 40 s on one idle core.
    """
    import dataclasses

    from rlvr_lab.report.plots import figure_png
    from rlvr_lab.studies.clip_bias import (
        ClipBiasResult,
        SweepConfig,
        plot_clip_bias,
        run_sweep,
        sweep_table,
        target_table,
    )
    from rlvr_lab.studies.markdown import markdown_table

    if seeds < 2 or steps < 1:
        raise typer.BadParameter(f"need --seeds >= 2 and --steps >= 1, got {seeds} and {steps}")
    config = SweepConfig()
    config = dataclasses.replace(config, base=dataclasses.replace(config.base, seeds=seeds, steps=steps))
    try:
        result = ClipBiasResult(tuple(run_sweep(config)))
    except ValueError as error:
        raise fail(error) from None
    out.mkdir(parents=True, exist_ok=True)
    summary = result.as_dict()
    (out / "clip_bias.json").write_text(json.dumps(summary, indent=2) + "\n")
    markdown = "\n".join(markdown_table(t) for t in (target_table(result), sweep_table(result)))
    (out / "clip_bias.md").write_text(markdown)
    (out / "clip_bias.png").write_bytes(figure_png(plot_clip_bias(result)))
    typer.echo(json.dumps(summary, indent=2) if as_json else markdown)


def lr_rule(
    out: Annotated[Path, typer.Option("--out", help="Output folder (re-running resumes finished runs).")] = Path(
        "runs/lr_rule"
    ),
    profile: Annotated[str, typer.Option(help="Model the rate is chosen for.")] = "qwen-math-like",
    rates: Annotated[
        str, typer.Option(help="The grid of learning rates, comma-separated, increasing.")
    ] = "1e-4,3e-4,1e-3",
    seeds: Annotated[int, typer.Option(help="Seeds per rate (0 .. N-1, the same for every rate).")] = 2,
    steps: Annotated[int, typer.Option(help="Training steps per control run.")] = 20,
    eval_every: Annotated[int, typer.Option(help="Held-out evaluation every N steps (what the rule reads).")] = 5,
    eval_problems: Annotated[int, typer.Option(help="Held-out problems per evaluation.")] = 120,
    eval_samples: Annotated[int, typer.Option(help="Samples per problem per evaluation.")] = 4,
    tolerance: Annotated[float, typer.Option(help="Allowed |mean accuracy change| at any evaluation.")] = 0.01,
    workers: Annotated[int, typer.Option(help="Worker processes (one torch thread each).")] = 2,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON instead of the table.")] = False,
) -> None:
    """Choose the learning rate with a control that cannot show the clip bias: the largest rate of the grid at which
    an on-policy random-reward run (paper-on-policy: the paper's 64 × 16 rollout in one update) keeps held-out
    accuracy within ±tolerance of its step-0 value at every evaluation, averaged over paired seeds (the rate below
    the first failing one).

    Writes OUT/lr_rule.json (drift per rate, every seed's curve, the chosen rate) and OUT/lr_rule.md.
    """
    import dataclasses

    from rlvr_lab.studies.lr_rule import LrRuleConfig, lr_rule_jobs, lr_rule_result, lr_rule_table
    from rlvr_lab.studies.markdown import markdown_table
    from rlvr_lab.studies.parallel import run_jobs

    try:
        grid = tuple(float(r) for r in rates.split(","))
        base = LrRuleConfig()
        training = dataclasses.replace(
            base.training,
            steps=steps,
            eval_every=eval_every,
            curve_problems=eval_problems,
            curve_samples=eval_samples,
        )
        config = LrRuleConfig(
            profile=profile, rates=grid, seeds=tuple(range(seeds)), tolerance=tolerance, training=training
        )
        run_jobs(lr_rule_jobs(out, config), workers=workers, threads=1)
        result = lr_rule_result(out, config)
    except (ValueError, FileNotFoundError, RuntimeError) as error:
        raise fail(error) from None
    (out / "lr_rule.json").write_text(json.dumps(result.as_dict(), indent=2) + "\n")
    markdown = markdown_table(lr_rule_table(result))
    (out / "lr_rule.md").write_text(markdown)
    typer.echo(json.dumps(result.as_dict(), indent=2) if as_json else markdown)
    typer.echo(f"chosen rate: {result.chosen}", err=True)


def clip_ablation(
    out: Annotated[Path, typer.Option("--out", help="Output folder (re-running resumes finished runs).")] = Path(
        "runs/clip_ablation"
    ),
    profile: Annotated[str, typer.Option(help="Model trained in every run.")] = "qwen-math-like",
    schedule: Annotated[
        str,
        typer.Option(help="demo: the demo's presets (16 × 8, 4 updates); paper: 64 × 16, mini-batch 128, 8 updates."),
    ] = "paper",
    lr: Annotated[float, typer.Option(help="Learning rate of every arm (choose it with `rlvr study lr-rule`).")] = 2e-4,
    seeds: Annotated[int, typer.Option(help="Seeds per arm (0 .. N-1, the same for every arm).")] = 5,
    steps: Annotated[int, typer.Option(help="Training steps per run.")] = 20,
    workers: Annotated[int, typer.Option(help="Worker processes (one torch thread each).")] = 2,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON instead of the tables.")] = False,
) -> None:
    """The clipping ablation alone: random:0.5 under the clipped arm, the same without the clamp, and the two
    on-policy arms, every arm on the same seeds; findings with paired intervals over seeds × problems.

    Writes OUT/clip_ablation.json (every run's changes, the findings) and OUT/clip_ablation.md.
    """
    from rlvr_lab.studies.ablation import (
        PAPER_PRESETS,
        PRESET_ORDER,
        AblationConfig,
        ablation_jobs,
        ablation_result,
        ablation_table,
    )
    from rlvr_lab.studies.findings import ablation_findings
    from rlvr_lab.studies.markdown import markdown_table
    from rlvr_lab.studies.parallel import run_jobs
    from rlvr_lab.studies.settings import EvalSettings, TrainingSettings
    from rlvr_lab.studies.verdict import findings_table

    presets = {"demo": PRESET_ORDER, "paper": PAPER_PRESETS}
    if schedule not in presets or seeds < 1:
        raise typer.BadParameter(f"--schedule must be demo or paper and --seeds >= 1, got {schedule!r}, {seeds}")
    config = AblationConfig(profile=profile, presets=presets[schedule], seeds=tuple(range(seeds)))
    training, evaluation = TrainingSettings(steps=steps, lr=lr), EvalSettings()
    try:
        run_jobs(ablation_jobs(out, config, training, evaluation), workers=workers, threads=1)
        result = ablation_result(out, config, training, evaluation)
    except (ValueError, FileNotFoundError, RuntimeError) as error:
        raise fail(error) from None
    found = ablation_findings(result)
    summary = {"lr": lr, "steps": steps, **result.as_dict(), "findings": [f.as_dict() for f in found]}
    (out / "clip_ablation.json").write_text(json.dumps(summary, indent=2) + "\n")
    markdown = "\n".join(markdown_table(t) for t in (findings_table(found), ablation_table(result, config)))
    (out / "clip_ablation.md").write_text(markdown)
    typer.echo(json.dumps(summary, indent=2) if as_json else markdown)


def calibration(
    out: Annotated[
        Path | None, typer.Option("--out", help="Also write calibration.json and calibration.md here.")
    ] = None,
    sims: Annotated[int, typer.Option(help="Simulated data sets per design and truth.")] = 2000,
    resamples: Annotated[int, typer.Option(help="Bootstrap resamples per simulated interval.")] = 1000,
    problems: Annotated[int, typer.Option(help="Held-out problems of the training designs.")] = 120,
    samples: Annotated[int, typer.Option(help="Samples per problem of the training designs.")] = 8,
    seeds: Annotated[int, typer.Option(help="Training seeds of the training designs.")] = 5,
    boundary_problems: Annotated[int, typer.Option(help="Problems of the boundary designs.")] = 500,
    boundary_samples: Annotated[int, typer.Option(help="Samples per problem of the boundary designs.")] = 1024,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON instead of the table.")] = False,
) -> None:
    """Simulate every design of the demo's findings through the findings' own functions, under the null and at a
    known effect, and print each design's coverage of the true effect and the share of each verdict (a design that
    decides passes with coverage >= 0.94 and null "reproduced" <= 0.03; the old percentile bootstrap over seeds and
    problems is shown beside the t interval). Exit status 1 when a design fails. About a minute at the defaults.
    """
    from rlvr_lab.studies.calibration import CalibrationConfig, calibration_table, demo_designs, run_calibration
    from rlvr_lab.studies.markdown import markdown_table

    if sims < 10 or resamples < 100 or min(problems, samples, seeds, boundary_problems, boundary_samples) < 1:
        raise typer.BadParameter("need --sims >= 10, --resamples >= 100 and sizes >= 1")
    designs = demo_designs(problems, samples, seeds, boundary_problems, boundary_samples)
    summary = run_calibration(CalibrationConfig(tuple(designs), sims=sims, resamples=resamples))
    markdown = markdown_table(calibration_table(summary))
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        (out / "calibration.json").write_text(json.dumps(summary, indent=2) + "\n")
        (out / "calibration.md").write_text(markdown)
    typer.echo(json.dumps(summary, indent=2) if as_json else markdown)
    if not summary["passes"]:
        raise typer.Exit(1)


def spurious_mechanisms(
    out: Annotated[Path, typer.Option("--out", help="Output folder (re-running resumes finished runs).")] = Path(
        "runs/mechanisms"
    ),
    profile: Annotated[str, typer.Option(help="Model trained in every run.")] = "qwen-math-like-v2",
    lrs: Annotated[str, typer.Option(help="Learning rates of the grid, comma-separated.")] = "3e-4,1e-3",
    updates: Annotated[str, typer.Option(help="Updates per rollout of the grid, comma-separated.")] = "4,16",
    seeds: Annotated[int, typer.Option(help="Seeds per arm (0 .. N-1, the same for every arm).")] = 5,
    steps: Annotated[int, typer.Option(help="Training steps per run.")] = 50,
    problems: Annotated[int, typer.Option(help="Held-out problems of every evaluation.")] = 120,
    samples: Annotated[int, typer.Option(help="Samples per problem of every evaluation.")] = 8,
    workers: Annotated[int, typer.Option(help="Worker processes (one torch thread each).")] = 2,
    contamination: Annotated[
        bool,
        typer.Option(
            help="Also run the contamination arm (random reward on qwen-math-like-v2-contaminated, on the same seeds) "
            "when that profile is shipped and the evaluation holds its (S, clean) pairs."
        ),
    ] = True,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON instead of the tables.")] = False,
) -> None:
    """The competing explanations of spurious-reward gains on the organism, each with its prediction fixed in
    rlvr_lab/studies/mechanisms.py before the runs: the clip account over a grid of learning rate × updates per
    rollout (clip and no-clip on the same seeds, each cell with its strategy-token clip fraction; predicted: clip −
    base > 0 only at or above 1% of strategy tokens clipped), asymmetric clipping (clip-high against clip-low:
    entropy and code frequency move apart), the format split of every accuracy change (boxed rate against
    accuracy given a box), and contamination (an organism that saw half of the evaluation's problems with their
    answers, trained with random reward: gains concentrated on those problems, or on clean ones too).

    Writes OUT/mechanisms.json (findings, predictions against verdicts, every run) and OUT/mechanisms.md.
    """
    import dataclasses

    from rlvr_lab.studies.markdown import markdown_table
    from rlvr_lab.studies.mechanisms import (
        MechanismsConfig,
        contamination_table,
        grid_table,
        mechanism_findings,
        mechanism_jobs,
        mechanisms_result,
        summary,
    )
    from rlvr_lab.studies.parallel import run_jobs
    from rlvr_lab.studies.settings import EvalSettings, TrainingSettings
    from rlvr_lab.studies.verdict import findings_table

    try:
        config = MechanismsConfig(
            profile=profile,
            lrs=tuple(float(x) for x in lrs.split(",")),
            updates=tuple(int(x) for x in updates.split(",")),
            asymmetric_updates=max(int(x) for x in updates.split(",")),
            seeds=tuple(range(seeds)),
            training=TrainingSettings(steps=steps),
            evaluation=EvalSettings(problems=problems, samples=samples),
            contamination=contamination,
        )
        config = dataclasses.replace(config, asymmetric_lr=config.lrs[0])
        run_jobs(mechanism_jobs(out, config), workers=workers, threads=1)
        result = mechanisms_result(out, config)
    except (ValueError, FileNotFoundError, RuntimeError) as error:
        raise fail(error) from None
    found = mechanism_findings(result, config)
    record = summary(result, config, found)
    (out / "mechanisms.json").write_text(json.dumps(record, indent=2) + "\n")
    tables = (findings_table(found, "Spurious-reward mechanisms: findings"), grid_table(result, config))
    leaked = contamination_table(result, config, found)
    markdown = "\n".join(markdown_table(t) for t in (*tables, *([leaked] if leaked else [])))
    (out / "mechanisms.md").write_text(markdown)
    typer.echo(json.dumps(record, indent=2) if as_json else markdown)


for _command in (
    calibration,
    clip_bias,
    lr_rule,
    clip_ablation,
    spurious_mechanisms,
    boundary_over_training,
    algorithms,
    distillation,
    lucky_guesses,
    prompting,
):
    app.command(_command.__name__.replace("_", "-"), help=reflow(_command.__doc__))(_command)


def register(root_app: typer.Typer) -> None:
    """Add ``rlvr study`` to the app."""
    root_app.add_typer(app, name="study")
