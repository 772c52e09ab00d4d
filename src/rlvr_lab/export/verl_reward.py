"""Our rewards as a verl 0.9 reward manager: step- and group-aware, with ground-truth accuracy beside any signal.

verl loads this class by name (``reward.reward_manager.source=importlib``, ``module.path=pkg://`` this module),
so it needs verl installed and is imported only inside verl's reward workers.
:func:`rlvr_lab.export.verl_board.reward_overrides` writes the overrides that select it; ``rlvr export verl`` adds
them to the command.

What one call of :meth:`RlvrRewardManager.run_single` does with one finished response:
1. decodes it, reads the problem (``extra_info.problem_id``, ``extra_info.problem``, ``reward_model.ground_truth``)
   and verl's ``uid`` (one per prompt group per step);
2. asks the run's :class:`~rlvr_lab.export.verl_board.GroupBoard` (a named Ray actor shared by every reward
   worker) for the response's training step and index in its group;
3. for a reward that scores a whole group (``majority_vote`` online), waits until the board holds the group's
   ``n`` responses (``rollout.n``), then scores the group and keeps this response's score; every other reward is
   scored on the response alone, with its step and index, so ``random:γ`` is keyed by (seed, step, problem,
   sample) as in our trainer;
4. returns the score, and ``acc`` (ground-truth correctness whatever the training signal, which verl logs as
   ``reward_extra_info``) so accuracy is measured under random or incorrect rewards too.

Validation responses (``extra_info.split`` is not ``train``) are scored by ground truth: the held-out number is
accuracy, as in our trainer's evaluation.

Grading runs in a small process pool per reward worker (one worker process each by default: verl already runs
``reward.num_workers`` reward workers per node), so a node is not oversubscribed with one pool per core per worker.
"""

from __future__ import annotations

import asyncio
import time
from functools import cached_property
from typing import Any

import ray
from verl.experimental.reward_loop.reward_manager.base import RewardManagerBase

from rlvr_lab.export.verl_board import BOARD_NAME, GroupBoard, first_step, needs_group
from rlvr_lab.rewards.base import RewardFn
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
        text = await asyncio.get_running_loop().run_in_executor(
            None, lambda: self.tokenizer.decode(response_ids[:valid], skip_special_tokens=True)
        )
        info = dict(item.non_tensor_batch.get("extra_info", {}) or {})
        problem = Problem(
            id=str(info.get("problem_id", info.get("index", ""))),
            prompt=str(info.get("problem", "")),
            answer=str(item.non_tensor_batch["reward_model"]["ground_truth"]),
            source=str(item.non_tensor_batch.get("data_source", "")),
        )
        train = info.get("split", "train") == "train"
        uid = str(item.non_tensor_batch.get("uid", problem.id))
        step, index = await self._board.join.remote(uid, text, train)
        reward, ground_truth = self._rewards
        (correct,) = ground_truth(problem=problem, completions=[text], sample_indices=[index], step=step, seed=0)
        if not train:
            score = correct
        elif needs_group(self.spec):
            group = await self._whole_group(uid)
            score = reward(
                problem=problem, completions=group, sample_indices=list(range(len(group))), step=step, seed=self.seed
            )[index]
        else:
            (score,) = reward(problem=problem, completions=[text], sample_indices=[index], step=step, seed=self.seed)
        return {
            "reward_score": 0.0 if score is None else float(score),
            "reward_extra_info": {"acc": float(correct or 0.0), "rlvr_step": step, "rlvr_sample": index},
        }

    async def _whole_group(self, uid: str) -> list[str]:
        start = time.monotonic()
        while True:
            group = await self._board.group.remote(uid)
            if len(group) >= self.group_size:
                return group[: self.group_size]
            if time.monotonic() - start > GROUP_WAIT_S:
                raise RuntimeError(
                    f"group {uid}: {len(group)} of {self.group_size} responses arrived in {GROUP_WAIT_S:.0f} s; "
                    "a group reward cannot be scored without the whole group"
                )
            await asyncio.sleep(0.05)
