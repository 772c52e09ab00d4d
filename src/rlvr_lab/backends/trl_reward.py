"""Our rewards inside TRL's ``GRPOTrainer``, correct under data parallelism.

TRL calls each reward function on every rank once per generation batch with keyword arguments: ``prompts``,
``completions``, ``completion_ids``, every dataset column except ``prompt`` (one value per row), ``trainer_state``,
``log_extra`` and ``log_metric``; it expects one ``float | None`` per row (``None`` becomes NaN). Each rank holds
the same number ``n`` of rows: rows ``rank·n .. rank·n + n - 1`` of the generation batch, which is made of blocks of
``num_generations`` consecutive completions of one prompt. A block may straddle two ranks (3 prompts × 4 on 2
ranks gives 6 rows per rank), so:

- rows are cut at *global* group boundaries, and each piece is scored by one call of our reward; a per-sample
  reward (``ground_truth``, ``random``, ``format``) gets whatever slice of a group this rank holds;
- a reward that needs the whole group (online ``majority_vote``, see :func:`needs_whole_groups`) refuses a split
  group, saying how to keep groups whole (:meth:`TRLReward.check_layout` says it before training starts);
- keys of stochastic rewards are global: ``step`` is the rollout number ``global_step // updates_per_rollout + 1``
  (TRL's ``global_step`` counts optimiser updates) and a row's sample index its position in the whole generation
  batch (``rank·n + i``), so ranks draw different random rewards, and a one-shot batch (one problem in every slot)
  gets distinct draws in every slot, as in our own trainer.

The rank comes from ``accelerate``'s process state (set up by the trainer). Grading rewards share one
:class:`~rlvr_lab.grading.grade.Grader` per process, sized to this rank's share of the node
(``cores // LOCAL_WORLD_SIZE`` workers), made on first use and closed by :meth:`TRLReward.close` or at exit.
The dataset must carry the columns :func:`trl_rows` writes (``problem_id``, ``problem``, ``answer``) and no
others: the adapter names its arguments, so an unexpected column fails loudly rather than being swallowed.
"""

from __future__ import annotations

import atexit
import os
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from rlvr_lab.grading.grade import Grader, GradingConfig
from rlvr_lab.rewards.base import RewardFn
from rlvr_lab.rewards.compose import AllOf, Not
from rlvr_lab.rewards.graded import OnlineMajorityReward
from rlvr_lab.rewards.spec import build_reward
from rlvr_lab.runtime.threads import available_cpus
from rlvr_lab.tasks.problem import Problem

if TYPE_CHECKING:
    from rlvr_lab.backends.trl_config import TRLPlan


def trl_rows(problems: Sequence[Problem], render: Callable[[Problem], str]) -> list[dict[str, str]]:
    """Dataset rows for ``GRPOTrainer``: the rendered ``prompt`` plus the columns :class:`TRLReward` reads."""
    return [{"prompt": render(p), "problem_id": p.id, "problem": p.prompt, "answer": p.answer} for p in problems]


def _text(completion: str | list[dict[str, Any]]) -> str:
    """A completion as text: plain strings as they are, conversational ones as the last message's content."""
    return completion if isinstance(completion, str) else str(completion[-1]["content"])


def needs_whole_groups(reward: RewardFn) -> bool:
    """Whether ``reward`` reads its group as a whole (online majority vote, or a user reward declaring
    ``whole_groups = True``), so that scoring part of a group would change its values."""
    if isinstance(reward, OnlineMajorityReward):
        return True
    if isinstance(reward, AllOf):
        return any(needs_whole_groups(part) for part in reward.parts)
    if isinstance(reward, Not):
        return needs_whole_groups(reward.inner)
    return bool(getattr(reward, "whole_groups", False))


def process_index() -> int:
    """This process's rank in the data-parallel group (0 without one)."""
    from accelerate.state import PartialState

    return PartialState().process_index


