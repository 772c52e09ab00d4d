"""The sample store: an append-only JSONL file of completions keyed by (problem id, sample index).

Layout: the first line is a header record (``"type": "header"``) holding what made the samples: model, engine,
the full prompt template, the sampling config, the problem set, the seed, when, and the rlvr-lab version. Every
later line is one sample: ``problem_id``, ``sample_idx``, ``completion``, ``token_ids``, ``logprobs``,
``finish_reason``, ``num_tokens``. JSONL rather than Parquet because appends are cheap, a killed writer leaves at
most one partial line, and any tool can read it; :func:`read_sample_table` turns it into an Arrow table (and
reads JSONL or Parquet sample files written by other tools).

Crash safety, so that a run killed at any moment resumes with nothing lost or duplicated:
- a batch is appended as whole lines through an unbuffered ``O_APPEND`` descriptor, then fsynced: after a kill
  the file is a prefix of what was written, i.e. complete lines plus at most one partial last line;
- opening a store cuts off a partial (no newline) or unparseable last line by truncating back to the last good
  newline; its sample is then simply missing and gets regenerated. A bad line *before* the last is not a kill
  artefact and raises, naming the line;
- keys already stored are refused, also within one batch, so duplicates cannot be written;
- opening an existing file checks that its header describes the same run (model, engine, template, sampling,
  problems, seed) and says what differs otherwise; the rlvr-lab version and creation time are not compared;
- an exclusive ``flock`` keeps two processes from appending to one file (POSIX only).
"""

from __future__ import annotations

import dataclasses
import fcntl
import json
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from rlvr_lab import __version__

if TYPE_CHECKING:  # the store itself needs neither torch nor the engines (``rlvr grade`` reads stores)
    from rlvr_lab.engines.base import Completion, SamplingConfig
    from rlvr_lab.prompts import PromptTemplate

HEADER_TYPE = "header"
REQUIRED_COLUMNS = ("problem_id", "sample_idx", "completion")
COLUMN_TYPES: dict[str, pa.DataType] = {
    "problem_id": pa.string(),
    "sample_idx": pa.int64(),
    "completion": pa.string(),
    "token_ids": pa.list_(pa.int64()),
    "logprobs": pa.list_(pa.float64()),
    "finish_reason": pa.string(),
    "num_tokens": pa.int64(),
}
"""Arrow types of the store's own columns; other columns of foreign files are inferred."""


class SampleStoreError(ValueError):
    """A sample file is malformed, locked, or belongs to another run."""


def _jsonable(value: Any) -> Any:
    """``value`` as it reads back from JSON (tuples become lists), so headers compare equal after a round trip."""
    return json.loads(json.dumps(value))


@dataclass(frozen=True)
class StoreHeader:
    """Everything that made the samples in a store; the first line of the file."""

    model: str
    """Model spec as given to ``load_model``."""
    engine: str
    """Engine name."""
    template: dict[str, Any]
    """The full prompt template (``PromptTemplate.to_dict()``)."""
    sampling: dict[str, Any]
    """The full sampling config (n, temperature, top-p, top-k, max new tokens, seed, stop token ids)."""
    problems: str
    """The problem set: spec and split (not ``--limit``, so a later run may extend the store to more problems)."""
    seed: int
    """Sampling seed (also in ``sampling``; repeated here because every result file names its seed)."""
    created_at: str
    """UTC time the store was created, ISO 8601."""
    rlvr_version: str
    """rlvr-lab version that created the store."""
    dtype: str = "float32"
    """Compute dtype of the sampler (float32, bfloat16): the samples differ between dtypes. Stores written before
    this field existed were sampled in float32."""

    IDENTITY = ("model", "engine", "template", "sampling", "problems", "seed", "dtype")
    """The fields two runs must share to write into one store."""

    @classmethod
    def for_run(
        cls,
        *,
        model: str,
        engine: str,
        template: PromptTemplate,
        sampling: SamplingConfig,
        problems: str,
        dtype: str = "float32",
    ) -> StoreHeader:
        """The header a run would write now."""
        return cls(
            model=model,
            engine=engine,
            template=_jsonable(template.to_dict()),
            sampling=_jsonable(dataclasses.asdict(sampling)),
            problems=problems,
            seed=sampling.seed,
            created_at=datetime.now(UTC).isoformat(timespec="seconds"),
            rlvr_version=__version__,
            dtype=dtype,
        )

    def to_record(self) -> dict[str, Any]:
        return {"type": HEADER_TYPE, **dataclasses.asdict(self)}

    @classmethod
    def from_record(cls, record: dict[str, Any], where: str) -> StoreHeader:
        fields = dataclasses.fields(cls)
        missing = [f.name for f in fields if f.name not in record and f.default is dataclasses.MISSING]
        if missing:
            raise SampleStoreError(f"{where}: header lacks field(s) {missing}")
        return cls(**{f.name: record[f.name] for f in fields if f.name in record})

    def differences(self, other: StoreHeader) -> list[str]:
        """Human-readable differences in identity fields, ``self`` being the file and ``other`` the run."""
        diffs: list[str] = []
        for name in self.IDENTITY:
            mine, theirs = getattr(self, name), getattr(other, name)
            if isinstance(mine, dict) and isinstance(theirs, dict):
                for key in sorted(set(mine) | set(theirs)):
                    if mine.get(key) != theirs.get(key):
                        diffs.append(f"{name}.{key}: file has {mine.get(key)!r}, this run has {theirs.get(key)!r}")
            elif mine != theirs:
                diffs.append(f"{name}: file has {mine!r}, this run has {theirs!r}")
        return diffs


