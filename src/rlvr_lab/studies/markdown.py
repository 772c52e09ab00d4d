"""Report tables as GitHub Markdown, for the README (the same :class:`~rlvr_lab.report.Table` the HTML shows)."""

from __future__ import annotations

import math
from typing import Any

from rlvr_lab.report import Table


def cell(value: Any, signed: bool = False) -> str:
    """Numbers to three decimals (``+`` on changes), missing values as an em dash, text escaped for tables."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float):
        return f"{value:+.3f}" if signed else f"{value:.3f}"
    return str(value).replace("|", "\\|")


def markdown_table(table: Table) -> str:
    """A heading line, the table, and its note in italics; changes (columns named Δ, but not their spread) are
    signed."""
    signed = ["Δ" in column and "std" not in column for column in table.columns]
    lines = [
        f"**{table.title}**",
        "",
        "| " + " | ".join(table.columns) + " |",
        "|" + "|".join("---" if i == 0 else "---:" for i in range(len(table.columns))) + "|",
    ]
    for row in table.rows:
        lines.append("| " + " | ".join(cell(v, s) for v, s in zip(row, signed, strict=True)) + " |")
    if table.note:
        lines += ["", f"*{table.note}*"]
    return "\n".join(lines) + "\n"
