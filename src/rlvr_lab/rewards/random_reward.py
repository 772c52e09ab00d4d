"""``random:γ``: a Bernoulli(γ) reward that ignores the completion.

The *Spurious Rewards* paper (Shao et al., 2025) draws these with an unseeded RNG, so its runs cannot be
replayed. Here each draw is a pure function of ``(seed, step, problem id, sample index)``: the key is hashed with
BLAKE2b to 64 bits, read as ``u ∈ [0, 1)``, and the reward is ``1`` when ``u < γ``. Consequences: a resumed run
redraws exactly the rewards of the uninterrupted one, the draws do not depend on batch composition or on which
process computes them, and two runs with different seeds get independent rewards.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from rlvr_lab.rewards.base import REWARDS, parse_args
from rlvr_lab.tasks.problem import Problem

if TYPE_CHECKING:
    from rlvr_lab.grading.grade import Grader


def uniform_draw(seed: int, step: int, problem_id: str, sample_index: int) -> float:
    """A uniform number in [0, 1) determined by its key (64 bits of BLAKE2b)."""
    key = f"{seed}\x1f{step}\x1f{problem_id}\x1f{sample_index}".encode()
    digest = hashlib.blake2b(key, digest_size=8, person=b"rlvr-random").digest()
    return int.from_bytes(digest, "big") / 2.0**64


@dataclass(frozen=True)
class RandomReward:
    """Reward 1 with probability ``gamma`` per completion, independent of its text."""

    gamma: float

    def __post_init__(self) -> None:
        if not 0.0 <= self.gamma <= 1.0:
            raise ValueError(f"random reward: gamma must be in [0, 1], got {self.gamma}")

    def __call__(
        self,
        *,
        problem: Problem,
        completions: Sequence[str],
        sample_indices: Sequence[int],
        step: int,
        seed: int,
    ) -> list[float | None]:
        return [
            1.0 if uniform_draw(seed, step, problem.id, i) < self.gamma else 0.0
            for _, i in zip(completions, sample_indices, strict=True)
        ]


@REWARDS.register("random")
def make_random(arg: str | None, grader: Grader | None) -> RandomReward:
    """``random:γ`` (or ``random:gamma=γ``); γ defaults to 0.5."""
    args = parse_args("random", arg, ("gamma",))
    return RandomReward(gamma=float(args.get("gamma", 0.5)))
