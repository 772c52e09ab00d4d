"""`rlvr train [CONFIG.yaml] [--option value ...]`: GRPO-family training with any training signal.

Every field of :class:`~rlvr_lab.rl.config.TrainConfig` is a command-line option (``--prompts-per-step``), its
help is the field's docstring, and values resolve as defaults < preset < CONFIG.yaml < command line. The command's
signature is generated from the dataclass, so a new config field is a new option with no code here.
"""

from __future__ import annotations

import dataclasses
import inspect
from pathlib import Path
from typing import Any

import typer

from rlvr_lab.cli.passk import JSON_HELP, fail, print_json
from rlvr_lab.cli.recipe import Arms, RecipeName, SetValues, parse_sets, recipe_train_values
from rlvr_lab.rl.config import FIELDS, field_docs

_TYPES: dict[str, Any] = {"str": str, "int": int, "float": float, "bool": bool, "int | None": int}

HELP = """Train a model with a GRPO-family algorithm on any training signal.

The estimator is --advantage (grpo, dr_grpo, rloo, reinforce_pp, remax, gae: PPO with a critic); DAPO is grpo with
--eps-high 0.28, --aggregation token-mean, --dynamic-sampling and --overlong-buffer. `rlvr study algorithms` trains
six side by side, with the values and sources of rlvr_lab/rl/algorithms.py.

Writes OUT/config.yaml (the resolved config), OUT/metrics.jsonl (one JSON object per step), OUT/problems.jsonl
(per-problem training accuracy), TensorBoard events, held-out evaluation samples, checkpoints and OUT/model.
--backend trl runs TRL's GRPOTrainer on the same config and writes the same files (docs/scale.md).

Example: rlvr train --model qwen-math-like --reward random:0.5 --preset clip --steps 20 --seed 1 --out runs/r1

The incorrect reward (and majority_vote:store=PATH) reads labels from a sample store of the base model on the
training problems: rlvr sample --model qwen-math-like --problems organism --split train --template organism
--n 8 --out labels.jsonl, then --reward incorrect:store=labels.jsonl.

A paper's setup: rlvr train --recipe spurious-rewards-qwen2.5-math-7b --arm random --backend trl --nproc 8
(`rlvr recipe list`); values resolve as defaults < preset < recipe < CONFIG.yaml < --set key=value and options.

With --json, one object on stdout: {"out", "config", "metrics", "steps", "final"} (final: the last step's
metrics); with --dry-run --json, the whole resolved configuration: {"recipe", "arms", "config", "backend", ...}
(backend trl adds "grpo_config", the schedule figures and the accelerate config).
"""


def _option(field: dataclasses.Field, doc: str) -> inspect.Parameter:
    flag = "--" + field.name.replace("_", "-")
    annotation = _TYPES[str(field.type)]
    decls = [f"{flag}/--no-{flag[2:]}"] if annotation is bool else [flag]
    shown = "unset" if field.default is None else field.default
    default = typer.Option(
        None, *decls, help=f"{doc} [default: {shown}]", show_default=False, rich_help_panel="Training options"
    )
    return inspect.Parameter(field.name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=annotation | None)


def _train(
    config_file: Path | None,
    resume: bool,
    quiet: bool,
    json_out: bool,
    launch_options: dict[str, Any],
    recipe: dict[str, Any],
    **options: Any,
) -> None:
    import json

    from rlvr_lab.backends import BACKENDS, Launch
    from rlvr_lab.rl.config import load_config_file, resolve_config
    from rlvr_lab.runtime.threads import use_threads
    from rlvr_lab.tasks import ProblemSourceError

    dry_run = launch_options.pop("dry_run")
    try:
        recipe_values = recipe_train_values(recipe["name"], recipe["arms"])
        explicit = {**parse_sets(recipe["sets"]), **{k: v for k, v in options.items() if v is not None}}
        file_values = {**recipe_values, **(load_config_file(config_file) if config_file is not None else {})}
        if resume and config_file is None:
            out = Path(explicit.get("out", file_values.get("out", FIELDS["out"].default)))
            saved = out / "config.yaml"
            if saved.is_file():
                file_values = load_config_file(saved)
        config = resolve_config(file_values, explicit)
        launch = Launch(**launch_options)
        backend = BACKENDS.get(config.backend)()
        if dry_run:
            if json_out:
                print_json(
                    {
                        "recipe": recipe["name"],
                        "arms": recipe["arms"] or [],
                        "config": config.to_dict(),
                        **backend.resolved(config, launch),
                    }
                )
            else:
                typer.echo(backend.plan(config, launch))
            return
    except ValueError as err:
        raise typer.BadParameter(str(err)) from None
    use_threads(config.threads)
    try:
        # Names (model, reward, template, problems, label stores) are resolved as the run starts; a wrong one is
        # a user's mistake, reported without a traceback.
        run_dir = backend.train(config, launch, resume=resume, show_progress=not quiet)
    except (ValueError, OSError, ProblemSourceError) as error:  # data and store errors are ValueErrors
        raise fail(error) from None
    metrics = run_dir / "metrics.jsonl"
    if not json_out:
        typer.echo(f"metrics: {metrics}")
        return
    records = [json.loads(line) for line in metrics.read_text(encoding="utf-8").splitlines() if line.strip()]
    print_json(
        {
            "out": str(run_dir),
            "config": str(run_dir / "config.yaml"),
            "metrics": str(metrics),
            "steps": len(records),
            "final": records[-1] if records else None,
        }
    )


