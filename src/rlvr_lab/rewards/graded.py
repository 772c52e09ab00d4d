"""Rewards that grade completions against a label with the evaluation pipeline's grader (math-verify).

- ``ground_truth``: the label is the problem's gold answer.
- ``majority_vote`` (TTRL, Zuo et al., 2025): online, the label is the group's own most common extracted answer
  (a group with no extractable answer earns nothing); offline (``majority_vote:store=PATH[,votes=K]``), the label
  is the majority of the first ``K`` samples of each problem in a sample store (e.g. the base model's).
- ``incorrect`` (``incorrect:store=PATH[,votes=K]``, *Spurious Rewards*): the label is the base model's most
  frequent answer, from a sample store, and problems where that answer is *correct* are dropped, as in the paper,
  so every label left is the base model's most frequent wrong answer.

A completion scores 1 when its extracted answer is equivalent to the label, else 0 (no answer, timeouts and
grading errors score 0: they are the model's failures, not missing data). Offline rewards can score only the
problems they hold a label for: ``select`` keeps those, and a call for any other problem returns ``None``.

The grader is shared when the factory gets one; otherwise each reward starts its own on first use. Pickling
drops the grader (a worker pool does not cross processes) and the copy starts a fresh one when first called.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rlvr_lab.grading.extract import Extraction
from rlvr_lab.grading.grade import Grader
from rlvr_lab.rewards.base import REWARDS, no_args, parse_args
from rlvr_lab.rewards.labels import majority_answer, majority_labels, store_answers
from rlvr_lab.tasks.problem import Problem


class _Graded:
    """Holds a grader, created lazily, left out of pickles."""

    def __init__(self, grader: Grader | None) -> None:
        self._grader = grader

    @property
    def grader(self) -> Grader:
        if self._grader is None:
            self._grader = Grader()
        return self._grader

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_grader": None}

    def _score(self, label: str, extractions: Sequence[Extraction]) -> list[float | None]:
        verdicts = self.grader.grade_extracted([(label, e) for e in extractions])
        return [1.0 if v.correct else 0.0 for v in verdicts]


class GroundTruthReward(_Graded):
    """1 when the completion's answer equals the problem's gold answer."""

    def __call__(
        self,
        *,
        problem: Problem,
        completions: Sequence[str],
        sample_indices: Sequence[int],
        step: int,
        seed: int,
    ) -> list[float | None]:
        return self._score(problem.answer, [self.grader.extract(c) for c in completions])


class OnlineMajorityReward(_Graded):
    """1 when the completion's answer equals the group's majority answer (TTRL); all 0 if nobody answered."""

    def __call__(
        self,
        *,
        problem: Problem,
        completions: Sequence[str],
        sample_indices: Sequence[int],
        step: int,
        seed: int,
    ) -> list[float | None]:
        extractions = [self.grader.extract(c) for c in completions]
        label = majority_answer(e.answer for e in extractions)
        if label is None:
            return [0.0] * len(completions)
        return self._score(label, extractions)


class LabelReward(_Graded):
    """1 when the completion's answer equals a fixed per-problem label; ``None`` for problems without one.

    ``drop_correct_labels`` (the ``incorrect`` reward) also treats as unlabelled every problem whose label is
    equivalent to its gold answer.
    """

    def __init__(self, labels: dict[str, str], drop_correct_labels: bool, grader: Grader | None) -> None:
        super().__init__(grader)
        self.labels = dict(labels)
        self.drop_correct_labels = drop_correct_labels
        self._label_correct: dict[str, bool] = {}

    def label_for(self, problem: Problem) -> str | None:
        """The label this reward trains ``problem`` toward, or None when it cannot score the problem."""
        label = self.labels.get(problem.id)
        if label is None or not self.drop_correct_labels:
            return label
        if problem.id not in self._label_correct:
            verdict = self.grader.grade_extracted([(problem.answer, Extraction(label, "label"))])[0]
            self._label_correct[problem.id] = verdict.correct
        return None if self._label_correct[problem.id] else label

    def select(self, problems: Sequence[Problem]) -> list[Problem]:
        return [p for p in problems if self.label_for(p) is not None]

    def __call__(
        self,
        *,
        problem: Problem,
        completions: Sequence[str],
        sample_indices: Sequence[int],
        step: int,
        seed: int,
    ) -> list[float | None]:
        label = self.label_for(problem)
        if label is None:
            return [None] * len(completions)
        return self._score(label, [self.grader.extract(c) for c in completions])


LABEL_STORE_HINT = (
    "Build the store from the base model's own samples on the training problems, e.g. "
    "`rlvr sample --model qwen-math-like --problems organism --split train --template organism --n 8 "
    "--out labels.jsonl`; each problem's label is the majority answer of its samples (for `incorrect`, problems "
    "whose majority answer is right get no label and are left out)."
)
"""How to make the sample store that ``incorrect`` and offline ``majority_vote`` read, for errors and help."""


def _store_labels(name: str, arg: str | None, grader: Grader | None) -> dict[str, str]:
    """The store's majority labels, its answers extracted with ``grader``'s fallbacks (the rule the reward grades
    by: a label read by another rule would mark as wrong an answer the grader reads as the label)."""
    args = parse_args(name, arg, ("store", "votes"))
    if "store" not in args:
        raise ValueError(f"reward {name!r} needs a sample store: {name}:store=PATH[,votes=K]. {LABEL_STORE_HINT}")
    votes = int(args["votes"]) if "votes" in args else None
    fallbacks = grader.config.fallbacks if grader is not None else ()
    return majority_labels(store_answers(Path(args["store"]), fallbacks), votes)


@REWARDS.register("ground_truth")
def make_ground_truth(arg: str | None, grader: Grader | None) -> GroundTruthReward:
    """``ground_truth``: the gold answer."""
    no_args("ground_truth", arg)
    return GroundTruthReward(grader)


@REWARDS.register("majority_vote")
def make_majority_vote(arg: str | None, grader: Grader | None) -> OnlineMajorityReward | LabelReward:
    """``majority_vote`` (online, the group's majority) or ``majority_vote:store=PATH[,votes=K]`` (offline)."""
    if not arg:
        return OnlineMajorityReward(grader)
    return LabelReward(_store_labels("majority_vote", arg, grader), drop_correct_labels=False, grader=grader)


@REWARDS.register("incorrect")
def make_incorrect(arg: str | None, grader: Grader | None) -> LabelReward:
    """``incorrect:store=PATH[,votes=K]``: the base model's most frequent answer where it is wrong."""
    return LabelReward(_store_labels("incorrect", arg, grader), drop_correct_labels=True, grader=grader)
