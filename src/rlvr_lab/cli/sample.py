"""``rlvr sample``: draw n completions per problem into a resumable sample store.

The command is thin: problems come from :func:`rlvr_lab.tasks.load_problems`, prompts from
:mod:`rlvr_lab.prompts`, the model from :func:`rlvr_lab.models.load_model`, the engine from
:func:`rlvr_lab.engines.make_engine`, and the resumable loop is :func:`rlvr_lab.sampling.sample_missing`.
The sampling defaults repeat :class:`SamplingConfig`'s (a test keeps them equal) because importing the engines
at module level would load torch for every ``rlvr --help``.

``--shard i/N`` samples one shard of the problems (:func:`rlvr_lab.sampling.shard_of`); ``--shards N`` (or
``--devices``) is the launcher: it starts this same command once per shard, each child with ``--shard i/N``,
``--out OUT/shard-i-of-N.jsonl`` and ``CUDA_VISIBLE_DEVICES`` set to its device, waits for all, and reports.
Rerunning the launcher resumes every shard. ``rlvr grade --samples OUT`` reads the directory of shards.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from rlvr_lab.cli.options import Threads
from rlvr_lab.cli.passk import JSON_HELP, print_json
from rlvr_lab.cli.recipe import Arms, RecipeName

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
    ctx: typer.Context,
    model: Annotated[
        str | None,
        typer.Option(help="Model: organism profile, built-in name, local HF folder or hub id (or a --recipe arm's)."),
    ] = None,
    problems: Annotated[
        str, typer.Option(help="Benchmark name (math500, gsm8k, ...), a .jsonl/.json/.parquet file, or hf:owner/name.")
    ] = ...,
    out: Annotated[
        Path, typer.Option(help="Sample store (JSONL). An existing store is resumed, never duplicated.")
    ] = ...,
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
    max_new_tokens: Annotated[
        int | None,
        typer.Option(
            help="Cap on generated tokens. Default: 512, or what fits the model's context after the longest prompt "
            "(the organisms' context is 256 tokens). An explicit cap that does not fit is refused.",
            show_default=False,
        ),
    ] = None,
    seed: Annotated[int, typer.Option(help="Sampling seed.")] = 0,
    batch_size: Annotated[int, typer.Option(help="Sequences decoded together by the engine.")] = 32,
    device: Annotated[str, typer.Option(help="Torch device for the model and engine.")] = "cpu",
    dtype: Annotated[
        str, typer.Option(help="float32, bfloat16, or auto: bfloat16 for 50M+ parameter models where the CPU has it.")
    ] = "auto",
    threads: Threads = None,
    engine_options: Annotated[
        str | None,
        typer.Option(
            help="torch engine: path=auto|lean|native|generic (native: each bfloat16 decode step in one C++ call, "
            "built on first use). vllm engine options as k=v,... or a YAML file: tensor_parallel_size, dtype, "
            "gpu_memory_utilization, max_model_len, enable_prefix_caching, max_num_seqs, enforce_eager, "
            "requests (per-sample or per-problem: one vLLM request per sample, or per problem with n samples; "
            "the same samples)."
        ),
    ] = None,
    data_dir: Annotated[
        Path | None,
        typer.Option(
            envvar="RLVR_DATA_DIR",
            help="Folder of benchmark files (layout of shared/data), searched before ~/.cache/rlvr-lab/data "
            "(see `rlvr data list`) and the hub.",
            show_default=False,
        ),
    ] = None,
    shard: Annotated[
        str | None,
        typer.Option(help="Sample only shard i/N of the problems (by a hash of the problem id; i counts from 0)."),
    ] = None,
    shards: Annotated[
        int | None,
        typer.Option(
            help="Launch N processes, one per shard, writing OUT/shard-i-of-N.jsonl (OUT is then a directory). "
            "Default: one per --devices entry."
        ),
    ] = None,
    devices: Annotated[
        str | None,
        typer.Option(help="With --shards: comma-separated CUDA devices, shard i runs on device i mod their count."),
    ] = None,
    keep_tokens: Annotated[
        bool, typer.Option("--keep-tokens", help="Also store each sample's token ids and log-probs (~6x the size).")
    ] = False,
    json_output: Annotated[bool, typer.Option("--json", help=JSON_HELP)] = False,
    recipe: RecipeName = None,
    arm: Arms = None,
) -> None:
    """Sample N completions per problem into OUT, resuming whatever OUT already holds.

    --recipe NAME (`rlvr recipe list`) fills the paper's template, temperature, top-p, token budget, n for the
    benchmark (when the paper names it) and the --arm's model; options given explicitly win.

    OUT's first line records model, engine, template, sampling config and seed; other settings on the same OUT
    are refused. The model and the problems are checked before OUT is created, so a misspelt name leaves no file.

    Resumable: kill it at any moment and run the same command again. It draws only the missing
    (problem, sample) pairs and ends with exactly N samples per problem.

    Sharded: --shard i/N samples the problems whose id hashes to shard i, so N such runs (on N devices or
    machines) together hold exactly the samples of one unsharded run; --shards N (or --devices 0,1,...) starts
    the N runs for you. `rlvr grade --samples DIR` reads a directory (or a glob) of shards, or merge them with
    `rlvr store merge`.
    """
    from rich.console import Console

    from rlvr_lab.identity import model_hash, problems_hash
    from rlvr_lab.models.specs import resolve_model_dir
    from rlvr_lab.prompts import resolve_template
    from rlvr_lab.runtime.threads import use_threads
    from rlvr_lab.sampling import select_shard
    from rlvr_lab.store import SampleStoreError
    from rlvr_lab.tasks import FieldMap, ProblemDataError, ProblemSourceError, load_problems

    console = Console(stderr=True)
    if recipe is not None:
        model, template, n, temperature, top_p, max_new_tokens = _from_recipe(  # type: ignore[assignment]
            ctx,
            recipe,
            arm,
            problems,
            console,
            model=model,
            template=template,
            n=n,
            temperature=temperature,
            top_p=top_p,
            max_new_tokens=max_new_tokens,
        )
    elif arm:
        console.print("error: --arm needs --recipe", markup=False)
        raise typer.Exit(code=1)
    if model is None:
        console.print("error: --model is required (or a --recipe arm that names one)", markup=False)
        raise typer.Exit(code=1)
    if shards is not None or devices is not None:
        _launch_shards(ctx, out, shards, devices, shard, json_output, console)
        return
    try:
        use_threads(threads)
        model_dir = resolve_model_dir(model)  # before torch loads and before OUT exists: a typo fails at once
        chosen = resolve_template(template)
        field_map = FieldMap.parse(fields) if fields else None
        problem_list = load_problems(problems, data_dir=data_dir, split=split, fields=field_map, limit=limit)
        if not problem_list:
            raise ValueError(f"--problems {problems}: no problems to sample (an empty file, or --limit 0)")
        # The whole set (before --limit and the shard) fixes the store's identity and the generation budget, so
        # shards, limited runs and a later extension to more problems all write one kind of sample.
        every = (
            problem_list if limit is None else load_problems(problems, data_dir=data_dir, split=split, fields=field_map)
        )
        problem_list = select_shard(problem_list, shard)
        from rlvr_lab.engines import ENGINES
        from rlvr_lab.engines.base import SamplingConfig  # torch loads here, once the names are known to be good
        from rlvr_lab.store import SampleStore, StoreHeader

        ENGINES.get(engine)  # an unknown engine fails here, listing the registered ones
        max_new_tokens = generation_budget(model_dir, chosen, every, problem_list, max_new_tokens)
        config = SamplingConfig(
            n=n, temperature=temperature, top_p=top_p, top_k=top_k, max_new_tokens=max_new_tokens, seed=seed
        )
        label = problems_label(problems, split, fields)
        options = _engine_options(engine, engine_options, batch_size, device, keep_tokens)
        vllm_options = options.get("options")
        from rlvr_lab.models.loading import model_dtype  # auto sized from the config; the model is loaded in it

        compute_dtype = vllm_options.dtype if vllm_options is not None else model_dtype(model, dtype, device, "--dtype")
        if vllm_options is None:
            options["dtype"] = compute_dtype
        header = StoreHeader.for_run(
            model=model,
            engine=engine,
            template=chosen,
            sampling=config,
            problems=label,
            shard=shard,
            keep_tokens=keep_tokens,
            dtype=compute_dtype,
            problems_hash=problems_hash(every),
            model_hash=model_hash(model_dir),
            decoder=str(options.get("path", "auto")) if engine == "torch" else None,
        )
        with SampleStore.open(out, header) as store:
            if store.restarted:
                console.print(
                    f"{out} held no sample of another run's settings; started it over", markup=False, soft_wrap=True
                )
            summary = _fill(store, problem_list, chosen, config, options, console)
    except (ProblemDataError, ProblemSourceError, SampleStoreError, ValueError, OSError) as exc:
        console.print(f"error: {exc}", highlight=False, markup=False, soft_wrap=True)
        raise typer.Exit(code=1) from None
    if json_output:
        print_json({"out": str(out), "model": model, "template": chosen.name, "shard": shard, **summary.to_dict()})
        return
    _print_summary(out, summary, console)


def _from_recipe(
    ctx: typer.Context, recipe: str, arm: list[str] | None, problems: str, console: Console, **given: object
) -> tuple[object, ...]:
    """The options in ``given`` (model, template, n, temperature, top_p, max_new_tokens), each replaced by the
    recipe's protocol for ``problems`` unless the command line set it explicitly."""
    from rlvr_lab.recipes import RecipeError, load_recipe

    try:
        values = load_recipe(recipe).sampling_values(problems, arm or ())
    except RecipeError as err:
        console.print(f"error: {err}", highlight=False, markup=False, soft_wrap=True)
        raise typer.Exit(code=1) from None

    def pick(name: str, value: object) -> object:
        source = ctx.get_parameter_source(name)  # typer's own click: compare the source by name
        explicit = source is not None and source.name != "DEFAULT"
        return value if explicit or name not in values else values[name]

    return tuple(pick(name, value) for name, value in given.items())


