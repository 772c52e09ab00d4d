"""The sample store: an append-only JSONL file of completions keyed by (problem id, sample index).

Layout: the first line is a header record (``"type": "header"``) holding what made the samples: model, engine,
the full prompt template, the sampling config, the problem set, the seed, the shard (``"i/N"`` or null), whether
token ids are kept, when, and the rlvr-lab version. Every later line is one sample: ``problem_id``,
``sample_idx``, ``completion``, ``finish_reason``, ``num_tokens``, and with ``keep_tokens`` also ``token_ids`` and
``logprobs``.

Why JSONL, at pass@1024 scale too (MATH-500 × 1024 = 512k samples of ~600 tokens):
- the size problem was never the format but the token ids and log-probs: as JSON they are ~15 kB a sample against
  ~2.5 kB of text (9.6 GB against 1.3 GB for 512k samples). They are written only when asked (``keep_tokens``,
  ``rlvr sample --keep-tokens``; the perplexity study asks), which keeps a pass@1024 store near the size of its text;
- the memory problem was the readers, which parsed every line into one list of dicts. Readers now stream
  (:func:`iter_sample_batches`: Arrow tables of a few thousand rows, only the asked columns), and a writer
  reopening a store keeps only the set of keys, so writing, resuming and grading 512k samples stays well under
  2 GB (``benchmarks/bench_store.py`` measures it);
- appends stay cheap and crash-safe line by line (below), which columnar part files buy only by flushing whole
  parts; any tool reads the file; the stores users and tests already have keep working unchanged.
Readers also take Parquet sample files written by other tools, a directory of sample files (the shards of one
run, ``rlvr sample --shards``), or a glob.

Crash safety, so that a run killed at any moment resumes with nothing lost or duplicated:
- a batch is appended as whole lines through an unbuffered ``O_APPEND`` descriptor, then fsynced: after a kill
  the file is a prefix of what was written, i.e. complete lines plus at most one partial last line;
- opening a store cuts off a partial (no newline) or unparseable last line by truncating back to the last good
  newline; its sample is then simply missing and gets regenerated. A bad line *before* the last is not a kill
  artefact and raises, naming the line;
- keys already stored are refused, also within one batch, so duplicates cannot be written;
- opening an existing file checks that its header describes the same run (model, engine, template, sampling,
  problems, seed, shard) and says what differs otherwise; the rlvr-lab version and creation time are not
  compared. A store that holds a header but no sample (a run that failed before its first sample, e.g. a prompt
  longer than the context) protects nothing and is restarted with the new header;
- an exclusive ``flock`` keeps two processes from appending to one file (POSIX only).

Readers never drop a line silently: every line is read or raises :class:`SampleStoreError` naming file, line and
reason (invalid JSON, invalid UTF-8, a lone surrogate in a text field, a missing or mistyped field, a duplicate,
a cut-off last line), and a file without samples is an error too.
"""

from __future__ import annotations

import dataclasses
import fcntl
import glob
import json
import os
import sys
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
TOKEN_COLUMNS = ("token_ids", "logprobs")
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
SAMPLE_SUFFIXES = (".jsonl", ".parquet")
"""The sample files a directory of shards is made of."""
BATCH_ROWS = 4096
"""Rows per table yielded by :func:`iter_sample_batches`: ~10 MB of text, enough to amortise per-batch work."""


