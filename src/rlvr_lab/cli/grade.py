"""``rlvr grade``: grade a sample file against its problems' gold answers into a Parquet file.

A thin shell over :func:`rlvr_lab.grading.grade_samples`: problems come from :func:`rlvr_lab.tasks.load_problems`,
samples from :func:`rlvr_lab.store.read_sample_table`. The output carries the grading config and the inputs in its
Parquet schema metadata (JSON values), so every graded file says how it was made.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from rlvr_lab.cli.options import Threads
from rlvr_lab.cli.passk import fail, reflow

if TYPE_CHECKING:
    import pyarrow as pa

PROBLEMS_HELP = (
    "Benchmark name (math500, math, gsm8k, ...), hf:owner/name, or a JSONL/Parquet file with one problem per row "
    "(fields id, problem, answer; rename them with --id-field/--problem-field/--answer-field)."
)
SAMPLES_HELP = (
    "Samples to grade: a sample store written by `rlvr sample`, or any JSONL/Parquet file with at least "
    "problem_id (matching a problem's id), sample_idx and completion."
)
OUT_HELP = (
    "Graded Parquet file: one row per sample with problem_id, sample_idx, answer (null if none was extracted), "
    "extract_strategy, correct, status (ok, no_answer, timeout, error), detail, plus the samples' other scalar "
    "columns (completion, finish_reason, ...)."
)


def grade(
    problems: Annotated[str, typer.Option(help=PROBLEMS_HELP, show_default=False)],
    samples: Annotated[Path, typer.Option(help=SAMPLES_HELP, show_default=False)],
    out: Annotated[Path, typer.Option(help=OUT_HELP, show_default=False)],
    fallbacks: Annotated[
        str,
        typer.Option(
            help="Comma-separated extractors tried in order when a completion has no \\boxed{}: "
            "answer_is ('the answer is X', 'Answer: X'), answer_tag (<answer>X</answer>), last_number."
        ),
    ] = "",
    timeout: Annotated[
        float, typer.Option(help="Seconds per verification; past it the worker is killed and the sample is 'timeout'.")
    ] = 5.0,
    workers: Annotated[
        int | None, typer.Option(help="Verifier processes (default: one per CPU core, at most 8).", show_default=False)
    ] = None,
    id_field: Annotated[str, typer.Option(help="Problem file column holding the id.")] = "id",
    problem_field: Annotated[str, typer.Option(help="Problem file column holding the problem text.")] = "problem",
    answer_field: Annotated[str, typer.Option(help="Problem file column holding the gold answer.")] = "answer",
    split: Annotated[
        str | None, typer.Option(help="Benchmark or hub split (default: test).", show_default=False)
    ] = None,
    data_dir: Annotated[
        Path | None,
        typer.Option(
            envvar="RLVR_DATA_DIR", help="Folder of benchmark files (layout of shared/data).", show_default=False
        ),
    ] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print a JSON summary on stdout.")] = False,
    threads: Threads = None,
) -> None:
    """Grade every sample in SAMPLES against the gold answers of PROBLEMS and write OUT (Parquet).

    Each completion's answer is the content of its last \\boxed{} (else the --fallbacks, in order); it is compared
    with the gold through math-verify in worker processes, each check under a hard --timeout. Repeated answers
    are checked once. The summary counts samples per status and gives the accuracy (correct / samples); with
    --json it is {"out", "samples", "problems", "status", "accuracy", "grading"}.
    """
    from rlvr_lab.grading import GradingConfig, grade_samples
    from rlvr_lab.threads import use_threads

    use_threads(threads, announce=False)  # no model runs here: nothing to report
    from rlvr_lab.grading.grade import status_counts
    from rlvr_lab.store import read_sample_table
    from rlvr_lab.tasks import FieldMap, load_problems

    try:
        config = GradingConfig(
            timeout_s=timeout,
            workers=workers,
            fallbacks=tuple(name.strip() for name in fallbacks.split(",") if name.strip()),
        )
        fields = FieldMap(id=id_field, prompt=problem_field, answer=answer_field)
        loaded = load_problems(
            problems, data_dir=data_dir, split=split, fields=None if fields == FieldMap() else fields
        )
        table = read_sample_table(samples)
        by_id = {problem.id: problem for problem in loaded}
        rows = zip(
            table.column("problem_id").to_pylist(),
            table.column("sample_idx").to_pylist(),
            table.column("completion").to_pylist(),
            strict=True,
        )
        graded = grade_samples(by_id, rows, config, progress=sys.stderr.isatty() and not json_out)
    except (ValueError, OSError, RuntimeError) as error:
        raise fail(error) from None
    grading = {**_plain(config), "workers": config.resolved_workers()}
    inputs = {"problems": problems, "samples": str(samples), "split": split, "data_dir": data_dir, "fields": fields}
    graded = with_sample_columns(graded, table)
    write_graded(graded, out, {"grading": grading, **inputs})
    counts = status_counts(graded)
    summary = {
        "out": str(out),
        "samples": graded.num_rows,
        "problems": len(set(graded.column("problem_id").to_pylist())),
        "status": counts,
        "accuracy": sum(graded.column("correct").to_pylist()) / graded.num_rows if graded.num_rows else 0.0,
        "grading": grading,
    }
    if json_out:
        typer.echo(json.dumps(summary, indent=2))
        return
    statuses = ", ".join(f"{status} {count}" for status, count in counts.items())
    typer.echo(f"graded {summary['samples']} samples of {summary['problems']} problems -> {out}")
    typer.echo(f"accuracy {summary['accuracy']:.4f}; {statuses}")


def with_sample_columns(graded: pa.Table, samples: pa.Table) -> pa.Table:
    """Append the samples' scalar columns that the graded table lacks (completion, finish_reason, num_tokens,
    ...); list columns such as token ids and log-probs stay in the sample file."""
    import pyarrow.types as types

    for name in samples.column_names:
        column = samples.column(name)
        if name not in graded.column_names and not types.is_nested(column.type):
            graded = graded.append_column(name, column)
    return graded


def write_graded(graded: pa.Table, out: Path, metadata: dict[str, Any]) -> None:
    """Write ``graded`` to ``out`` with ``metadata`` as JSON values in the Parquet schema metadata."""
    import pyarrow.parquet as pq

    encoded = {key.encode(): json.dumps(_plain(value)).encode() for key, value in metadata.items()}
    out.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(graded.replace_schema_metadata(encoded), out)


def _plain(value: Any) -> Any:
    """JSON-ready copy of configs, field maps, paths and tuples."""
    import dataclasses

    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {field.name: _plain(getattr(value, field.name)) for field in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    if isinstance(value, Path):
        return str(value)
    return value


def register(app: typer.Typer) -> None:
    """Add ``rlvr grade`` to the app."""
    app.command("grade", help=reflow(grade.__doc__))(grade)