def _print_summary(out: Path, summary: SampleSummary, console: Console) -> None:
    total = summary.existing + summary.sampled
    rate = summary.tokens / summary.seconds if summary.seconds > 0 else 0.0
    console.print(
        f"{out}: {total}/{summary.problems * summary.n} samples ({summary.problems} problems x n={summary.n}); "
        f"drew {summary.sampled} now, {summary.existing} were there; {summary.tokens} tokens in "
        f"{summary.seconds:.1f} s ({rate:.0f} tok/s); finish reasons {summary.finish_reasons}"
        + (f"; cut {summary.dropped_bytes} bytes of a partial record" if summary.dropped_bytes else ""),
        highlight=False,
        markup=False,
        soft_wrap=True,
    )


def _engine_options(
    engine: str, text: str | None, batch_size: int, device: str, keep_tokens: bool = False
) -> dict[str, object]:
    """Constructor options of the chosen engine; ``--engine-options`` is checked before any model loads. vLLM
    computes log-probs only when the store keeps them (``--keep-tokens``)."""
    if engine == "torch":
        return {"batch_size": batch_size, "device": device, **_torch_options(text)}
    if engine != "vllm":
        if text:
            raise ValueError(f"--engine-options applies to the torch and vllm engines, not {engine!r}")
        return {"batch_size": batch_size, "device": device}
    import dataclasses

    from rlvr_lab.engines.vllm_engine import VLLMOptions

    return {"options": dataclasses.replace(VLLMOptions.parse(text), logprobs=keep_tokens)}


