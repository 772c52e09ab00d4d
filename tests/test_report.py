"""The report: run loading, input discovery, summary.json values and the HTML page's structure.

``make_study`` writes a small but complete study (a training run, base and RL graded files with sample files,
a perplexity matrix); the Chromium test renders the same study.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from rlvr_lab.cli import report as report_cli
from rlvr_lab.report import collect_inputs, load_run, write_report
from rlvr_lab.report.plots import figure_png, plot_training_curves
from test_metrics_graded import write_graded

PNG = b"\x89PNG\r\n\x1a\n"


def write_run(path: Path, steps: int = 12) -> Path:
    """A training run folder as the trainer writes it: config.yaml and one metrics.jsonl line per step."""
    path.mkdir(parents=True)
    (path / "config.yaml").write_text("reward: random\nseed: 3\nlr: 1.0e-5\n")
    lines = []
    for step in range(steps):
        record = {
            "step": step,
            "reward/mean": 0.5 + 0.01 * step,
            "actor/clip_frac_low": 0.01,
            "actor/clip_frac_high": 0.02 + 0.001 * step,
            "strategy/code_frequency": 0.4 + 0.05 * step,
            "run/note": "text values are skipped",
        }
        if step % 4 == 0:
            record["eval/accuracy"] = 0.2 + 0.1 * step / 4
        lines.append(json.dumps(record))
    (path / "metrics.jsonl").write_text("\n".join(lines) + "\n")
    return path


def write_samples(path: Path, code: dict[str, list[bool]]) -> None:
    """A sample file (JSONL, no header) whose completions mention Python where ``code`` says so."""
    with path.open("w") as handle:
        for pid, flags in code.items():
            for i, is_code in enumerate(flags):
                text = "```python\nprint(6 * 7)\n```" if is_code else "Six times seven is 42."
                handle.write(json.dumps({"problem_id": pid, "sample_idx": i, "completion": text}) + "\n")


def make_study(root: Path) -> list[Path]:
    """Paths to pass to the report: a run folder and an evaluation folder."""
    run = write_run(root / "runs" / "random-0.5")
    evals = root / "eval"
    evals.mkdir(parents=True)
    # 4 problems x 4 samples. Base: accuracies 0, 1/4, 1/2, 1; RL: 0, 1, 1/4, 1.
    base = {"p0": [0, 0, 0, 0], "p1": [1, 0, 0, 0], "p2": [1, 1, 0, 0], "p3": [1, 1, 1, 1]}
    rl = {"p0": [0, 0, 0, 0], "p1": [1, 1, 1, 1], "p2": [1, 0, 0, 0], "p3": [1, 1, 1, 1]}
    write_graded(evals / "base.parquet", {k: [bool(x) for x in v] for k, v in base.items()})
    write_graded(evals / "rl.graded.parquet", {k: [bool(x) for x in v] for k, v in rl.items()})
    # Base: p0, p1 language; p2, p3 code. RL: everything code except p2 (so p2 switches Code -> Lang).
    write_samples(evals / "base.samples.jsonl", {"p0": [0] * 4, "p1": [0, 0, 0, 1], "p2": [1] * 4, "p3": [1, 1, 1, 0]})
    write_samples(evals / "rl.samples.jsonl", {"p0": [1] * 4, "p1": [1] * 4, "p2": [0] * 4, "p3": [1] * 4})
    matrix = {"responses_of": ["base", "rl"], "scored_by": ["base", "rl"], "perplexity": [[1.8, 2.4], [1.9, 1.3]]}
    (evals / "perplexity.json").write_text(json.dumps(matrix))
    return [run, evals]


def test_load_run(tmp_path: Path) -> None:
    run = load_run(write_run(tmp_path / "r"))
    assert run.name == "r" and run.config == {"reward": "random", "seed": 3, "lr": 1e-5}
    assert run.series["eval/accuracy"].steps.tolist() == [0, 4, 8]
    assert run.last("eval/accuracy") == pytest.approx(0.4) and run.first("reward/mean") == 0.5
    assert "run/note" not in run.series and run.last("missing") is None
    png = figure_png(plot_training_curves(run))
    assert png.startswith(PNG)


def test_load_run_errors_and_partial_last_line(tmp_path: Path) -> None:
    path = write_run(tmp_path / "r", steps=3)
    with (path / "metrics.jsonl").open("a") as handle:
        handle.write('{"step": 3, "reward/me')  # a killed writer's last line
    assert load_run(path).series["reward/mean"].steps.tolist() == [0, 1, 2]
    (path / "metrics.jsonl").write_text('{"step": 0}\nnot json\n{"step": 2}\n')
    with pytest.raises(ValueError, match=r"metrics\.jsonl:2: not JSON"):
        load_run(path)
    with pytest.raises(FileNotFoundError, match=r"no metrics\.jsonl"):
        load_run(tmp_path)


def test_collect_and_write(tmp_path: Path) -> None:
    inputs = collect_inputs(make_study(tmp_path), resamples=200)
    assert [name for name, _ in inputs.eval_sets] == ["eval/base", "eval/rl"]
    assert len(inputs.runs) == 1 and len(inputs.comparisons) == 1 and inputs.notes == ()
    files = write_report(inputs, tmp_path / "out", title="Test <study>")
    summary = json.loads(files.summary.read_text())

    base = summary["eval_sets"]["eval/base"]
    assert base["n"] == 4 and base["pass_at_k"]["1"] == pytest.approx(0.4375)
    assert base["code_frequency"] == pytest.approx((0 + 0.25 + 1 + 0.75) / 4)
    comp = summary["comparisons"][0]
    assert comp["labels"] == {"a": "eval/base", "b": "eval/rl"}
    assert comp["pass_at_k"]["eval/rl"] == pytest.approx({"1": 0.5625, "2": 0.625, "4": 0.75})
    assert comp["coverage"] == {"both": 3, "only_a": 0, "only_b": 0, "neither": 1}
    assert comp["delta_se"]["value"] == pytest.approx(0.75 - 0.5625)

    # Base labels by majority: p0 Lang, p1 Lang (1 of 4 code), p2 Code, p3 Code (3 of 4).
    # RL: p0 Code, p1 Code, p2 Lang, p3 Code. Accuracy change: p1 +0.75, p2 -0.25; total +0.5.
    groups = summary["strategy_switches"][0]["groups"]
    assert summary["strategy_switches"][0]["title"] == "eval/base → eval/rl"
    assert groups["Lang→Code"]["problems"] == 2 and groups["Lang→Code"]["contribution"] == pytest.approx(1.5)
    assert groups["Code→Lang"]["contribution"] == pytest.approx(-0.5)
    assert groups["Code→Code"]["contribution"] == 0.0
    assert groups["Lang→Lang"]["problems"] == 0 and groups["Lang→Lang"]["acc_before"] is None  # NaN -> null
    assert summary["perplexity"]["perplexity"] == [[1.8, 2.4], [1.9, 1.3]]
    assert summary["runs"]["random-0.5"]["last"]["eval/accuracy"] == pytest.approx(0.4)

    page = files.html.read_text()
    assert page.startswith("<!DOCTYPE html>") and "<title>Test &lt;study&gt;</title>" in page
    assert page.count('<img src="data:image/png;base64,') == 6  # run, histograms, pass@k, coverage, switches, ppl
    assert "<script" not in page and "http://" not in page and "https://" not in page
    headings = ["Reasoning boundary", "Evaluation", "Strategy switches", "Perplexity", "Training runs"]
    found = re.findall(r'<h2 id="([^"]+)">([^<]+)</h2>', page)
    assert [name for _, name in found] == headings  # the answer (pass@k) first, per-run curves last
    toc = page[page.index('<nav class="toc">') : page.index("</nav>")]
    assert all(f'<a href="#{anchor}">{name}</a>' in toc for anchor, name in found)
    assert page.index("pass@k, eval/base vs eval/rl") < page.index("training curves of random-0.5")
    assert "<details><summary>random-0.5</summary><figure>" in page  # each run's curves folded


def test_base_choice_and_notes(tmp_path: Path) -> None:
    paths = make_study(tmp_path)
    write_graded(tmp_path / "eval" / "other.parquet", {"q0": [True, False]})
    inputs = collect_inputs(paths, base="rl", resamples=50)
    assert inputs.eval_sets[0][0] == "eval/rl"
    assert any("eval/other not compared" in note and "cover different problems" in note for note in inputs.notes)
    with pytest.raises(ValueError, match="matches no evaluation set"):
        collect_inputs(paths, base="nope")
    # A graded file given directly, without texts: no switch table, and a note says why.
    only = collect_inputs([tmp_path / "eval" / "base.parquet", tmp_path / "eval" / "other.parquet"], resamples=50)
    assert only.switches == () and len(only.comparisons) == 0
    empty = write_report(collect_inputs([tmp_path / "runs" / "random-0.5"]), tmp_path / "o2")
    assert ">Evaluation</h2>" not in empty.html.read_text()
    assert math.isclose(json.loads(empty.summary.read_text())["runs"]["random-0.5"]["first"]["reward/mean"], 0.5)


def test_report_command(tmp_path: Path) -> None:
    app = typer.Typer()
    report_cli.register(app)
    app.command("unused")(lambda: None)  # two commands, so `report` is a subcommand as under `rlvr`
    out = tmp_path / "out"
    args = ["report", *map(str, make_study(tmp_path)), "--out", str(out), "--resamples", "100", "--title", "Demo"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "1 runs, 2 evaluation sets, 1 comparisons" in result.output
    summary = json.loads((out / "summary.json").read_text())
    assert summary["title"] == "Demo" and summary["comparisons"][0]["coverage"]["neither"] == 1
    assert (out / "report.html").is_file()
    bad = CliRunner().invoke(app, ["report", str(tmp_path / "nowhere"), "--out", str(out)])
    assert bad.exit_code == 1 and "does not exist" in bad.output


def test_cells_align_text_left_numbers_right_and_tiny_fractions_in_scientific_notation() -> None:
    from rlvr_lab.report.html import format_number, render_html
    from rlvr_lab.report.inputs import ReportInputs, Table

    assert [format_number(v) for v in (6.3e-05, 0.0, 0.4351, -0.00074, 12345.6, -2.78e-17)] == [
        "6.30e-05", "0.0000", "0.4351", "-7.40e-04", "1.235e+04", "0.0000"
    ]  # fmt: skip
    table = Table("T", ("claim", "value", "n"), (("a long claim in words", 6.3e-05, 3),))
    page = render_html(ReportInputs(tables=(table,)), "t")
    assert '<td>a long claim in words</td><td class="num">6.30e-05</td><td class="num">3</td>' in page
    assert "text-align: left" in page and "td.num { text-align: right" in page


def test_sections_added_by_a_study_lead_or_follow(tmp_path: Path) -> None:
    from matplotlib.figure import Figure

    from rlvr_lab.report import Plot, ReportInputs, Section, Table
    from rlvr_lab.report.html import render_html

    figure = Figure(figsize=(2, 2))
    figure.subplots().plot([0, 1], [0, 1])
    lead = Section(
        "Code boundary", ("<p>lead text</p>", Plot(figure, "a plot"), Table("N", ("a",), ((1,),))), lead=True
    )
    later = Section("Appendix <x>", ("<p>later</p>",), collapsed=True)
    runs = collect_inputs([make_study(tmp_path)[0]]).runs
    page = render_html(ReportInputs(runs=runs, sections=(later, lead), tables=(Table("S", ("b",), ((2,),)),)), "t")
    order = [name for _, name in re.findall(r'<h2 id="([^"]+)">([^<]+)</h2>', page)]
    assert order == ["Code boundary", "Summary tables", "Appendix &lt;x&gt;", "Training runs"]
    assert page.count('<img src="data:image/png;base64,') == 2 and "<figcaption>a plot</figcaption>" in page
    assert '<h2 id="appendix-x">Appendix &lt;x&gt;</h2>\n<details><summary>show</summary><p>later</p></details>' in page


def test_summary_figures_draw_what_they_are_given() -> None:
    import numpy as np

    from rlvr_lab.report.plots import is_sparse, plot_arms_over_seeds, plot_spurious_summary
    from rlvr_lab.report.runs import Series, TrainingRun

    changes = {"qwen": {"gt": (0.11, 0.30), "random": (-0.01, 0.07)}, "olmo": {"gt": (0.11, -0.51)}}
    fig = plot_spurious_summary(changes, spread=(0.028, 0.049))
    left, right = fig.axes
    bars = {c.get_label(): [round(p.get_height(), 3) for p in c] for c in left.containers}
    assert bars["qwen"] == [0.11, -0.01] and bars["olmo"][0] == 0.11 and math.isnan(bars["olmo"][1])
    assert round(right.containers[1][0].get_height(), 3) == -0.51
    assert [t.get_text() for t in left.get_xticklabels()] == ["gt", "random"]

    def run(name: str, values: list[float]) -> TrainingRun:
        steps = np.arange(len(values), dtype=float)
        return TrainingRun(name, Path(name), series={"train/accuracy": Series(steps, np.array(values))})

    fig = plot_arms_over_seeds(
        {"clip": [run("a", [0.2, 0.4]), run("b", [0.4, 0.8])]}, keys=(("train/accuracy", "acc"),)
    )
    (ax,) = fig.axes
    assert ax.lines[0].get_ydata().tolist() == pytest.approx([0.3, 0.6])  # the mean over seeds
    assert ax.lines[0].get_label() == "clip (2 seeds)"
    assert is_sparse(2, 20) and is_sparse(3, 3) and not is_sparse(20, 20) and not is_sparse(10, 20)


def test_two_eval_points_are_drawn_as_markers_not_a_line(tmp_path: Path) -> None:
    import numpy as np

    from rlvr_lab.report.runs import Series, TrainingRun

    series = {
        "train/accuracy": Series(np.arange(20.0), np.linspace(0.3, 0.5, 20)),
        "eval/accuracy": Series(np.array([0.0, 19.0]), np.array([0.4, 0.45])),
    }
    fig = plot_training_curves(TrainingRun("r", tmp_path, series=series))
    lines = {line.get_label(): line for line in fig.axes[0].lines}
    assert lines["eval/accuracy"].get_linestyle() == "None" and lines["eval/accuracy"].get_marker() == "o"
    assert lines["train/accuracy"].get_linestyle() == "-"


def test_curves_rendered_in_two_processes_are_the_same_bytes(tmp_path: Path) -> None:
    """The demo renders its runs' curves in its workers' processes once the jobs are done: the same PNGs, in the
    same order, as one process renders."""
    import numpy as np

    from rlvr_lab.report.plots import training_curves_png
    from rlvr_lab.report.runs import Series, TrainingRun

    runs = [
        TrainingRun(f"run {i}", tmp_path, series={"train/accuracy": Series(np.arange(12.0), np.linspace(0, i, 12))})
        for i in range(3)
    ]
    one = training_curves_png(runs)
    assert len(set(one)) == 3 and all(png.startswith(b"\x89PNG") for png in one)
    assert training_curves_png(runs, processes=2) == one
