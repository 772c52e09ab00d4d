"""Where a benchmark's problems come from: the :class:`Benchmark` protocol, and a benchmark read from a local
file under the data folders, else from the hub (:class:`FileBenchmark`).

A module of its own so that the maths benchmarks (:mod:`.benchmarks`) and the code benchmarks (:mod:`.code`) both
build on it without importing each other.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from rlvr_lab.runtime.data import DATA_DIR_ENV, hub_offline, user_data_dir
from rlvr_lab.tasks.loaders import Converter, ProblemSourceError, load_file, load_hub
from rlvr_lab.tasks.problem import Problem


class Benchmark(Protocol):
    """A named problem set with splits."""

    name: str
    description: str

    def load(self, split: str, folders: list[Path], limit: int | None) -> list[Problem]:
        """The split's problems (from the first of ``folders`` holding them), the first ``limit`` when given."""
        ...


@dataclass(frozen=True)
class HubSource:
    """Where a benchmark lives on the Hugging Face hub."""

    dataset: str
    """Dataset id for ``datasets.load_dataset``."""
    config: str | None = None
    """Dataset config (subset) name, if the dataset has several."""
    splits: Mapping[str, str] | None = None
    """Our split name -> the hub's, where they differ (several hubs publish a test set as ``train``)."""


@dataclass(frozen=True)
class FileBenchmark:
    """A benchmark read from a local file under the data directory, else from the hub."""

    name: str
    description: str
    """One line for ``--help``: what it is and how many problems."""
    files: Mapping[str, str]
    """Split -> file path relative to the data directory."""
    convert: Converter
    """Row -> problem."""
    hub: HubSource
    """The fallback when the local file is absent."""
    expects: str = "problem, answer (id optional)"
    """The fields a local file must have; named in the error when neither file nor hub is available."""

    def local_file(self, split: str, folders: list[Path]) -> Path | None:
        """The split's file in the first folder that has it."""
        return next((folder / self.files[split] for folder in folders if (folder / self.files[split]).is_file()), None)

    def load(self, split: str, folders: list[Path], limit: int | None) -> list[Problem]:
        if split not in self.files:
            raise ValueError(f"benchmark {self.name!r} has no split {split!r}; choose one of: {', '.join(self.files)}")
        local = self.local_file(split, folders)
        if local is not None:
            return load_file(local, self.convert, limit=limit)
        searched = ", ".join(str(folder / self.files[split]) for folder in folders)
        hint = (
            f"Searched {searched}. To work offline, put a JSONL file with fields {self.expects} at one of them "
            f"(--data-dir or ${DATA_DIR_ENV} name the first), or run `rlvr data import FOLDER` to copy a folder "
            f"laid out like shared/data into {user_data_dir()}."
        )
        offline = hub_offline()
        hub_split = (self.hub.splits or {}).get(split, split)
        if offline is not None:
            raise ProblemSourceError(
                f"benchmark {self.name!r} [{split}]: no local file, and the hub (hf:{self.hub.dataset}) is out of "
                f"reach ({offline}). {hint}"
            )
        return load_hub(self.hub.dataset, hub_split, self.convert, config=self.hub.config, limit=limit, hint=hint)
