"""The clip-bias laboratory: tabular policies trained with random rewards through the project's own GRPO code.

*Spurious Rewards* (Shao et al., 2025) explains the gain from random rewards by the clip term: with several
updates per rollout, the clamp removes the gradient of tokens whose ratio has left ``[1 - ε, 1 + ε]``, and that
removal is not symmetric: a token's ratio can rise at most to ``1 / π_old``, so an unlikely token leaves the band
on the way up (and loses its positive-advantage gradient) far more readily than a likely one, and the net effect
moves probability toward what the model already prefers. Here that claim is
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
only with its own rows' gradients (the loss's 1/B over the whole batch is a constant factor Adam undoes, up to its
ε). One coupling is left: ``update_policy`` shuffles the whole batch, so a seed's share of a mini-batch varies
around its expected size from one update to the next; the epochs still visit every row once. Learning rates run
in the same batch too, one optimiser parameter group each (:func:`run_arms`).

The arms: ``clip`` and ``no-clip`` (the same schedule, clamp on or removed) and the two on-policy presets of the
ablation, ``on-policy-batch`` (one update on the whole rollout) and ``small-rollout`` (the rollout shrunk to
``prompts / updates`` groups, at least one, in one update): ratios stay 1, the clamp never acts, and they cannot
show the bias.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import asdict, dataclass, field, replace
from types import SimpleNamespace
from typing import Any

import numpy as np
import torch

from rlvr_lab.report import Table
from rlvr_lab.rl.advantages import ADVANTAGES
from rlvr_lab.rl.logprobs import PackedBatch
from rlvr_lab.rl.losses import LossConfig
from rlvr_lab.rl.schedule import Schedule
from rlvr_lab.rl.update import UpdateConfig, update_policy
from rlvr_lab.studies.verdict import Claim, Finding, findings_table

ARMS: tuple[str, ...] = ("clip", "no-clip", "on-policy-batch", "small-rollout")
"""The four presets of the clipping ablation, in the table's order."""
POLICIES: tuple[str, ...] = ("bandit", "two-token")


# ----------------------------------------------------------------------------------------------------------------
# The policy


