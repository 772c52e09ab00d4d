"""``rlvr audit RECIPE_OR_CONFIG``: is an RLVR gain real? The claimed arm beside the controls both papers ask for.

A thin command over :mod:`rlvr_lab.studies.audit` (arms, jobs, verdicts), :mod:`rlvr_lab.studies.audit_cost`
(the plan and its cost) and :mod:`rlvr_lab.studies.audit_run` (running it, the report).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from rlvr_lab.cli.options import Threads
from rlvr_lab.cli.passk import JSON_HELP, fail, print_json, reflow

CONTROL_KEYS = ("model", "subject", "role", "verdict", "effect", "interval", "p_value", "holm_p", "seeds", "problems")
"""What ``--json`` prints for each control (every check, with all its fields, is under ``checks``)."""


def audit(
    claim: Annotated[
        str,
        typer.Argument(
            help="A recipe name (e.g. organism-ground-truth) or a training config file (rlvr train's YAML).",
            metavar="RECIPE_OR_CONFIG",
            show_default=False,
        ),
    ],
    out: Annotated[Path, typer.Option("--out", help="Output folder (re-running it reuses every finished arm).")],
    model: Annotated[
        list[str] | None,
        typer.Option(
            "--model",
            help="A model to audit on (repeat for each family; default: the claim's model, and on the organism the "
            "other family's organism too).",
            show_default=False,
        ),
    ] = None,
    seeds: Annotated[
        int | None, typer.Option(help="Seeds per arm, the same for every arm (default 5; 3 with --quick).")
    ] = None,
    backend: Annotated[str, typer.Option(help="Training backend of every arm: rlvr or trl.")] = "rlvr",
    quick: Annotated[
        bool, typer.Option("--quick", help="Fewer steps, problems, samples and seeds; the same arms and code paths.")
    ] = False,
    k: Annotated[
        int | None, typer.Option("--k", help="Largest k sampled (default: the claim's; 64 with --quick).")
    ] = None,
    nproc: Annotated[
        int, typer.Option("--nproc", help="GPUs per training run (backend trl; the dry run's GPU count).")
    ] = 1,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print every arm's cost (CPU time, GPU-hours) and stop.")
    ] = False,
    sizes: Annotated[
        list[str] | None,
        typer.Option(
            "--set",
            help="A size, KEY=VALUE (repeatable): eval_problems, eval_samples, boundary_problems, largest_k, steps, "
            "train_problems, curve_problems or votes; applied over the --quick (or full) sizes.",
            show_default=False,
        ),
    ] = None,
    workers: Annotated[int, typer.Option(help="Worker processes (one per core is fastest on the organisms).")] = 2,
    json_out: Annotated[bool, typer.Option("--json", help=JSON_HELP)] = False,
    threads: Threads = None,
) -> None:
    """Train the claimed arm and, on the same seeds and data, the controls: random:0.5, format and incorrect
    rewards, and the clip ablation (the claimed reward with no clamp, and on-policy), on every model; sample each
    final policy and the base; judge every check with its 95% interval over seeds × problems.

    Checks: the claimed gain beats each control; it holds on each model family; it holds without the clamp and
    on-policy; at the largest k the RL model does (not) solve problems the base cannot (sign test); the gain is
    made of sound answers (not answer-only; on the organism, chains that check out).

    Writes OUT/report.html (verdict table first, a paragraph in plain words, then the curves), OUT/audit.json,
    OUT/summary.json and OUT/audit.md. Progress goes to stderr, one line per job when redirected. With --json:
    {"out", "claimed", "gain_is_real", "controls", "checks", "seconds"} on stdout; with --dry-run --json the plan:
    {"stages", "total_gpu_hours", "gpus", "cpu_seconds", "assumptions"}.
    """
    from rlvr_lab.runtime.threads import use_threads
    from rlvr_lab.studies.audit import build_config
    from rlvr_lab.studies.audit_cost import arm_changes, assumptions, audit_costs, plan_text

    if workers < 1 or nproc < 1:
        raise typer.BadParameter(f"--workers and --nproc must be >= 1, got {workers} and {nproc}")
    try:
        config = build_config(
            claim,
            tuple(model or ()),
            seeds,
            backend,
            quick,
            k,
            workers,
            use_threads(threads, announce=False) or 1,
            nproc,
            tuple(sizes or ()),
        )
        costs = audit_costs(config, out)
    except (ValueError, FileNotFoundError) as error:
        raise fail(error) from None
    plan = plan_text(config, costs, nproc)
    if dry_run:
        if json_out:
            gpu_h = sum(c.gpu_h * c.count for c in costs)
            print_json(
                {
                    "claimed": {
                        "name": config.claimed.name,
                        "source": config.claimed.source,
                        "reward": config.claimed.reward,
                    },
                    "models": list(config.models),
                    "seeds": len(config.seeds),
                    "arms": arm_changes(config),
                    "backend": config.backend,
                    "stages": [c.as_dict() for c in costs],
                    "total_gpu_hours": round(gpu_h, 1),
                    "gpus": nproc,
                    "wall_hours_on_gpus": round(gpu_h / nproc, 1),
                    "cpu_seconds": round(sum(c.cpu_s * c.count for c in costs)),
                    "assumptions": assumptions(),
                    "notes": list(config.notes),
                }
            )
        else:
            typer.echo(plan)
            for note in config.notes:
                typer.echo(f"note: {note}")
        return
    from rlvr_lab.runtime.data import ProblemSourceError
    from rlvr_lab.studies.audit_run import run_audit

    typer.echo(plan, err=True)
    try:
        result = run_audit(config, out)
    except (ValueError, FileNotFoundError, ProblemSourceError) as error:
        raise fail(error) from None
    record = result.record
    if json_out:
        controls = [{key: c[key] for key in CONTROL_KEYS} for c in record["checks"] if c["family"] == "controls"]
        print_json(
            {
                "out": {"report": str(result.report), "audit": str(result.audit), "summary": str(result.summary)},
                "claimed": record["claimed"]["name"],
                "gain_is_real": record["gain_is_real"],
                "controls": controls,
                "checks": record["checks"],
                "seconds": round(result.seconds, 1),
            }
        )
        return
    for c in record["checks"]:
        low, high = c["interval"]
        interval = "no interval" if low is None else f"[{low:+.3f}, {high:+.3f}]"
        p = f"Holm p = {c['holm_p']:.2g}" if c["holm_p"] is not None else f"p = {c['p_value']:.2g}"
        typer.echo(f"{c['verdict']:>16}  {c['role']:<9} {c['claim']}: {c['effect']:+.3f} {interval}, {p}")
    typer.echo(record["paragraph"])
    typer.echo(f"wrote {result.report}, {result.audit}")


def register(app: typer.Typer) -> None:
    """Add ``rlvr audit``."""
    app.command("audit", help=reflow(audit.__doc__))(audit)
