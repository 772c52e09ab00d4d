"""What a report shows, and how ``rlvr report`` finds it on disk.

:class:`ReportInputs` is the whole content of a report as computed results; the demo builds one in code, and
:func:`collect_inputs` builds one from folders. For each path given, it looks for:

- **a training run**: ``metrics.jsonl`` (and optionally ``config.yaml``) directly in the folder -> training curves;
- **graded files**: every ``*.parquet`` below the folder (or the path itself, if it is a file) whose columns
  include the ``rlvr grade`` contract (problem_id, sample_idx, answer, correct, status) -> an evaluation set named
  ``<folder>/<relative path>`` without ``.parquet`` and a ``.graded`` suffix (``eval/rl.graded.parquet`` ->
  ``eval/rl``). Other Parquet files (sample stores) are skipped;
- **response texts** of a graded file ``<stem>.parquet`` or ``<stem>.graded.parquet``, for strategy labels: its
  ``completion`` column, else the first sibling sample file of ``<stem>.samples.jsonl``, ``<stem>.samples.parquet``,
  ``<stem>.jsonl`` (read with :func:`rlvr_lab.store.read_sample_table`);
- **a perplexity matrix**: ``perplexity.json`` as written by :meth:`PerplexityMatrix.as_dict`.

One evaluation set is the **base**: the one named by ``base`` (full name or file stem), else the first whose stem
is ``base``, else the first found. Every other set on the same problems is compared with it (pass@k with bands,
coverage, ΔSE, crossover k) and, when both have texts, gets a strategy-switch table base -> set. Sets on other
problems are listed but not compared; a note says so.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow.parquet as pq
from matplotlib.figure import Figure

from rlvr_lab.analysis.comparison import ModelComparison, compare_models
from rlvr_lab.analysis.perplexity import PerplexityMatrix
from rlvr_lab.analysis.strategy import StrategyRule
from rlvr_lab.analysis.switches import SwitchTable, code_shares, strategy_switches
from rlvr_lab.metrics import (
    AccuracyHistogram,
    GradedSamples,
    accuracy_histogram,
    load_graded,
    maj_at_k_matrix,
    pass_at_k_curve,
)
from rlvr_lab.metrics.graded import REQUIRED_COLUMNS
from rlvr_lab.report.runs import TrainingRun, is_run_dir, load_run

if TYPE_CHECKING:
    from matplotlib.figure import Figure

SAMPLE_SUFFIXES = (".samples.jsonl", ".samples.parquet", ".jsonl")
GRADED_SUFFIXES = (".graded", "_graded", "-graded")


@dataclass(frozen=True)
class Table:
    """A plain table for the HTML page and ``summary.json``; cells are strings or numbers (None = empty)."""

    title: str
    columns: tuple[str, ...]
    rows: tuple[tuple[Any, ...], ...]
    note: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {"title": self.title, "columns": list(self.columns), "rows": [list(r) for r in self.rows]}


@dataclass(frozen=True)
class Plot:
    """A figure with its caption, as a section item."""

    figure: Figure
    caption: str


SectionItem = str | Table | Plot
"""What a section holds, in order: a ``str`` is an HTML fragment written by code (escape any data in it with
``html.escape``), a :class:`Table` becomes an HTML table, a :class:`Plot` an embedded PNG with its caption."""


@dataclass(frozen=True)
class Section:
    """One titled part of the report, added by a study (see :mod:`rlvr_lab.report.html` for where it appears)."""

    title: str
    items: tuple[SectionItem, ...]
    lead: bool = False
    """True: shown among the findings at the top of the page; False: after the built-in results, before the
    per-run training curves."""
    collapsed: bool = False
    """True: the items sit in a closed ``<details>`` block under the heading."""


@dataclass(frozen=True)
class ReportInputs:
    """Everything one report shows; every part may be empty."""

    runs: tuple[TrainingRun, ...] = ()
    eval_sets: tuple[tuple[str, GradedSamples], ...] = ()
    """(name, graded samples) pairs; the base first."""
    comparisons: tuple[ModelComparison, ...] = ()
    switches: tuple[tuple[str, SwitchTable], ...] = ()
    """(title, table) pairs, e.g. ("base → rl", table)."""
    perplexity: PerplexityMatrix | None = None
    tables: tuple[Table, ...] = ()
    """Extra tables shown first, under "Summary tables" (and in ``summary.json``); the run and evaluation-set tables
    are built from ``runs`` and ``eval_sets``."""
    sections: tuple[Section, ...] = ()
    """Studies' own sections (findings with their figures, study-specific results); their tables also go into
    ``summary.json``."""
    strategy_rule: StrategyRule = "contains_python"
    """How responses are labelled code (see :mod:`rlvr_lab.analysis.strategy`)."""
    sources: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)
    """Merged into ``summary.json`` as is."""

    def histograms(self) -> dict[str, AccuracyHistogram]:
        return {name: accuracy_histogram(g.n, g.c) for name, g in self.eval_sets}


def eval_table(eval_sets: Sequence[tuple[str, GradedSamples]], rule: StrategyRule = "contains_python") -> Table:
    """One row per evaluation set: problems, n, pass@1 (= avg@n), maj@n, pass@n, code frequency (if texts)."""
    rows = []
    for name, g in eval_sets:
        n = int(g.n.min())
        p1, pn = pass_at_k_curve(g.n, g.c, [1, n])
        maj = float(maj_at_k_matrix(g.answers, g.correct, [n]).mean())
        code = None if g.completions is None else float(code_shares(g.completions, rule).mean())
        rows.append((name, g.num_problems, n, float(p1), maj, float(pn), code))
    columns = ("set", "problems", "n", "pass@1", "maj@n", "pass@n", "code freq.")
    return Table("Evaluation sets", columns, tuple(rows), note=f"code frequency by the {rule!r} rule")


def run_table(runs: Sequence[TrainingRun]) -> Table:
    """One row per training run: steps logged, eval accuracy and code frequency first -> last, last reward."""

    def span(run: TrainingRun, key: str) -> str | None:
        first, last = run.first(key), run.last(key)
        return None if first is None or last is None else f"{first:.3f} → {last:.3f}"

    rows = []
    for run in runs:
        steps = max((int(s.steps.max()) for s in run.series.values() if s.steps.size), default=None)
        reward = run.last("reward/mean")
        rows.append((run.name, steps, span(run, "eval/accuracy"), span(run, "strategy/code_frequency"), reward))
    columns = ("run", "last step", "eval accuracy", "code frequency", "last reward/mean")
    return Table("Training runs", columns, tuple(rows))


def _is_graded(path: Path) -> bool:
    names = set(pq.read_schema(path).names)
    return all(column in names for column in REQUIRED_COLUMNS)


def _strip_graded(name: str) -> str:
    """``rl.graded.parquet`` -> ``rl``: the name of an evaluation set and the stem of its sample file."""
    name = name.removesuffix(".parquet")
    for suffix in GRADED_SUFFIXES:
        name = name.removesuffix(suffix)
    return name


def _attach_texts(graded: GradedSamples) -> GradedSamples:
    if graded.completions is not None:
        return graded
    from rlvr_lab.store import read_sample_table

    stem = _strip_graded(graded.path.name)
    for suffix in SAMPLE_SUFFIXES:
        candidate = graded.path.with_name(stem + suffix)
        if candidate.is_file():
            table = read_sample_table(candidate, columns=[])
            keys = zip(table["problem_id"].to_pylist(), table["sample_idx"].to_pylist(), strict=True)
            texts = dict(zip(keys, table["completion"].to_pylist(), strict=True))
            return graded.with_completions(texts, str(candidate))
    return graded


def _find(root: Path) -> tuple[TrainingRun | None, list[tuple[str, GradedSamples]], PerplexityMatrix | None]:
    if not root.exists():
        raise FileNotFoundError(f"{root} does not exist")
    if root.is_file():
        return None, [(_strip_graded(root.name), _attach_texts(load_graded(root)))], None
    run = load_run(root) if is_run_dir(root) else None
    found = []
    for path in sorted(root.rglob("*.parquet")):
        if _is_graded(path):
            name = f"{root.name}/{_strip_graded(path.relative_to(root).as_posix())}"
            found.append((name, _attach_texts(load_graded(path))))
    perplexity = None
    if (root / "perplexity.json").is_file():
        record = json.loads((root / "perplexity.json").read_text(encoding="utf-8"))
        try:
            values = np.asarray(record["perplexity"], dtype=np.float64)
            perplexity = PerplexityMatrix(tuple(record["responses_of"]), tuple(record["scored_by"]), values)
        except (KeyError, TypeError, ValueError) as error:
            raise ValueError(f"{root / 'perplexity.json'}: not a perplexity matrix ({error})") from None
    return run, found, perplexity


def _pick_base(eval_sets: list[tuple[str, GradedSamples]], base: str | None) -> int:
    def stem(name: str) -> str:
        return name.rsplit("/", 1)[-1].split(".")[0]

    if base is not None:
        for i, (name, _) in enumerate(eval_sets):
            if base in (name, stem(name)):
                return i
        raise ValueError(f"--base {base!r} matches no evaluation set; found: {[name for name, _ in eval_sets]}")
    return next((i for i, (name, _) in enumerate(eval_sets) if stem(name) == "base"), 0)


def collect_inputs(
    paths: Sequence[str | Path],
    base: str | None = None,
    resamples: int = 1000,
    seed: int = 0,
    rule: StrategyRule = "contains_python",
) -> ReportInputs:
    """Find runs, graded files, texts and perplexities under ``paths`` and compute the comparisons."""
    runs: list[TrainingRun] = []
    eval_sets: list[tuple[str, GradedSamples]] = []
    perplexity = None
    for root in map(Path, paths):
        run, found, matrix = _find(root)
        runs.extend([run] if run else [])
        eval_sets.extend(found)
        perplexity = matrix or perplexity
    notes: list[str] = []
    comparisons, switches = [], []
    if eval_sets:
        eval_sets.insert(0, eval_sets.pop(_pick_base(eval_sets, base)))
        base_name, base_set = eval_sets[0]
        for name, other in eval_sets[1:]:
            try:
                comparisons.append(compare_models(base_set, other, base_name, name, resamples, seed))
            except ValueError as error:
                notes.append(f"{name} not compared with {base_name}: {error}")
                continue
            aligned = other.aligned(base_set.problem_ids, other=str(base_set.path))
            if base_set.completions is not None and aligned.completions is not None:
                table = strategy_switches(
                    code_shares(base_set.completions, rule),
                    base_set.c / base_set.n,
                    code_shares(aligned.completions, rule),
                    aligned.c / aligned.n,
                )
                switches.append((f"{base_name} → {name}", table))
            else:
                notes.append(f"no strategy switches {base_name} → {name}: response texts not found")
    return ReportInputs(
        runs=tuple(runs),
        eval_sets=tuple(eval_sets),
        comparisons=tuple(comparisons),
        switches=tuple(switches),
        perplexity=perplexity,
        strategy_rule=rule,
        sources=tuple(str(p) for p in paths),
        notes=tuple(notes),
    )
