"""PPO's value model (critic): a copy of the policy's trunk with a scalar head, its clipped loss, and its update.

Why a copy and not the policy's own trunk with a second head: a shared trunk would let the value loss move the
policy's weights, and the policy update (:mod:`rlvr_lab.rl.update`) would need to know about the critic; a copy
keeps the two updates independent, which is how verl and OpenRLHF run PPO on language models. The copy starts
from the policy's weights (it already reads the problems); the head starts at zero, so the first advantages are
the plain Monte-Carlo returns and the critic learns from there.

``values[b, t]`` is the estimate of the state before completion token ``t`` is emitted: the hidden state at the
column whose logits predict ``c_t`` (:attr:`~rlvr_lab.rl.logprobs.PackedBatch.positions`).

The value loss is PPO's clipped one (as in verl's ``compute_value_loss`` and the PPO2 baselines)::

    ℓ_t = ½ max((V_t - R_t)², (V_old,t + clamp(V_t - V_old,t, -c, c) - R_t)²)

averaged over real tokens, with ``R_t`` the GAE returns (:func:`rlvr_lab.rl.advantages.gae`).

The critic's weights and optimiser are saved in the trainer's checkpoint (:meth:`Critic.state_dict`), so a
resumed PPO run continues with the critic it had, and logs what an uninterrupted run logs.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn
from transformers import PreTrainedModel

from rlvr_lab.rl.advantages import gae, outcome_token_rewards
from rlvr_lab.rl.logprobs import PackedBatch
from rlvr_lab.rl.update import UpdateConfig, epoch_order, micro_batches


class ValueModel(nn.Module):
    """The policy's transformer trunk (copied) and a linear head from the last hidden state to one number."""

    def __init__(self, policy: PreTrainedModel) -> None:
        super().__init__()
        self.trunk = copy.deepcopy(policy.base_model)
        self.head = nn.Linear(policy.config.hidden_size, 1)
        nn.init.zeros_(self.head.weight)
        nn.init.zeros_(self.head.bias)

    def forward(self, batch: PackedBatch) -> torch.Tensor:
        """(B, C) value estimates at the completion positions (meaningless on padded columns: mask them)."""
        hidden = self.trunk(input_ids=batch.input_ids, use_cache=False).last_hidden_state  # (B, T, H)
        columns = batch.positions.clamp(max=hidden.shape[1] - 1)
        picked = hidden.gather(1, columns.unsqueeze(-1).expand(-1, -1, hidden.shape[-1]))  # (B, C, H)
        return self.head(picked).squeeze(-1)


def value_loss(
    values: torch.Tensor, old_values: torch.Tensor, returns: torch.Tensor, mask: torch.Tensor, clip: float
) -> torch.Tensor:
    """PPO's clipped value loss, token mean over ``mask`` (see the module docstring); all tensors (B, C)."""
    clipped = old_values + torch.clamp(values - old_values, -clip, clip)
    per_token = 0.5 * torch.maximum((values - returns) ** 2, (clipped - returns) ** 2)
    mask = mask.to(values.dtype)
    return (per_token * mask).sum() / mask.sum().clamp(min=1.0)


def reference_value_loss(
    values: list[list[float]], old: list[list[float]], returns: list[list[float]], lengths: list[int], clip: float
) -> float:
    """:func:`value_loss` one token at a time."""
    total, count = 0.0, 0
    for v_row, o_row, r_row, n in zip(values, old, returns, lengths, strict=True):
        for t in range(n):
            v, o, r = v_row[t], o_row[t], r_row[t]
            clipped = o + min(max(v - o, -clip), clip)
            total += 0.5 * max((v - r) ** 2, (clipped - r) ** 2)
            count += 1
    return total / max(count, 1)


@dataclass(frozen=True)
class CriticConfig:
    """GAE's discount and trace parameters and the critic's optimiser (see :func:`rlvr_lab.rl.advantages.gae`)."""

    gamma: float = 1.0
    lam: float = 1.0
    clip: float = 0.2
    """Value clip range c."""
    lr: float = 1e-4


def whiten(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """``(x - mean) / std`` over the real tokens (PPO's advantage normalisation); a constant batch gives 0."""
    mask = mask.to(x.dtype)
    n = mask.sum().clamp(min=1.0)
    mean = (x * mask).sum() / n
    var = (((x - mean) * mask) ** 2).sum() / n
    if var <= 0:
        return torch.zeros_like(x)
    return (x - mean) * torch.rsqrt(var + 1e-8) * mask


class Critic:
    """The value model, its optimiser, and the two things PPO asks of it each step."""

    def __init__(self, policy: PreTrainedModel, config: CriticConfig) -> None:
        self.config = config
        self.model = ValueModel(policy).to(policy.device)
        self.model.eval()  # no dropout: the same function in the estimate and the update
        self.optimizer = torch.optim.AdamW(self.model.parameters(), lr=config.lr, weight_decay=0.0)

    def state_dict(self) -> dict[str, Any]:
        """The value model's weights and its optimiser's state, for the trainer's checkpoint."""
        return {"model": self.model.state_dict(), "optimizer": self.optimizer.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])

    @torch.no_grad()
    def estimate(self, batch: PackedBatch, rewards: torch.Tensor, chunk: int) -> tuple[torch.Tensor, ...]:
        """``(advantages, returns, old_values)``, each (B, C), for the rollout ``batch`` with outcome ``rewards``
        (B,); advantages are whitened over the rollout's tokens."""
        B = batch.input_ids.shape[0]
        values = torch.zeros_like(batch.completion_mask)
        for start in range(0, B, chunk):
            rows = torch.arange(start, min(start + chunk, B))
            part = batch.rows(rows)
            values[rows, : part.num_completion_columns] = self.model(part)
        mask = batch.completion_mask
        token_rewards = outcome_token_rewards(rewards.to(values.dtype), mask)
        advantages, returns = gae(token_rewards, values, mask, self.config.gamma, self.config.lam)
        return whiten(advantages, mask), returns, values * mask

    def update(
        self,
        batch: PackedBatch,
        returns: torch.Tensor,
        old_values: torch.Tensor,
        config: UpdateConfig,
        seed: int,
        step: int,
    ) -> dict[str, float]:
        """The policy's schedule (epochs × mini-batches, in another seeded order) applied to the value loss."""
        lengths = batch.lengths.cpu().numpy()
        losses = []
        for epoch in range(config.schedule.epochs):
            order = epoch_order(len(lengths), seed + 1, step, epoch)  # independent of the policy's shuffles
            for mini in micro_batches(config, order, lengths):
                total_rows = sum(len(rows) for rows in mini)
                mini_loss = 0.0
                for rows in mini:
                    part = batch.rows(rows)
                    C = part.num_completion_columns
                    loss = value_loss(
                        self.model(part),
                        old_values[rows, :C],
                        returns[rows, :C],
                        part.completion_mask,
                        self.config.clip,
                    )
                    (loss * len(rows) / total_rows).backward()
                    mini_loss += float(loss.detach()) * len(rows) / total_rows
                torch.nn.utils.clip_grad_norm_(self.model.parameters(), config.grad_clip or float("inf"))
                self.optimizer.step()
                self.optimizer.zero_grad(set_to_none=True)
                losses.append(mini_loss)
        return {"critic/value_loss": sum(losses) / max(len(losses), 1)}