def _torch_options(text: str | None) -> dict[str, str]:
    """The torch engine's one option, ``path=auto|lean|native|generic`` (its decoder), from ``--engine-options``."""
    from rlvr_lab.engines.base import DECODER_PATHS

    if not text:
        return {}
    key, _, value = text.partition("=")
    if key.strip() != "path" or "," in value or value.strip() not in DECODER_PATHS:
        raise ValueError(f"--engine-options for the torch engine takes path={'|'.join(DECODER_PATHS)}, got {text!r}")
    return {"path": value.strip()}


def generation_budget(
    model_dir: str, template: PromptTemplate, every: list[Problem], sampled: list[Problem], requested: int | None
) -> int:
    """The run's ``max_new_tokens``. Unset (``requested`` None): 512, or what the model's context leaves after the
    longest prompt of ``every``, the whole benchmark split, never a shard or a ``--limit``, so every run on the
    split gets one budget. Set: ``requested`` itself, if every prompt of ``sampled`` (the problems this run samples)
    leaves room for it, else a named error. Needs only the tokenizer and the config, so a budget that cannot fit is
    refused before the store is created or the weights are loaded."""
    from transformers import AutoConfig, AutoTokenizer

    from rlvr_lab.engines.common import context_length, fitting_max_new_tokens
    from rlvr_lab.prompts import encode_prompt

    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    context = context_length(AutoConfig.from_pretrained(model_dir))
    problems = every if requested is None else sampled
    longest = max(len(encode_prompt(template, problem, tokenizer)) for problem in problems)
    if requested is None:
        return fitting_max_new_tokens([longest], context)
    if context is not None and longest + requested > context:
        raise ValueError(
            f"--max-new-tokens {requested}: the longest prompt has {longest} tokens, and {longest} + {requested} "
            f"max_new_tokens = {longest + requested} exceeds the model's context of {context} tokens; "
            f"use at most {context - longest}, or leave --max-new-tokens unset"
        )
    return requested