@dataclass(frozen=True)
class StoredSample:
    """One line of the store."""

    problem_id: str
    sample_idx: int
    completion: str
    token_ids: list[int]
    logprobs: list[float]
    finish_reason: str
    num_tokens: int

    @classmethod
    def from_completion(cls, problem_id: str, completion: Completion) -> StoredSample:
        return cls(
            problem_id=problem_id,
            sample_idx=completion.sample_index,
            completion=completion.text,
            token_ids=list(completion.token_ids),
            logprobs=list(completion.logprobs),
            finish_reason=completion.finish_reason,
            num_tokens=completion.num_tokens,
        )


# ---------------------------------------------------------------------------------------------- row checks


def _check_key(row: Any, where: str) -> tuple[str, int]:
    """The (problem_id, sample_idx) of a parsed sample line, after checking the three required fields."""
    if not isinstance(row, dict):
        raise SampleStoreError(f"{where}: expected a JSON object, got {type(row).__name__}")
    for name in REQUIRED_COLUMNS:
        if name not in row:
            raise SampleStoreError(f"{where}: field {name!r} missing")
    pid, idx = row["problem_id"], row["sample_idx"]
    if isinstance(pid, bool) or not isinstance(pid, str | int):
        raise SampleStoreError(f"{where}: field 'problem_id' must be a string, got {type(pid).__name__}")
    if isinstance(idx, bool) or not isinstance(idx, int) or idx < 0:
        raise SampleStoreError(f"{where}: field 'sample_idx' must be an integer >= 0, got {idx!r}")
    if not isinstance(row["completion"], str):
        raise SampleStoreError(f"{where}: field 'completion' must be a string, got {type(row['completion']).__name__}")
    return str(pid), idx


def _scan_lines(path: Path) -> Iterator[tuple[int, int, bytes, Any]]:
    """Yield ``(line number, byte offset, raw line, parsed JSON or None if it does not parse)``."""
    offset = 0
    with path.open("rb") as handle:
        for line_no, raw in enumerate(handle, start=1):
            try:
                parsed = json.loads(raw)
            except ValueError:
                parsed = None
            yield line_no, offset, raw, parsed
            offset += len(raw)


# ---------------------------------------------------------------------------------------------- the store


