"""``rlvr demo [--quick] --out DIR``: both papers' studies on the shipped organisms, one report.

A thin command over :func:`rlvr_lab.studies.demo.run_demo`; the sizes of both configurations live in
:mod:`rlvr_lab.studies.demo` (:data:`~rlvr_lab.studies.demo.FULL`, :data:`~rlvr_lab.studies.demo.QUICK`).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Annotated

import typer

from rlvr_lab.cli.options import Threads
from rlvr_lab.cli.passk import JSON_HELP, fail, print_json, reflow


def demo(
    out: Annotated[Path, typer.Option("--out", help="Output folder (re-running with the same settings resumes).")],
    quick: Annotated[
        bool, typer.Option("--quick", help="Fewer steps, runs, problems and samples; the same code paths (~3 min).")
    ] = False,
    docs: Annotated[
        Path | None,
        typer.Option(help="Also write the Markdown tables and the pass@k plot (base vs GT-RL) here, for the README."),
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option(help="Worker processes (default 2: one per core, one torch thread each).", show_default=False),
    ] = None,
    json_out: Annotated[bool, typer.Option("--json", help=JSON_HELP)] = False,
    threads: Threads = None,
    profiles: Annotated[
        str | None,
        typer.Option(
            help="Comma-separated organism profiles, the code-preferring one first (default "
            "qwen-math-like,olmo-like; the v2 organisms: qwen-math-like-v2,olmo-like-v2,llama-like-v2)."
        ),
    ] = None,
    seeds: Annotated[
        int | None,
        typer.Option(
            help="Seeds per preset of the clipping ablation, paired across presets (default 5; 2 with --quick)."
        ),
    ] = None,
    spurious_seeds: Annotated[
        int | None,
        typer.Option(
            help="Training seeds of every spurious-rewards run (default 1: its findings print their intervals with "
            "no verdict, evaluation noise only; 5 give each a verdict, at 5 times the runs)."
        ),
    ] = None,
    decoder: Annotated[
        str,
        typer.Option(
            help="The sampler's decoder for every rollout, evaluation and boundary sample: auto, lean, native (each "
            "decode step in one C++ call, built on first use; a boundary sampling job of the organisms in 0.6 of the "
            "time, with samples that can differ from auto's where two tokens lie within rounding) or generic."
        ),
    ] = "auto",
    dtype: Annotated[
        str,
        typer.Option(
            help="Compute dtype of every rollout, update and sampling job: auto (float32 for the organisms), float32 "
            "or bfloat16 (matrix products in bfloat16 where the CPU has it natively, the update's attention in "
            "float32; other numbers than float32's, docs/demo/README.md)."
        ),
    ] = "auto",
    compile_update: Annotated[
        bool,
        typer.Option(
            "--compile/--no-compile",
            help="torch.compile every run's update forward (inductor; each worker compiles once, 35-50 s, and its "
            "later runs reuse it): a bfloat16 update of the organisms in 0.8 of the eager time, rounded otherwise "
            "(docs/performance.md). Needs a C++ compiler.",
        ),
    ] = False,
) -> None:
    """Reproduce both papers' studies on the shipped organisms and write OUT/report.html and OUT/summary.json.

    1. Spurious rewards: qwen-math-like and olmo-like, each trained with ground_truth, majority_vote, format,
    random:0.5, incorrect and python; held-out accuracy and code frequency before and after.

    2. Clipping ablation: random:0.5 on qwen-math-like under the clip, no-clip, on-policy-batch and small-rollout
    presets on the same 5 seeds (2 with --quick): paired differences with 95% intervals, clip fractions.

    3. Reasoning boundary: 500 problems × 1,024 samples (12 × 64 with --quick) from the base, ground-truth RL and
    random RL models: pass@k with bootstrap bands, crossover k, coverage, accuracy histograms, ΔSE, strategy
    switches and the perplexity matrix; the large-k claim with the exact sign test and its minimum detectable effect.

    Also writes OUT/demo.yaml (the resolved settings) and OUT/README_table.md (the tables in Markdown). The full
    demo's boundary sampling alone is 33 to 43 minutes of CPU (1.5 million samples in three jobs of 650 to 860 s,
    measured on 2-core Xeon and AMD EPYC machines); the whole demo took 30 to 45 minutes of wall time on two cores
    (docs/demo/README.md). Progress lines go to stderr as jobs finish (also when it is redirected to a file), and
    each phase's wall time is printed at the end. With --json: {"out": {"report", "summary", "markdown"},
    "seconds", "findings"} on stdout.
    """
    from rlvr_lab.runtime.threads import use_threads
    from rlvr_lab.studies.demo import FULL, QUICK, run_demo, with_profiles, with_seeds

    config = QUICK if quick else FULL
    try:
        if seeds is not None or spurious_seeds is not None:
            config = with_seeds(config, len(config.ablation.seeds) if seeds is None else seeds, spurious_seeds)
        if profiles is not None:
            config = with_profiles(config, tuple(p.strip() for p in profiles.split(",") if p.strip()))
    except ValueError as error:
        raise typer.BadParameter(str(error)) from None
    from rlvr_lab.engines.base import DECODER_PATHS

    if decoder not in DECODER_PATHS:
        raise typer.BadParameter(f"--decoder must be one of {', '.join(DECODER_PATHS)}, got {decoder!r}")
    from rlvr_lab.runtime.precision import DTYPE_CHOICES

    if dtype not in DTYPE_CHOICES:
        raise typer.BadParameter(f"--dtype must be one of {', '.join(DTYPE_CHOICES)}, got {dtype!r}")
    per_worker = use_threads(threads) or config.training.threads  # torch threads of each worker process
    attention = "float32" if dtype == "bfloat16" else config.training.attention  # see rlvr_lab.rl.attention
    training = dataclasses.replace(
        config.training, threads=per_worker, decoder=decoder, dtype=dtype, attention=attention, compile=compile_update
    )
    config = dataclasses.replace(config, training=training)
    if workers is not None:
        if workers < 1:
            raise typer.BadParameter(f"--workers must be >= 1, got {workers}")
        config = dataclasses.replace(config, workers=workers)
    try:
        result = run_demo(config, out, docs=docs)
    except (ValueError, FileNotFoundError) as error:
        raise fail(error) from None
    if json_out:
        import json

        summary = json.loads(result.summary.read_text(encoding="utf-8"))
        print_json(
            {
                "out": {"report": str(result.report), "summary": str(result.summary), "markdown": str(result.markdown)},
                "seconds": round(result.seconds, 1),
                "findings": summary.get("findings", []),
            }
        )


def register(app: typer.Typer) -> None:
    """Add ``rlvr demo`` to the app."""
    app.command("demo", help=reflow(demo.__doc__))(demo)
