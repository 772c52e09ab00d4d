"""``rlvr export verl``: write a training run of ours as a verl run (data, reward, ``main_ppo`` command).

Thin over :func:`rlvr_lab.export.verl.export_verl`; the config resolves as ``rlvr train``'s does (defaults <
preset < ``--recipe`` and its ``--arm`` < CONFIG.yaml < ``--set`` and options), so the same recipes, preset names
and reward specs mean the same thing on both engines.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from rlvr_lab.cli.passk import JSON_HELP, fail, print_json
from rlvr_lab.cli.recipe import Arms, RecipeName, SetValues, parse_sets, recipe_train_values

export_app = typer.Typer(
    name="export", help="Export a run to another training engine (verl).", no_args_is_help=True, add_completion=False
)


@export_app.command("verl")
def verl(
    out: Annotated[Path, typer.Option(help="Folder for train/val parquet, run.sh and export.json.")],
    config_file: Annotated[
        Path | None,
        typer.Argument(help="YAML file of `rlvr train` options (options below override it).", metavar="CONFIG.yaml"),
    ] = None,
    model: Annotated[
        str | None, typer.Option(help="Model spec, HF folder or hub id. [default: qwen-math-like]")
    ] = None,
    problems: Annotated[str | None, typer.Option(help="Training problems (train_data). [default: organism]")] = None,
    eval_problems: Annotated[str | None, typer.Option(help="Validation problems. [default: organism]")] = None,
    reward: Annotated[str | None, typer.Option(help="Reward spec, e.g. random:0.5. [default: ground_truth]")] = None,
    preset: Annotated[str | None, typer.Option(help="Schedule preset (clip, no-clip, ...). [default: clip]")] = None,
    template: Annotated[str | None, typer.Option(help="Prompt template (prompt). [default: organism]")] = None,
    seed: Annotated[int | None, typer.Option(help="Seed of data order and random rewards. [default: 0]")] = None,
    steps: Annotated[int | None, typer.Option(help="Training steps (rollouts). [default: 20]")] = None,
    set_values: SetValues = None,
    recipe: RecipeName = None,
    arm: Arms = None,
    n_gpus_per_node: Annotated[int, typer.Option(help="verl trainer.n_gpus_per_node.")] = 8,
    nnodes: Annotated[int, typer.Option(help="verl trainer.nnodes.")] = 1,
    rollout: Annotated[str, typer.Option(help="verl rollout engine: vllm, sglang or hf.")] = "vllm",
    tensor_parallel_size: Annotated[int, typer.Option(help="Rollout tensor parallelism.")] = 1,
    gpu_memory_utilization: Annotated[float, typer.Option(help="Rollout GPU memory fraction.")] = 0.6,
    max_prompt_length: Annotated[int, typer.Option(help="verl data.max_prompt_length.")] = 1024,
    micro_batch_size_per_gpu: Annotated[int, typer.Option(help="Per-GPU micro-batch (memory only).")] = 4,
    dual_clip: Annotated[
        float, typer.Option(help="verl clip_ratio_c (dual-clip bound); the default never binds, as in our loss.")
    ] = 1e9,
    data_dir: Annotated[
        Path | None, typer.Option(envvar="RLVR_DATA_DIR", help="Folder of benchmark files (layout of shared/data).")
    ] = None,
    validate: Annotated[
        bool,
        typer.Option(
            "--validate", help="Also check the export with verl's own config check and dataset reader (needs verl)."
        ),
    ] = False,
    json_output: Annotated[bool, typer.Option("--json", help=JSON_HELP)] = False,
) -> None:
    """Write OUT/train.parquet, OUT/val.parquet (verl's schema), OUT/run.sh (python -m verl.trainer.main_ppo with
    the preset translated) and OUT/export.json. Settings verl cannot express exactly are refused, naming them."""
    from rlvr_lab.export.verl import VerlExportError, VerlTarget, export_verl
    from rlvr_lab.rl.config import load_config_file, resolve_config
    from rlvr_lab.tasks import ProblemDataError, ProblemSourceError

    named = {
        "model": model,
        "train_data": problems,
        "eval_data": eval_problems,
        "reward": reward,
        "preset": preset,
        "prompt": template,
        "seed": seed,
        "steps": steps,
    }
    explicit = {**parse_sets(set_values), **{key: value for key, value in named.items() if value is not None}}
    target = VerlTarget(
        n_gpus_per_node=n_gpus_per_node,
        nnodes=nnodes,
        rollout=rollout,
        tensor_parallel_size=tensor_parallel_size,
        gpu_memory_utilization=gpu_memory_utilization,
        max_prompt_length=max_prompt_length,
        micro_batch_size_per_gpu=micro_batch_size_per_gpu,
        dual_clip=dual_clip,
    )
    try:
        file_values = {
            **recipe_train_values(recipe, arm),
            **(load_config_file(config_file) if config_file is not None else {}),
        }
        config = resolve_config(file_values, explicit)
        payload = export_verl(config, target, out, data_dir=data_dir)
        checked = _validate(out) if validate else None
    except (VerlExportError, ValueError, ProblemDataError, ProblemSourceError, FileNotFoundError) as err:
        raise fail(err) from None
    summary = {
        "out": str(out),
        "train_problems": payload["train_problems"],
        "val_problems": payload["val_problems"],
        "updates_per_rollout": payload["updates_per_rollout"],
        "command": str(out / "run.sh"),
        "verl_validation": checked,
    }
    if json_output:
        print_json(summary)
        return
    typer.echo(
        f"{out}: {summary['train_problems']} training and {summary['val_problems']} validation problems; "
        f"{summary['updates_per_rollout']} optimiser update(s) per rollout; run it with: bash {out / 'run.sh'}"
        + ("; verl validated it" if checked else "")
    )


def _validate(out: Path) -> dict[str, object]:
    import importlib.util

    if importlib.util.find_spec("verl") is None:
        raise ValueError("--validate needs verl installed in this environment (pip install 'verl==0.9.0')")
    from rlvr_lab.export.verl import validate_with_verl

    return validate_with_verl(out)


def register(app: typer.Typer) -> None:
    """Add ``rlvr export`` to the app."""
    app.add_typer(export_app)
