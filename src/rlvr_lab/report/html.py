"""The self-contained HTML report and ``summary.json``.

One file a person can mail or open offline: plots are PNGs embedded as base64 ``data:`` URIs, tables are HTML
tables, the style sheet is inline, and there is no JavaScript and no external resource at all (even the favicon
is an empty data URI, so a browser makes no request). Every text from the inputs is HTML-escaped.

The page leads with the answer. In order: the title and a table of contents; the **findings** (every
:class:`~rlvr_lab.report.inputs.Section` with ``lead=True``, then the summary tables of ``inputs.tables``); the
reasoning boundary (pass@k with bands, boundary numbers, coverage); evaluation sets; strategy switches;
perplexity; the other sections; and last the training runs, each run's curves folded in a ``<details>`` block.
Text columns are left-aligned and numbers right-aligned; fractions below 0.001 are written in scientific notation
(a clip fraction of 6e-05 is not 0.0000).

Adding a section (a study's results, a finding with its figure) takes no change here: put a ``Section`` in
``ReportInputs.sections``::

    from rlvr_lab.report import Plot, ReportInputs, Section, Table

    section = Section(
        "Code boundary",                      # heading, and its entry in the table of contents
        (
            "<p>What this shows, in a sentence.</p>",                     # an HTML fragment written by code
            Plot(figure, "pass@k of code tasks, with bootstrap bands"),   # a matplotlib Figure and its caption
            Table("Numbers", ("model", "pass@1"), (("base", 0.41),)),     # a table (also in summary.json)
        ),
        lead=True,                            # among the findings at the top; False: after the built-in results
        collapsed=False,                      # True: folded in a <details> block
    )
    inputs = ReportInputs(..., sections=(section,))
"""

from __future__ import annotations

import base64
import html
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from matplotlib.figure import Figure

from rlvr_lab.report import plots
from rlvr_lab.report.inputs import Plot, ReportInputs, Section, SectionItem, Table, eval_table, run_table
from rlvr_lab.report.summary import build_summary

STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2rem auto; max-width: 1150px;
       padding: 0 1rem; color: #222; line-height: 1.45; }
