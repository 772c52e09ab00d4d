"""``rlvr grade``: grade a sample file against its problems' gold answers into a Parquet file.

A thin shell over :func:`rlvr_lab.grading.graded_file.grade_to_parquet`, which streams the samples (a file, a
directory of shards or a glob) through one grader into the Parquet file: problems come from
:func:`rlvr_lab.tasks.load_problems`. The output carries the grading config and the inputs in its Parquet schema
metadata (JSON values), so every graded file says how it was made.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer

from rlvr_lab.cli.options import Threads
from rlvr_lab.cli.passk import JSON_HELP, fail, print_json, reflow

PROBLEMS_HELP = (
    "Benchmark name (math500, math, gsm8k, ...), hf:owner/name, or a JSONL/Parquet file with one problem per row "
    "(fields id, problem, answer; map others with --fields)."
)
SAMPLES_HELP = (
    "Samples to grade: a sample store written by `rlvr sample`, or any JSONL/Parquet file with at least "
    "problem_id (matching a problem's id), sample_idx and completion; or a directory or quoted glob of such files "
    "(the shards of `rlvr sample --shards`)."
)
OUT_HELP = (
    "Graded Parquet file: one row per sample with problem_id, sample_idx, answer (null if none was extracted), "
    "extract_strategy, correct, status (ok, no_answer, timeout, error; for code problems passed, failed, timeout, "
    "error, oom), detail, answer_only (a correct answer with no reasoning before it), plus the samples' other "
    "scalar columns (completion, finish_reason, ...)."
)


def grade(
    problems: Annotated[str, typer.Option(help=PROBLEMS_HELP, show_default=False)],
    samples: Annotated[str, typer.Option(help=SAMPLES_HELP, show_default=False)],
    out: Annotated[Path, typer.Option(help=OUT_HELP, show_default=False)],
    fallbacks: Annotated[
        str,
        typer.Option(
            help="Comma-separated extractors tried in order when a completion has no \\boxed{}: "
            "answer_is ('the answer is X', 'Answer: X'), answer_tag (<answer>X</answer>), last_number. "
            "None runs when the last box was cut off.",
            show_default="none",
        ),
    ] = "",
    timeout: Annotated[
        float | None,
        typer.Option(
            help="Seconds per verification (maths, default 5) or per program run (code, default 10); past it the "
            "worker or program is killed and the sample is 'timeout'.",
            show_default=False,
        ),
    ] = None,
    extra_tests: Annotated[
        Path | None,
        typer.Option(
            help="Code problems: a JSONL file of EvalPlus-style extra tests, one row per task_id with 'test' (code) "
            "or 'inputs' and 'outputs' (and optional 'atol'); they run after the problem's own tests.",
            show_default=False,
        ),
    ] = None,
    sandbox: Annotated[
        str, typer.Option(help="Code problems: sandbox backend (auto, bwrap, unshare, plain); see docs/code.md.")
    ] = "auto",
    workers: Annotated[
        int | None, typer.Option(help="Verifier processes (default: one per CPU core, at most 8).", show_default=False)
    ] = None,
    fields: Annotated[
        str | None,
        typer.Option(
            help="Column mapping for problem files, as in `rlvr sample`: e.g. 'id=qid,prompt=question,answer=final'.",
            show_default=False,
        ),
    ] = None,
    split: Annotated[
        str | None, typer.Option(help="Benchmark or hub split (default: test).", show_default=False)
    ] = None,
    data_dir: Annotated[
        Path | None,
        typer.Option(
            envvar="RLVR_DATA_DIR", help="Folder of benchmark files (layout of shared/data).", show_default=False
        ),
    ] = None,
    json_out: Annotated[bool, typer.Option("--json", help=JSON_HELP)] = False,
    threads: Threads = None,
) -> None:
    """Grade every sample in SAMPLES against the gold answers of PROBLEMS and write OUT (Parquet).

    Each completion's answer is the content of its last \\boxed{} (else the --fallbacks, in order); it is compared
    with the gold through math-verify in worker processes, each check under a hard --timeout. Repeated answers
    are checked once. Code problems (humaneval, mbpp) are graded instead by running the completion's program with
    the problem's unit tests in a sandbox (status passed, failed, timeout, error or oom; identical programs run
    once); both a body continuing the prompt and a fenced full program are accepted, and extract_strategy says
    which one was used. The summary counts samples per status and gives the accuracy (correct / samples); with
    --json it is {"out", "samples", "problems", "status", "accuracy", "grading"}.
    """
    from rlvr_lab.cli.sample import problems_label
    from rlvr_lab.grading import Grader, GradingConfig
    from rlvr_lab.grading.extract import parse_fallbacks
    from rlvr_lab.grading.graded_file import grade_to_parquet, plain
    from rlvr_lab.grading.sandbox import SandboxConfig, protections
    from rlvr_lab.identity import problems_hash
    from rlvr_lab.runtime.threads import use_threads

    use_threads(threads, announce=False)  # no model runs here: nothing to report
    from rlvr_lab.tasks import FieldMap, load_problems
    from rlvr_lab.tasks.code import code_spec, load_extra_tests

    try:
        timeouts = {} if timeout is None else {"timeout_s": timeout}
        config = GradingConfig(
            **timeouts,
            workers=workers,
            fallbacks=parse_fallbacks(fallbacks),
            sandbox=SandboxConfig(**timeouts, backend=sandbox),
        )
        field_map = FieldMap.parse(fields) if fields else None
        loaded = load_problems(problems, data_dir=data_dir, split=split, fields=field_map)
        if not loaded:
            raise ValueError(f"{problems}: no problems to grade against")
        identity = _checked_identity(samples, problems_label(problems, split, fields), problems_hash(loaded))
        if extra_tests is not None:
            loaded = load_extra_tests(extra_tests, loaded)
        grading = {**plain(config), "workers": config.resolved_workers()}
        if any(code_spec(problem) is not None for problem in loaded):
            # the sandbox's config, and the protections that are active, only where programs run
            grading["sandbox"]["protections"] = protections(config.sandbox)
        else:
            del grading["sandbox"]
        inputs = {"problems": problems, "samples": samples, "split": split, "data_dir": data_dir, "fields": field_map}
        if extra_tests is not None:
            inputs["extra_tests"] = str(extra_tests)
        with Grader(config) as grader, _progress(sys.stderr.isatty() and not json_out) as advance:
            graded = grade_to_parquet(
                {problem.id: problem for problem in loaded},
                samples,
                out,
                grader,
                {"grading": grading, **inputs, "identity": identity},
                progress=advance,
            )
    except (ValueError, OSError, RuntimeError) as error:
        raise fail(error) from None
    summary = {
        "out": str(out),
        "samples": graded.samples,
        "problems": graded.problems,
        "status": graded.status,
        "accuracy": graded.accuracy,
        "grading": grading,
    }
    if json_out:
        print_json(summary)
        return
    statuses = ", ".join(f"{status} {count}" for status, count in graded.status.items())
    typer.echo(f"graded {summary['samples']} samples of {summary['problems']} problems -> {out}")
    typer.echo(f"accuracy {summary['accuracy']:.4f}; {statuses}")


def _checked_identity(samples: str, label: str, graded_hash: str) -> dict[str, str | None]:
    """The identity a graded file records: the problems graded against and the samples' model. Refuses samples whose
    header names another problem set (other ids or gold answers), naming both."""
    from rlvr_lab.store import samples_identity

    drawn = samples_identity(samples)
    if drawn["problems_hash"] is not None and drawn["problems_hash"] != graded_hash:
        raise ValueError(
            f"--samples {samples} were drawn from {drawn['problems']} (problems hash {drawn['problems_hash']}), "
            f"but --problems {label} has problems hash {graded_hash} (other ids or gold answers): grade them "
            "against the problems they were drawn from"
        )
    return {**drawn, "problems": label, "problems_hash": graded_hash, "samples_problems": drawn["problems"]}


@contextmanager
def _progress(show: bool) -> Iterator[Callable[[int], None] | None]:
    """A rich progress bar counting graded samples on stderr, or None."""
    if not show:
        yield None
        return
    from rich.console import Console
    from rich.progress import MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(
        TextColumn("grading"), MofNCompleteColumn(), TimeElapsedColumn(), console=Console(stderr=True)
    ) as bar:
        task = bar.add_task("grading", total=None)
        yield lambda done: bar.advance(task, done)


def register(app: typer.Typer) -> None:
    """Add ``rlvr grade`` to the app."""
    app.command("grade", help=reflow(grade.__doc__))(grade)
