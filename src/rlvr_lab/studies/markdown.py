"""Report tables as GitHub Markdown, for the README (the same :class:`~rlvr_lab.report.Table` the HTML shows)."""

from __future__ import annotations

import math
from typing import Any

from rlvr_lab.report import Table


def cell(value: Any, signed: bool = False) -> str:
    """Numbers to three decimals (``+`` on changes; two significant digits below 0.001, so a small clip fraction
    does not read as zero), missing values as an em dash, text escaped for tables."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float):
        spec = ".1e" if 0 < abs(value) < 0.001 else ".3f"
        return format(value, ("+" if signed else "") + spec)
    return str(value).replace("|", "\\|")


def _numeric(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def markdown_table(table: Table) -> str:
    """A heading line, the table, and its note in italics; changes (columns named Δ, but not their spread) are
    signed."""
    signed = ["Δ" in column and "std" not in column for column in table.columns]
    # a column holding numbers is right-aligned, one holding only text left-aligned
    right = [any(_numeric(row[i]) for row in table.rows) for i in range(len(table.columns))]
    lines = [
        f"**{table.title}**",
        "",
        "| " + " | ".join(table.columns) + " |",
        "|" + "|".join("---:" if numeric else "---" for numeric in right) + "|",
    ]
    for row in table.rows:
        lines.append("| " + " | ".join(cell(v, s) for v, s in zip(row, signed, strict=True)) + " |")
    if table.note:
        lines += ["", f"*{table.note}*"]
    return "\n".join(lines) + "\n"
