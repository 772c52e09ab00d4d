"""Reward specs: one string names any training signal.

Grammar (``&`` binds loosest, ``not:`` applies to the term after it)::

    spec := term ("&" term)*
    term := "not:" term
          | NAME [":" ARG]            a registered reward, e.g. random:0.5, majority_vote:store=s.jsonl,votes=16
          | MODULE ":" FUNCTION       a user reward imported by dotted path, e.g. my_pkg.rewards:length_bonus

Examples: ``ground_truth``, ``random:0.5``, ``format&not:python``. A name that is not registered is read as
``module:function``; when that import fails the error lists the registered names too, since a typo is likelier
than a missing module. A user function must follow :class:`~rlvr_lab.rewards.base.RewardFn`.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from rlvr_lab.rewards.base import REWARDS, RewardFn
from rlvr_lab.rewards.compose import AllOf, Not

if TYPE_CHECKING:
    from rlvr_lab.grading.grade import Grader


def build_reward(spec: str, grader: Grader | None = None) -> RewardFn:
    """Build the reward a spec names (see the module docstring); grading rewards share ``grader`` if given."""
    terms = [t.strip() for t in spec.split("&")]
    if not spec.strip() or any(not t for t in terms):
        raise ValueError(f"empty term in reward spec {spec!r}")
    rewards = [_build_term(t, grader) for t in terms]
    return rewards[0] if len(rewards) == 1 else AllOf(tuple(rewards))


def _build_term(term: str, grader: Grader | None) -> RewardFn:
    if term.startswith("not:"):
        return Not(_build_term(term[len("not:") :].strip(), grader))
    name, sep, arg = term.partition(":")
    if name in REWARDS:
        return REWARDS.get(name)(arg if sep else None, grader)
    if sep and arg.isidentifier():
        return _import_user_reward(name, arg)
    raise ValueError(
        f"unknown reward {name!r} in {term!r}; choose one of: {', '.join(REWARDS.names())}, "
        "or give a user reward as module:function"
    )


def _import_user_reward(module_name: str, attr: str) -> RewardFn:
    try:
        module = importlib.import_module(module_name)
    except ImportError as err:
        raise ValueError(
            f"reward {module_name}:{attr}: cannot import module {module_name!r} ({err}); "
            f"registered rewards: {', '.join(REWARDS.names())}"
        ) from err
    try:
        fn = getattr(module, attr)
    except AttributeError:
        raise ValueError(f"reward {module_name}:{attr}: module {module_name!r} has no {attr!r}") from None
    if not callable(fn):
        raise ValueError(f"reward {module_name}:{attr} is not callable")
    return fn
