"""Our rewards as a verl ``compute_score`` function.

verl scores one response at a time: its reward manager calls
``compute_score(data_source=..., solution_str=..., ground_truth=..., extra_info=...)`` merged with the
``reward_kwargs`` of the config, and takes a float (or a dict with ``"score"``). Point verl at this file::

    reward.custom_reward_function.path=<site-packages>/rlvr_lab/export/verl_score.py
    reward.custom_reward_function.name=compute_score
    +reward.custom_reward_function.reward_kwargs.reward=random:0.5
    +reward.custom_reward_function.reward_kwargs.seed=1

The module has only absolute imports, so verl can load it by file path. What a one-response call cannot do: a
group reward sees a group of one (online ``majority_vote`` then rewards every answered response; use the
offline form with verl). Keys for stochastic rewards come from ``extra_info``: ``problem_id`` (else ``index``),
``sample_index`` (else a hash of the response text, so distinct responses draw independently) and ``step``
(else 0; verl does not pass the training step, put it in ``extra_info`` for fresh draws every step).
``None`` ("not applicable") is returned as 0.0, since verl needs a number.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from typing import Any

from rlvr_lab.rewards.base import RewardFn
from rlvr_lab.rewards.spec import build_reward
from rlvr_lab.tasks.problem import Problem


@lru_cache(maxsize=32)
def _reward(spec: str) -> RewardFn:
    """One reward object per spec per process (grading rewards keep their worker pool and cache)."""
    return build_reward(spec)


def _sample_index(solution_str: str) -> int:
    return int.from_bytes(hashlib.blake2b(solution_str.encode(), digest_size=4).digest(), "big")


def compute_score(
    data_source: str,
    solution_str: str,
    ground_truth: str,
    extra_info: dict[str, Any] | None = None,
    reward: str = "ground_truth",
    seed: int = 0,
) -> float:
    """Score one response with the reward ``reward`` (a spec, see :mod:`rlvr_lab.rewards.spec`)."""
    info = extra_info or {}
    problem_id = str(info.get("problem_id", info.get("index", "")))
    problem = Problem(id=problem_id, prompt=str(info.get("problem", "")), answer=str(ground_truth), source=data_source)
    sample_index = int(info.get("sample_index", _sample_index(solution_str)))
    (value,) = _reward(reward)(
        problem=problem,
        completions=[solution_str],
        sample_indices=[sample_index],
        step=int(info.get("step", 0)),
        seed=int(seed),
    )
    return 0.0 if value is None else float(value)