class SampleStoreError(ValueError):
    """A sample file is malformed, empty, locked, or belongs to another run."""


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
    shard: str | None = None
    """``"i/N"`` when the store holds shard i of N of the problems (:func:`rlvr_lab.sampling.shard_of`)."""
    keep_tokens: bool = True
    """Whether samples carry ``token_ids`` and ``logprobs`` (stores from before this field always did)."""

    dtype: str = "float32"
    """Compute dtype of the sampler (float32, bfloat16): the samples differ between dtypes. Stores written before
    this field existed were sampled in float32."""

    problems_hash: str | None = None
    """:func:`rlvr_lab.identity.problems_hash` of the whole problem set (before ``--limit`` and the shard); None in
    stores written before it existed (nothing is compared then)."""

    model_hash: str | None = None
    """:func:`rlvr_lab.identity.model_hash` of the model's folder: the weights a path names can change (``rlvr train
    --resume`` rewrites its output folder); None for a hub model and in older stores."""

    decoder: str | None = None
    """The torch engine's decoder path as asked (auto, lean, native, generic): ``native`` sums in another order, so
    its samples can differ from the others'. None for other engines and in stores from before this field (then
    nothing is compared)."""

    IDENTITY = (
        "model",
        "engine",
        "template",
        "sampling",
        "problems",
        "seed",
        "shard",
        "dtype",
        "problems_hash",
        "model_hash",
        "decoder",
    )
    """The fields two runs must share to write into one store."""

    OPTIONAL = ("problems_hash", "model_hash", "decoder")
    """Identity fields compared only when both sides have them (a store from before they existed has None)."""

    @classmethod
    def for_run(
        cls,
        *,
        model: str,
        engine: str,
        template: PromptTemplate,
        sampling: SamplingConfig,
        problems: str,
        shard: str | None = None,
        keep_tokens: bool = False,
        dtype: str = "float32",
        problems_hash: str | None = None,
        model_hash: str | None = None,
        decoder: str | None = None,
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
            shard=shard,
            keep_tokens=keep_tokens,
            dtype=dtype,
            problems_hash=problems_hash,
            model_hash=model_hash,
            decoder=decoder,
        )

    def to_record(self) -> dict[str, Any]:
        return {"type": HEADER_TYPE, **dataclasses.asdict(self)}

    @classmethod
    def from_record(cls, record: dict[str, Any], where: str) -> StoreHeader:
        fields = dataclasses.fields(cls)
        required = [f.name for f in fields if f.default is dataclasses.MISSING]
        missing = [name for name in required if name not in record]
        if missing:
            raise SampleStoreError(f"{where}: header lacks field(s) {missing}")
        return cls(**{f.name: record[f.name] for f in fields if f.name in record})

    def differences(self, other: StoreHeader) -> list[str]:
        """Human-readable differences in identity fields, ``self`` being the file and ``other`` the run.

        A run that asks for token ids cannot extend a store without them; a store with token ids keeps getting them.
        """
        diffs: list[str] = []
        for name in self.IDENTITY:
            mine, theirs = getattr(self, name), getattr(other, name)
            if name in self.OPTIONAL and (mine is None or theirs is None):
                continue
            if isinstance(mine, dict) and isinstance(theirs, dict):
                for key in sorted(set(mine) | set(theirs)):
                    if mine.get(key) != theirs.get(key):
                        diffs.append(f"{name}.{key}: file has {mine.get(key)!r}, this run has {theirs.get(key)!r}")
            elif mine != theirs:
                diffs.append(f"{name}: file has {mine!r}, this run has {theirs!r}")
        if other.keep_tokens and not self.keep_tokens:
            diffs.append("keep_tokens: file has no token ids, this run asks for them")
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

    def to_record(self, keep_tokens: bool) -> dict[str, Any]:
        """The JSON line's fields; token ids and log-probs only with ``keep_tokens``."""
        record: dict[str, Any] = {"problem_id": self.problem_id, "sample_idx": self.sample_idx}
        record["completion"] = self.completion
        if keep_tokens:
            record["token_ids"] = self.token_ids
            record["logprobs"] = self.logprobs
        record["finish_reason"] = self.finish_reason
        record["num_tokens"] = self.num_tokens
        return record


# ---------------------------------------------------------------------------------------------- row checks


def _check_text(value: str, name: str, where: str) -> None:
    """Refuse a string Arrow and UTF-8 cannot hold (a lone surrogate, from a ``\\ud800`` escape), naming it."""
    if value.isascii():
        return
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as err:
        raise SampleStoreError(
            f"{where}: field {name!r} holds a lone surrogate {value[err.start]!r} at character {err.start}, "
            "which is not valid Unicode text"
        ) from None


