"""Grade sample files into one graded Parquet file, streaming: the I/O edge of grading.

The samples are read batch by batch (:func:`rlvr_lab.store.iter_sample_batches`, token ids and log-probs never
read), each batch is graded by one shared :class:`~rlvr_lab.grading.grade.Grader` (its workers and verdict cache
last across batches) and appended to a Parquet writer. Memory therefore holds one batch of texts plus the verdict
cache and the key set, whatever the size of the store: pass@1024 on MATH-500 (512k samples) grades in well under
2 GB (``benchmarks/bench_store.py``). The output carries the samples' scalar columns (completion, finish_reason,
num_tokens, and those of foreign files, as found in the first batch) and, in its schema metadata, the grading
config and the inputs as JSON values. It is written beside ``out`` and renamed when complete, so a failed or
killed run never leaves a partial graded file.
"""

from __future__ import annotations

import dataclasses
import json
import os
import tempfile
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from rlvr_lab.grading.grade import Grader, grade_samples, status_counts
from rlvr_lab.store import TOKEN_COLUMNS, SampleStoreError, iter_sample_batches

if TYPE_CHECKING:
    from rlvr_lab.tasks.problem import Problem


@dataclass(frozen=True)
class GradedSummary:
    """What a graded file holds."""

    samples: int
    problems: int
    status: dict[str, int]
    """Samples per status (ok, no_answer, timeout, error)."""
    correct: int

    @property
    def accuracy(self) -> float:
        return self.correct / self.samples if self.samples else 0.0


def plain(value: Any) -> Any:
    """JSON-ready copy of configs, field maps, paths and tuples."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {field.name: plain(getattr(value, field.name)) for field in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [plain(item) for item in value]
    if isinstance(value, Path):
        return str(value)
    return value


def grade_to_parquet(
    problems: Mapping[str, Problem],
    samples: str | Path,
    out: Path,
    grader: Grader,
    metadata: Mapping[str, Any],
    progress: Callable[[int], None] | None = None,
) -> GradedSummary:
    """Grade every sample of ``samples`` (a file, a directory of shards, or a glob) into ``out``.

    ``metadata`` values are stored as JSON in the schema metadata. ``progress`` gets the number of samples just
    graded. Errors (a sample of an unknown problem, a malformed line) raise before ``out`` exists.
    """
    import pyarrow.parquet as pq

    encoded = {key.encode(): json.dumps(plain(value)).encode() for key, value in metadata.items()}
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise OSError(f"--out {out}: cannot create {out.parent} ({error.strerror}); choose a writable folder") from None
    # A unique temporary name: two runs with one --out each write their own file, and the last rename wins whole.
    try:
        fd, tmp_name = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent)
    except OSError as error:
        raise OSError(
            f"--out {out}: cannot write in {out.parent} ({error.strerror}); choose a writable folder"
        ) from None
    os.fchmod(fd, 0o644)  # mkstemp's 0600 would make the graded file private to its writer
    os.close(fd)
    tmp = Path(tmp_name)
    writer: pq.ParquetWriter | None = None
    carried: pa.Schema | None = None
    counts: Counter[str] = Counter()
    problem_ids: set[str] = set()
    rows = correct = 0
    try:
        for batch in iter_sample_batches(samples, exclude=TOKEN_COLUMNS):
            columns = (batch[name].to_pylist() for name in ("problem_id", "sample_idx", "completion"))
            graded = grade_samples(problems, zip(*columns, strict=True), grader=grader, start=rows)
            if carried is None:
                carried = pa.schema(
                    [f for f in batch.schema if f.name not in graded.column_names and not pa.types.is_nested(f.type)]
                )
            graded = _with_columns(graded, batch, carried, samples)
            graded = graded.append_column("answer_only", _answer_only(batch["completion"], graded["correct"]))
            if writer is None:
                writer = pq.ParquetWriter(tmp, graded.schema.with_metadata(encoded))
            writer.write_table(graded)
            counts.update(status_counts(graded))
            problem_ids.update(batch["problem_id"].to_pylist())
            correct += sum(graded["correct"].to_pylist())
            rows += graded.num_rows
            if progress is not None:
                progress(graded.num_rows)
        if writer is not None:
            writer.close()
            writer = None
        os.replace(tmp, out)
    finally:
        if writer is not None:
            writer.close()
        tmp.unlink(missing_ok=True)
    return GradedSummary(samples=rows, problems=len(problem_ids), status=dict(counts), correct=correct)


def _with_columns(graded: pa.Table, batch: pa.Table, carried: pa.Schema, source: str | Path) -> pa.Table:
    """``graded`` with the batch's columns of ``carried`` appended (nulls where a batch lacks one)."""
    for field in carried:
        if field.name in batch.column_names:
            try:
                column = batch[field.name].cast(field.type)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as err:
                raise SampleStoreError(f"{source}: field {field.name!r} changes type between rows ({err})") from None
        else:
            column = pa.nulls(batch.num_rows, field.type)
        graded = graded.append_column(field, column)
    return graded


def _answer_only(completions: pa.ChunkedArray, correct: pa.ChunkedArray) -> pa.Array:
    """A correct answer with no reasoning before it (:func:`rlvr_lab.grading.reasoning.is_answer_only`): the
    lucky guesses a real model's graded file flags for a reader to inspect."""
    from rlvr_lab.grading.reasoning import is_answer_only

    flags = [
        bool(ok) and is_answer_only(text or "")
        for text, ok in zip(completions.to_pylist(), correct.to_pylist(), strict=True)
    ]
    return pa.array(flags, pa.bool_())