def _fill(
    store: SampleStore,
    problem_list: list[Problem],
    template: PromptTemplate,
    config: SamplingConfig,
    options: dict[str, object],
    console: Console,
) -> SampleSummary:
    """Fill the store behind a progress bar; the model is loaded only if samples are missing."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from rlvr_lab.engines.vllm_engine import VLLM_CHUNK
    from rlvr_lab.sampling import sample_missing

    def load() -> tuple[Engine, Callable[[Problem], list[int]]]:
        from rlvr_lab.models.engines import open_engine
        from rlvr_lab.prompts import encode_prompt

        engine, tokenizer = open_engine(store.header.engine, store.header.model, **options)
        return engine, lambda problem: encode_prompt(template, problem, tokenizer)

    batch_size = options.get("batch_size")
    chunk_size = CHUNKS_PER_BATCH * batch_size if isinstance(batch_size, int) else VLLM_CHUNK

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
            chunk_size=chunk_size,
            progress=lambda done: bar.advance(task, done),
        )


def shard_path(out: Path, index: int, count: int) -> Path:
    """Where the launcher writes shard ``index`` of ``count``."""
    return out / f"shard-{index}-of-{count}.jsonl"


def _launch_shards(
    ctx: typer.Context,
    out: Path,
    shards: int | None,
    devices: str | None,
    shard: str | None,
    json_output: bool,
    console: Console,
) -> None:
    """Run this command once per shard in parallel child processes, and exit 1 naming the shards that failed."""
    device_list = [d.strip() for d in devices.split(",") if d.strip()] if devices else []
    count = shards if shards is not None else len(device_list)
    if shard is not None or count < 1:
        console.print(
            "error: --shards N (N >= 1, or --devices) launches all shards; --shard i/N runs one", soft_wrap=True
        )
        raise typer.Exit(code=1)
    out.mkdir(parents=True, exist_ok=True)
    base = [sys.executable, "-m", "rlvr_lab", "sample", *_child_options(ctx)]
    children: list[subprocess.Popen] = []
    failed: tuple[int, int] | None = None
    previous = signal.signal(signal.SIGTERM, _terminated)  # SIGTERM ends the children too (finally below)
    try:
        for index in range(count):
            env = dict(os.environ)
            if device_list:
                env["CUDA_VISIBLE_DEVICES"] = device_list[index % len(device_list)]
            argv = [*base, "--shard", f"{index}/{count}", "--out", str(shard_path(out, index, count))]
            console.print(f"shard {index}/{count}: {' '.join(argv[2:])}", markup=False, highlight=False, soft_wrap=True)
            children.append(subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, text=True))
        failed = _wait_all_or_first_failure(children)
        outputs = [child.communicate()[0] if child.returncode == 0 else "" for child in children]
    finally:
        for child in children:
            if child.poll() is None:
                child.terminate()
        for child in children:
            try:
                child.wait(timeout=30)
            except subprocess.TimeoutExpired:
                child.kill()
        signal.signal(signal.SIGTERM, previous)
    if failed is not None:
        index, code = failed
        console.print(
            f"error: shard {index}/{count} failed (exit {code}); the other shards were stopped at once (their "
            "samples so far are kept); rerun the same command to resume them",
            markup=False,
        )
        raise typer.Exit(code=1)
    if json_output:
        summaries = [json.loads(text) for text in outputs]  # a child's stdout is its one JSON object
        print_json({"out": str(out), "shards": summaries})
        return
    console.print(f"{count} shards in {out}; grade them with `rlvr grade --samples {out} ...`", markup=False)


def _terminated(signum: int, frame: object) -> None:
    """SIGTERM to the launcher: unwind so that its ``finally`` terminates every shard process."""
    raise SystemExit(128 + signum)


def _wait_all_or_first_failure(children: list[subprocess.Popen], poll_s: float = 0.5) -> tuple[int, int] | None:
    """Wait until every child exits 0, or return (index, exit code) of the first that fails, without waiting for
    the others: a dead shard must not leave its GPU idle and the launcher blocked until the rest finish."""
    import time

    while True:
        running = False
        for index, child in enumerate(children):
            code = child.poll()
            if code is None:
                running = True
            elif code != 0:
                return index, code
        if not running:
            return None
        time.sleep(poll_s)


def _child_options(ctx: typer.Context) -> list[str]:
    """This command's options as given, minus the launcher's own (``--shards``, ``--devices``, ``--out``)."""
    argv: list[str] = []
    for param in ctx.command.params:
        name = param.name
        if name in {"shards", "devices", "out", "shard"} or param.param_type_name != "option" or name is None:
            continue
        source = ctx.get_parameter_source(name)
        if source is not None and source.name == "DEFAULT":
            continue
        value = ctx.params[name]
        if param.is_flag:
            argv.extend(param.opts[:1] if value else param.secondary_opts[:1])
        elif isinstance(value, list | tuple):  # a repeatable option (--arm)
            argv.extend(part for item in value for part in (param.opts[0], str(item)))
        elif value is not None:
            argv.extend([param.opts[0], str(value)])
    return argv


def benchmark_list() -> str:
    """The registered benchmarks, one per line, for the help text."""
    from rlvr_lab.tasks import BENCHMARKS

    return "Benchmarks:\n\n" + "\n\n".join(f"{name}: {BENCHMARKS.get(name).description}" for name in BENCHMARKS)


def register(app: typer.Typer) -> None:
    """Add ``rlvr sample`` to the app."""
    app.command("sample", epilog=benchmark_list())(sample)
