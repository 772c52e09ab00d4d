"""``rlvr passk``: unbiased pass@k (and maj@k) of one graded file."""

from __future__ import annotations

import inspect
import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from rlvr_lab.cli.options import Threads

if TYPE_CHECKING:
    from rlvr_lab.metrics import GradedSamples

GRADED_HELP = (
    "Graded Parquet file written by `rlvr grade`: one row per (problem, sample) with columns problem_id, "
    "sample_idx, answer, correct (bool), status; or a directory or quoted glob of such files (graded shards)."
)
UNEVEN_HELP = (
    "Accept problems with different numbers of samples (usually an interrupted sampling run): k is then capped "
    "by the smallest n, and `n` in the output is that smallest n."
)


def parse_ks(text: str | None, n: int) -> list[int]:
    """``"1,2,4"`` -> ``[1, 2, 4]`` (sorted, deduplicated); ``None`` -> powers of 2 up to ``n``."""
    from rlvr_lab.metrics import powers_of_two

    if text is None:
        return powers_of_two(n)
    try:
        return sorted({int(part) for part in text.split(",") if part.strip()})
    except ValueError:
        raise typer.BadParameter(f"--k takes comma-separated integers like 1,2,4; got {text!r}") from None


def samples_per_problem(graded: GradedSamples, allow_uneven: bool) -> int:
    """The n of a graded file: uniform n, or the smallest n with ``allow_uneven`` (else a named error)."""
    return int(graded.n.min()) if allow_uneven else graded.uniform_n()


def reflow(doc: str | None) -> str:
    """A docstring as ``--help`` text: each paragraph joined onto one line (rich keeps single newlines)."""
    paragraphs = inspect.cleandoc(doc or "").split("\n\n")
    return "\n\n".join(" ".join(p.split()) for p in paragraphs)


JSON_HELP = "Print one JSON object on stdout (progress and notes go to stderr)."
"""Every command's ``--json``: a flag, never ``--json true``."""


def print_json(record: dict) -> None:
    """The one ``--json`` style of every command: a single JSON object, indented, on stdout; what a command wrote
    is under ``"out"``; metadata read from input files under ``"metadata"``."""
    typer.echo(json.dumps(record, indent=2, ensure_ascii=False, default=str))


def fail(error: Exception) -> typer.Exit:
    """Print a data or usage error without a traceback; the caller raises the returned exit."""
    typer.secho(f"error: {error}", err=True, fg=typer.colors.RED)
    return typer.Exit(code=1)


def passk(
    graded: Annotated[Path, typer.Argument(help=GRADED_HELP, show_default=False)],
    k: Annotated[
        str | None, typer.Option("--k", help="Comma-separated k values, each <= n. Default: 1, 2, 4, ... up to n.")
    ] = None,
    json_out: Annotated[bool, typer.Option("--json", help=JSON_HELP)] = False,
    allow_uneven: Annotated[bool, typer.Option("--allow-uneven-n", help=UNEVEN_HELP)] = False,
    threads: Threads = None,
) -> None:
    """Unbiased pass@k (1 - C(n-c,k)/C(n,k), averaged over problems) and maj@k of a graded file.

    n is the number of samples per problem and c the number graded correct. pass@k is the chance that at least
    one of k samples drawn without replacement from the n is correct; k > n is refused. maj@k scores the most
    frequent extracted answer among the first k samples (ties split: the fraction of tied answers that are
    correct). With --json the output is {"file", "problems", "n", "k", "pass_at_k": {"1": ...}, "maj_at_k",
    "avg_at_n", "metadata"}, where "metadata" is what `rlvr grade` stored in the file ({"grading": config,
    "problems", "samples", ...}).
    """
    from rlvr_lab.metrics import avg_at_n, load_graded, maj_at_k_matrix, pass_at_k_curve
    from rlvr_lab.runtime.threads import use_threads

    use_threads(threads, announce=False)  # no model runs here: nothing to report

    try:
        data = load_graded(graded, completions=False)
        n = samples_per_problem(data, allow_uneven)
        ks = parse_ks(k, n)
        curve = pass_at_k_curve(data.n, data.c, ks)
        maj = maj_at_k_matrix(data.answers, data.correct, ks).mean(axis=0).tolist()
    except (ValueError, FileNotFoundError) as error:
        raise fail(error) from None
    result = {
        "file": str(graded),
        "problems": data.num_problems,
        "n": n,
        "k": ks,
        "pass_at_k": {str(kk): float(v) for kk, v in zip(ks, curve, strict=True)},
        "maj_at_k": {str(kk): v for kk, v in zip(ks, maj, strict=True)},
        "avg_at_n": avg_at_n(data.n, data.c),
        "metadata": data.metadata,
    }
    if json_out:
        print_json(result)
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"{graded.name}: {data.num_problems} problems × n={n} samples")
    for column in ("k", "pass@k", "maj@k"):
        table.add_column(column, justify="right")
    for kk, p, m in zip(ks, curve, maj, strict=True):
        table.add_row(str(kk), f"{p:.4f}", f"{m:.4f}")
    console = Console()
    console.print(table)
    console.print(f"avg@{n} = {result['avg_at_n']:.4f}")


def register(app: typer.Typer) -> None:
    """Add ``rlvr passk`` to the app."""
    app.command("passk", help=reflow(passk.__doc__))(passk)