def _check_key(row: Any, where: str) -> tuple[str, int]:
    """The (problem_id, sample_idx) of a parsed sample line, after checking the three required fields."""
    if not isinstance(row, dict):
        raise SampleStoreError(f"{where}: expected a JSON object, got {type(row).__name__}")
    for name in REQUIRED_COLUMNS:
        if name not in row:
            raise SampleStoreError(f"{where}: field {name!r} missing")
    pid, idx, completion = row["problem_id"], row["sample_idx"], row["completion"]
    if isinstance(pid, bool) or not isinstance(pid, str | int):
        raise SampleStoreError(f"{where}: field 'problem_id' must be a string, got {type(pid).__name__}")
    if isinstance(idx, bool) or not isinstance(idx, int) or idx < 0:
        raise SampleStoreError(f"{where}: field 'sample_idx' must be an integer >= 0, got {idx!r}")
    if not isinstance(completion, str):
        raise SampleStoreError(f"{where}: field 'completion' must be a string, got {type(completion).__name__}")
    pid = sys.intern(str(pid))  # 1024 samples of a problem share one id string in key sets
    _check_text(pid, "problem_id", where)
    _check_text(completion, "completion", where)
    return pid, idx


def _parse(raw: bytes) -> tuple[Any, str | None]:
    """A line's JSON value, or None and why it does not decode (invalid UTF-8 or invalid JSON, with the column)."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        return None, f"not valid UTF-8 (byte 0x{raw[err.start]:02x} at column {err.start + 1})"
    try:
        return json.loads(text), None
    except json.JSONDecodeError as err:
        return None, f"invalid JSON ({err.msg} at column {err.colno})"


def _scan_lines(path: Path) -> Iterator[tuple[int, int, bytes, Any, str | None]]:
    """Yield ``(line number, byte offset, raw line, parsed JSON or None, why it does not parse)``."""
    offset = 0
    with path.open("rb") as handle:
        for line_no, raw in enumerate(handle, start=1):
            parsed, reason = _parse(raw)
            yield line_no, offset, raw, parsed, reason
            offset += len(raw)


# ---------------------------------------------------------------------------------------------- the store


class SampleStore:
    """An open, locked, append-only store. Use :meth:`open`, and close it (or use it as a context manager)."""

    def __init__(
        self, path: Path, fd: int, header: StoreHeader, keys: set[tuple[str, int]], dropped: int, restarted: bool
    ) -> None:
        self.path = path
        self.header = header
        """The file's header (its ``created_at`` is the original one)."""
        self.dropped_bytes = dropped
        """Bytes of a partial last record cut off when the store was opened (0 if the file was intact)."""
        self.restarted = restarted
        """True when the file held another run's header but no sample, and was started over with this run's."""
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
        restarted = False
        try:
            file_header, keys, good_end = cls._read_existing(path)
            dropped = os.fstat(fd).st_size - good_end
            if file_header is not None and not keys and file_header.differences(header):
                file_header, good_end, restarted = None, 0, True  # a failed run's header alone: nothing to keep
            if dropped or restarted:
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
        return cls(path, fd, file_header, keys, dropped, restarted)

    @staticmethod
    def _read_existing(path: Path) -> tuple[StoreHeader | None, set[tuple[str, int]], int]:
        """Header, stored keys, and the byte length of the good prefix (everything but a bad last line)."""
        header: StoreHeader | None = None
        keys: set[tuple[str, int]] = set()
        good_end = 0
        bad_line: int | None = None
        for line_no, offset, raw, parsed, _ in _scan_lines(path):
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
            key = (sys.intern(sample.problem_id), sample.sample_idx)
            if key in self._keys or key in batch:
                raise SampleStoreError(f"{self.path}: sample {key} is already stored")
            batch.add(key)
        data = _encode([sample.to_record(self.header.keep_tokens) for sample in samples])
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
    record, _ = _parse(first)
    if isinstance(record, dict) and record.get("type") == HEADER_TYPE:
        return StoreHeader.from_record(record, f"{path}:1")
    return None


