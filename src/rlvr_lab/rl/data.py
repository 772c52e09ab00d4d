"""Which problems each step trains on, and the one-shot RLVR selection.

Data order is a pure function of ``(seed, step)``: the problem stream is the concatenation of per-epoch
permutations (epoch ``e`` shuffled by a generator seeded with ``(seed, e)``), and step ``s`` takes stream
positions ``[s·P, (s+1)·P)``. A resumed run therefore needs no sampler state to see exactly the problems the
uninterrupted run would have seen, and changing the number of steps does not change the earlier ones.

One-shot RLVR (Wang et al., 2025, "Reinforcement Learning for Reasoning in Large Language Models with One
Training Example") trains on a single problem repeated to fill the batch. Its selection score is the variance of a
problem's training accuracy over the steps it was seen in a previous run: a problem the model sometimes solves
and sometimes does not, whose accuracy moved during training, carries the most learning signal.
:func:`select_one_shot` computes it from a run's ``problems.jsonl`` (one record per step with each problem's
accuracy that step).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from rlvr_lab.rewards import RewardFn, select_problems
from rlvr_lab.tasks import BENCHMARKS, load_problems
from rlvr_lab.tasks.problem import Problem

if TYPE_CHECKING:
    from rlvr_lab.rl.config import TrainConfig

PROBLEM_LOG = "problems.jsonl"
"""Per-step, per-problem training accuracy, written by the trainer into the run directory."""


def epoch_permutation(n: int, seed: int, epoch: int) -> np.ndarray:
    """The order of ``n`` problems in ``epoch``: a permutation seeded by ``(seed, epoch)``."""
    return np.random.default_rng([seed, epoch]).permutation(n)


def step_problems(problems: Sequence[Problem], seed: int, step: int, prompts_per_step: int) -> list[Problem]:
    """The problems of 1-based ``step``: stream positions ``(step - 1)·P .. step·P - 1`` (see the module doc).

    With fewer problems than slots, or at an epoch boundary, a step spans epochs; a single problem (one-shot)
    fills every slot.
    """
    if not problems:
        raise ValueError("no training problems")
    n = len(problems)
    out = []
    for position in range((step - 1) * prompts_per_step, step * prompts_per_step):
        epoch, index = divmod(position, n)
        out.append(problems[int(epoch_permutation(n, seed, epoch)[index])])
    return out


def accuracy_histories(run_dir: Path) -> dict[str, list[float]]:
    """Each problem's training accuracy per step it was seen, in step order, from ``run_dir/problems.jsonl``."""
    path = Path(run_dir) / PROBLEM_LOG
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: one-shot selection needs a previous run's per-problem log")
    histories: dict[str, list[float]] = {}
    for line_no, line in enumerate(path.read_text().splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            accuracy = record["accuracy"]
        except (ValueError, KeyError) as err:
            raise ValueError(f"{path}:{line_no}: not a problem-accuracy record ({err})") from None
        for problem_id, value in accuracy.items():
            histories.setdefault(problem_id, []).append(float(value))
    return histories


def one_shot_scores(histories: dict[str, list[float]]) -> dict[str, float]:
    """Variance (population, ``ddof=0``) of each problem's accuracy history; problems seen once have none."""
    return {pid: float(np.var(h)) for pid, h in histories.items() if len(h) >= 2}


def select_one_shot(run_dir: Path) -> str:
    """The id of the problem with the largest accuracy variance in ``run_dir`` (ties: the smallest id)."""
    scores = one_shot_scores(accuracy_histories(run_dir))
    if not scores:
        raise ValueError(f"{run_dir}: no problem was seen at two or more steps; train longer to select one")
    return min(scores, key=lambda pid: (-scores[pid], pid))


def resolve_one_shot(spec: str, problems: Sequence[Problem]) -> list[Problem]:
    """The training set for a ``one_shot`` option: a run directory (select by variance) or a problem id."""
    by_id = {p.id: p for p in problems}
    problem_id = select_one_shot(Path(spec)) if Path(spec).is_dir() else spec
    if problem_id not in by_id:
        raise ValueError(f"one-shot problem {problem_id!r} is not among the {len(problems)} training problems")
    return [by_id[problem_id]]


def split_of(spec: str, split: str) -> str | None:
    """The split to load ``spec`` with: splits apply to benchmarks and hub datasets, not to files."""
    return split if spec in BENCHMARKS or spec.startswith("hf:") else None


def run_problems(config: TrainConfig, reward: RewardFn) -> tuple[list[Problem], list[Problem]]:
    """A run's training problems (one-shot resolved, only those ``reward`` can score) and held-out problems.

    One function for every backend, so they train and evaluate on the same problems in the same order.
    """
    train = load_problems(
        config.train_data, split=split_of(config.train_data, config.train_split), limit=config.train_limit
    )
    if config.one_shot:
        train = resolve_one_shot(config.one_shot, train)
    train = select_problems(reward, train)
    if not train:
        raise ValueError(f"reward {config.reward!r} can score none of the training problems")
    held_out = load_problems(
        config.eval_data, split=split_of(config.eval_data, config.eval_split), limit=config.eval_limit
    )
    return train, held_out
