"""Advantages for one step, whichever estimator the config names: the dispatch the trainer's step would
otherwise inline.

Three paths, named by :data:`rlvr_lab.rl.advantages.EXTRA_INPUT`:
- group estimators (GRPO, Dr. GRPO, RLOO, REINFORCE++, none): ``(P, G)`` rewards in, ``(P·G,)`` out;
- ReMax (``greedy``): each prompt's greedy response is sampled and scored, its reward is the baseline;
- PPO (``values``): per-token GAE advantages from the critic, with the return targets the critic then fits.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch

from rlvr_lab.rl.advantages import ADVANTAGES, EXTRA_INPUT
from rlvr_lab.rl.logprobs import PackedBatch

if TYPE_CHECKING:
    from rlvr_lab.rl.value import Critic


@dataclass(frozen=True)
class Advantages:
    """Advantages of a packed batch: ``(B,)`` per sequence, or ``(B, C)`` per token (PPO, with its critic
    targets)."""

    values: torch.Tensor
    returns: torch.Tensor | None = None
    """PPO: the critic's return targets (B, C)."""
    old_values: torch.Tensor | None = None
    """PPO: the critic's estimates before its update (B, C), for value clipping."""


def estimate_advantages(
    name: str,
    rewards: torch.Tensor,
    batch: PackedBatch,
    greedy_rewards: Callable[[], torch.Tensor],
    critic: Critic | None,
    micro_batch_size: int,
) -> Advantages:
    """Advantages of the kept groups' ``rewards`` (P, G), slot-major like ``batch``.

    ``greedy_rewards`` is called only for ReMax (it samples); ``critic`` is the PPO value model (else None).
    """
    needs = EXTRA_INPUT.get(name)
    estimator = ADVANTAGES.get(name)
    if needs == "greedy":
        return Advantages(estimator(rewards, greedy_rewards()).flatten())
    if needs == "values":
        if critic is None:
            raise ValueError(f"advantage {name!r} needs a critic")
        outcome = rewards.flatten().to(batch.input_ids.device)
        values, returns, old_values = critic.estimate(batch, outcome, micro_batch_size)
        return Advantages(values, returns, old_values)
    return Advantages(estimator(rewards).flatten())