class TabularPolicy(torch.nn.Module):
    """Per-run logits of a strategy token and, optionally, of an answer token given the strategy.

    Called like a causal LM by :func:`rlvr_lab.rl.logprobs.token_logprobs`: ``input_ids`` (B, T) are
    ``[run, strategy, answer]`` rows; the logit column after the prompt predicts the strategy from the run's row of
    the strategy table (R, V), the next column the answer from the answer table (R, V, 2). The R runs come in
    ``blocks`` of equal size, each block its own parameters, so each block can have its own learning rate (an
    optimiser parameter group).
    """

    def __init__(
        self, runs: int, strategy: tuple[float, ...], accuracy: tuple[float, ...] | None, blocks: int = 1
    ) -> None:
        super().__init__()
        if runs % blocks:
            raise ValueError(f"{runs} runs do not split into {blocks} equal blocks")
        size = runs // blocks
        prior = torch.log(torch.tensor(strategy, dtype=torch.float64)).float()
        self.strategy_blocks = torch.nn.ParameterList(
            [torch.nn.Parameter(prior.expand(size, -1).clone()) for _ in range(blocks)]
        )
        self.answer_blocks = torch.nn.ParameterList()
        if accuracy is not None:
            q = torch.tensor(accuracy, dtype=torch.float64)
            table = torch.log(torch.stack([q, 1.0 - q], dim=-1)).float()  # (V, 2): token 0 = correct
            self.answer_blocks.extend(torch.nn.Parameter(table.expand(size, -1, -1).clone()) for _ in range(blocks))

    def block(self, index: int) -> list[torch.nn.Parameter]:
        """The parameters of block ``index`` (one optimiser parameter group)."""
        return [self.strategy_blocks[index], *([self.answer_blocks[index]] if len(self.answer_blocks) else [])]

    @property
    def vocab(self) -> int:
        return max(self.strategy_blocks[0].shape[1], 2)

    def forward(self, input_ids: torch.Tensor, logits_to_keep: int = 0, use_cache: bool = False) -> SimpleNamespace:
        B, T = input_ids.shape
        run = input_ids[:, 0]
        columns = [self._pad(torch.cat(list(self.strategy_blocks))[run])]  # (B, V): predicts the strategy
        if len(self.answer_blocks) and T > 2:
            answers = torch.cat(list(self.answer_blocks))
            columns.append(self._pad(answers[run, input_ids[:, 1]]))  # (B, 2): predicts the answer
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
        """``(p(strategy) (R, V), p(correct | strategy) (R, V) or None)``."""
        p = torch.softmax(torch.cat(list(self.strategy_blocks)).double(), dim=-1)
        if not len(self.answer_blocks):
            return p, None
        return p, torch.softmax(torch.cat(list(self.answer_blocks)).double(), dim=-1)[..., 0]

    @torch.no_grad()
    def accuracy(self) -> torch.Tensor:
        """(R,) exact probability of a correct answer (two-token policy only)."""
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
    """Base seed of the sampling and reward streams: step ``t`` draws one array from ``(seed, t)``, and run ``i``
    of the batch reads its row ``i``, whatever the arm or rate."""
    clamp: bool = True
    """False removes the clamp (clip mode ``none``) whatever the arm. On an on-policy arm that must change nothing,
    since every ratio is exactly 1: a check that the trainer's on-policy path never sees a moved policy."""

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
        small = max(1, self.prompts // self.updates)  # small-rollout: the rollout shrunk, one update
        return Schedule(small, self.group_size, small * self.group_size, 1)

    def loss(self) -> LossConfig:
        clip = "none" if self.arm == "no-clip" or not self.clamp else "clip"
        return LossConfig(clip=clip, eps_low=self.eps, eps_high=self.eps)


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
    return run_arms(config, (config.lr,))[0]


def run_arms(config: ToyConfig, lrs: tuple[float, ...]) -> list[ArmResult]:
    """:func:`run_arm` at each learning rate of ``lrs``, all in one batch (a parameter group per rate).

    Seed ``i`` draws the same sampling and reward numbers at every rate, so rates are paired as arms are.
    """
    two_token = config.policy == "two-token"
    L, S = len(lrs), config.seeds
    policy = TabularPolicy(L * S, config.strategy, config.accuracy if two_token else None, blocks=L)
    groups = [{"params": policy.block(i), "lr": lr} for i, lr in enumerate(lrs)]
    optimizer = torch.optim.AdamW(groups, betas=(0.9, 0.99), weight_decay=0.0)
    schedule = config.schedule()
    N, R = schedule.rollout_size, L * S
    batched = Schedule(R * schedule.prompts_per_step, schedule.group_size, R * schedule.mini_batch_size, 1)
    update = UpdateConfig(schedule=batched, loss=config.loss(), micro_batch_size=None, max_len=2, grad_clip=0.0)
    advantage_fn = ADVANTAGES.get("grpo")
    tokens = 2 if two_token else 1
    run_ids = torch.arange(R).repeat_interleave(N)  # (R·N,): run-major rows, run = block · S + seed
    token_groups = {}
    for i in range(L):
        in_block = ((run_ids // S) == i).float()[:, None].expand(-1, tokens)
        token_groups[f"lr{i}"] = in_block
        token_groups[f"lr{i}_strategy"] = in_block * torch.tensor([1.0, 0.0][:tokens])

    start_mode = policy.probabilities()[0][:, 0].clone()
    start_acc = policy.accuracy().clone() if two_token else None
    clipped: list[list[float]] = [[] for _ in lrs]
    strategy_clipped: list[list[float]] = [[] for _ in lrs]
    for step in range(1, config.steps + 1):
        uniforms, rewards = _draws(config, step, N)
        completion = torch.from_numpy(_sample(policy, np.tile(uniforms, (L, 1, 1)))).reshape(R * N, tokens)
        batch = PackedBatch(
            input_ids=torch.cat([run_ids[:, None], completion], dim=1),
            prompt_lengths=torch.ones(R * N, dtype=torch.long),
            completion_ids=completion,
            completion_mask=torch.ones(R * N, tokens),
        )
        groups_rewards = torch.from_numpy(np.tile(rewards, (L, 1))).reshape(R * schedule.prompts_per_step, -1)
        advantages = advantage_fn(groups_rewards).flatten()
        stats = update_policy(
            policy, None, optimizer, batch, advantages, update, config.seed, step, token_groups=token_groups
        )
        for i in range(L):
            clipped[i].append(stats[f"actor/clip_frac_lr{i}"])
            strategy_clipped[i].append(stats[f"actor/clip_frac_lr{i}_strategy"])
    mode_change = (policy.probabilities()[0][:, 0] - start_mode).numpy().reshape(L, S)
    acc_change = None if start_acc is None else (policy.accuracy() - start_acc).numpy().reshape(L, S)
    return [
        ArmResult(
            config=replace(config, lr=lr),
            mode_change=mode_change[i],
            accuracy_change=None if acc_change is None else acc_change[i],
            clip_frac=float(np.mean(clipped[i])),
            clip_frac_strategy=float(np.mean(strategy_clipped[i])),
        )
        for i, lr in enumerate(lrs)
    ]


# ----------------------------------------------------------------------------------------------------------------
# The sweep


@dataclass(frozen=True)
class SweepConfig:
    """Learning rate × updates per rollout × ε, for each policy and arm (on-policy arms ignore updates and ε)."""

    base: ToyConfig = field(default_factory=ToyConfig)
    policies: tuple[str, ...] = POLICIES
    arms: tuple[str, ...] = ARMS
    lrs: tuple[float, ...] = (0.1, 0.3, 1.0)
    updates: tuple[int, ...] = (4, 16)
    eps: tuple[float, ...] = (0.2,)

    def cells(self) -> list[ToyConfig]:
        """Every distinct (policy, arm, updates, ε) cell; each runs all rates in one batch."""
        out = []
        for policy, arm in itertools.product(self.policies, self.arms):
            off = arm in ("clip", "no-clip")
            for updates, eps in itertools.product(self.updates if off else (max(self.updates),), self.eps):
                out.append(replace(self.base, policy=policy, arm=arm, updates=updates, eps=eps))
        return out


def run_sweep(config: SweepConfig) -> list[ArmResult]:
    return [result for cell in config.cells() for result in run_arms(cell, config.lrs)]


# ----------------------------------------------------------------------------------------------------------------
# The claim, the table and the plot

TARGET = ToyConfig(policy="two-token", lr=0.3, updates=16, eps=0.2)
"""The cell the claim is judged on, fixed before the sweep is read: the two-token policy at a rate where about 2%
of tokens are clipped (measured: 1.9% overall, 2.6% of strategy tokens, under ``clip``)."""

LAB = "clip-bias lab (Shao et al., 2025, §4 mechanism)"

EXPECTED_SIGN: dict[str, int] = {"clip": 1, "no-clip": -1, "on-policy-batch": -1, "small-rollout": -1}
"""The paper's prediction per arm for the accuracy change: up with the clamp acting, down (random drift away
from the better, more likely strategy) without it."""


@dataclass(frozen=True)
class ClipBiasResult:
    sweep: tuple[ArmResult, ...]

    def target(self) -> dict[str, ArmResult]:
        """The :data:`TARGET` cell of each arm (on-policy arms at its rate)."""
        out = {}
        for r in self.sweep:
            c = r.config
            if (c.policy, c.lr) != (TARGET.policy, TARGET.lr):
                continue
            if c.arm in ("clip", "no-clip") and (c.updates, c.eps) != (TARGET.updates, TARGET.eps):
                continue
            out[c.arm] = r
        return out

    def verdicts(self) -> dict[str, dict[str, Any]]:
        """Per arm at the target: Δ accuracy mean ± SE and z over seeds."""
        return {arm: mean_se(r.accuracy_change) for arm, r in self.target().items()}

    def findings(self) -> dict[str, Finding]:
        """The claim per arm at the target, judged by :func:`rlvr_lab.studies.verdict.verdict` on the interval
        mean ± 3 SE over seeds (the lab's criterion, fixed before the sweep: about 99.7% under normality)."""
        out = {}
        for arm, stats in self.verdicts().items():
            side = "up" if EXPECTED_SIGN[arm] > 0 else "down"
            claim = Claim(
                LAB, f"{arm}: random rewards move accuracy {side}", "Δ accuracy at the target cell", EXPECTED_SIGN[arm]
            )  # type: ignore[arg-type]
            half = 3 * stats["se"]
            detail = f"z {stats['z']:+.1f} over {len(self.target()[arm].accuracy_change)} seeds"
            out[arm] = Finding(claim, stats["mean"], stats["mean"] - half, stats["mean"] + half, "mean ± 3 SE", detail)
        return out

    def as_dict(self) -> dict[str, Any]:
        return {
            "target": asdict(TARGET),
            "target_verdicts": {arm: f.as_dict() for arm, f in self.findings().items()},
            "sweep": [r.summary() for r in self.sweep],
        }


def sweep_table(result: ClipBiasResult) -> Table:
    """One row per (policy, arm, updates, ε, rate): clip fractions, Δ mode and Δ accuracy (mean ± SE)."""
    rows = []
    for r in result.sweep:
        c, s = r.config, r.summary()
        acc = s.get("accuracy_change")
        rows.append(
            (
                c.policy,
                c.arm,
                c.schedule().updates_per_rollout,
                c.eps,
                c.lr,
                r.clip_frac,
                r.clip_frac_strategy,
                f"{s['mode_change']['mean']:+.3f} ± {s['mode_change']['se']:.3f}",
                "—" if acc is None else f"{acc['mean']:+.3f} ± {acc['se']:.3f}",
            )
        )
    columns = (
        "policy",
        "arm",
        "updates/rollout",
        "ε",
        "lr",
        "clip frac.",
        "clip frac. strategy",
        "Δ p(mode)",
        "Δ acc.",
    )
    seeds, steps = result.sweep[0].config.seeds, result.sweep[0].config.steps
    note = (
        f"random Bernoulli(0.5) rewards, {steps} rollouts, {seeds} seeds per cell (changes: mean ± SE over seeds); "
        "clip fractions: share of tokens the clamp acted on (would have, under no-clip), mean over updates"
    )
    return Table("Clip-bias laboratory: tabular policies", columns, tuple(rows), note)


def target_table(result: ClipBiasResult) -> Table:
    """The claim: Δ accuracy per arm at :data:`TARGET`, judged by the one verdict rule."""
    table = findings_table(list(result.findings().values()), "Clip bias: Δ accuracy at the target cell")
    note = (
        f"two-token policy (strategy {TARGET.strategy}, accuracy {TARGET.accuracy}), lr {TARGET.lr}, "
        f"{TARGET.updates} updates per rollout, ε {TARGET.eps}; interval: mean ± 3 SE over seeds; {table.note}"
    )
    return replace(table, note=note)


ARM_STYLE = {"clip": ("#1f77b4", "o"), "no-clip": ("#d62728", "s"), "on-policy-batch": ("#2ca02c", "^")}
ARM_STYLE["small-rollout"] = ("#9467bd", "v")


def plot_clip_bias(result: ClipBiasResult) -> Any:
    """Δ p(prior's mode) of both policies and Δ accuracy of the two-token policy against the clip fraction."""
    from matplotlib.figure import Figure

    panels = [("bandit", "mode_change"), ("two-token", "mode_change"), ("two-token", "accuracy_change")]
    fig = Figure(figsize=(12, 3.4))
    axes = fig.subplots(1, len(panels))
    for ax, (policy, key) in zip(axes, panels, strict=True):
        for arm, (color, marker) in ARM_STYLE.items():
            cells = [r for r in result.sweep if r.config.policy == policy and r.config.arm == arm]
            if not cells:
                continue
            x = [r.clip_frac for r in cells]
            stats = [mean_se(getattr(r, key)) for r in cells]
            ax.errorbar(
                x,
                [s["mean"] for s in stats],
                yerr=[2 * s["se"] for s in stats],
                fmt=marker,
                color=color,
                label=arm,
                capsize=2,
                markersize=5,
            )
        ax.axhline(0.0, color="gray", lw=0.8)
        what = "Δ p(prior's mode)" if key == "mode_change" else "Δ accuracy"
        ax.set_title(f"{policy}: {what}", fontsize=10)
        ax.set_xlabel("clip fraction (tokens, mean over updates)", fontsize=8)
        ax.tick_params(labelsize=7)
    axes[0].legend(fontsize=7)
    fig.suptitle("Random rewards through grpo + update_policy + policy_loss (error bars: ±2 SE over seeds)", fontsize=9)
    return fig
