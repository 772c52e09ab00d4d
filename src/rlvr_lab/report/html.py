"""The self-contained HTML report and ``summary.json``.

One file a person can mail or open offline: plots are PNGs embedded as base64 ``data:`` URIs, tables are HTML
tables, the style sheet is inline, and there is no JavaScript and no external resource at all (even the favicon
is an empty data URI, so a browser makes no request). Every text from the inputs is HTML-escaped.
"""

from __future__ import annotations

import base64
import html
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from matplotlib.figure import Figure

from rlvr_lab.report import plots
from rlvr_lab.report.inputs import ReportInputs, Table, eval_table, run_table
from rlvr_lab.report.summary import build_summary

STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2rem auto; max-width: 1150px;
       padding: 0 1rem; color: #222; line-height: 1.45; }
h1 { border-bottom: 2px solid #1f77b4; padding-bottom: .3rem; }
h2 { margin-top: 2.2rem; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; margin: .8rem 0; font-size: .9rem; }
th, td { border: 1px solid #ccc; padding: .25rem .6rem; text-align: right; }
th { background: #f0f4f8; }
td:first-child, th:first-child { text-align: left; }
caption { caption-side: top; text-align: left; font-weight: 600; padding-bottom: .3rem; }
figure { margin: 1rem 0; }
figure img { max-width: 100%; border: 1px solid #eee; }
figcaption, .note { color: #555; font-size: .85rem; }
.notes li { color: #8a5a00; }
"""


@dataclass(frozen=True)
class ReportFiles:
    """Where the report was written."""

    html: Path
    summary: Path


def _esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _cell(value: Any) -> str:
    if value is None or (isinstance(value, float) and value != value):
        return "—"
    if isinstance(value, float):
        return f"{value:.4f}" if abs(value) < 1000 else f"{value:.4g}"
    return _esc(value)


def _table(table: Table) -> str:
    head = "".join(f"<th>{_esc(c)}</th>" for c in table.columns)
    body = "".join("<tr>" + "".join(f"<td>{_cell(v)}</td>" for v in row) + "</tr>" for row in table.rows)
    note = f'<p class="note">{_esc(table.note)}</p>' if table.note else ""
    return f"<table><caption>{_esc(table.title)}</caption><tr>{head}</tr>{body}</table>{note}"


def _figure(fig: Figure, caption: str) -> str:
    data = base64.b64encode(plots.figure_png(fig)).decode("ascii")
    alt = _esc(caption)
    return f'<figure><img src="data:image/png;base64,{data}" alt="{alt}"><figcaption>{alt}</figcaption></figure>'


def _comparison_section(inputs: ReportInputs) -> list[str]:
    parts = []
    for comp in inputs.comparisons:
        a, b = comp.label_a, comp.label_b
        diff = comp.pass_at_1_diff
        crossing = None if comp.crossover_k is None else round(comp.crossover_k, 2)
        rows = (
            (
                f"pass@1 {b} − {a} (paired bootstrap {diff.confidence:.0%} CI)",
                f"{diff.mean:+.4f}",
                f"[{diff.lo:+.4f}, {diff.hi:+.4f}]",
            ),
            (f"crossover k ({a} catches up with {b})", crossing, "interpolated in log k"),
            (f"ΔSE = pass@{comp.n_a}({a}) − pass@1({b})", comp.delta_se, ""),
            (
                f"coverage: both / only {a} / only {b} / neither",
                " / ".join(str(v) for v in comp.coverage.as_dict().values()),
                f"{comp.problems} problems",
            ),
        )
        parts.append(f"<h3>{_esc(a)} vs {_esc(b)}</h3>")
        parts.append(_table(Table("Boundary numbers", ("quantity", "value", "detail"), rows)))
        parts.append(_figure(plots.plot_passk(comp), f"pass@k, {a} vs {b}, with bootstrap 95% bands"))
        parts.append(_figure(plots.plot_coverage(comp.coverage, a, b), f"coverage, {a} vs {b}"))
    return parts


def _switch_section(inputs: ReportInputs) -> list[str]:
    parts = [
        '<p class="note">Problems grouped by the majority strategy label of their samples before → after; '
        "C is the group's share of the net accuracy change (partial contribution score, Shao et al. 2025).</p>"
    ]
    for title, table in inputs.switches:
        rows = tuple((g.name, g.problems, g.acc_before, g.acc_after, g.net_gain, g.contribution) for g in table.groups)
        columns = ("group", "problems", "acc. before", "acc. after", "net gain", "contribution C")
        parts.append(_table(Table(f"Strategy switches {title}", columns, rows)))
        parts.append(_figure(plots.plot_strategy_switches(table, title), f"strategy switches {title}"))
    return parts


def render_html(inputs: ReportInputs, title: str) -> str:
    """The whole page as one string; sections without data are left out."""
    body = [f"<h1>{_esc(title)}</h1>"]
    if inputs.sources:
        body.append(
            '<p class="note">Read from: ' + ", ".join(f"<code>{_esc(s)}</code>" for s in inputs.sources) + "</p>"
        )
    if inputs.notes:
        body.append('<ul class="notes">' + "".join(f"<li>{_esc(n)}</li>" for n in inputs.notes) + "</ul>")
    body.extend(_table(t) for t in inputs.tables)
    body.extend(_figure(fig, caption) for caption, fig in inputs.figures)
    if inputs.runs:
        body.append("<h2>Training</h2>")
        body.append(_table(run_table(inputs.runs)))
        body.extend(_figure(plots.plot_training_curves(run), f"training curves of {run.name}") for run in inputs.runs)
    if inputs.eval_sets:
        body.append("<h2>Evaluation</h2>")
        body.append(_table(eval_table(inputs.eval_sets, inputs.strategy_rule)))
        hist = plots.plot_accuracy_histograms(inputs.histograms())
        body.append(_figure(hist, "per-problem accuracy (exactly 0 and exactly 1 have their own bins)"))
    if inputs.comparisons:
        body.append("<h2>Reasoning boundary</h2>")
        body.extend(_comparison_section(inputs))
    if inputs.switches:
        body.append("<h2>Strategy switches</h2>")
        body.extend(_switch_section(inputs))
    if inputs.perplexity is not None:
        body.append("<h2>Perplexity</h2>")
        m = inputs.perplexity
        rows = tuple((src, *m.values[i].tolist()) for i, src in enumerate(m.sources))
        note = "rows: whose responses; columns: the model scoring them"
        body.append(_table(Table("Perplexity", ("responses of", *m.scorers), rows, note=note)))
        body.append(_figure(plots.plot_perplexity_matrix(m), "perplexity matrix"))
    if len(body) == 1:
        body.append("<p>Nothing to report: no training runs, graded files or perplexities were found.</p>")
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<link rel="icon" href="data:,"><title>{_esc(title)}</title><style>{STYLE}</style></head>\n'
        "<body>\n" + "\n".join(body) + "\n</body></html>\n"
    )


def write_report(inputs: ReportInputs, out_dir: str | Path, title: str = "rlvr-lab report") -> ReportFiles:
    """Write ``out_dir/report.html`` and ``out_dir/summary.json`` (the folder is created if missing)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    files = ReportFiles(out / "report.html", out / "summary.json")
    files.html.write_text(render_html(inputs, title), encoding="utf-8")
    summary = json.dumps(build_summary(inputs, title), indent=2, allow_nan=False, ensure_ascii=False)
    files.summary.write_text(summary + "\n", encoding="utf-8")
    return files
