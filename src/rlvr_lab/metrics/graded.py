"""Read a graded Parquet file into per-problem arrays (the I/O edge of the metrics).

The grader writes one row per (problem, sample) with at least ``problem_id``, ``sample_idx``, ``answer``,
``correct`` (bool) and ``status``, and records its config in the Parquet schema metadata. This module turns that
into the ``(n, c)`` arrays the pure metrics take, plus per-sample answers (for maj@k) and the response texts (for
strategy labels) when the file carries a ``completion`` column or they are joined in from the sample file with
:meth:`GradedSamples.with_completions`.

A directory or glob of graded files (one per shard of a sharded sampling run) reads as one file.

Every data problem raises ``ValueError`` naming the file: missing columns, nulls in key columns, a non-boolean
``correct``, duplicate (problem_id, sample_idx) rows, and (on request, :meth:`GradedSamples.uniform_n`) problems
with different numbers of samples, which usually means an interrupted sampling run.
"""

from __future__ import annotations

import dataclasses
import glob
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from numpy.typing import NDArray

REQUIRED_COLUMNS = ("problem_id", "sample_idx", "answer", "correct", "status")


@dataclass(frozen=True)
class GradedSamples:
    """Per-problem view of one graded file; problems in order of first appearance, samples by ``sample_idx``."""

    path: Path
    problem_ids: tuple[str, ...]
    n: NDArray[np.int64]
    """``(P,)`` samples per problem."""
    c: NDArray[np.int64]
    """``(P,)`` correct samples per problem."""
    answers: tuple[tuple[str | None, ...], ...]
    """Extracted answer per sample (``None`` when none was found)."""
    correct: tuple[NDArray[np.bool_], ...]
    """Verdict per sample."""
    sample_idx: tuple[NDArray[np.int64], ...]
    """The ``sample_idx`` of each sample (sorted)."""
    completions: tuple[tuple[str, ...], ...] | None = None
    """Response texts per sample when the file has a ``completion`` column, else ``None``."""
    metadata: dict[str, Any] = field(default_factory=dict)
    """Parquet schema metadata (the grading config), JSON values decoded."""

    @property
    def num_problems(self) -> int:
        return len(self.problem_ids)

    def uniform_n(self) -> int:
        """The number of samples per problem; ``ValueError`` naming the file if problems differ."""
        values, counts = np.unique(self.n, return_counts=True)
        if values.size == 1:
            return int(values[0])
        n_min = int(values[0])
        example = self.problem_ids[int(np.flatnonzero(self.n == n_min)[0])]
        spread = ", ".join(f"n={int(v)} for {int(k)} problems" for v, k in zip(values, counts, strict=True))
        raise ValueError(
            f"{self.path}: problems have different numbers of samples ({spread}; e.g. {example!r} has {n_min}); "
            "was the sampling run interrupted? Resume it, or compare only k <= the smallest n"
        )

    def aligned(self, problem_ids: Sequence[str], other: str) -> GradedSamples:
        """This file's problems reordered to ``problem_ids``; ``ValueError`` naming both files if the sets differ."""
        index = {pid: i for i, pid in enumerate(self.problem_ids)}
        missing = [pid for pid in problem_ids if pid not in index]
        extra = set(index) - set(problem_ids)
        if missing or extra:
            raise ValueError(
                f"{self.path} and {other} cover different problems ({len(missing)} only in {other}, e.g. "
                f"{missing[:3]}; {len(extra)} only in {self.path}, e.g. {sorted(extra)[:3]}); a paired comparison "
                "needs the same problem set"
            )
        order = [index[pid] for pid in problem_ids]
        return GradedSamples(
            path=self.path,
            problem_ids=tuple(problem_ids),
            n=self.n[order],
            c=self.c[order],
            answers=tuple(self.answers[i] for i in order),
            correct=tuple(self.correct[i] for i in order),
            sample_idx=tuple(self.sample_idx[i] for i in order),
            completions=None if self.completions is None else tuple(self.completions[i] for i in order),
            metadata=self.metadata,
        )

    def with_completions(self, texts: Mapping[tuple[str, int], str], source: str) -> GradedSamples:
        """A copy with response texts looked up by (problem_id, sample_idx), e.g. from the sample file.

        ``ValueError`` naming ``source`` if a graded sample has no text there (grades and samples out of sync).
        """
        completions = []
        for pid, indices in zip(self.problem_ids, self.sample_idx, strict=True):
            try:
                completions.append(tuple(texts[(pid, int(i))] for i in indices))
            except KeyError as missing:
                raise ValueError(
                    f"{source}: no completion for graded sample {missing.args[0]} of {self.path}"
                ) from None
        return dataclasses.replace(self, completions=tuple(completions))


