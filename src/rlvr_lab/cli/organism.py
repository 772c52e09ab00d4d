"""``rlvr organism build`` and ``rlvr organism stats``: pretrain a profile, and measure its calibration table.

Thin commands over :func:`rlvr_lab.organism.pretrain.build_profile` and :func:`rlvr_lab.organism.stats.measure`.
The option defaults repeat :class:`~rlvr_lab.organism.stats.StatsConfig`'s (a test keeps them equal): importing it
here would load numpy and the organism for every ``rlvr --help``.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

import typer

from rlvr_lab.cli.options import Threads
from rlvr_lab.cli.passk import JSON_HELP, print_json

if TYPE_CHECKING:
    from rich.table import Table

    from rlvr_lab.organism.stats import Calibration

RuleName = Literal["contains_python", "fenced_python"]


def build(
    profile: Annotated[str, typer.Option(help="Profile to build (qwen-math-like, olmo-like, or a -v2 profile).")],
    out: Annotated[Path, typer.Option(help="Folder for the Hugging Face checkpoint.")],
    seed: Annotated[
        int | None, typer.Option(help="Seed (default: the profile's seed, which built the shipped one).")
    ] = None,
    steps: Annotated[int | None, typer.Option(help="Optimiser steps (default: the profile's budget).")] = None,
    threads: Threads = None,
    json_output: Annotated[bool, typer.Option("--json", help=JSON_HELP)] = False,
) -> None:
    """Pretrain PROFILE's organism from its seed and save it to OUT (v1: minutes; a -v2 profile: about 25 minutes of
    one core).

    The checkpoint loads with AutoModelForCausalLM.from_pretrained; OUT/rlvr_organism.json records the profile,
    seed, corpus knobs, prompt template and the float kernels that built it (built_on): the shipped weights come
    back only on the kernels that built them, elsewhere the build is another draw of the recipe (docs/organism.md).
    With --json: {"out", "profile", "seed", "steps"} on stdout.
    """
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from rlvr_lab.organism.pretrain import build_profile
    from rlvr_lab.organism.profiles import get_profile
    from rlvr_lab.runtime.threads import use_threads

    console = Console(stderr=True)
    try:
        chosen = get_profile(profile)
        pinned = use_threads(threads) or chosen.train.threads  # float sums depend on it: the shipped builds used 1
        chosen = dataclasses.replace(chosen, train=dataclasses.replace(chosen.train, threads=pinned))
    except ValueError as exc:
        console.print(f"error: {exc}", highlight=False, markup=False)
        raise typer.Exit(code=1) from None
    total = steps if steps is not None else chosen.train.steps
    columns = (TextColumn("pretraining"), BarColumn(), MofNCompleteColumn(), TextColumn("loss {task.fields[loss]}"))
    with Progress(*columns, TimeElapsedColumn(), console=console) as bar:
        task = bar.add_task("pretraining", total=total, loss="-")

        def advance(done: int, loss: float) -> None:
            bar.update(task, completed=done, loss=f"{loss:.3f}")

        path = build_profile(chosen, out, seed=seed, steps=steps, progress=advance)
    console.print(f"saved {profile} to {path}", highlight=False, markup=False)
    if json_output:
        used_seed = seed if seed is not None else chosen.seed
        print_json({"out": str(path), "profile": profile, "seed": used_seed, "steps": total})


def stats(
    model: Annotated[
        str,
        typer.Argument(help="A shipped profile name (qwen-math-like, olmo-like, or a -v2 profile) or a model folder."),
    ],
    n: Annotated[int, typer.Option(help="Samples per test problem.")] = 64,
    problems: Annotated[int, typer.Option(help="Test problems (problem types in round-robin order).")] = 120,
    rule: Annotated[RuleName, typer.Option(help="Code/language rule.")] = "contains_python",
    seed: Annotated[int, typer.Option(help="Sampling seed.")] = 0,
    batch_size: Annotated[int, typer.Option(help="Sequences the torch engine decodes together.")] = 256,
    template: Annotated[
        str, typer.Option(help="Prompt template (python-hint reaches a v2 organism through its chat template).")
    ] = "organism",
    dtype: Annotated[str, typer.Option(help="Sampler dtype: float32, bfloat16 or auto (float32 here).")] = "auto",
    threads: Threads = None,
    corpus: Annotated[
        bool,
        typer.Option(
            "--corpus",
            help="Table the profile's corpus instead of the model: N solutions per problem written by the corpus "
            "knobs (what a perfect learner would show; seconds, no sampling).",
        ),
    ] = False,
    json_output: Annotated[bool, typer.Option("--json", help=JSON_HELP)] = False,
) -> None:
    """Print MODEL's calibration table on the organism test split, sampled at temperature 1.

    Code frequency, accuracy given code and given language, boxed rate, pass@1/8/64 (unbiased), the shares of
    problems solved in under 5% and over 95% of samples, the shares of problems mostly code and mostly language,
    and accuracy per problem type. For a profile name, also its targets that this template's table can check
    (with --corpus, those the corpus itself must meet: a model can only fall short of its corpus).
    """
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from rlvr_lab.organism.profiles import PROFILES, check_targets
    from rlvr_lab.organism.stats import StatsConfig, measure, measure_corpus
    from rlvr_lab.runtime.threads import use_threads

    console = Console(stderr=True)
    try:
        threads = use_threads(threads) or StatsConfig.threads
        config = StatsConfig(
            n=n,
            problems=problems,
            rule=rule,
            seed=seed,
            batch_size=batch_size,
            threads=threads,
            template=template,
            dtype=dtype,
        )
        if corpus:
            result = measure_corpus(model, config)
        else:
            columns = (TextColumn("sampling"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
            with Progress(*columns, console=console) as bar:
                task = bar.add_task("sampling", total=n * problems)
                result = measure(model, config, progress=lambda done: bar.advance(task, done))
    except (ValueError, FileNotFoundError) as exc:
        console.print(f"error: {exc}", highlight=False, markup=False)
        raise typer.Exit(code=1) from None
    table = result.to_dict()
    checks = check_targets(PROFILES.get(model), {template: table}) if model in PROFILES else []
    checked = [(t, value, met) for t, value, met in checks if met is not None and (t.corpus or not corpus)]
    if json_output:
        print_json(table)
    else:
        Console().print(calibration_table(result))
    for target, value, met in checked:  # on stderr, so --json output stays the table alone
        bounds = f"[{target.low:g}, {target.high:g}]"
        line = f"target {target.metric} = {value:.3f} in {bounds}: {'met' if met else 'MISSED'} ({target.why})"
        console.print(line, highlight=False, markup=False)


def _pct(x: float) -> str:
    return "-" if math.isnan(x) else f"{100 * x:.1f}%"


def calibration_table(result: Calibration) -> Table:
    """The calibration as a rich table: the headline rates, then one row per problem type."""
    from rich.table import Table

    from rlvr_lab.organism.stats import PASS_KS

    config = result.config
    table = Table(
        title=f"{result.model}: {config.problems} test problems x {config.n} samples, T=1, rule {config.rule}",
        show_header=True,
    )
    table.add_column("metric")
    table.add_column("value", justify="right")
    rows = [
        ("code frequency", _pct(result.code_frequency)),
        ("accuracy | code", _pct(result.acc_given_code)),
        ("accuracy | language", _pct(result.acc_given_language)),
        ("boxed rate", _pct(result.boxed_rate)),
        *((f"pass@{k}", _pct(result.pass_at_k[k])) for k in PASS_KS if k in result.pass_at_k),
        ("problems solved < 5%", _pct(result.solved_under_5)),
        ("problems solved > 95%", _pct(result.solved_over_95)),
        ("problems mostly code", _pct(result.code_majority)),
        ("truncated", _pct(result.truncated_rate)),
        *(
            (
                f"{kind}: acc / code / acc|code / acc|lang",
                " / ".join(_pct(x) for x in (s.accuracy, s.code_frequency, s.acc_given_code, s.acc_given_language)),
            )
            for kind, s in result.by_type.items()
        ),
        ("seconds", f"{result.seconds:.0f}"),
    ]
    for name, value in rows:
        table.add_row(name, value)
    return table


def register(app: typer.Typer) -> None:
    """Add the ``rlvr organism`` group (``build``, ``stats``) to the app."""
    group = typer.Typer(
        name="organism",
        help="The model organism: build a profile from its seed, or print a model's calibration table.",
        no_args_is_help=True,
    )
    group.command("build")(build)
    group.command("stats")(stats)
    app.add_typer(group)