h1 { border-bottom: 2px solid #1f77b4; padding-bottom: .3rem; }
h2 { margin-top: 2.2rem; border-bottom: 1px solid #ddd; }
nav.toc { background: #f6f8fa; border: 1px solid #e1e4e8; padding: .5rem 1rem; display: inline-block; }
nav.toc ol { margin: .2rem 0; padding-left: 1.2rem; }
table { border-collapse: collapse; margin: .8rem 0; font-size: .9rem; }
th, td { border: 1px solid #ccc; padding: .25rem .6rem; text-align: left; vertical-align: top; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
th { background: #f0f4f8; }
caption { caption-side: top; text-align: left; font-weight: 600; padding-bottom: .3rem; }
figure { margin: 1rem 0; }
figure img { max-width: 100%; border: 1px solid #eee; }
figcaption, .note { color: #555; font-size: .85rem; }
details { margin: .4rem 0; }
summary { cursor: pointer; color: #1f4f7f; }
.notes li { color: #8a5a00; }
"""


@dataclass(frozen=True)
class ReportFiles:
    """Where the report was written."""

    html: Path
    summary: Path


def _esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


SMALL = 1e-3
"""Non-zero magnitudes below this are written in scientific notation."""
ROUNDING = 1e-12
"""Magnitudes below this are float rounding (a mean of +x and -x), written as 0."""


def format_number(value: float) -> str:
    """Four decimals; scientific notation for tiny non-zero values and four significant digits for large ones."""
    if abs(value) < ROUNDING:
        value = 0.0
    if value != 0 and abs(value) < SMALL:
        return f"{value:.2e}"
    return f"{value:.4f}" if abs(value) < 1000 else f"{value:.4g}"


def _cell(value: Any) -> str:
    """A ``<td>``: numbers right-aligned (class ``num``), text left-aligned, missing values as a dash."""
    if value is None or (isinstance(value, float) and value != value):
        return '<td class="num">—</td>'
    if isinstance(value, bool):
        return f"<td>{_esc(value)}</td>"
    if isinstance(value, float):
        return f'<td class="num">{format_number(value)}</td>'
    if isinstance(value, int):
        return f'<td class="num">{value}</td>'
    return f"<td>{_esc(value)}</td>"


def _table(table: Table) -> str:
    head = "".join(f"<th>{_esc(c)}</th>" for c in table.columns)
    body = "".join("<tr>" + "".join(_cell(v) for v in row) + "</tr>" for row in table.rows)
    note = f'<p class="note">{_esc(table.note)}</p>' if table.note else ""
    return f"<table><caption>{_esc(table.title)}</caption><tr>{head}</tr>{body}</table>{note}"


def _figure(fig: Figure | bytes, caption: str) -> str:
    """A figure (or its PNG bytes) inlined as a data URI, with its caption."""
    data = base64.b64encode(fig if isinstance(fig, bytes) else plots.figure_png(fig)).decode("ascii")
    alt = _esc(caption)
    return f'<figure><img src="data:image/png;base64,{data}" alt="{alt}"><figcaption>{alt}</figcaption></figure>'


def _item(item: SectionItem) -> str:
    if isinstance(item, Table):
        return _table(item)
    if isinstance(item, Plot):
        return _figure(item.figure, item.caption)
    return item


def _anchor(title: str, taken: set[str]) -> str:
    """A unique id for a heading, from its words."""
    base = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-") or "section"
    anchor, i = base, 2
    while anchor in taken:
        anchor, i = f"{base}-{i}", i + 1
    taken.add(anchor)
    return anchor


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
        parts.append(_figure(plots.plot_passk(comp), f"pass@k, {a} vs {b}, with bootstrap 95% bands"))
        parts.append(_table(Table("Boundary numbers", ("quantity", "value", "detail"), rows)))
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


def _sections(inputs: ReportInputs, processes: int = 1) -> list[tuple[str, list[str], bool]]:
    """(title, HTML parts, collapsed) of every section, in page order (see the module docstring); the runs' curves
    are rendered in ``processes`` processes."""
    out: list[tuple[str, list[str], bool]] = []

    def add(section: Section) -> None:
        out.append((section.title, [_item(item) for item in section.items], section.collapsed))

    for section in inputs.sections:
        if section.lead:
            add(section)
    if inputs.tables:
        out.append(("Summary tables", [_table(t) for t in inputs.tables], False))
    if inputs.comparisons:
        out.append(("Reasoning boundary", _comparison_section(inputs), False))
    if inputs.eval_sets:
        hist = plots.plot_accuracy_histograms(inputs.histograms())
        parts = [
            _table(eval_table(inputs.eval_sets, inputs.strategy_rule)),
            _figure(hist, "per-problem accuracy (exactly 0 and exactly 1 have their own bins)"),
        ]
        out.append(("Evaluation", parts, False))
    if inputs.switches:
        out.append(("Strategy switches", _switch_section(inputs), False))
    if inputs.perplexity is not None:
        m = inputs.perplexity
        rows = tuple((src, *m.values[i].tolist()) for i, src in enumerate(m.sources))
        note = "rows: whose responses; columns: the model scoring them"
        parts = [
            _table(Table("Perplexity", ("responses of", *m.scorers), rows, note=note)),
            _figure(plots.plot_perplexity_matrix(m), "perplexity matrix"),
        ]
        out.append(("Perplexity", parts, False))
    for section in inputs.sections:
        if not section.lead:
            add(section)
    if inputs.runs:
        parts = [_table(run_table(inputs.runs)), '<p class="note">Each run\'s curves: open its line.</p>']
        for run, png in zip(inputs.runs, plots.training_curves_png(inputs.runs, processes), strict=True):
            figure = _figure(png, f"training curves of {run.name}")
            parts.append(f"<details><summary>{_esc(run.name)}</summary>{figure}</details>")
        out.append(("Training runs", parts, False))
    return out


def render_html(inputs: ReportInputs, title: str, processes: int = 1) -> str:
    """The whole page as one string; sections without data are left out. ``processes``: how many processes render
    the runs' training curves (the same page whatever it is)."""
    body = [f"<h1>{_esc(title)}</h1>"]
    if inputs.sources:
        body.append(
            '<p class="note">Read from: ' + ", ".join(f"<code>{_esc(s)}</code>" for s in inputs.sources) + "</p>"
        )
    if inputs.notes:
        body.append('<ul class="notes">' + "".join(f"<li>{_esc(n)}</li>" for n in inputs.notes) + "</ul>")
    sections = _sections(inputs, processes)
    taken: set[str] = set()
    anchors = [_anchor(name, taken) for name, _, _ in sections]
    if sections:
        entries = "".join(
            f'<li><a href="#{anchor}">{_esc(name)}</a></li>'
            for anchor, (name, _, _) in zip(anchors, sections, strict=True)
        )
        body.append(f'<nav class="toc"><strong>Contents</strong><ol>{entries}</ol></nav>')
    for anchor, (name, parts, collapsed) in zip(anchors, sections, strict=True):
        body.append(f'<h2 id="{anchor}">{_esc(name)}</h2>')
        content = "\n".join(parts)
        body.append(f"<details><summary>show</summary>{content}</details>" if collapsed else content)
    if not sections:
        body.append("<p>Nothing to report: no training runs, graded files or perplexities were found.</p>")
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<link rel="icon" href="data:,"><title>{_esc(title)}</title><style>{STYLE}</style></head>\n'
        "<body>\n" + "\n".join(body) + "\n</body></html>\n"
    )


def write_report(
    inputs: ReportInputs, out_dir: str | Path, title: str = "rlvr-lab report", processes: int = 1
) -> ReportFiles:
    """Write ``out_dir/report.html`` and ``out_dir/summary.json`` (the folder is created if missing); ``processes``
    render the runs' training curves (:func:`rlvr_lab.report.plots.training_curves_png`)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    files = ReportFiles(out / "report.html", out / "summary.json")
    files.html.write_text(render_html(inputs, title, processes), encoding="utf-8")
    summary = json.dumps(build_summary(inputs, title), indent=2, allow_nan=False, ensure_ascii=False)
    files.summary.write_text(summary + "\n", encoding="utf-8")
    return files
