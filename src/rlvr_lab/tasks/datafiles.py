"""The local benchmark files: which ones the data directories hold, and filling the user data cache.

``rlvr data list`` and ``rlvr data import`` are thin shells over these functions. The layout is the one of
``shared/data`` (``math500/test.jsonl``, ``math/test.jsonl.gz``, ...), given per benchmark and split by
:class:`~rlvr_lab.tasks.benchmarks.FileBenchmark.files`, so an imported file is found by the same lookup that
:func:`~rlvr_lab.tasks.load_problems` uses. Imports never overwrite a different file silently: an existing file
with other bytes is refused unless ``replace`` is asked for, and a file is written under a temporary name and
renamed into place, so a killed import leaves no half file where a benchmark is expected.
"""

from __future__ import annotations

import filecmp
import gzip
import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from rlvr_lab.runtime.data import hub_offline
from rlvr_lab.tasks.benchmarks import BENCHMARKS, FileBenchmark
from rlvr_lab.tasks.loaders import ProblemSourceError


@dataclass(frozen=True)
class BenchmarkFile:
    """One benchmark split: its path relative to a data directory, and where it was found (None: nowhere)."""

    benchmark: str
    split: str
    relative: str
    found: Path | None

    def as_dict(self) -> dict[str, str | None]:
        return {
            "benchmark": self.benchmark,
            "split": self.split,
            "file": self.relative,
            "found": None if self.found is None else str(self.found),
        }


def file_benchmarks() -> list[FileBenchmark]:
    """The registered benchmarks that are read from files (the organism's are generated)."""
    return [b for name in BENCHMARKS.names() if isinstance(b := BENCHMARKS.get(name), FileBenchmark)]


def benchmark_files(folders: list[Path]) -> list[BenchmarkFile]:
    """Every file benchmark's split, with the first of ``folders`` that holds its file."""
    return [
        BenchmarkFile(bench.name, split, relative, bench.local_file(split, folders))
        for bench in file_benchmarks()
        for split, relative in bench.files.items()
    ]


def _place(source: Path, target: Path, replace: bool) -> bool:
    """Copy ``source`` to ``target`` atomically; False when ``target`` already holds the same bytes."""
    if target.is_file():
        if filecmp.cmp(source, target, shallow=False):
            return False
        if not replace:
            raise ProblemSourceError(f"{target} exists with other contents; pass --replace to overwrite it")
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
    os.close(handle)
    try:
        shutil.copyfile(source, temporary)
        os.replace(temporary, target)
    finally:
        Path(temporary).unlink(missing_ok=True)
    return True


def import_folder(source: Path, dest: Path, replace: bool = False) -> list[BenchmarkFile]:
    """Copy the benchmark files that ``source`` holds (laid out like ``shared/data``) into ``dest``.

    Returns the files now in ``dest`` that came from ``source`` (copied, or already identical there). A folder
    holding none of the known files is an error naming what was looked for.
    """
    if not source.is_dir():
        raise ProblemSourceError(f"{source} is not a folder")
    imported = []
    for item in benchmark_files([source]):
        if item.found is None:
            continue
        target = dest / item.relative
        _place(item.found, target, replace)
        imported.append(BenchmarkFile(item.benchmark, item.split, item.relative, target))
    if not imported:
        expected = ", ".join(item.relative for item in benchmark_files([]))
        raise ProblemSourceError(f"{source} holds none of the benchmark files ({expected})")
    return imported


def import_hub(name: str, dest: Path, split: str | None = None, replace: bool = False) -> list[BenchmarkFile]:
    """Download benchmark ``name``'s hub dataset (every split, or ``split``) into ``dest`` in the local layout.

    The rows are written as they come from the hub, so the benchmark's own converter reads them exactly as it
    reads the hub; ``.gz`` paths are gzipped.
    """
    if name not in BENCHMARKS:
        raise ProblemSourceError(f"unknown benchmark {name!r}; choose one of: {', '.join(BENCHMARKS.names())}")
    bench = BENCHMARKS.get(name)
    if not isinstance(bench, FileBenchmark):
        raise ProblemSourceError(f"benchmark {name!r} is generated, not downloaded")
    offline = hub_offline()
    if offline is not None:
        raise ProblemSourceError(f"hf:{bench.hub.dataset}: the hub is out of reach ({offline})")
    try:
        import datasets
    except ImportError:
        raise ProblemSourceError("downloading hub datasets needs `pip install 'rlvr-lab[hub]'`") from None
    splits = [split] if split is not None else list(bench.files)
    written = []
    for our_split in splits:
        if our_split not in bench.files:
            raise ProblemSourceError(f"benchmark {name!r} has no split {our_split!r}; choose: {', '.join(bench.files)}")
        hub_split = (bench.hub.splits or {}).get(our_split, our_split)
        rows = datasets.load_dataset(bench.hub.dataset, bench.hub.config, split=hub_split)
        target = dest / bench.files[our_split]
        with tempfile.TemporaryDirectory() as scratch:
            staged = Path(scratch) / target.name
            opener = gzip.open if staged.suffix == ".gz" else open
            with opener(staged, "wt", encoding="utf-8") as handle:
                for row in rows:
                    handle.write(json.dumps(row, ensure_ascii=False, default=str) + "\n")
            _place(staged, target, replace)
        written.append(BenchmarkFile(name, our_split, bench.files[our_split], target))
    return written
