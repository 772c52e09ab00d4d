"""Training signals: a registry of rewards over whole groups, a spec parser, and adapters for TRL and verl.

Importing this package registers the built-in rewards: ``ground_truth``, ``majority_vote``, ``incorrect``,
``format``, ``python``, ``random``, ``unit_tests``; combine them with ``a&b`` and ``not:a`` (see
:mod:`rlvr_lab.rewards.spec`).
"""

from rlvr_lab.rewards import code, graded, random_reward, text
from rlvr_lab.rewards.base import REWARDS, RewardFn, select_problems
from rlvr_lab.rewards.spec import build_reward

__all__ = ["REWARDS", "RewardFn", "build_reward", "code", "graded", "random_reward", "select_problems", "text"]