LAUNCH_OPTIONS = ("timeout", "vllm_gpu_memory_utilization", "vllm_sleep", "vllm_server", "gpu_ids")
"""Launch fields (:class:`rlvr_lab.backends.Launch`) given on the command line only when set."""


def _launch_options() -> dict[str, tuple[Any, Any]]:
    """``--timeout`` and the TRL backend's vLLM and GPU knobs: name -> (typer option, annotation)."""
    return {
        "timeout": (
            typer.Option(None, "--timeout", help="Seconds any rank may wait on the others (process group timeout)."),
            int | None,
        ),
        "vllm_gpu_memory_utilization": (
            typer.Option(None, "--vllm-gpu-memory-utilization", help="Backend trl: vLLM's share of GPU memory."),
            float | None,
        ),
        "vllm_sleep": (
            typer.Option(None, "--vllm-sleep/--no-vllm-sleep", help="Backend trl: vLLM sleep mode while training."),
            bool | None,
        ),
        "vllm_server": (
            typer.Option(None, "--vllm-server", help="Backend trl: the `trl vllm-serve` URL (--vllm server)."),
            str | None,
        ),
        "gpu_ids": (
            typer.Option(None, "--gpu-ids", help="Backend trl: GPUs of this node to use, e.g. 0,1,2,3."),
            str | None,
        ),
    }


def build_command() -> Any:
    """The ``train`` command function, with one keyword option per config field."""

    def command(**kwargs: Any) -> None:
        launch = {name: kwargs.pop(name) for name in ("nproc", "vllm", "strategy", "dry_run", *LAUNCH_OPTIONS)}
        launch = {name: value for name, value in launch.items() if value is not None}
        recipe = {"name": kwargs.pop("recipe"), "arms": kwargs.pop("arm"), "sets": kwargs.pop("set_values")}
        config_file, resume, quiet = kwargs.pop("config_file"), kwargs.pop("resume"), kwargs.pop("quiet")
        _train(config_file, resume, quiet, kwargs.pop("json_out"), launch, recipe, **kwargs)

    docs = field_docs()
    fixed = [
        inspect.Parameter(
            "config_file",
            inspect.Parameter.POSITIONAL_OR_KEYWORD,
            default=typer.Argument(
                None,
                help="YAML file of options (command-line options override it).",
                metavar="CONFIG.yaml",
                exists=True,
                dir_okay=False,
            ),
            annotation=Path | None,
        ),
        inspect.Parameter(
            "resume",
            inspect.Parameter.KEYWORD_ONLY,
            default=typer.Option(False, "--resume", help="Continue the run in --out from its last checkpoint."),
            annotation=bool,
        ),
        inspect.Parameter(
            "quiet",
            inspect.Parameter.KEYWORD_ONLY,
            default=typer.Option(False, "--quiet", help="No progress bar or start-up summary."),
            annotation=bool,
        ),
        inspect.Parameter(
            "dry_run",
            inspect.Parameter.KEYWORD_ONLY,
            default=typer.Option(
                False, "--dry-run", help="Print the resolved backend settings and updates per rollout; train nothing."
            ),
            annotation=bool,
        ),
        inspect.Parameter(
            "nproc",
            inspect.Parameter.KEYWORD_ONLY,
            default=typer.Option(
                1,
                "--nproc",
                "--world-size",
                help="Data-parallel processes (backend trl: accelerate launch on GPUs, torchrun on CPU).",
            ),
            annotation=int,
        ),
        inspect.Parameter(
            "vllm",
            inspect.Parameter.KEYWORD_ONLY,
            default=typer.Option(None, "--vllm", help="Backend trl: generate with vLLM, colocate or server (GPU)."),
            annotation=str | None,
        ),
        inspect.Parameter(
            "strategy",
            inspect.Parameter.KEYWORD_ONLY,
            default=typer.Option(
                "ddp", "--strategy", help="Backend trl: ddp, or zero3 (DeepSpeed ZeRO-3, large models)."
            ),
            annotation=str,
        ),
        *(
            inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=option, annotation=annotation)
            for name, (option, annotation) in _launch_options().items()
        ),
        inspect.Parameter("recipe", inspect.Parameter.KEYWORD_ONLY, default=None, annotation=RecipeName),
        inspect.Parameter("arm", inspect.Parameter.KEYWORD_ONLY, default=None, annotation=Arms),
        inspect.Parameter("set_values", inspect.Parameter.KEYWORD_ONLY, default=None, annotation=SetValues),
        inspect.Parameter(
            "json_out",
            inspect.Parameter.KEYWORD_ONLY,
            default=typer.Option(False, "--json", help=JSON_HELP),
            annotation=bool,
        ),
    ]
    options = [_option(field, docs.get(name, "")) for name, field in FIELDS.items()]
    command.__signature__ = inspect.Signature([*fixed, *options])  # type: ignore[attr-defined]
    command.__doc__ = HELP
    return command


def register(app: typer.Typer) -> None:
    """Add ``rlvr train``."""
    app.command("train", help=HELP)(build_command())
