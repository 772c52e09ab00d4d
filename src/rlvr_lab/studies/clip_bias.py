"""The clip-bias laboratory: tabular policies trained with random rewards through the project's own GRPO code.

*Spurious Rewards* (Shao et al., 2025) explains the gain from random rewards by the clip term: with several
updates per rollout, the clamp removes the gradient of tokens whose ratio has left ``[1 - ε, 1 + ε]``, and that
removal is not symmetric. A likely token rarely gets a large ratio on a push down, an unlikely token rarely gets
one on a push up... the net effect moves probability toward what the model already prefers. Here that claim is
checked on policies small enough to run hundreds of seeds in seconds, through exactly the code the trainer uses:
:func:`rlvr_lab.rl.advantages.grpo`, :func:`rlvr_lab.rl.update.update_policy` (mini-batches, epochs, old
log-probs, the on-policy shortcut) and :func:`rlvr_lab.rl.losses.policy_loss`.

Two policies, both a table of logits per seed (:class:`TabularPolicy`):

- ``bandit``: one token, the prior's probabilities ``strategy`` (default 0.65 / 0.35);
- ``two-token``: a strategy token with the prior ``strategy``, then an answer token (correct / wrong) with the
  strategy's own accuracy (default 0.9 after the first strategy, 0.3 after the second). The first strategy is the
  mode *and* the more accurate, as code is for Qwen2.5-Math. Accuracy is computed exactly from the table.

Rewards are Bernoulli(0.5), drawn independently of the actions, so every arm of a sweep sees the same reward
draws and the same sampling noise for the same seed (both are pure functions of ``(seed, step)``); differences
between arms are paired. The seeds run as one batch: row ``i`` of a rollout starts with its seed's index as the
prompt token, and the policy reads its own row of the table. Adam is elementwise, so each seed's parameters move
only with its own rows' gradients. One coupling is left: ``update_policy`` shuffles the whole batch, so a seed's
share of a mini-batch varies around its expected size (``mini_batch`` rows) from one update to the next; the
epochs still visit every row once.

The arms: ``clip`` and ``no-clip`` (the same schedule, clamp on or removed) and the two on-policy presets of the
ablation, ``on-policy-batch`` (one update on the whole rollout) and ``small-rollout`` (a rollout of one
mini-batch), which take the same number of optimiser steps per step as... one each; they cannot show the bias.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import asdict, dataclass, field, replace
from types import SimpleNamespace
from typing import Any

import numpy as np
import torch

from rlvr_lab.rl.advantages import ADVANTAGES
from rlvr_lab.rl.logprobs import PackedBatch
from rlvr_lab.rl.losses import LossConfig
from rlvr_lab.rl.schedule import Schedule
from rlvr_lab.rl.update import UpdateConfig, update_policy

ARMS: tuple[str, ...] = ("clip", "no-clip", "on-policy-batch", "small-rollout")
"""The four presets of the clipping ablation, in the table's order."""
POLICIES: tuple[str, ...] = ("bandit", "two-token")


# ----------------------------------------------------------------------------------------------------------------
# The policy


