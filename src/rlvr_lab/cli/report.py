"""``rlvr report``: training runs and graded files -> one self-contained HTML page and ``summary.json``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from rlvr_lab.cli.options import Threads
from rlvr_lab.cli.passk import JSON_HELP, fail, print_json, reflow


def report(
    paths: Annotated[
        list[Path],
        typer.Argument(
            help="Training run folders, folders holding graded Parquet files, or graded files.", show_default=False
        ),
    ],
    out: Annotated[Path, typer.Option("--out", help="Output folder for report.html and summary.json.")],
    base: Annotated[
        str | None,
        typer.Option(
            help="The evaluation set the others are compared with (name or file stem). "
            "Default: base.parquet, else the first found."
        ),
    ] = None,
    title: Annotated[str, typer.Option(help="Page title.")] = "rlvr-lab report",
    resamples: Annotated[int, typer.Option(help="Bootstrap resamples for confidence bands.")] = 1000,
    seed: Annotated[int, typer.Option(help="Bootstrap seed.")] = 0,
    rule: Annotated[str, typer.Option(help="Code label rule: contains_python or fenced_python.")] = "contains_python",
    json_out: Annotated[bool, typer.Option("--json", help=JSON_HELP)] = False,
    threads: Threads = None,
) -> None:
    """Write OUT/report.html (plots embedded, no external resources, no JavaScript) and OUT/summary.json.

    Each PATH may be: a training run folder (metrics.jsonl, optional config.yaml: accuracy, reward, code
    frequency and clip-fraction curves); a folder searched recursively for graded Parquet files (the columns of
    `rlvr grade`); or one graded file. Graded files become evaluation sets: pass@1/maj@n/pass@n table and accuracy
    histograms. The base set (--base, else a file named base.parquet, else the first found) is compared with every
    other set on the same problems: pass@k curves with bootstrap bands, crossover k, coverage, ΔSE. Strategy
    switches need response texts: a `completion` column, or a sample file beside the graded file named
    <stem>.samples.jsonl, <stem>.samples.parquet or <stem>.jsonl. A perplexity.json (rows responses_of, columns
    scored_by, matrix perplexity) in a folder adds the perplexity matrix. With --json: {"out": {"html",
    "summary"}, "runs", "eval_sets", "comparisons", "notes"} on stdout.
    """
    from rlvr_lab.analysis.strategy import STRATEGY_RULES
    from rlvr_lab.report import collect_inputs, write_report
    from rlvr_lab.runtime.threads import use_threads

    use_threads(threads, announce=False)  # no model runs here: nothing to report

    if rule not in STRATEGY_RULES:
        raise typer.BadParameter(f"--rule must be one of {', '.join(STRATEGY_RULES)}; got {rule!r}")
    try:
        inputs = collect_inputs(paths, base=base, resamples=resamples, seed=seed, rule=rule)  # type: ignore[arg-type]
        files = write_report(inputs, out, title=title)
    except (ValueError, FileNotFoundError) as error:
        raise fail(error) from None
    for note in inputs.notes:
        typer.secho(f"note: {note}", err=True, fg=typer.colors.YELLOW)
    if json_out:
        print_json(
            {
                "out": {"html": str(files.html), "summary": str(files.summary)},
                "runs": len(inputs.runs),
                "eval_sets": len(inputs.eval_sets),
                "comparisons": len(inputs.comparisons),
                "notes": list(inputs.notes),
            }
        )
        return
    typer.echo(
        f"{len(inputs.runs)} runs, {len(inputs.eval_sets)} evaluation sets, {len(inputs.comparisons)} comparisons; "
        f"wrote {files.html} and {files.summary}"
    )


def register(app: typer.Typer) -> None:
    """Add ``rlvr report`` to the app."""
    app.command("report", help=reflow(report.__doc__))(report)
