"""Rewards that read only the completion's text: ``format`` and ``python``.

- ``format``: 1 when the completion has a non-empty ``\\boxed{...}`` (the last one, found by the grading
  pipeline's own :func:`~rlvr_lab.grading.extract.last_boxed`, so "formatted" means exactly what the grader
  parses). The *Spurious Rewards* format reward.
- ``python``: 1 when the completion contains "python", case-insensitive: the paper's "contains python" reward,
  through the project's one strategy classifier (:func:`~rlvr_lab.analysis.strategy.is_code`, rule
  ``contains_python``), so the reward and the logged code frequency cannot disagree.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from rlvr_lab.analysis.strategy import is_code
from rlvr_lab.grading.extract import last_boxed
from rlvr_lab.rewards.base import REWARDS, no_args
from rlvr_lab.tasks.problem import Problem

if TYPE_CHECKING:
    from rlvr_lab.grading.grade import Grader


def has_boxed_answer(text: str) -> bool:
    """True if the last ``\\boxed{}`` of ``text`` exists and is not blank."""
    content = last_boxed(text)
    return content is not None and content.strip() != ""


@dataclass(frozen=True)
class FormatReward:
    """1 for a non-empty ``\\boxed{}`` answer, else 0."""

    def __call__(
        self,
        *,
        problem: Problem,
        completions: Sequence[str],
        sample_indices: Sequence[int],
        step: int,
        seed: int,
    ) -> list[float | None]:
        return [1.0 if has_boxed_answer(c) else 0.0 for c in completions]


@dataclass(frozen=True)
class PythonReward:
    """1 if the completion mentions "python" (any case), else 0."""

    def __call__(
        self,
        *,
        problem: Problem,
        completions: Sequence[str],
        sample_indices: Sequence[int],
        step: int,
        seed: int,
    ) -> list[float | None]:
        return [1.0 if is_code(c, "contains_python") else 0.0 for c in completions]


@REWARDS.register("format")
def make_format(arg: str | None, grader: Grader | None) -> FormatReward:
    """``format``: a non-empty boxed answer."""
    no_args("format", arg)
    return FormatReward()


@REWARDS.register("python")
def make_python(arg: str | None, grader: Grader | None) -> PythonReward:
    """``python``: the response contains "python"."""
    no_args("python", arg)
    return PythonReward()
