"""Our rewards inside TRL's ``GRPOTrainer``.

TRL calls each reward function once per generation batch with keyword arguments: ``prompts``, ``completions``,
``completion_ids``, every dataset column except ``prompt`` (one value per row), ``trainer_state``, ``log_extra``
and ``log_metric``; it expects one ``float | None`` per row (``None`` becomes NaN). Rows come in blocks of
``num_generations`` consecutive completions of the same prompt, which is what lets a group reward (online
majority vote) work: :class:`TRLReward` cuts the batch into those blocks and calls our reward once per block.

Keys for stochastic rewards: ``step`` is ``trainer_state.global_step``; the sample index of a row is its position
in the call, unique within a step. The dataset must carry the columns :func:`trl_rows` writes (``problem_id``,
``problem``, ``answer``) and no others: the adapter names its arguments, so an unexpected column fails loudly
rather than being swallowed by a ``**kwargs``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from rlvr_lab.rewards.base import RewardFn
from rlvr_lab.rewards.spec import build_reward
from rlvr_lab.tasks.problem import Problem


def trl_rows(problems: Sequence[Problem], render: Callable[[Problem], str]) -> list[dict[str, str]]:
    """Dataset rows for ``GRPOTrainer``: the rendered ``prompt`` plus the columns :class:`TRLReward` reads."""
    return [{"prompt": render(p), "problem_id": p.id, "problem": p.prompt, "answer": p.answer} for p in problems]


def _text(completion: str | list[dict[str, Any]]) -> str:
    """A completion as text: plain strings as they are, conversational ones as the last message's content."""
    return completion if isinstance(completion, str) else str(completion[-1]["content"])


class TRLReward:
    """A reward spec (or reward object) wrapped in TRL's reward-function contract; picklable."""

    def __init__(self, reward: str | RewardFn, group_size: int, seed: int = 0) -> None:
        if group_size < 1:
            raise ValueError(f"group_size must be >= 1, got {group_size}")
        self.reward = build_reward(reward) if isinstance(reward, str) else reward
        self.group_size = group_size
        self.seed = seed
        self.__name__ = f"rlvr:{reward}" if isinstance(reward, str) else f"rlvr:{type(reward).__name__}"

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
        if n % G:
            raise ValueError(f"{n} completions do not split into groups of num_generations={G}")
        step = 0 if trainer_state is None else int(trainer_state.global_step)
        out: list[float | None] = []
        for start in range(0, n, G):
            ids = set(problem_id[start : start + G])
            if len(ids) != 1:
                raise ValueError(f"rows {start}..{start + G - 1} mix problems {sorted(ids)}: not one group")
            p = Problem(id=problem_id[start], prompt=problem[start], answer=answer[start])
            values = self.reward(
                problem=p,
                completions=[_text(c) for c in completions[start : start + G]],
                sample_indices=list(range(start, start + G)),
                step=step,
                seed=self.seed,
            )
            out.extend(values)
        return out
