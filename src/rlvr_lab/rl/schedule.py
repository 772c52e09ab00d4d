"""The explicit schedule: how many samples a rollout holds and how many optimiser updates it feeds.

One training step = one rollout of ``prompts_per_step × group_size`` completions, then ``epochs`` passes over it
in mini-batches of ``mini_batch_size`` completions, one optimiser update per mini-batch::

    updates per rollout = epochs × rollout_size / mini_batch_size

With exactly one update the policy that sampled the rollout is the one being updated: the PPO ratio is 1 for
every token, the clamp never acts, and the objective is the plain policy gradient (*on-policy*). With more, later
mini-batches see a policy that has already moved, ratios leave 1, and clipping shapes the update (*off-policy*).
The *Spurious Rewards* paper (Shao et al., 2025) traces random-reward gains to exactly this: the clip term's bias
toward what the model already prefers needs several updates per rollout.

The clipping ablation presets (each sets only schedule and clip fields; anything set explicitly wins):

==================  =========================================================================  ==========
preset              what it is                                                                  updates
==================  =========================================================================  ==========
``clip``            16 prompts × 8, mini-batches of 32, PPO clamp ε = 0.2                       4
``no-clip``         the same schedule, clamp removed (``clip: none``)                           4
``on-policy-batch`` 16 prompts × 8, one mini-batch = the whole rollout                          1
``small-rollout``   the rollout shrunk to one mini-batch: 4 prompts × 8 = 32                    1
``paper``           the *Spurious Rewards* schedule: 64 prompts × 16, mini-batches of 128,      8
                    ε = 0.2, no KL
``paper-on-policy`` the paper's rollout in one mini-batch (its on-policy control)               1
``paper-no-clip``   ``paper`` with the clamp removed                                           8
``paper-small-      the paper's rollout shrunk to one mini-batch: 8 prompts × 16 = 128         1
rollout``
==================  =========================================================================  ==========

The learning-rate schedule is a pure function of the step (nanoGPT's ``get_lr``), so a resumed run needs no
scheduler state.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from rlvr_lab.registry import Registry


@dataclass(frozen=True)
class Schedule:
    """Rollout and update sizes of one training step."""

    prompts_per_step: int
    """Distinct prompt slots per rollout (P)."""
    group_size: int
    """Completions sampled per prompt (G); group-relative advantages compare within these."""
    mini_batch_size: int
    """Completions per optimiser update; must divide the rollout size."""
    epochs: int
    """Passes over the rollout (μ)."""

    def __post_init__(self) -> None:
        for name in ("prompts_per_step", "group_size", "mini_batch_size", "epochs"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.rollout_size % self.mini_batch_size:
            raise ValueError(
                f"mini_batch_size={self.mini_batch_size} must divide the rollout of "
                f"{self.prompts_per_step} × {self.group_size} = {self.rollout_size} completions"
            )

    @property
    def rollout_size(self) -> int:
        """Completions per step: ``P × G``."""
        return self.prompts_per_step * self.group_size

    @property
    def mini_batches_per_epoch(self) -> int:
        return self.rollout_size // self.mini_batch_size

    @property
    def updates_per_rollout(self) -> int:
        """Optimiser updates fed by one rollout: ``μ × rollout / mini-batch``."""
        return self.epochs * self.mini_batches_per_epoch

    @property
    def on_policy(self) -> bool:
        """True when every update uses samples from the current policy (exactly one update per rollout)."""
        return self.updates_per_rollout == 1

    def describe(self) -> str:
        """The line printed at the start of a run."""
        kind = "on-policy: ratios stay 1, clipping never acts" if self.on_policy else "off-policy: clipping acts"
        return (
            f"rollout {self.prompts_per_step} prompts × {self.group_size} = {self.rollout_size} completions; "
            f"mini-batch {self.mini_batch_size}, {self.epochs} epoch(s) → {self.updates_per_rollout} optimiser "
            f"update(s) per rollout ({kind})"
        )


PRESETS: Registry[dict[str, Any]] = Registry("preset")
PRESETS.add("clip", {"prompts_per_step": 16, "group_size": 8, "mini_batch_size": 32, "epochs": 1, "clip": "clip"})
PRESETS.add("no-clip", {"prompts_per_step": 16, "group_size": 8, "mini_batch_size": 32, "epochs": 1, "clip": "none"})
PRESETS.add(
    "on-policy-batch", {"prompts_per_step": 16, "group_size": 8, "mini_batch_size": 128, "epochs": 1, "clip": "clip"}
)
PRESETS.add(
    "small-rollout", {"prompts_per_step": 4, "group_size": 8, "mini_batch_size": 32, "epochs": 1, "clip": "clip"}
)
_PAPER = {"prompts_per_step": 64, "group_size": 16, "epochs": 1, "clip": "clip", "eps_low": 0.2, "eps_high": 0.2}
PRESETS.add("paper", {**_PAPER, "mini_batch_size": 128, "kl_coef": 0.0})
PRESETS.add("paper-on-policy", {**_PAPER, "mini_batch_size": 1024, "kl_coef": 0.0})
PRESETS.add("paper-no-clip", {**_PAPER, "mini_batch_size": 128, "kl_coef": 0.0, "clip": "none"})
PRESETS.add("paper-small-rollout", {**_PAPER, "prompts_per_step": 8, "mini_batch_size": 128, "kl_coef": 0.0})


# ----------------------------------------------------------------------------------------------------------------
# Learning rate


DecayFn = Callable[[float], float]
"""``progress in [0, 1] after warmup -> multiplier of the peak rate``."""

LR_SCHEDULES: Registry[DecayFn] = Registry("learning-rate schedule")


@LR_SCHEDULES.register("constant")
def constant_decay(progress: float) -> float:
    """Stay at the peak."""
    return 1.0


@LR_SCHEDULES.register("linear")
def linear_decay(progress: float) -> float:
    """Straight line from the peak to 0 at the last step."""
    return 1.0 - progress


@LR_SCHEDULES.register("cosine")
def cosine_decay(progress: float) -> float:
    """Half a cosine from the peak to 0 at the last step (Loshchilov & Hutter, 2017, without restarts)."""
    return 0.5 * (1.0 + math.cos(math.pi * progress))


def learning_rate(step: int, total_steps: int, peak: float, warmup_steps: int, schedule: str) -> float:
    """The learning rate of optimiser step ``step`` (1-based) of ``total_steps``.

    1. warmup: linear from ``peak / warmup_steps`` to ``peak`` over the first ``warmup_steps`` steps;
    2. after it, ``peak × decay(progress)`` with ``progress`` going from 0 to 1 at ``total_steps``.
    """
    decay = LR_SCHEDULES.get(schedule)
    if step <= warmup_steps:
        return peak * step / warmup_steps
    if total_steps <= warmup_steps:
        return peak
    progress = (step - warmup_steps) / (total_steps - warmup_steps)
    assert 0.0 <= progress <= 1.0, f"step {step} is beyond total_steps {total_steps}"
    return peak * decay(progress)
