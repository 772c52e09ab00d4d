"""Organism profiles: named recipes (corpus knobs, model shape, budget, seed) and their shipped checkpoints.

A profile fixes everything a build needs, so ``rlvr organism build --profile NAME`` is reproducible from the
seed, and the checkpoint built from it ships inside the package (``checkpoints/<name>/``), so ``rlvr`` can use a
profile by name with no build step. The knobs were calibrated against the targets in each description with
``rlvr organism stats``; the measured tables are in the README.

- ``qwen-math-like``: the prior of Qwen2.5-Math in the *Spurious Rewards* paper. Code in about 65% of answers,
  code answers clearly more accurate than language ones, some answers unboxed.
- ``olmo-like``: code is just as frequent, but code answers are *less* accurate than language ones, as for the
  models on which spurious rewards do not help.

In both, difficulty comes from the problem types (``unit`` is near-certain, ``mul22`` beyond the model) and the
per-type error rates, so per-problem accuracies spread from 0 to 1 and pass@k rises with k. Each shipped
checkpoint has its measured table beside it (``calibration.json``, from ``rlvr organism stats NAME --json``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from rlvr_lab.organism.config import ModelConfig, TrainConfig
from rlvr_lab.organism.corpus import CorpusConfig
from rlvr_lab.registry import Registry

CHECKPOINTS_DIR = Path(__file__).resolve().parent / "checkpoints"
"""Where shipped checkpoints live (declared as package data)."""


@dataclass(frozen=True)
class Profile:
    """Everything a build needs, plus the targets its calibration is checked against."""

    name: str
    """Registry name; also the folder name of the shipped checkpoint."""
    description: str
    """What prior the profile imitates and the calibration targets."""
    corpus: CorpusConfig
    """The corpus knobs: strategy mix, error and format-slip rates."""
    model: ModelConfig = field(default_factory=ModelConfig)
    """Model shape."""
    train: TrainConfig = field(default_factory=TrainConfig)
    """Training budget and schedule."""
    seed: int = 0
    """Seed of the shipped build: initialisation, corpus and batch order."""


PROFILES: Registry[Profile] = Registry("organism profile")


def _rates(unit: float, add1: float, mul1: float, word: float, add2: float, mul22: float) -> dict[str, float]:
    """A per-problem-type rate table, in the order of :data:`rlvr_lab.organism.tasks.KINDS`."""
    return {"unit": unit, "add1": add1, "mul1": mul1, "word": word, "add2": add2, "mul22": mul22}


# Format slips grow with difficulty, as in a model that trails off when unsure; the easiest type keeps none so
# some problems are solved in over 95% of samples.
_FORMAT_SLIP = _rates(0.0, 0.03, 0.05, 0.10, 0.15, 0.25)
# Slips of the careful strategy and of the sloppy one.
_CAREFUL = _rates(0.0, 0.03, 0.03, 0.05, 0.05, 0.30)
_SLOPPY = _rates(0.02, 0.40, 0.40, 0.40, 0.40, 0.50)

PROFILES.add(
    "qwen-math-like",
    Profile(
        name="qwen-math-like",
        description=(
            "Qwen2.5-Math-like prior: code in ~65% of answers (target 60-70% at temperature 1), accuracy given "
            "code clearly above accuracy given language, some answers unboxed, pass@1 well below pass@64."
        ),
        corpus=CorpusConfig(
            code_share=0.65,
            code_error=_CAREFUL,
            language_error=_SLOPPY,
            format_slip=_FORMAT_SLIP,
        ),
        seed=0,
    ),
)

PROFILES.add(
    "olmo-like",
    Profile(
        name="olmo-like",
        description=(
            "OLMo-like prior: code frequent (~60% of answers) but accuracy given code below accuracy given "
            "language; the same problem types, so the same spread of difficulty."
        ),
        corpus=CorpusConfig(
            code_share=0.60,
            code_error=_SLOPPY,
            language_error=_CAREFUL,
            format_slip=_FORMAT_SLIP,
        ),
        seed=0,
    ),
)


def get_profile(name: str) -> Profile:
    """The profile registered as ``name``; an unknown name raises ``ValueError`` listing the profiles."""
    return PROFILES.get(name)


def shipped_checkpoint(name: str) -> Path | None:
    """The packaged checkpoint folder of profile ``name``, or None if ``name`` is no profile or was not shipped."""
    if name not in PROFILES:
        return None
    path = CHECKPOINTS_DIR / name
    return path if (path / "config.json").is_file() else None
