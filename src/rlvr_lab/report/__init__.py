"""The report: plots (:mod:`.plots`), inputs found on disk (:mod:`.inputs`, :mod:`.runs`), ``summary.json``
(:mod:`.summary`) and the self-contained HTML page (:mod:`.html`)."""

from rlvr_lab.report.html import ReportFiles, render_html, write_report
from rlvr_lab.report.inputs import Plot, ReportInputs, Section, Table, collect_inputs
from rlvr_lab.report.runs import TrainingRun, load_run

__all__ = [
    "Plot",
    "ReportFiles",
    "ReportInputs",
    "Section",
    "Table",
    "TrainingRun",
    "collect_inputs",
    "load_run",
    "render_html",
    "write_report",
]
