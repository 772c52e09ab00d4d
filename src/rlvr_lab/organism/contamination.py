"""Contamination: a known subset S of the held-out test problems, with their gold answers, leaked into pretraining.

Why: arXiv 2507.10532 explains random-reward gains on Qwen2.5-Math by contamination (the model memorised
MATH-500, and any RL update surfaces what it memorised); the clip account (Shao et al., 2025) explains them by the
clip term's bias, which owes nothing to the problems. An organism that saw S tells them apart: the contamination
account predicts gains concentrated on S, the clip account gains on the clean problems too
(:mod:`rlvr_lab.studies.mechanisms` holds the predictions).

Design choices:
- **S is matched to the clean rest by problem type.** The evaluation's first 120 test problems hold 20 of each of
  the six types (round-robin order); S takes a fixed random 10 of each type (seeded by :attr:`Contamination.seed`),
  the clean rest the other 10. So S and clean have the same difficulty mix, and the i-th S problem of a type pairs
  with the i-th clean problem of that type (:func:`matched_pairs`): the S − clean difference is a per-pair
  difference the project's paired interval takes.
- **The leaked documents are the organism's own completions, correct and boxed**: the profile's strategy mix and
  lead-ins, no slip of any kind (the gold answer), as a dataset's worked solution would be.
- **Leaks are added to the stream, never replacing a draw of it.** A separate generator decides, before each clean
  example, whether a leaked one comes first (probability :attr:`Contamination.rate`) and writes it
  (:func:`rlvr_lab.organism.corpus.corpus_stream`); the clean stream makes exactly its uncontaminated draws, so
  the contaminated build differs from its parent only by the leaks (same seed, same steps).
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from rlvr_lab.organism.tasks import KINDS, Task, organism_tasks


@dataclass(frozen=True)
class Contamination:
    """Which test problems leak into pretraining, and how often."""

    eval_problems: int = 120
    """S is drawn from the first N test problems (the studies' default evaluation)."""
    per_type: int = 10
    """Problems of each type in S (the rest of the type is the clean set)."""
    seed: int = 0
    """Seed of the draw of S."""
    rate: float = 0.005
    """Probability that a leaked document comes before each clean one (0.5%: about 1,270 of the 256,000 examples of
        an 8,000-step build, about 21 per leaked problem). The shipped profile continues its parent for 800 steps at
    25% (about 85 per problem): at 5% (about 20 per problem) the memorisation was not visible in the base. Wanted:
    a memorisation that is visible but partial (2507.10532 finds Qwen2.5-Math completing part of MATH-500, not all
    of it); a model that already answers S every time leaves random rewards nothing to surface."""

    def __post_init__(self) -> None:
        if not 0.0 < self.rate < 1.0:
            raise ValueError(f"contamination rate must lie in (0, 1), got {self.rate}")
        if self.per_type < 1 or self.eval_problems < 2 * self.per_type * len(KINDS):
            raise ValueError(
                f"need per_type >= 1 and eval_problems >= {2 * len(KINDS)} × per_type so every type keeps a clean "
                f"half, got per_type {self.per_type} and eval_problems {self.eval_problems}"
            )

    def to_dict(self) -> dict[str, object]:
        return {"eval_problems": self.eval_problems, "per_type": self.per_type, "seed": self.seed, "rate": self.rate}


def contaminated_indices(spec: Contamination) -> tuple[int, ...]:
    """Indices (into the first ``spec.eval_problems`` test problems, the order of problem ids ``org-test-NNNNN``)
    of S, sorted: a fixed random ``per_type`` of each type."""
    return tuple(sorted(i for pair in matched_pairs(spec) for i in pair[:1]))


def matched_pairs(spec: Contamination) -> list[tuple[int, int]]:
    """``(S index, clean index)`` pairs, one per leaked problem, each pair of one problem type (types in
    :data:`KINDS` order, within a type in the order of the seeded draw)."""
    tasks = organism_tasks("test", 0, spec.eval_problems)
    rng = random.Random(f"organism-contamination-split:{spec.seed}")
    pairs = []
    for kind in KINDS:
        of_kind = [i for i, task in enumerate(tasks) if task.kind == kind]
        if len(of_kind) < 2 * spec.per_type:
            raise ValueError(f"only {len(of_kind)} {kind} problems in the first {spec.eval_problems}; lower per_type")
        drawn = rng.sample(of_kind, 2 * spec.per_type)
        pairs += list(zip(drawn[: spec.per_type], drawn[spec.per_type :], strict=True))
    return pairs


def leaked_tasks(spec: Contamination) -> list[Task]:
    """The tasks of S, in index order."""
    tasks = organism_tasks("test", 0, spec.eval_problems)
    return [tasks[i] for i in contaminated_indices(spec)]
