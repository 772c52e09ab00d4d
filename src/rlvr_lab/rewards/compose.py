"""Compound (``a&b``) and inverse (``not:a``) rewards.

Both read their parts as predicates: a part *holds* for a completion when its reward is positive. ``a&b`` is 1
when every part holds and 0 otherwise; ``not:a`` is 1 when ``a`` does not hold. A ``None`` ("not applicable")
from any part makes the combination ``None`` too: a missing verdict is not a "no". A compound can score only
the problems that all its parts can score (``select`` chains through the parts).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rlvr_lab.rewards.base import RewardFn, select_problems
from rlvr_lab.tasks.problem import Problem


@dataclass(frozen=True)
class AllOf:
    """1 where every part's reward is positive, else 0; ``None`` where any part says ``None``."""

    parts: tuple[RewardFn, ...]

    def __post_init__(self) -> None:
        if not self.parts:
            raise ValueError("a compound reward needs at least one part")

    def __call__(
        self,
        *,
        problem: Problem,
        completions: Sequence[str],
        sample_indices: Sequence[int],
        step: int,
        seed: int,
    ) -> list[float | None]:
        columns = [
            part(problem=problem, completions=completions, sample_indices=sample_indices, step=step, seed=seed)
            for part in self.parts
        ]
        out: list[float | None] = []
        for values in zip(*columns, strict=True):
            if any(v is None for v in values):
                out.append(None)
            else:
                out.append(1.0 if all(v > 0 for v in values) else 0.0)
        return out

    def select(self, problems: Sequence[Problem]) -> list[Problem]:
        kept = list(problems)
        for part in self.parts:
            kept = select_problems(part, kept)
        return kept


@dataclass(frozen=True)
class Not:
    """1 where the inner reward is not positive, else 0; ``None`` stays ``None``."""

    inner: RewardFn

    def __call__(
        self,
        *,
        problem: Problem,
        completions: Sequence[str],
        sample_indices: Sequence[int],
        step: int,
        seed: int,
    ) -> list[float | None]:
        values = self.inner(
            problem=problem, completions=completions, sample_indices=sample_indices, step=step, seed=seed
        )
        return [None if v is None else (0.0 if v > 0 else 1.0) for v in values]

    def select(self, problems: Sequence[Problem]) -> list[Problem]:
        return select_problems(self.inner, problems)
