"""``rlvr distill --teacher T --student S --out DIR``: fine-tune the student on the teacher's correct answers.

A thin shell over :func:`rlvr_lab.studies.distillation.distill`: the teacher samples the RL training problems (the
organism train split), the samples are graded, up to ``--per-problem`` correct ones per problem are kept, and the
student is fine-tuned on them (supervised, :mod:`rlvr_lab.rl.sft`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from rlvr_lab.cli.passk import fail, reflow


def distill(
    teacher: Annotated[str, typer.Option(help="Teacher model: an organism profile or a model folder.")],
    student: Annotated[str, typer.Option(help="Student model: an organism profile or a model folder.")],
    out: Annotated[Path, typer.Option(help="Output folder: teacher_samples.jsonl (graded beside it) and model/.")],
    problems: Annotated[int, typer.Option(help="The first N organism train problems (the RL training set).")] = 400,
    samples: Annotated[int, typer.Option(help="Teacher samples per problem.")] = 8,
    per_problem: Annotated[int, typer.Option(help="Correct samples kept per problem, at most.")] = 4,
    epochs: Annotated[int, typer.Option(help="Passes over the kept samples.")] = 2,
    lr: Annotated[float, typer.Option(help="AdamW learning rate of the fine-tuning.")] = 5e-4,
    seed: Annotated[int, typer.Option(help="Seed of the shuffles.")] = 0,
    json_out: Annotated[bool, typer.Option("--json", help="Print the distillation record as JSON.")] = False,
) -> None:
    """Distil TEACHER into STUDENT: sample the teacher on the RL training problems, keep correct answers, fine-tune
    the student on them; writes OUT/model (a Hugging Face folder) with rlvr_distill.json (config, pairs, losses)."""
    from rlvr_lab.rl.sft import SFTConfig
    from rlvr_lab.studies.distillation import META_FILE, DistillConfig
    from rlvr_lab.studies.distillation import distill as run_distill

    try:
        config = DistillConfig(
            teacher, student, str(out), problems, samples, per_problem, sft=SFTConfig(epochs, lr=lr, seed=seed)
        )
        model_dir = run_distill(config)
    except (ValueError, FileNotFoundError, OSError) as error:
        raise fail(error) from None
    record = json.loads((model_dir / META_FILE).read_text())
    if json_out:
        typer.echo(json.dumps({"model": str(model_dir), **record}, indent=2))
        return
    typer.echo(
        f"distilled {record['pairs']} correct answers ({record['problems_with_a_correct_answer']} problems) into "
        f"{model_dir}; loss {record['first_loss']:.3f} → {record['last_loss']:.3f}"
    )


def register(app: typer.Typer) -> None:
    """Add ``rlvr distill`` to the app."""
    app.command("distill", help=reflow(distill.__doc__))(distill)
