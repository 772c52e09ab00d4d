"""``rlvr sample``: draw n completions per problem into a resumable sample store.

The command is thin: problems come from :func:`rlvr_lab.tasks.load_problems`, prompts from
:mod:`rlvr_lab.prompts`, the model from :func:`rlvr_lab.models.load_model`, the engine from
:func:`rlvr_lab.engines.make_engine`, and the resumable loop is :func:`rlvr_lab.sampling.sample_missing`.
The sampling defaults repeat :class:`SamplingConfig`'s (a test keeps them equal) because importing the engines
at module level would load torch for every ``rlvr --help``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from rlvr_lab.cli.options import Threads

if TYPE_CHECKING:
    from rich.console import Console

    from rlvr_lab.engines.base import Engine, SamplingConfig
    from rlvr_lab.prompts import PromptTemplate
    from rlvr_lab.sampling import SampleSummary
    from rlvr_lab.store import SampleStore
    from rlvr_lab.tasks import Problem

CHUNKS_PER_BATCH = 4
"""Samples saved per engine call, in batches: enough to keep a refilling batch busy, few enough that a kill loses
little."""


def problems_label(spec: str, split: str | None, fields: str | None) -> str:
    """The problem set as recorded in the store header; the default split is spelled out so that ``--split test``
    and no ``--split`` resume the same store."""
    from rlvr_lab.tasks import BENCHMARKS

    if split is None and (spec in BENCHMARKS or spec.startswith("hf:")):
        split = "test"
    label = spec if split is None else f"{spec} [{split}]"
    return label if fields is None else f"{label} fields={fields}"


def sample(
    model: Annotated[str, typer.Option(help="Model: organism profile, built-in name, local HF folder or hub id.")],
    problems: Annotated[
        str, typer.Option(help="Benchmark name (math500, gsm8k, ...), a .jsonl/.json/.parquet file, or hf:owner/name.")
    ],
    out: Annotated[Path, typer.Option(help="Sample store (JSONL). An existing store is resumed, never duplicated.")],
    split: Annotated[str | None, typer.Option(help="Benchmark or hub split (default: test).")] = None,
    limit: Annotated[int | None, typer.Option(help="Keep only the first N problems.")] = None,
    fields: Annotated[
        str | None, typer.Option(help="Column mapping for files, e.g. 'prompt=question,answer=final'.")
    ] = None,
    template: Annotated[str, typer.Option(help="Prompt template name, a YAML file, or file.yaml:name.")] = "qwen-boxed",
    engine: Annotated[str, typer.Option(help="Sampling engine (torch, hf, vllm).")] = "torch",
    n: Annotated[int, typer.Option(help="Samples per problem.")] = 8,
    temperature: Annotated[float, typer.Option(help="Sampling temperature; 0 is greedy.")] = 1.0,
    top_p: Annotated[float, typer.Option(help="Nucleus mass; 1 disables it.")] = 1.0,
    top_k: Annotated[int, typer.Option(help="Keep the k most likely tokens; 0 disables it.")] = 0,
    max_new_tokens: Annotated[int, typer.Option(help="Cap on generated tokens.")] = 512,
    seed: Annotated[int, typer.Option(help="Sampling seed.")] = 0,
    batch_size: Annotated[int, typer.Option(help="Sequences decoded together by the engine.")] = 32,
    device: Annotated[str, typer.Option(help="Torch device for the model and engine.")] = "cpu",
    dtype: Annotated[
        str, typer.Option(help="float32, bfloat16, or auto: bfloat16 for 50M+ parameter models where the CPU has it.")
    ] = "auto",
    threads: Threads = None,
    data_dir: Annotated[
        Path | None, typer.Option(envvar="RLVR_DATA_DIR", help="Folder of benchmark files (layout of shared/data).")
    ] = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print the summary as JSON on stdout.")] = False,
) -> None:
    """Sample N completions per problem into OUT, resuming whatever OUT already holds.

    OUT's first line records model, engine, template, sampling config and seed; other settings on the same OUT
    are refused.

    Resumable: kill it at any moment and run the same command again. It draws only the missing
    (problem, sample) pairs and ends with exactly N samples per problem.
    """
    from rich.console import Console

    from rlvr_lab.engines.base import SamplingConfig
    from rlvr_lab.prompts import resolve_template
    from rlvr_lab.store import SampleStore, SampleStoreError, StoreHeader
    from rlvr_lab.tasks import FieldMap, ProblemDataError, ProblemSourceError, load_problems
    from rlvr_lab.threads import use_threads

    console = Console(stderr=True)
    try:
        use_threads(threads)
        compute_dtype = sampling_dtype(model, dtype, device)
        config = SamplingConfig(
            n=n, temperature=temperature, top_p=top_p, top_k=top_k, max_new_tokens=max_new_tokens, seed=seed
        )
        chosen = resolve_template(template)
        field_map = FieldMap.parse(fields) if fields else None
        problem_list = load_problems(problems, data_dir=data_dir, split=split, fields=field_map, limit=limit)
        label = problems_label(problems, split, fields)
        header = StoreHeader.for_run(
            model=model, engine=engine, template=chosen, sampling=config, problems=label, dtype=compute_dtype
        )
        with SampleStore.open(out, header) as store:
            summary = _fill(store, problem_list, chosen, config, batch_size, device, console)
    except (ProblemDataError, ProblemSourceError, SampleStoreError, ValueError) as exc:
        console.print(f"error: {exc}", highlight=False, markup=False)
        raise typer.Exit(code=1) from None
    if json_output:
        print(json.dumps({"out": str(out), "model": model, "template": chosen.name, **summary.to_dict()}))
        return
    total = summary.existing + summary.sampled
    rate = summary.tokens / summary.seconds if summary.seconds > 0 else 0.0
    console.print(
        f"{out}: {total}/{summary.problems * summary.n} samples ({summary.problems} problems x n={summary.n}); "
        f"drew {summary.sampled} now, {summary.existing} were there; {summary.tokens} tokens in "
        f"{summary.seconds:.1f} s ({rate:.0f} tok/s); finish reasons {summary.finish_reasons}"
        + (f"; cut {summary.dropped_bytes} bytes of a partial record" if summary.dropped_bytes else ""),
        highlight=False,
        markup=False,
    )


def _fill(
    store: SampleStore,
    problem_list: list[Problem],
    template: PromptTemplate,
    config: SamplingConfig,
    batch_size: int,
    device: str,
    console: Console,
) -> SampleSummary:
    """Fill the store behind a progress bar; the model is loaded only if samples are missing."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from rlvr_lab.sampling import sample_missing

    def load() -> tuple[Engine, Callable[[Problem], list[int]]]:
        import torch

        from rlvr_lab.engines import make_engine
        from rlvr_lab.models import load_model
        from rlvr_lab.prompts import encode_prompt

        model, tokenizer = load_model(store.header.model, dtype=getattr(torch, store.header.dtype), device=device)
        engine = make_engine(store.header.engine, model, tokenizer, batch_size=batch_size, device=device)
        return engine, lambda problem: encode_prompt(template, problem, tokenizer)

    todo = sum(len(indices) for indices in store.missing([p.id for p in problem_list], config.n).values())
    with Progress(
        TextColumn("sampling"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=console
    ) as bar:
        task = bar.add_task("sampling", total=todo)
        return sample_missing(
            load,
            store,
            problem_list,
            config,
            chunk_size=CHUNKS_PER_BATCH * batch_size,
            progress=lambda done: bar.advance(task, done),
        )


def sampling_dtype(model: str, dtype: str, device: str) -> str:
    """The dtype name ``--dtype`` resolves to for ``model`` (``auto`` sizes the model from its config).

    The model is loaded in that dtype, so every engine (``generate`` included) samples in it.
    """
    from rlvr_lab.precision import DTYPE_CHOICES, dtype_name, resolve_dtype

    if dtype not in DTYPE_CHOICES:
        raise ValueError(f"--dtype must be one of {', '.join(DTYPE_CHOICES)}, got {dtype!r}")
    if dtype != "auto":
        return dtype
    from rlvr_lab.models import count_parameters

    try:
        size = count_parameters(model)
    except OSError as err:
        raise ValueError(f"cannot read the config of model {model!r} to choose --dtype auto: {err}") from None
    return dtype_name(resolve_dtype("auto", size, device))


def benchmark_list() -> str:
    """The registered benchmarks, one per line, for the help text."""
    from rlvr_lab.tasks import BENCHMARKS

    return "Benchmarks:\n\n" + "\n\n".join(f"{name}: {BENCHMARKS.get(name).description}" for name in BENCHMARKS)


def register(app: typer.Typer) -> None:
    """Add ``rlvr sample`` to the app."""
    app.command("sample", epilog=benchmark_list())(sample)