def _decode_metadata(raw: dict[bytes, bytes] | None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in (raw or {}).items():
        name = key.decode("utf-8", "replace")
        if name == "ARROW:schema":  # pyarrow's own serialised schema, not ours
            continue
        text = value.decode("utf-8", "replace")
        try:
            out[name] = json.loads(text)
        except json.JSONDecodeError:
            out[name] = text
    return out


def _column(table: pa.Table, name: str, path: Path) -> pa.Array:
    col = table.column(name).combine_chunks()
    if col.null_count:
        row = int(np.flatnonzero(col.is_null().to_numpy(zero_copy_only=False))[0])
        raise ValueError(f"{path}: row {row}: field {name!r} is null")
    return col


def _per_problem(values: list[Any], order: NDArray[np.int64], bounds: NDArray[np.int64]) -> tuple[tuple[Any, ...], ...]:
    """Reorder one value per row by ``order`` and cut it into per-problem tuples at ``bounds``."""
    arr = np.empty(len(values), dtype=object)
    arr[:] = values
    return tuple(tuple(chunk) for chunk in np.split(arr[order], bounds))


def graded_files(spec: str | Path) -> list[Path]:
    """The graded Parquet files ``spec`` names: one file, every ``*.parquet`` of a directory (graded shards),
    or a glob; ``FileNotFoundError`` when it names none."""
    path = Path(spec)
    if path.is_file():
        if path.suffix in (".jsonl", ".json", ".gz"):
            raise ValueError(
                f"{path} is a sample file, not a graded one: grade it first, `rlvr grade --problems ... --samples "
                f"{path} --out graded.parquet`, then pass the .parquet"
            )
        return [path]
    if path.is_dir():
        files = sorted(p for p in path.glob("*.parquet") if p.is_file())
        if not files:
            raise FileNotFoundError(f"{path}: directory holds no graded *.parquet file")
        return files
    files = sorted(Path(p) for p in glob.glob(str(spec)) if Path(p).is_file()) if glob.has_magic(str(spec)) else []
    if not files:
        raise FileNotFoundError(f"graded file {path} does not exist")
    return files


def load_graded(path: str | Path, completions: bool = True) -> GradedSamples:
    """Read a graded Parquet file, or several (:func:`graded_files`: the graded shards of one run, concatenated);
    see the module docstring for what is checked. ``completions=False`` leaves the response texts unread (pass@k
    needs only verdicts and answers, which keeps 512k graded samples small in memory)."""
    files = graded_files(path)
    path = Path(path)
    wanted = [*REQUIRED_COLUMNS, "completion"] if completions else list(REQUIRED_COLUMNS)
    try:
        tables = [pq.read_table(file, columns=[c for c in wanted if c in pq.read_schema(file).names]) for file in files]
        table = tables[0] if len(tables) == 1 else pa.concat_tables(tables, promote_options="permissive")
    except (pa.ArrowInvalid, pa.ArrowTypeError) as error:
        raise ValueError(f"{path}: graded files do not share their columns ({error})") from None
    missing = [col for col in REQUIRED_COLUMNS if col not in table.column_names]
    if missing:
        raise ValueError(f"{path}: missing column(s) {missing}; found {table.column_names}")
    if table.num_rows == 0:
        raise ValueError(f"{path}: no rows")
    correct_col = _column(table, "correct", path)
    if not pa.types.is_boolean(correct_col.type):
        raise ValueError(f"{path}: field 'correct' must be boolean, found {correct_col.type}")
    encoded = pc.dictionary_encode(pc.cast(_column(table, "problem_id", path), pa.string()))
    codes = encoded.indices.to_numpy(zero_copy_only=False).astype(np.int64)
    sample_idx = _column(table, "sample_idx", path).to_numpy(zero_copy_only=False).astype(np.int64)
    correct = correct_col.to_numpy(zero_copy_only=False).astype(bool)

    order = np.lexsort((sample_idx, codes))
    codes, sample_idx, correct = codes[order], sample_idx[order], correct[order]
    dup = np.flatnonzero((np.diff(codes) == 0) & (np.diff(sample_idx) == 0))
    problem_ids = tuple(encoded.dictionary.to_pylist())
    if dup.size:
        i = int(dup[0])
        raise ValueError(
            f"{path}: duplicate rows for problem {problem_ids[codes[i]]!r}, sample_idx {int(sample_idx[i])}"
        )

    n = np.bincount(codes, minlength=len(problem_ids)).astype(np.int64)
    c = np.bincount(codes, weights=correct, minlength=len(problem_ids)).astype(np.int64)
    bounds = np.cumsum(n)[:-1]
    answers = _per_problem(table.column("answer").to_pylist(), order, bounds)
    completions = None
    if "completion" in table.column_names:
        texts = [text or "" for text in table.column("completion").to_pylist()]
        completions = _per_problem(texts, order, bounds)
    return GradedSamples(
        path=path,
        problem_ids=problem_ids,
        n=n,
        c=c,
        answers=answers,
        correct=tuple(np.split(correct, bounds)),
        sample_idx=tuple(np.split(sample_idx, bounds)),
        completions=completions,
        metadata=_decode_metadata(pq.read_schema(files[0]).metadata),
    )