def samples_identity(spec: SampleSpec) -> dict[str, str | None]:
    """What the samples of ``spec`` were drawn from, from their first header: ``problems`` (the label),
    ``problems_hash``, ``model`` and ``model_hash``; None where no header says (foreign files, a header written by
    another tool, stores from before the hashes). The files of one spec are one run's (shards are checked to be).
    """
    keys = ("problems", "problems_hash", "model", "model_hash")
    for path in sample_files(spec):
        if path.suffix == ".parquet":
            continue
        with path.open("rb") as handle:
            record, _ = _parse(handle.readline())
        if isinstance(record, dict) and record.get("type") == HEADER_TYPE:
            return {key: record.get(key) if isinstance(record.get(key), str) else None for key in keys}
    return dict.fromkeys(keys)


SampleSpec = str | Path | Sequence[str | Path]
"""A sample file, a directory of them, a glob, or a list of any of these."""


def sample_files(spec: SampleSpec) -> list[Path]:
    """The sample files ``spec`` names: one file, every ``*.jsonl``/``*.parquet`` in a directory, a glob, or a list
    of these.

    The files of a directory, glob or list are checked to be the shards of one run when they carry shard headers:
    the same run, every shard of N present once.
    """
    if not isinstance(spec, str | Path):
        files = [file for item in spec for file in _expand(item)]
        if not files:
            raise SampleStoreError("no sample files given")
        _check_shards(files)
        return files
    if Path(spec).is_file():
        return [Path(spec)]  # one file named is read as it is, a lone shard included
    files = _expand(spec)
    _check_shards(files)
    return files


def _expand(spec: str | Path) -> list[Path]:
    path = Path(spec)
    if path.is_file():
        return [path]
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix in SAMPLE_SUFFIXES and p.is_file())
        if not files:
            raise SampleStoreError(f"{path}: directory holds no sample files (*.jsonl, *.parquet)")
    elif glob.has_magic(str(spec)):
        files = sorted(Path(p) for p in glob.glob(str(spec)) if Path(p).is_file())
        if not files:
            raise SampleStoreError(f"{spec}: no sample file matches this pattern")
    else:
        raise SampleStoreError(f"{path}: no such sample file or directory")
    return files


def _check_shards(files: Sequence[Path]) -> None:
    """Shard stores read together must be one run's complete set of shards."""
    headers = {path: read_header(path) for path in files}
    sharded = {path: h for path, h in headers.items() if h is not None and h.shard is not None}
    if not sharded:
        return
    first_path, first = next(iter(sharded.items()))
    seen: dict[int, Path] = {}
    total = int(first.shard.split("/")[1])  # type: ignore[union-attr]
    for path, header in sharded.items():
        diffs = [d for d in first.differences(dataclasses.replace(header, shard=first.shard)) if "keep_tokens" not in d]
        if diffs:
            raise SampleStoreError(f"{path} and {first_path} are shards of different runs: " + "; ".join(diffs))
        index, count = (int(part) for part in header.shard.split("/"))  # type: ignore[union-attr]
        if count != total:
            raise SampleStoreError(f"{path} is shard {header.shard} but {first_path} is shard {first.shard}")
        if index in seen:
            raise SampleStoreError(f"{path} and {seen[index]} are both shard {header.shard}")
        seen[index] = path
    absent = sorted(set(range(total)) - set(seen))
    if absent:
        names = ", ".join(f"{i}/{total}" for i in absent)
        raise SampleStoreError(f"shard(s) {names} of {first_path.parent} missing; sample them, or read one file")


