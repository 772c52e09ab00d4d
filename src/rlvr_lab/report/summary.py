"""``summary.json``: the report's numbers in one machine-readable object.

Strict JSON: NaN and infinities (an empty group's accuracy, an undefined contribution) become ``null``, numpy
scalars become plain numbers. pass@k curves are kept at k = 1, 2, 4, ... and n only; ``rlvr compare`` writes every
k when a full curve is wanted.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from rlvr_lab.analysis.switches import code_shares
from rlvr_lab.metrics import maj_at_k_matrix, pass_at_k_curve, powers_of_two
from rlvr_lab.report.inputs import ReportInputs, Table


def jsonable(value: Any) -> Any:
    """Recursively turn numpy values into Python ones and non-finite floats into None."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return jsonable(value.tolist())
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _ks(n: int) -> list[int]:
    return sorted(set(powers_of_two(n)) | {n})


def build_summary(inputs: ReportInputs, title: str) -> dict[str, Any]:
    """The summary object; see the module docstring."""
    runs = {
        run.name: {
            "path": str(run.path),
            "config": run.config,
            "first": {key: run.first(key) for key in sorted(run.series)},
            "last": {key: run.last(key) for key in sorted(run.series)},
        }
        for run in inputs.runs
    }
    eval_sets = {}
    for name, g in inputs.eval_sets:
        n = int(g.n.min())
        curve = pass_at_k_curve(g.n, g.c, _ks(n))
        eval_sets[name] = {
            "path": str(g.path),
            "problems": g.num_problems,
            "n": n,
            "pass_at_k": {str(k): v for k, v in zip(_ks(n), curve, strict=True)},
            "maj_at_n": float(maj_at_k_matrix(g.answers, g.correct, [n]).mean()),
            "code_frequency": None
            if g.completions is None
            else float(code_shares(g.completions, inputs.strategy_rule).mean()),
            "metadata": g.metadata,
        }
    comparisons = []
    for comp in inputs.comparisons:
        record = comp.as_dict()
        record.pop("bands")
        for label, n in ((comp.label_a, comp.n_a), (comp.label_b, comp.n_b)):
            record["pass_at_k"][label] = {str(k): record["pass_at_k"][label][str(k)] for k in _ks(n)}
        comparisons.append(record)
    summary = {
        "title": title,
        "sources": list(inputs.sources),
        "notes": list(inputs.notes),
        "strategy_rule": inputs.strategy_rule,
        "runs": runs,
        "eval_sets": eval_sets,
        "comparisons": comparisons,
        "strategy_switches": [{"title": t, **table.as_dict()} for t, table in inputs.switches],
        "perplexity": None if inputs.perplexity is None else inputs.perplexity.as_dict(),
        "tables": [table.as_dict() for table in inputs.tables]
        + [item.as_dict() for section in inputs.sections for item in section.items if isinstance(item, Table)],
        **inputs.extra,
    }
    return jsonable(summary)
