"""Who is who in verl's reward stream: the training step and sample index of each response, and its whole group.

verl 0.9 scores responses one at a time, as each finishes, in a pool of reward workers (``run_single`` of a
reward manager; see :mod:`rlvr_lab.export.verl_reward`). It passes the dataset row and verl's ``uid`` (one fresh id
per prompt per step, shared by the prompt's ``n`` responses) but neither the training step nor the response's
index in its group. Our rewards need both: ``random:γ`` is a pure function of (seed, step, problem, sample index),
and online majority vote needs the whole group.

A :class:`GroupBoard` (one per run, a named Ray actor shared by all reward workers) supplies them:
- the **step** of a group is counted from the order in which training groups first arrive: verl's trainer finishes
  one step's rollout before it starts the next, so groups ``0 … P-1`` are step 1, ``P … 2P-1`` step 2, and so on
  (``P = data.train_batch_size``; 1-based like verl's ``global_steps``). A resumed run counts on from the step
  after its checkpoint (:func:`first_step`, read from the trainer config as verl's own resume reads it);
- the **sample index** of a response is its arrival order within its group (0 … n-1). Arrival order is decided by
  the rollout, not by the response's content, so a reward keyed by it is still independent of what the response
  says, which is what a random reward must be. It is not bit-reproducible across runs, and neither is verl's
  sampling;
- the **group** of a response is the list of responses of its ``uid`` seen so far; a group reward waits until it
  holds ``n``.

Groups of steps older than the previous one, and finished validation groups, are dropped when a new training step
starts, so the board holds at most two steps of text.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

BOARD_NAME = "rlvr_group_board"
"""The Ray actor name of a run's board (one Ray job, one run)."""
GROUP_REWARDS = ("majority_vote",)
"""Reward names whose online form needs the whole group (the offline form, with a label store, does not)."""


def needs_group(spec: str) -> bool:
    """Whether reward ``spec`` is an online group reward (majority vote without a label store)."""
    return any(
        name in GROUP_REWARDS and "store=" not in arg
        for name, _, arg in (term.strip().partition(":") for term in spec.split("&"))
    )


def reward_overrides(spec: str, seed: int) -> list[str]:
    """verl overrides that score with reward ``spec`` through :class:`rlvr_lab.export.verl_reward.RlvrRewardManager`.

    The spec and seed travel as ``custom_reward_function.reward_kwargs``, and the function named there is our
    per-response adapter (:func:`rlvr_lab.export.verl_score.compute_score`), so a run that switches the manager
    back to verl's ``naive`` still scores with the same reward (without steps or groups).
    """
    from rlvr_lab.export import verl_score

    kwargs = "+reward.custom_reward_function.reward_kwargs"
    return [
        f"reward.custom_reward_function.path={Path(verl_score.__file__).resolve()}",
        "reward.custom_reward_function.name=compute_score",
        f"{kwargs}.reward={spec}",
        f"{kwargs}.seed={seed}",
        "reward.reward_manager.source=importlib",
        "reward.reward_manager.name=RlvrRewardManager",
        "reward.reward_manager.module.path=pkg://rlvr_lab.export.verl_reward",
    ]


TRACKER_FILE = "latest_checkpointed_iteration.txt"
"""verl's record, in ``trainer.default_local_dir``, of the step of its latest checkpoint."""


def first_step(trainer: Mapping[str, Any]) -> int:
    """The first training step of a verl run with trainer config ``trainer``: 1, or one past the checkpoint it
    resumes from.

    The same choice verl 0.9's ``RayPPOTrainer._load_checkpoint`` makes: ``resume_mode`` ``disable`` starts
    fresh; ``resume_path`` resumes from ``resume_from_path`` (a ``global_step_N`` folder); ``auto`` (verl's
    default) from the step in ``default_local_dir``'s tracker file when that checkpoint folder exists. verl then
    counts its next step as N + 1. Relative paths are read from the working directory, as verl reads them.
    """
    mode = trainer.get("resume_mode", "auto")
    if mode == "disable":
        return 1
    if mode == "resume_path":
        folder = str(trainer["resume_from_path"])
    else:
        root = Path(str(trainer.get("default_local_dir") or ""))
        tracker = root / TRACKER_FILE
        if not tracker.is_file():
            return 1
        folder = str(root / f"global_step_{int(tracker.read_text().strip())}")
        if not Path(folder).is_dir():
            return 1
    return int(folder.rstrip("/").rsplit("global_step_", 1)[-1]) + 1


@dataclass
class GroupBoard:
    """Numbers responses by (step, index in group) and keeps each group's texts (see the module docstring)."""

    prompts_per_step: int
    """``data.train_batch_size``: training groups per step."""
    first_step: int = 1
    """The step of the first training group (1 for a fresh run)."""
    groups: dict[str, list[str]] = field(default_factory=dict)
    steps: dict[str, int] = field(default_factory=dict)
    train_groups_seen: int = 0

    def __post_init__(self) -> None:
        if self.prompts_per_step < 1:
            raise ValueError(f"prompts_per_step must be >= 1, got {self.prompts_per_step}")

    def join(self, uid: str, text: str, train: bool) -> tuple[int, int]:
        """Record one response of group ``uid``; returns its (step, sample index). Validation groups get step 0."""
        if uid not in self.groups:
            if train:
                step = self.first_step + self.train_groups_seen // self.prompts_per_step
                self.train_groups_seen += 1
                self._forget_before(step - 1)
            else:
                step = 0
            self.groups[uid] = []
            self.steps[uid] = step
        self.groups[uid].append(text)
        return self.steps[uid], len(self.groups[uid]) - 1

    def group(self, uid: str) -> list[str]:
        """The texts of group ``uid`` so far, in sample-index order."""
        return list(self.groups.get(uid, []))

    def _forget_before(self, step: int) -> None:
        stale = [uid for uid, s in self.steps.items() if s < step]  # validation groups (step 0) too
        for uid in stale:
            del self.groups[uid], self.steps[uid]