def iter_sample_batches(
    spec: SampleSpec,
    columns: Sequence[str] | None = None,
    batch_rows: int = BATCH_ROWS,
    exclude: Sequence[str] = (),
) -> Iterator[pa.Table]:
    """Stream the samples of :func:`sample_files` ``(spec)`` as Arrow tables of at most ``batch_rows`` rows.

    Each table has ``problem_id`` (string), ``sample_idx`` (int64) and ``completion``, then ``columns`` (those
    the file has; None means every column but those in ``exclude``). Reads our JSONL stores (header skipped),
    other JSONL files, and Parquet. Every line is read or raises :class:`SampleStoreError` naming file, line (or
    row) and reason; duplicate (problem_id, sample_idx) pairs raise, across files too; no sample at all raises.
    """
    files = sample_files(spec)
    seen: dict[tuple[str, int], str] = {}
    rows = 0
    for path in files:
        reader = _iter_parquet if path.suffix == ".parquet" else _iter_jsonl
        for table in reader(path, columns, batch_rows, seen, frozenset(exclude)):
            rows += table.num_rows
            yield table
    if rows == 0:
        named = files[0] if len(files) == 1 else f"{', '.join(map(str, files))}"
        raise SampleStoreError(f"{named}: no samples (a sampling run that failed before its first sample?)")


def read_sample_table(spec: SampleSpec, columns: Sequence[str] | None = None) -> pa.Table:
    """All samples of ``spec`` in one table (see :func:`iter_sample_batches`); for small stores, or pass
    ``columns`` to leave token ids and log-probs out."""
    tables = list(iter_sample_batches(spec, columns))
    if len(tables) == 1:
        return tables[0]
    return pa.concat_tables(tables, promote_options="permissive")


def _iter_jsonl(
    path: Path,
    columns: Sequence[str] | None,
    batch_rows: int,
    seen: dict[tuple[str, int], str],
    exclude: frozenset[str],
) -> Iterator[pa.Table]:
    rows: list[dict[str, Any]] = []
    for line_no, _, raw, parsed, reason in _scan_lines(path):
        where = f"{path}:{line_no}"
        if not raw.strip():
            continue
        if reason is not None:
            if raw.endswith(b"\n"):
                raise SampleStoreError(f"{where}: {reason}")
            raise SampleStoreError(
                f"{where}: last line cut off (no newline, {reason}), as a killed writer leaves it; resume the "
                "sampling run (it drops this line and draws the sample again) or delete the line"
            )
        if line_no == 1 and isinstance(parsed, dict) and parsed.get("type") == HEADER_TYPE:
            continue
        key = _check_key(parsed, where)
        if key in seen:
            raise SampleStoreError(f"{where}: duplicate sample {key} (first at {seen[key]})")
        seen[key] = where
        if columns is not None:
            parsed = {name: parsed[name] for name in (*REQUIRED_COLUMNS, *columns) if name in parsed}
        elif exclude:
            parsed = {name: value for name, value in parsed.items() if name not in exclude}
        parsed["problem_id"] = key[0]
        rows.append(parsed)
        if len(rows) == batch_rows:
            yield _to_table(rows, path, columns)
            rows = []
    if rows:
        yield _to_table(rows, path, columns)


def _to_table(rows: list[dict[str, Any]], path: Path, columns: Sequence[str] | None) -> pa.Table:
    """Columns in first-seen order (required ones first); the store's own columns get fixed types."""
    names = dict.fromkeys([*REQUIRED_COLUMNS, *(columns or ()), *(key for row in rows for key in row)])
    table = {}
    for name in names:
        values = [row.get(name) for row in rows]
        if columns is not None and name not in REQUIRED_COLUMNS and all(value is None for value in values):
            continue  # an asked column this file lacks
        try:
            table[name] = pa.array(values, type=COLUMN_TYPES.get(name))
        except (pa.ArrowInvalid, pa.ArrowTypeError) as err:
            raise SampleStoreError(f"{path}: field {name!r} has values of mixed or wrong types ({err})") from None
    return pa.table(table)


