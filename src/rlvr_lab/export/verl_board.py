"""Who is who in verl's reward stream: the training step and sample index of each response, and its whole group.

verl 0.9 scores responses one at a time, as each finishes, in a pool of reward workers (``run_single`` of a
reward manager; see :mod:`rlvr_lab.export.verl_reward`). Our rewards need each response's training step and its
index in its group (``random:γ`` is a pure function of (seed, step, problem, sample index)), and online majority
vote needs the whole group.

**Step and index.** verl 0.9's default trainer (``trainer.use_v1: true``, ``verl.trainer.ppo.v1``) passes both
with every response: ``global_steps`` (its own step counter, resumed with its checkpoints) and ``session_id``
(0 … n-1, the response's place among the prompt's ``rollout.n`` samples; ``agent_loop_tq.py``). The manager uses
them. The legacy trainer (``use_v1: false``) passes neither; there the board numbers them: the step of a group
from the order in which training groups first arrive (verl finishes one step's rollout before the next; groups
``0 … P-1`` are step 1, and a resumed run counts on from its checkpoint, :func:`first_step`), the index from the
arrival order within the group (decided by the rollout, not by the content, so a random reward stays independent
of what a response says, but not bit-reproducible across runs).

**Groups.** A :class:`GroupBoard` (one per run, a named Ray actor shared by all reward workers) keeps each
group's texts until it holds ``n``; the first response to find its group whole *claims* it and grades the group
once (off the event loop), then posts the scores, which the others read: one grading per group, not one per
response. Groups of steps older than the previous one, and finished validation groups, are dropped when a new
training step starts, so the board holds at most two steps of text.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rlvr_lab.rl.config import TrainConfig

ROLES = ("train", "validation")
"""A dataset row's role, written by the file it goes to (``train.parquet``, ``val.parquet``)."""
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


def reward_overrides(config: TrainConfig) -> list[str]:
    """verl overrides that score ``config``'s reward through
    :class:`rlvr_lab.export.verl_reward.RlvrRewardManager`.

    The spec, seed and DAPO's overlong buffer travel as ``custom_reward_function.reward_kwargs`` (the spec quoted
    for Hydra), and the function named there is our per-response adapter
    (:func:`rlvr_lab.export.verl_score.compute_score`), so a run that switches the manager back to verl's
    ``naive`` still scores with the same reward (without steps or groups).
    """
    from rlvr_lab.export import verl_score
    from rlvr_lab.export.hydra import hydra_quote

    kwargs = "+reward.custom_reward_function.reward_kwargs"
    overrides = [
        f"reward.custom_reward_function.path={hydra_quote(str(Path(verl_score.__file__).resolve()))}",
        "reward.custom_reward_function.name=compute_score",
        f"{kwargs}.reward={hydra_quote(config.reward)}",
        f"{kwargs}.seed={config.seed}",
        "reward.reward_manager.source=importlib",
        "reward.reward_manager.name=RlvrRewardManager",
        "reward.reward_manager.module.path=pkg://rlvr_lab.export.verl_reward",
    ]
    if config.overlong_buffer:
        overrides += [
            f"{kwargs}.overlong_buffer={config.overlong_buffer}",
            f"{kwargs}.overlong_penalty={config.overlong_penalty}",
        ]
    return overrides


def is_training_row(extra_info: dict[str, Any]) -> bool:
    """Whether a dataset row trains (``role`` ``train``) or validates (``validation``), as its file says."""
    role = extra_info.get("role")
    if role not in ROLES:
        raise ValueError(
            f"dataset row {extra_info.get('problem_id', '?')}: extra_info.role is {role!r}, not one of {ROLES}; "
            "re-export the run with `rlvr export verl` (rows carry the role of the file they are in)"
        )
    return role == "train"


def verl_step_and_index(tensors: Any) -> tuple[int | None, int | None]:
    """verl's own training step and sample index of a response (``global_steps``, ``session_id``: passed by the
    v1 trainer), or None where it passes none (the legacy trainer)."""
    step, index = tensors.get("global_steps"), tensors.get("session_id")
    return (None if step is None else int(step), None if index is None else int(index))


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
    """Steps, sample indices, texts and scores of a run's groups (see the module docstring)."""

    prompts_per_step: int
    """``data.train_batch_size``: training groups per step."""
    first_step: int = 1
    """The step of the first training group (1 for a fresh run) when verl does not pass its step."""
    groups: dict[str, dict[int, str]] = field(default_factory=dict)
    steps: dict[str, int] = field(default_factory=dict)
    claimed: set[str] = field(default_factory=set)
    scores: dict[str, list[float | None]] = field(default_factory=dict)
    train_groups_seen: int = 0

    def __post_init__(self) -> None:
        if self.prompts_per_step < 1:
            raise ValueError(f"prompts_per_step must be >= 1, got {self.prompts_per_step}")

    def join(self, uid: str, text: str, train: bool, step: int | None = None, index: int | None = None) -> tuple:
        """Record one response of group ``uid``; returns its (step, sample index). ``step`` and ``index`` are
        verl's when it passes them (``global_steps``, ``session_id``); otherwise counted here. Validation groups
        get step 0."""
        if uid not in self.groups:
            if not train:
                step = 0
            elif step is None:
                step = self.first_step + self.train_groups_seen // self.prompts_per_step
            if train:
                self.train_groups_seen += 1
                self._forget_before(step - 1)
            self.groups[uid] = {}
            self.steps[uid] = step
        texts = self.groups[uid]
        if index is None:
            index = len(texts)
        if index in texts:
            raise ValueError(f"group {uid}: sample {index} arrived twice")
        texts[index] = text
        return self.steps[uid], index

    def group(self, uid: str) -> list[str]:
        """The texts of group ``uid`` so far, in sample-index order."""
        texts = self.groups.get(uid, {})
        return [texts[i] for i in sorted(texts)]

    def claim(self, uid: str) -> bool:
        """True for the first caller only: that one grades the group and posts its scores."""
        if uid in self.claimed:
            return False
        self.claimed.add(uid)
        return True

    def post_scores(self, uid: str, scores: list[float | None]) -> None:
        self.scores[uid] = list(scores)

    def group_scores(self, uid: str) -> list[float | None] | None:
        """The group's scores once posted (by sample index), else None."""
        return self.scores.get(uid)

    def _forget_before(self, step: int) -> None:
        stale = [uid for uid, s in self.steps.items() if s < step]  # validation groups (step 0) too
        for uid in stale:
            del self.groups[uid], self.steps[uid]
            self.claimed.discard(uid)
            self.scores.pop(uid, None)
