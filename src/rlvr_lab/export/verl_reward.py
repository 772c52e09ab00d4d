"""Our rewards as a verl 0.9 reward manager: step- and group-aware, with ground-truth accuracy beside any signal.

verl loads this class by name (``reward.reward_manager.source=importlib``, ``module.path=pkg://`` this module),
so it needs verl installed and is imported only inside verl's reward workers.
:func:`rlvr_lab.export.verl_board.reward_overrides` writes the overrides that select it; ``rlvr export verl`` adds
them to the command.

What one call of :meth:`RlvrRewardManager.run_single` does with one finished response:
1. decodes it, reads the problem (``extra_info.problem_id``, ``extra_info.problem``, ``reward_model.ground_truth``),
   its role (``extra_info.role``: ``train`` or ``validation``, written by the parquet file the row is in, never
   inferred from a split's name) and verl's ``uid`` (one per prompt group per step);
2. takes the response's training step and index in its group from verl (``global_steps``, ``session_id``: the
   default v1 trainer passes both) or, on the legacy trainer, from the run's
   :class:`~rlvr_lab.export.verl_board.GroupBoard` (a named Ray actor shared by every reward worker), and records
   the text there when the reward needs the group;
3. for a reward that scores a whole group (``majority_vote`` online), waits until the board holds the group's
   ``n`` responses (``rollout.n``); the first response to see it whole grades the group once and posts the
   scores, the others read theirs. Every other reward is scored on the response alone, with its step and index,
   so ``random:γ`` is keyed by (seed, step, problem, sample) as in our trainer. Grading runs in a thread
   (``run_in_executor``), never on the event loop that verl's reward worker shares between responses;
4. adds DAPO's soft overlong punishment when the export asked for it (``reward_kwargs.overlong_buffer``, the
   function our trainer uses), and returns the score with ``acc`` (ground-truth correctness whatever the
   training signal, which verl logs as ``reward_extra_info``) and ``rlvr_reward`` (the shaped training reward,
   which verl's group filter reads under dynamic sampling).

Validation rows are scored by ground truth: the held-out number is accuracy, as in our trainer's evaluation.

Grading runs in a small process pool per reward worker (one worker process each by default: verl already runs
``reward.num_workers`` reward workers per node), so a node is not oversubscribed with one pool per core per worker.
"""

from __future__ import annotations

import asyncio
import time
from functools import cached_property, partial
from typing import Any

import ray
import torch
from verl.experimental.reward_loop.reward_manager.base import RewardManagerBase

from rlvr_lab.export.verl_board import (
    BOARD_NAME,
    GroupBoard,
    first_step,
    is_training_row,
    needs_group,
    verl_step_and_index,
)
from rlvr_lab.rewards.base import RewardFn
from rlvr_lab.rl.dapo import overlong_penalty
from rlvr_lab.tasks.problem import Problem

GRADING_WORKERS = 1
"""Grading processes per reward worker: verl runs ``reward.num_workers`` (8) reward workers per node already."""
GROUP_WAIT_S = 1800.0
"""How long a response waits for the rest of its group before the run fails loudly (a lost response)."""


