"""``rlvr compare``: two graded files on the same problems -> pass@k plot and ``compare.json``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from rlvr_lab.cli.options import Threads
from rlvr_lab.cli.passk import GRADED_HELP, JSON_HELP, UNEVEN_HELP, fail, print_json, reflow, samples_per_problem


def compare(
    graded_a: Annotated[Path, typer.Argument(help=f"Model A (the reference, e.g. base). {GRADED_HELP}")],
    graded_b: Annotated[Path, typer.Argument(help="Model B (e.g. the RL model), graded on the same problems.")],
    out: Annotated[Path, typer.Option("--out", help="Output folder (created if missing).")],
    label_a: Annotated[str, typer.Option("--label-a", help="Name of model A in the plot and JSON.")] = "base",
    label_b: Annotated[str, typer.Option("--label-b", help="Name of model B in the plot and JSON.")] = "rl",
    resamples: Annotated[int, typer.Option(help="Bootstrap resamples of the problem set.")] = 2000,
    seed: Annotated[int, typer.Option(help="Bootstrap seed.")] = 0,
    allow_uneven: Annotated[bool, typer.Option("--allow-uneven-n", help=UNEVEN_HELP)] = False,
    json_out: Annotated[bool, typer.Option("--json", help=JSON_HELP)] = False,
    threads: Threads = None,
) -> None:
    """Compare two models' reasoning boundaries: writes OUT/passk.png and OUT/compare.json.

    Both files must cover the same problems (matched by problem_id); each may have its own n. compare.json holds
    both pass@k curves at every k <= n ("pass_at_k": {label: {"1": ...}}) with bootstrap bands, "crossover_k"
    (the k at which A catches up with B after B led, interpolated in log k; null if it never does),
    "crossover_k_b_catches_a", "coverage" (problems solved, i.e. >= 1 correct sample, by both / only A / only B /
    neither), "delta_se" (pass@n(A) - pass@1(B)), "pass_at_1_diff" (pass@1(B) - pass@1(A) with a paired
    bootstrap 95% CI over problems), the accuracy histograms, n, and both files' metadata ("metadata": {"a", "b"},
    each what `rlvr grade` stored). With --json the same record, plus "out", is printed on stdout.
    """
    from rlvr_lab.analysis.comparison import compare_models
    from rlvr_lab.metrics import load_graded
    from rlvr_lab.report.plots import figure_png, plot_passk
    from rlvr_lab.runtime.threads import use_threads

    use_threads(threads, announce=False)  # no model runs here: nothing to report

    try:
        a, b = load_graded(graded_a, completions=False), load_graded(graded_b, completions=False)
        _same_problems(graded_a, a.metadata, graded_b, b.metadata)
        for data in (a, b):
            samples_per_problem(data, allow_uneven)
        result = compare_models(a, b, label_a, label_b, resamples=resamples, seed=seed)
    except (ValueError, FileNotFoundError) as error:
        raise fail(error) from None
    out.mkdir(parents=True, exist_ok=True)
    record = {
        "files": {"a": str(graded_a), "b": str(graded_b)},
        **result.as_dict(),
        "metadata": {"a": a.metadata, "b": b.metadata},
    }
    (out / "compare.json").write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    (out / "passk.png").write_bytes(figure_png(plot_passk(result)))
    if json_out:
        print_json({"out": {"json": str(out / "compare.json"), "plot": str(out / "passk.png")}, **record})
        return
    diff = result.pass_at_1_diff
    crossing = "none" if result.crossover_k is None else f"{result.crossover_k:.1f}"
    typer.echo(
        f"{label_a} vs {label_b} on {result.problems} problems: pass@1 diff {diff.mean:+.4f} "
        f"[{diff.lo:+.4f}, {diff.hi:+.4f}], crossover k {crossing}, ΔSE {result.delta_se:+.4f}; wrote {out}"
    )


def _same_problems(path_a: Path, meta_a: dict, path_b: Path, meta_b: dict) -> None:
    """Refuse two graded files graded against different problem sets (other ids or gold answers), naming both."""
    ids = [(meta.get("identity") or {}) for meta in (meta_a, meta_b)]
    hashes = [identity.get("problems_hash") for identity in ids]
    if None not in hashes and hashes[0] != hashes[1]:
        raise ValueError(
            f"{path_a} was graded against {ids[0].get('problems')} (problems hash {hashes[0]}) and {path_b} against "
            f"{ids[1].get('problems')} (problems hash {hashes[1]}): compare files graded on the same problems"
        )


def register(app: typer.Typer) -> None:
    """Add ``rlvr compare`` to the app."""
    app.command("compare", help=reflow(compare.__doc__))(compare)