class TabularPolicy(torch.nn.Module):
    """Per-seed logits of a strategy token and, optionally, of an answer token given the strategy.

    Called like a causal LM by :func:`rlvr_lab.rl.logprobs.token_logprobs`: ``input_ids`` (B, T) are
    ``[seed, strategy, answer]`` rows; the logit column after the prompt predicts the strategy from the seed's
    row of ``strategy_logits`` (S, V), the next column the answer from ``answer_logits`` (S, V, 2).
    """

    def __init__(self, seeds: int, strategy: tuple[float, ...], accuracy: tuple[float, ...] | None) -> None:
        super().__init__()
        prior = torch.log(torch.tensor(strategy, dtype=torch.float64)).float()
        self.strategy_logits = torch.nn.Parameter(prior.expand(seeds, -1).clone())
        self.answer_logits = None
        if accuracy is not None:
            q = torch.tensor(accuracy, dtype=torch.float64)
            table = torch.log(torch.stack([q, 1.0 - q], dim=-1)).float()  # (V, 2): token 0 = correct
            self.answer_logits = torch.nn.Parameter(table.expand(seeds, -1, -1).clone())

    @property
    def vocab(self) -> int:
        return max(self.strategy_logits.shape[1], 2)

    def forward(self, input_ids: torch.Tensor, logits_to_keep: int = 0, use_cache: bool = False) -> SimpleNamespace:
        B, T = input_ids.shape
        seed = input_ids[:, 0]
        columns = [self._pad(self.strategy_logits[seed])]  # (B, V): predicts the strategy
        if self.answer_logits is not None and T > 2:
            columns.append(self._pad(self.answer_logits[seed, input_ids[:, 1]]))  # (B, 2): predicts the answer
        while len(columns) < T:
            columns.append(torch.zeros(B, self.vocab))
        logits = torch.stack(columns, dim=1)  # (B, T, V)
        return SimpleNamespace(logits=logits[:, T - logits_to_keep :] if logits_to_keep else logits)

    def _pad(self, logits: torch.Tensor) -> torch.Tensor:
        """Logits over the shared vocabulary (unused ids get a large negative logit, probability 0)."""
        missing = self.vocab - logits.shape[1]
        return torch.cat([logits, torch.full((logits.shape[0], missing), -1e4)], dim=1) if missing else logits

    @torch.no_grad()
    def probabilities(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        """``(p(strategy) (S, V), p(correct | strategy) (S, V) or None)``."""
        p = torch.softmax(self.strategy_logits.double(), dim=-1)
        q = None if self.answer_logits is None else torch.softmax(self.answer_logits.double(), dim=-1)[..., 0]
        return p, q

    @torch.no_grad()
    def accuracy(self) -> torch.Tensor:
        """(S,) exact probability of a correct answer (two-token policy only)."""
        p, q = self.probabilities()
        if q is None:
            raise ValueError("the bandit has no answer token")
        return (p * q).sum(dim=-1)


# ----------------------------------------------------------------------------------------------------------------
# One arm


@dataclass(frozen=True)
class ToyConfig:
    """One cell of the sweep: the policy, the arm, and the schedule's knobs."""

    policy: str = "two-token"
    """bandit or two-token."""
    arm: str = "clip"
    """clip, no-clip, on-policy-batch or small-rollout."""
    lr: float = 0.03
    """AdamW learning rate (constant)."""
    updates: int = 8
    """Optimiser updates per rollout of the off-policy arms (rollout / mini-batch; one epoch)."""
    eps: float = 0.2
    """Clip range ε (both sides)."""
    seeds: int = 256
    """Independent runs, trained as one batch."""
    steps: int = 50
    """Rollouts."""
    prompts: int = 8
    """Groups per rollout (P); the toy has one state, so they differ only in their samples."""
    group_size: int = 8
    """Samples per group (G)."""
    strategy: tuple[float, ...] = (0.65, 0.35)
    """The prior over the first token; index 0 is its mode."""
    accuracy: tuple[float, ...] = (0.9, 0.3)
    """p(correct answer | strategy) of the two-token policy."""
    seed: int = 0
    """Base seed of the sampling and reward streams (seed ``i`` of a sweep draws the stream ``(seed, i, step)``)."""

    def __post_init__(self) -> None:
        if self.policy not in POLICIES:
            raise ValueError(f"unknown policy {self.policy!r}; choose one of: {', '.join(POLICIES)}")
        if self.arm not in ARMS:
            raise ValueError(f"unknown arm {self.arm!r}; choose one of: {', '.join(ARMS)}")
        if len(self.strategy) < 2 or not math.isclose(sum(self.strategy), 1.0) or min(self.strategy) <= 0:
            raise ValueError(f"strategy must be >= 2 positive probabilities summing to 1, got {self.strategy}")
        if self.policy == "two-token" and len(self.accuracy) != len(self.strategy):
            raise ValueError(f"need one accuracy per strategy, got {self.accuracy} for {self.strategy}")
        rollout = self.prompts * self.group_size
        if self.updates < 1 or rollout % self.updates:
            raise ValueError(f"updates per rollout ({self.updates}) must divide the rollout ({rollout})")

    def schedule(self) -> Schedule:
        """Per seed: the arm's rollout, mini-batch and epochs (see :mod:`rlvr_lab.rl.schedule`)."""
        rollout = self.prompts * self.group_size
        if self.arm in ("clip", "no-clip"):
            return Schedule(self.prompts, self.group_size, rollout // self.updates, 1)
        if self.arm == "on-policy-batch":
            return Schedule(self.prompts, self.group_size, rollout, 1)
        small = max(1, self.prompts // self.updates)  # small-rollout: a rollout of one off-policy mini-batch
        return Schedule(small, self.group_size, small * self.group_size, 1)

    def loss(self) -> LossConfig:
        return LossConfig(clip="none" if self.arm == "no-clip" else "clip", eps_low=self.eps, eps_high=self.eps)


@dataclass(frozen=True)
class ArmResult:
    """Per-seed outcomes of one arm (arrays over seeds) and its mean clip fractions."""

    config: ToyConfig
    mode_change: np.ndarray
    """(S,) final minus initial probability of the prior's mode (first token)."""
    accuracy_change: np.ndarray | None
    """(S,) final minus initial exact accuracy (two-token), None for the bandit."""
    clip_frac: float
    """Share of tokens the clamp acted on (or would have, under no-clip), mean over updates."""
    clip_frac_strategy: float
    """The same on the first (strategy) token only."""

    def summary(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            **{k: v for k, v in asdict(self.config).items() if k not in ("strategy", "accuracy")},
            "clip_frac": self.clip_frac,
            "clip_frac_strategy": self.clip_frac_strategy,
            "mode_change": mean_se(self.mode_change),
        }
        if self.accuracy_change is not None:
            out["accuracy_change"] = mean_se(self.accuracy_change)
        return out


def mean_se(values: np.ndarray) -> dict[str, float]:
    """Mean, standard error over seeds, and ``z = mean / se``."""
    mean = float(np.mean(values))
    se = float(np.std(values, ddof=1) / math.sqrt(len(values))) if len(values) > 1 else float("nan")
    return {"mean": mean, "se": se, "z": mean / se if se > 0 else float("nan")}


def _draws(config: ToyConfig, step: int, rows: int) -> tuple[np.ndarray, np.ndarray]:
    """(S, rows, 2) uniforms for sampling the two tokens and (S, rows) Bernoulli(0.5) rewards of ``step``.

    Row ``j`` of seed ``i`` uses the same numbers in every arm (the on-policy ``small-rollout`` uses the first
    rows), so arms are paired on sampling noise and reward draws.
    """
    rng = np.random.default_rng([config.seed, step, 0xC11B])
    uniforms = rng.random((config.seeds, config.prompts * config.group_size, 2))[:, :rows]
    rewards = rng.random((config.seeds, config.prompts * config.group_size))[:, :rows] < 0.5
    return uniforms, rewards.astype(np.float32)


def _sample(policy: TabularPolicy, uniforms: np.ndarray) -> np.ndarray:
    """(S, N, 2) token ids: inverse-CDF sampling of the strategy, then of the answer given it."""
    p, q = policy.probabilities()
    cdf = np.cumsum(p.numpy(), axis=1)  # (S, V)
    strategy = (uniforms[..., 0:1] > cdf[:, None, :-1]).sum(axis=-1)  # (S, N)
    if q is None:
        return strategy[..., None]
    q_of = np.take_along_axis(q.numpy(), strategy, axis=1)  # (S, N): p(correct | sampled strategy)
    answer = (uniforms[..., 1] >= q_of).astype(np.int64)  # 0 = correct
    return np.stack([strategy, answer], axis=-1)


def run_arm(config: ToyConfig) -> ArmResult:
    """Train ``config.seeds`` tabular policies with random rewards; return their per-seed changes."""
    torch.manual_seed(config.seed)
    two_token = config.policy == "two-token"
    policy = TabularPolicy(config.seeds, config.strategy, config.accuracy if two_token else None)
    optimizer = torch.optim.AdamW(policy.parameters(), lr=config.lr, betas=(0.9, 0.99), weight_decay=0.0)
    schedule = config.schedule()
    S, N = config.seeds, schedule.rollout_size
    batched = Schedule(S * schedule.prompts_per_step, schedule.group_size, S * schedule.mini_batch_size, 1)
    update = UpdateConfig(schedule=batched, loss=config.loss(), micro_batch_size=None, max_len=2, grad_clip=0.0)
    advantage_fn = ADVANTAGES.get("grpo")
    tokens = 2 if two_token else 1
    strategy_mask = torch.zeros(S * N, tokens)
    strategy_mask[:, 0] = 1.0

    start_mode = policy.probabilities()[0][:, 0].clone()
    start_acc = policy.accuracy().clone() if two_token else None
    clipped, strategy_clipped = [], []
    seed_ids = torch.arange(S).repeat_interleave(N)  # (S·N,): seed-major rows
    for step in range(1, config.steps + 1):
        uniforms, rewards = _draws(config, step, N)
        completion = torch.from_numpy(_sample(policy, uniforms)).reshape(S * N, tokens)
        batch = PackedBatch(
            input_ids=torch.cat([seed_ids[:, None], completion], dim=1),
            prompt_lengths=torch.ones(S * N, dtype=torch.long),
            completion_ids=completion,
            completion_mask=torch.ones(S * N, tokens),
        )
        advantages = advantage_fn(torch.from_numpy(rewards).reshape(S * schedule.prompts_per_step, -1)).flatten()
        stats = update_policy(
            policy,
            None,
            optimizer,
            batch,
            advantages,
            update,
            config.seed,
            step,
            token_groups={"strategy": strategy_mask},
        )
        clipped.append(stats["actor/clip_frac_low"] + stats["actor/clip_frac_high"])
        strategy_clipped.append(stats["actor/clip_frac_strategy"])
    p_end = policy.probabilities()[0][:, 0]
    return ArmResult(
        config=config,
        mode_change=(p_end - start_mode).numpy(),
        accuracy_change=None if start_acc is None else (policy.accuracy() - start_acc).numpy(),
        clip_frac=float(np.mean(clipped)),
        clip_frac_strategy=float(np.mean(strategy_clipped)),
    )


# ----------------------------------------------------------------------------------------------------------------
# The sweep


@dataclass(frozen=True)
class SweepConfig:
    """Learning rate × updates per rollout × ε, for each policy and arm (on-policy arms ignore updates and ε)."""

    base: ToyConfig = field(default_factory=ToyConfig)
    policies: tuple[str, ...] = POLICIES
    arms: tuple[str, ...] = ARMS
    lrs: tuple[float, ...] = (0.003, 0.01, 0.03, 0.1)
    updates: tuple[int, ...] = (2, 8)
    eps: tuple[float, ...] = (0.2,)

    def cells(self) -> list[ToyConfig]:
        """Every distinct cell: on-policy arms once per (policy, rate), off-policy ones over updates × ε."""
        out = []
        for policy, lr in itertools.product(self.policies, self.lrs):
            for arm in self.arms:
                off = arm in ("clip", "no-clip")
                for updates, eps in itertools.product(self.updates if off else (max(self.updates),), self.eps):
                    out.append(replace(self.base, policy=policy, arm=arm, lr=lr, updates=updates, eps=eps))
        return out


def run_sweep(config: SweepConfig) -> list[ArmResult]:
    return [run_arm(cell) for cell in config.cells()]