class SampleStore:
    """An open, locked, append-only store. Use :meth:`open`, and close it (or use it as a context manager)."""

    def __init__(self, path: Path, fd: int, header: StoreHeader, keys: set[tuple[str, int]], dropped: int) -> None:
        self.path = path
        self.header = header
        """The file's header (its ``created_at`` is the original one)."""
        self.dropped_bytes = dropped
        """Bytes of a partial last record cut off when the store was opened (0 if the file was intact)."""
        self._fd = fd
        self._keys = keys

    @classmethod
    def open(cls, path: Path, header: StoreHeader) -> SampleStore:
        """Create the store with ``header``, or reopen it: repair a partial last line, check the header matches."""
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise SampleStoreError(f"{path} is being written by another process") from None
        try:
            file_header, keys, good_end = cls._read_existing(path)
            dropped = os.fstat(fd).st_size - good_end
            if dropped:
                os.ftruncate(fd, good_end)
                os.fsync(fd)
            if file_header is None:
                _write_all(fd, _encode([header.to_record()]))
                os.fsync(fd)
                _fsync_dir(path.parent)
                file_header = header
            else:
                diffs = file_header.differences(header)
                if diffs:
                    raise SampleStoreError(
                        f"{path} holds samples of a different run; write to another file or repeat its settings. "
                        "Differences: " + "; ".join(diffs)
                    )
        except BaseException:
            os.close(fd)
            raise
        return cls(path, fd, file_header, keys, dropped)

    @staticmethod
    def _read_existing(path: Path) -> tuple[StoreHeader | None, set[tuple[str, int]], int]:
        """Header, stored keys, and the byte length of the good prefix (everything but a bad last line)."""
        header: StoreHeader | None = None
        keys: set[tuple[str, int]] = set()
        good_end = 0
        bad_line: int | None = None
        for line_no, offset, raw, parsed in _scan_lines(path):
            if bad_line is not None:
                raise SampleStoreError(f"{path}:{bad_line}: corrupt record before the last line; not a kill artefact")
            if parsed is None or not raw.endswith(b"\n"):
                bad_line, good_end = line_no, offset
                continue
            where = f"{path}:{line_no}"
            if line_no == 1:
                if not (isinstance(parsed, dict) and parsed.get("type") == HEADER_TYPE):
                    raise SampleStoreError(f"{where}: first line is not a sample-store header")
                header = StoreHeader.from_record(parsed, where)
            else:
                key = _check_key(parsed, where)
                if key in keys:
                    raise SampleStoreError(f"{where}: duplicate sample {key}")
                keys.add(key)
            good_end = offset + len(raw)
        return header, keys, good_end

    # -------------------------------------------------------------------------------------------- queries

    def __len__(self) -> int:
        return len(self._keys)

    def __contains__(self, key: object) -> bool:
        return key in self._keys

    def missing(self, problem_ids: Sequence[str], n: int) -> dict[str, tuple[int, ...]]:
        """For each problem (in the given order) the sample indices in ``0..n-1`` not yet stored; complete
        problems are left out."""
        wanted: dict[str, tuple[int, ...]] = {}
        for pid in problem_ids:
            todo = tuple(idx for idx in range(n) if (pid, idx) not in self._keys)
            if todo:
                wanted[pid] = todo
        return wanted

    # -------------------------------------------------------------------------------------------- writes

    def append(self, samples: Sequence[StoredSample]) -> None:
        """Append a batch durably (flushed and fsynced); any key already stored, or repeated, raises first."""
        batch: set[tuple[str, int]] = set()
        for sample in samples:
            key = (sample.problem_id, sample.sample_idx)
            if key in self._keys or key in batch:
                raise SampleStoreError(f"{self.path}: sample {key} is already stored")
            batch.add(key)
        data = _encode([dataclasses.asdict(sample) for sample in samples])
        end = os.fstat(self._fd).st_size
        try:
            _write_all(self._fd, data)
            os.fsync(self._fd)
        except BaseException:
            os.ftruncate(self._fd, end)  # never leave half a batch in front of the next one
            raise
        self._keys |= batch

    def close(self) -> None:
        """Release the lock; further appends fail."""
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def __enter__(self) -> SampleStore:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def _encode(records: Sequence[dict[str, Any]]) -> bytes:
    # ASCII escapes: any str, even one with lone surrogates from a byte-level decode, encodes; newlines never split
    return b"".join(json.dumps(record).encode("ascii") + b"\n" for record in records)


def _write_all(fd: int, data: bytes) -> None:
    """``os.write`` until every byte is written (a single call may write fewer)."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _fsync_dir(folder: Path) -> None:
    """Make a new file's directory entry durable too."""
    dir_fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


