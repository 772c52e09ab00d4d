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

from rlvr_lab.rl.config import FIELDS, field_docs

_TYPES: dict[str, Any] = {"str": str, "int": int, "float": float, "bool": bool, "int | None": int}

HELP = """Train a model with GRPO (or Dr. GRPO, RLOO, REINFORCE++) on any training signal.

Writes OUT/config.yaml (the resolved config), OUT/metrics.jsonl (one JSON object per step), OUT/problems.jsonl
(per-problem training accuracy), TensorBoard events, held-out evaluation samples, checkpoints and OUT/model.

Example: rlvr train --model qwen-math-like --reward random:0.5 --preset clip --steps 20 --seed 1 --out runs/r1
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


def _train(config_file: Path | None, resume: bool, quiet: bool, **options: Any) -> None:
    from rlvr_lab.rl.config import load_config_file, resolve_config
    from rlvr_lab.rl.trainer import train
    from rlvr_lab.threads import use_threads

    explicit = {name: value for name, value in options.items() if value is not None}
    file_values = load_config_file(config_file) if config_file is not None else {}
    if resume and config_file is None:
        out = Path(explicit.get("out", FIELDS["out"].default))
        saved = out / "config.yaml"
        if saved.is_file():
            file_values = load_config_file(saved)
    try:
        config = resolve_config(file_values, explicit)
    except ValueError as err:
        raise typer.BadParameter(str(err)) from None
    use_threads(config.threads)
    run_dir = train(config, resume=resume, show_progress=not quiet)
    typer.echo(f"metrics: {run_dir / 'metrics.jsonl'}")


def build_command() -> Any:
    """The ``train`` command function, with one keyword option per config field."""

    def command(**kwargs: Any) -> None:
        _train(kwargs.pop("config_file"), kwargs.pop("resume"), kwargs.pop("quiet"), **kwargs)

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
    ]
    options = [_option(field, docs.get(name, "")) for name, field in FIELDS.items()]
    command.__signature__ = inspect.Signature([*fixed, *options])  # type: ignore[attr-defined]
    command.__doc__ = HELP
    return command


def register(app: typer.Typer) -> None:
    """Add ``rlvr train``."""
    app.command("train", help=HELP)(build_command())
