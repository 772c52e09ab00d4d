"""One step's rollout: sample ``G`` completions per prompt slot, grade them, score them with the training signal.

Accuracy is always measured against the gold answer (or the unit tests), whatever the signal, so a random or
format reward's effect on correctness is visible at every step.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from rlvr_lab.analysis.strategy import code_frequency
from rlvr_lab.engines import Completion, Engine, SampleRequest, SamplingConfig
from rlvr_lab.grading.grade import Grader
from rlvr_lab.rewards import RewardFn
from rlvr_lab.tasks.problem import Problem


@dataclass(frozen=True)
class Rollout:
    """One step's samples and their scores; ``P`` prompt slots × ``G`` completions."""

    problems: list[Problem]
    """(P,) the problem of each slot."""
    completions: list[list[Completion]]
    """(P, G) sampled completions."""
    rewards: torch.Tensor
    """(P, G) training signal, None mapped to 0."""
    correct: torch.Tensor
    """(P, G) ground-truth correctness, whatever the signal."""


def collect_rollout(
    engine: Engine,
    prompt_ids: dict[str, list[int]],
    problems: Sequence[Problem],
    reward: RewardFn,
    grader: Grader,
    sampling: SamplingConfig,
    step: int,
) -> Rollout:
    """Sample ``G`` completions for each slot, grade them against the gold answer, and score them with ``reward``.

    Slot ``j`` draws sample indices ``j·G .. (j+1)·G - 1`` under the key ``train/<step>/<problem id>``, so a
    problem that fills several slots (one-shot) gets distinct samples, and each step new ones.
    """
    G = sampling.n
    requests = [
        SampleRequest(prompt_ids[p.id], key=f"train/{step}/{p.id}", sample_indices=tuple(range(j * G, (j + 1) * G)))
        for j, p in enumerate(problems)
    ]
    completions = engine.sample(requests, sampling)
    # Accuracy first, in one grading call for the whole rollout (unit tests for code problems, math-verify
    # otherwise); a ground-truth or unit-test reward then hits the cache.
    items = [(p, c.text) for p, group in zip(problems, completions, strict=True) for c in group]
    correct = [float(v.correct) for v in grader.grade_problems(items)]
    rewards = []
    for request, p, group in zip(requests, problems, completions, strict=True):
        texts = [c.text for c in group]
        values = reward(
            problem=p, completions=texts, sample_indices=request.sample_indices, step=step, seed=sampling.seed
        )
        if len(values) != len(texts):
            raise ValueError(f"reward returned {len(values)} values for {len(texts)} completions of {p.id!r}")
        rewards.append([0.0 if v is None else float(v) for v in values])
    return Rollout(
        problems=list(problems),
        completions=completions,
        rewards=torch.tensor(rewards, dtype=torch.float32),
        correct=torch.tensor(correct, dtype=torch.float32).view(len(problems), G),
    )


def rollout_metrics(rollout: Rollout) -> dict[str, float]:
    """Reward, accuracy, response and strategy statistics of one rollout."""
    flat = [c for group in rollout.completions for c in group]
    rewards = rollout.rewards
    zero_std = (rewards.amax(dim=1) == rewards.amin(dim=1)).float()
    return {
        "reward/mean": float(rewards.mean()),
        "reward/std": float(rewards.std(correction=0)),
        "reward/zero_std_frac": float(zero_std.mean()),
        "train/accuracy": float(rollout.correct.mean()),
        "response/length_mean": float(np.mean([c.num_tokens for c in flat])),
        "response/truncated_frac": float(np.mean([c.finish_reason == "length" for c in flat])),
        "strategy/code_frequency": code_frequency(c.text for c in flat),
    }


def problem_accuracy(rollout: Rollout) -> dict[str, float]:
    """Each problem's training accuracy this step (all its slots pooled), for one-shot selection."""
    hits: dict[str, list[float]] = {}
    for p, row in zip(rollout.problems, rollout.correct.tolist(), strict=True):
        hits.setdefault(p.id, []).extend(row)
    return {pid: float(np.mean(v)) for pid, v in hits.items()}
