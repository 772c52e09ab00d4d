"""The organism as a plug-in: its benchmark, prompt templates and shipped checkpoints, registered through the
``rlvr_lab.plugins`` entry point (``pyproject.toml``).

Why a plug-in: the lower layers (``tasks``, ``prompts``, ``models``) serve any model and benchmark; wiring the
organism into them by name made three layers import the top one. Now they only know their registries, and
:func:`rlvr_lab.registry.load_plugins` calls :func:`register` the first time a name is missing.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from pathlib import Path

from rlvr_lab.tasks.problem import Problem


@dataclass(frozen=True)
class OrganismBenchmark:
    """The model organism's synthetic tasks (generated from a seed, never read from a data folder)."""

    name: str = "organism"
    description: str = "the model organism's synthetic arithmetic tasks (generated from a seed)"
    reads_files: bool = False
    """Generated, so ``load_problems`` never asks for (or checks) a data folder."""

    def load(self, split: str, folders: list[Path], limit: int | None) -> list[Problem]:
        from rlvr_lab.organism.tasks import organism_problems

        return organism_problems(split=split, seed=0, n=limit)


def _checkpoint(name: str) -> Path:
    from rlvr_lab.organism.profiles import shipped_checkpoint

    path = shipped_checkpoint(name)
    if path is None:
        raise FileNotFoundError(f"organism profile {name!r} has no shipped checkpoint")
    return path


def register() -> None:
    """Add the ``organism`` benchmark, the ``organism`` templates (registered when :mod:`rlvr_lab.organism` is
    imported) and every shipped profile as a named model."""
    import rlvr_lab.organism  # noqa: F401  (registers the prompt templates)
    from rlvr_lab.models.specs import NAMED_MODELS
    from rlvr_lab.organism.profiles import PROFILES, shipped_checkpoint
    from rlvr_lab.tasks.benchmarks import BENCHMARKS

    benchmark = OrganismBenchmark()
    BENCHMARKS.add(benchmark.name, benchmark)
    for name in PROFILES.names():
        if shipped_checkpoint(name) is not None:
            NAMED_MODELS.add(name, partial(_checkpoint, name))