def node_share_grading(fallbacks: tuple[str, ...] = ()) -> GradingConfig:
    """Grading workers for one rank: the node's cores divided among the ranks on it (at least one)."""
    local_ranks = int(os.environ.get("LOCAL_WORLD_SIZE", "1"))
    return GradingConfig(workers=max(1, available_cpus() // local_ranks), fallbacks=fallbacks)


class TRLReward:
    """A reward spec (or reward object) wrapped in TRL's reward-function contract; picklable.

    ``updates_per_rollout`` converts TRL's optimiser-step counter into our rollout number (the ``step`` of reward
    keys); it is ``num_iterations × steps_per_generation / gradient_accumulation_steps`` of the ``GRPOConfig``.
    """

    def __init__(
        self,
        reward: str | RewardFn,
        group_size: int,
        seed: int = 0,
        updates_per_rollout: int = 1,
        fallbacks: tuple[str, ...] = (),
    ) -> None:
        if group_size < 1 or updates_per_rollout < 1:
            raise ValueError(
                f"group_size and updates_per_rollout must be >= 1, got {group_size}, {updates_per_rollout}"
            )
        self.spec = reward
        self.group_size = group_size
        self.seed = seed
        self.updates_per_rollout = updates_per_rollout
        self.fallbacks = fallbacks
        """Answer extractors after the boxed answer (the run's ``fallbacks``), for the reward and accuracy alike."""
        self.label = reward if isinstance(reward, str) else type(reward).__name__
        self.__name__ = f"rlvr:{self.label}"
        self._grader: Grader | None = None
        self._reward: RewardFn | None = None if isinstance(reward, str) else reward

    # -- lifecycle: the grader lives in this process only ---------------------------------------------------------

    @property
    def reward(self) -> RewardFn:
        """The reward, built on first use with this process's grader (grading rewards start its workers lazily)."""
        if self._reward is None:
            self._grader = Grader(node_share_grading(self.fallbacks))
            atexit.register(self.close)
            self._reward = build_reward(str(self.spec), self._grader)
        return self._reward

    @property
    def grader(self) -> Grader:
        """This process's grader (the trainer measures accuracy with it too)."""
        self.reward  # noqa: B018  (builds the reward and its grader on first use)
        if self._grader is None:  # a reward object was given: grading still needs a grader of our own
            self._grader = Grader(node_share_grading(self.fallbacks))
            atexit.register(self.close)
        return self._grader

    def close(self) -> None:
        """Stop this process's grading workers (idempotent)."""
        if self._grader is not None:
            self._grader.close()

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_grader"] = None
        if isinstance(self.spec, str):
            state["_reward"] = None  # rebuilt, with its own grader, in the process that unpickles it
        return state

    def check_layout(self, plan: TRLPlan) -> None:
        """Refuse, before training, a layout that splits groups across ranks when the reward needs whole groups."""
        if plan.groups_whole_on_rank or not needs_whole_groups(self.reward):
            return
        raise ValueError(
            f"reward {self.label!r} scores whole groups, but each of the {plan.world_size} ranks holds "
            f"{plan.rows_per_rank} completions, not a multiple of group_size={self.group_size}, so a group would be "
            f"split across ranks; make prompts_per_step a multiple of the world size ({plan.world_size})"
        )

    # -- TRL's call -----------------------------------------------------------------------------------------------

    def __call__(
        self,
        prompts: Sequence[Any],
        completions: Sequence[str | list[dict[str, Any]]],
        problem_id: Sequence[str],
        problem: Sequence[str],
        answer: Sequence[str],
        completion_ids: Sequence[Sequence[int]] | None = None,
        trainer_state: Any = None,
        log_extra: Callable[..., None] | None = None,
        log_metric: Callable[..., None] | None = None,
    ) -> list[float | None]:
        n, G = len(completions), self.group_size
        offset = process_index() * n  # every rank holds n rows of the generation batch, in rank order
        global_step = 0 if trainer_state is None else int(trainer_state.global_step)
        step = global_step // self.updates_per_rollout + 1
        reward = self.reward
        whole = needs_whole_groups(reward)
        out: list[float | None] = []
        start = 0
        while start < n:
            group = (offset + start) // G
            end = min(n, (group + 1) * G - offset)  # this rank's rows of that group
            ids = set(problem_id[start:end])
            if len(ids) != 1:
                raise ValueError(f"rows {offset + start}..{offset + end - 1} mix problems {sorted(ids)}: not one group")
            if whole and end - start != G:
                raise ValueError(
                    f"reward {self.label!r} needs whole groups but this rank holds {end - start} of the "
                    f"{G} completions of group {group}; make the per-rank rows (rollout / world size) a multiple of "
                    f"num_generations={G}"
                )
            p = Problem(id=problem_id[start], prompt=problem[start], answer=answer[start])
            out.extend(
                reward(
                    problem=p,
                    completions=[_text(c) for c in completions[start:end]],
                    sample_indices=list(range(offset + start, offset + end)),
                    step=step,
                    seed=self.seed,
                )
            )
            start = end
        return out