def _iter_parquet(
    path: Path,
    columns: Sequence[str] | None,
    batch_rows: int,
    seen: dict[tuple[str, int], str],
    exclude: frozenset[str],
) -> Iterator[pa.Table]:
    import pyarrow.parquet as pq

    parquet = pq.ParquetFile(path)
    schema = parquet.schema_arrow
    for name in REQUIRED_COLUMNS:
        if name not in schema.names:
            raise SampleStoreError(f"{path}: field {name!r} missing (columns: {schema.names})")
    accepted = {
        "problem_id": (pa.types.is_string, pa.types.is_large_string, pa.types.is_integer),
        "sample_idx": (pa.types.is_integer,),
        "completion": (pa.types.is_string, pa.types.is_large_string),
    }
    for name, checks in accepted.items():
        column_type = schema.field(name).type
        if not any(check(column_type) for check in checks):
            raise SampleStoreError(f"{path}: field {name!r} has type {column_type}")
    if columns is None:
        wanted = [name for name in schema.names if name not in exclude or name in REQUIRED_COLUMNS]
    else:
        wanted = [name for name in dict.fromkeys([*REQUIRED_COLUMNS, *columns]) if name in schema.names]
    row_no = 0
    for batch in parquet.iter_batches(batch_size=batch_rows, columns=wanted):
        table = pa.Table.from_batches([batch])
        for name in ("problem_id", "sample_idx"):
            index = table.schema.get_field_index(name)
            table = table.set_column(index, name, table[name].cast(COLUMN_TYPES[name]))
        for key in zip(table["problem_id"].to_pylist(), table["sample_idx"].to_pylist(), strict=True):
            row_no += 1
            where = f"{path} (row {row_no})"
            if key[0] is None or key[1] is None or key[1] < 0:
                raise SampleStoreError(f"{where}: bad key {key}")
            key = (sys.intern(key[0]), key[1])
            if key in seen:
                raise SampleStoreError(f"{where}: duplicate sample {key} (first at {seen[key]})")
            seen[key] = where
        yield table


def merge_stores(spec: SampleSpec, out: Path) -> int:
    """Write the samples of shard stores (all N shards of one run, :func:`sample_files`) into one store ``out``.

    ``out``'s header is the shards' with no shard; token ids are kept if every shard kept them. Samples already in
    ``out`` are kept and not written twice. The merge is written to a temporary file of a unique name beside
    ``out`` (a copy of ``out`` when it exists) and renamed over ``out`` only when complete, so a failed or killed
    merge leaves no partial store that ``grade`` or ``passk`` would read as a whole. Returns the samples written.
    """
    import shutil
    import tempfile

    files = sample_files(spec)
    headers = [read_header(path) for path in files]
    shard_headers = []
    for path, header in zip(files, headers, strict=True):
        if header is None or header.shard is None:
            raise SampleStoreError(f"{path} is not a shard store of `rlvr sample --shard`; nothing to merge")
        shard_headers.append(header)
    keep = all(header.keep_tokens for header in shard_headers)
    merged = dataclasses.replace(shard_headers[0], shard=None, keep_tokens=keep)
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".merging", dir=out.parent)
    os.fchmod(fd, 0o644)
    os.close(fd)
    tmp = Path(name)
    written = 0
    try:
        if out.exists():
            shutil.copyfile(out, tmp)
        else:
            tmp.unlink()
        with SampleStore.open(tmp, merged) as store:
            for table in iter_sample_batches(files, columns=[*TOKEN_COLUMNS, "finish_reason", "num_tokens"]):
                fresh = [row for row in table.to_pylist() if (row["problem_id"], row["sample_idx"]) not in store]
                store.append(
                    [
                        StoredSample(
                            problem_id=row["problem_id"],
                            sample_idx=row["sample_idx"],
                            completion=row["completion"],
                            token_ids=row.get("token_ids") or [],
                            logprobs=row.get("logprobs") or [],
                            finish_reason=row["finish_reason"],
                            num_tokens=row["num_tokens"],
                        )
                        for row in fresh
                    ]
                )
                written += len(fresh)
        os.replace(tmp, out)
        _fsync_dir(out.parent)
    finally:
        tmp.unlink(missing_ok=True)
    return written