class RlvrRewardManager(RewardManagerBase):
    """A verl reward manager that scores with an rlvr-lab reward spec (see the module docstring)."""

    def __init__(
        self,
        config: Any,
        tokenizer: Any,
        compute_score: Any = None,
        reward_router_address: str | None = None,
        reward_model_tokenizer: Any = None,
    ) -> None:
        super().__init__(config, tokenizer, compute_score)
        options = config.reward.custom_reward_function.get("reward_kwargs", {}) or {}
        self.spec = str(options.get("reward", "ground_truth"))
        self.seed = int(options.get("seed", 0))
        self.overlong_buffer = int(options.get("overlong_buffer", 0))
        self.overlong_penalty = float(options.get("overlong_penalty", 1.0))
        self.max_response_length = int(config.data.max_response_length)
        self.group_size = int(config.actor_rollout_ref.rollout.n)
        self.prompts_per_step = int(config.data.train_batch_size)

    @cached_property
    def _grader(self) -> Any:
        from rlvr_lab.grading.grade import Grader, GradingConfig

        return Grader(GradingConfig(workers=GRADING_WORKERS))

    @cached_property
    def _rewards(self) -> tuple[RewardFn, RewardFn]:
        """(the training reward, ground truth), sharing one grader."""
        from rlvr_lab.rewards.spec import build_reward

        return build_reward(self.spec, grader=self._grader), build_reward("ground_truth", grader=self._grader)

    @cached_property
    def _board(self) -> Any:
        return (
            ray.remote(GroupBoard)
            .options(name=BOARD_NAME, get_if_exists=True, num_cpus=0)
            .remote(self.prompts_per_step, first_step=first_step(self.config.trainer))
        )

    async def run_single(self, data: Any) -> dict:
        item = data[-1:][0]
        response_ids = item.batch["responses"]
        valid = int(item.batch["attention_mask"][-response_ids.shape[-1] :].sum())
        loop = asyncio.get_running_loop()
        text = await loop.run_in_executor(
            None, lambda: self.tokenizer.decode(response_ids[:valid], skip_special_tokens=True)
        )
        tensors = item.non_tensor_batch
        info = dict(tensors.get("extra_info", {}) or {})
        problem = Problem(
            id=str(info.get("problem_id", info.get("index", ""))),
            prompt=str(info.get("problem", "")),
            answer=str(tensors["reward_model"]["ground_truth"]),
            source=str(tensors.get("data_source", "")),
        )
        train = is_training_row(info)
        uid = str(tensors.get("uid", problem.id))
        step, index = verl_step_and_index(tensors)
        group = train and needs_group(self.spec)
        if group or step is None or index is None:
            step, index = await self._board.join.remote(uid, text, train, step, index)
        reward, ground_truth = self._rewards

        def grade_alone(fn: RewardFn, seed: int) -> float | None:
            return fn(problem=problem, completions=[text], sample_indices=[index], step=step, seed=seed)[0]

        correct = await loop.run_in_executor(None, grade_alone, ground_truth, 0)
        if not train:
            score = correct
        elif group:
            score = (await self._group_scores(uid, problem, step))[index]
        else:
            score = await loop.run_in_executor(None, grade_alone, reward, self.seed)
        shaped = 0.0 if score is None else float(score)
        if train and self.overlong_buffer:
            shaped += float(
                overlong_penalty(
                    torch.tensor([valid]), self.max_response_length, self.overlong_buffer, self.overlong_penalty
                )[0]
            )
        return {
            "reward_score": shaped,
            "reward_extra_info": {
                "acc": float(correct or 0.0),
                "rlvr_reward": shaped,
                "rlvr_step": step,
                "rlvr_sample": index,
            },
        }

    async def _group_scores(self, uid: str, problem: Problem, step: int) -> list[float | None]:
        """The group's scores, graded once per group by whichever response first sees it whole."""
        start = time.monotonic()
        while True:
            scores = await self._board.group_scores.remote(uid)
            if scores is not None:
                return scores
            group = await self._board.group.remote(uid)
            if len(group) >= self.group_size and await self._board.claim.remote(uid):
                texts = group[: self.group_size]
                reward = self._rewards[0]
                grade = partial(
                    reward,
                    problem=problem,
                    completions=texts,
                    sample_indices=list(range(len(texts))),
                    step=step,
                    seed=self.seed,
                )
                scores = await asyncio.get_running_loop().run_in_executor(None, grade)
                await self._board.post_scores.remote(uid, scores)
                return scores
            if time.monotonic() - start > GROUP_WAIT_S:
                raise RuntimeError(
                    f"group {uid}: {len(group)} of {self.group_size} responses arrived in {GROUP_WAIT_S:.0f} s; "
                    "a group reward cannot be scored without the whole group"
                )
            await asyncio.sleep(0.05)