# ---------------------------------------------------------------------------------------------- reading


def read_header(path: Path) -> StoreHeader | None:
    """The header of a sample store; None for a sample file without one (e.g. Parquet from another tool)."""
    if path.suffix == ".parquet":
        return None
    with path.open("rb") as handle:
        first = handle.readline()
    try:
        record = json.loads(first)
    except ValueError:
        return None
    if isinstance(record, dict) and record.get("type") == HEADER_TYPE:
        return StoreHeader.from_record(record, f"{path}:1")
    return None


def read_sample_table(path: Path) -> pa.Table:
    """Samples as an Arrow table with at least ``problem_id`` (string), ``sample_idx`` (int64), ``completion``.

    Reads our JSONL stores (header skipped), other JSONL files, and Parquet. Errors name the file, line (or row)
    and field; duplicate (problem_id, sample_idx) pairs raise. A partial last line (no newline, not JSON) is
    an interrupted write and is skipped, as the store itself would drop it.
    """
    if not path.is_file():
        raise SampleStoreError(f"{path}: no such sample file")
    if path.suffix == ".parquet":
        return _read_parquet(path)
    rows: list[dict[str, Any]] = []
    seen: dict[tuple[str, int], int] = {}
    for line_no, _, raw, parsed in _scan_lines(path):
        if not raw.strip():
            continue
        if parsed is None:
            if raw.endswith(b"\n"):
                raise SampleStoreError(f"{path}:{line_no}: invalid JSON")
            continue  # no newline and not JSON: the last record of a killed writer
        if line_no == 1 and isinstance(parsed, dict) and parsed.get("type") == HEADER_TYPE:
            continue
        key = _check_key(parsed, f"{path}:{line_no}")
        if key in seen:
            raise SampleStoreError(f"{path}:{line_no}: duplicate sample {key} (first at line {seen[key]})")
        seen[key] = line_no
        rows.append({**parsed, "problem_id": key[0]})
    return _to_table(rows, path)


def _to_table(rows: list[dict[str, Any]], path: Path) -> pa.Table:
    """Columns in first-seen order (required ones first); the store's own columns get fixed types."""
    names = dict.fromkeys([*REQUIRED_COLUMNS, *(key for row in rows for key in row)])
    columns = {}
    for name in names:
        try:
            columns[name] = pa.array([row.get(name) for row in rows], type=COLUMN_TYPES.get(name))
        except (pa.ArrowInvalid, pa.ArrowTypeError) as err:
            raise SampleStoreError(f"{path}: field {name!r} has values of mixed or wrong types ({err})") from None
    return pa.table(columns)


def _read_parquet(path: Path) -> pa.Table:
    import pyarrow.parquet as pq

    table = pq.read_table(path)
    for name in REQUIRED_COLUMNS:
        if name not in table.column_names:
            raise SampleStoreError(f"{path}: field {name!r} missing (columns: {table.column_names})")
    accepted = {
        "problem_id": (pa.types.is_string, pa.types.is_large_string, pa.types.is_integer),
        "sample_idx": (pa.types.is_integer,),
        "completion": (pa.types.is_string, pa.types.is_large_string),
    }
    for name, checks in accepted.items():
        column_type = table.schema.field(name).type
        if not any(check(column_type) for check in checks):
            raise SampleStoreError(f"{path}: field {name!r} has type {column_type}")
    for name in ("problem_id", "sample_idx"):
        index = table.schema.get_field_index(name)
        table = table.set_column(index, name, table[name].cast(COLUMN_TYPES[name]))
    seen: dict[tuple[str, int], int] = {}
    keys = zip(table["problem_id"].to_pylist(), table["sample_idx"].to_pylist(), strict=True)
    for row_no, key in enumerate(keys, start=1):
        if key[0] is None or key[1] is None or key[1] < 0:
            raise SampleStoreError(f"{path} (row {row_no}): bad key {key}")
        if key in seen:
            raise SampleStoreError(f"{path} (row {row_no}): duplicate sample {key} (first at row {seen[key]})")
        seen[key] = row_no
    return table
