"""One rollout's policy optimisation: μ epochs × mini-batches of the policy loss, one AdamW step per mini-batch.

1. Shuffle: epoch ``e`` visits the rollout's completions in a permutation seeded by ``(seed, step, e)`` (pure, so
   a resumed run repeats it) and cuts it into mini-batches; a mini-batch is processed in micro-batches whose
   losses are normalised by the mini-batch totals (:class:`~rlvr_lab.rl.losses.Normaliser`), so the gradient does
   not depend on the micro-batch size.
2. Old log-probs: before any update, a no-grad pass computes ``log π_old`` over the micro-batches of epoch 0
   after its first mini-batch, in order (``log π_ref``, when a reference is kept, over all of them). The first
   mini-batch's rows need no pass: no optimiser step has been taken when it runs, so its own forward, detached,
   is ``π_old``, bit for bit what the pass would give (the same function on the same rows in the same
   micro-batches; ``tests/test_rl_update.py`` holds both equal), and it is kept for later epochs. That saves a
   quarter of the pass in the clipping ablation's four-mini-batch schedule (the pass was a quarter of an update).
   With one update per rollout (on-policy) nothing is passed and ``π_old`` is the detached current forward
   throughout (TRL makes the same shortcut).
3. Each mini-batch: loss → backward per micro-batch → global grad-norm clip → ``optimizer.step()``.

Dropout stays off (the model is kept in eval mode): the ratio must compare the same function at sampling time,
in the old-log-prob pass and in the update.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import numpy as np
import torch
from transformers import PreTrainedModel

from rlvr_lab.rl.logprobs import PackedBatch, token_logprobs
from rlvr_lab.rl.losses import LossConfig, Normaliser, clipped_tokens, policy_loss
from rlvr_lab.rl.schedule import Schedule


@dataclass(frozen=True)
class UpdateConfig:
    """What the update needs beyond the loss."""

    schedule: Schedule
    """Mini-batch size and epochs (and so whether the update is on-policy)."""
    loss: LossConfig
    """Clip mode, ranges, aggregation, KL and entropy coefficients."""
    micro_batch_size: int | None
    """Rows per forward/backward; None = the whole mini-batch."""
    max_len: int
    """L_max of the constant-normaliser aggregation (the generation budget)."""
    grad_clip: float
    """Max global grad norm; 0 disables clipping."""
    dtype: torch.dtype = torch.float32
    """Compute dtype of the forward passes (bfloat16: autocast over float32 weights; see ``token_logprobs``)."""


def adamw(
    parameters, lr: float, betas: tuple[float, float], weight_decay: float, dtype: torch.dtype
) -> torch.optim.AdamW:
    """AdamW as the trainer builds it.

    bfloat16 runs get the fused kernel: one pass over weights, gradients and moments instead of a dozen, 4.7x less
    CPU time per step on SmolLM2-135M (0.21 s against 0.98 s), which otherwise costs as much as the matrix
    products of a 16-row update. float32 runs keep torch's default implementation: the fused kernel rounds
    differently (about 1e-8 per step), and published float32 results reproduce bit for bit.
    """
    fused = {"fused": True} if dtype == torch.bfloat16 else {}
    return torch.optim.AdamW(parameters, lr=lr, betas=betas, weight_decay=weight_decay, **fused)


def epoch_order(num_rows: int, seed: int, step: int, epoch: int) -> np.ndarray:
    """The order in which epoch ``epoch`` of ``step`` visits the rollout's rows."""
    return np.random.default_rng([seed, step, epoch, 0x5EED]).permutation(num_rows)


def micro_batches(config: UpdateConfig, order: np.ndarray, lengths: np.ndarray) -> list[list[torch.Tensor]]:
    """``order`` cut into mini-batches, each a list of micro-batch row indices.

    Within a mini-batch, rows are sorted by sequence length (longest first, stable) before being cut into
    micro-batches, so each micro-batch pads to a similar length; which rows form a mini-batch, and hence the
    update, does not change.
    """
    mini = config.schedule.mini_batch_size
    micro = config.micro_batch_size or mini
    out = []
    for start in range(0, len(order), mini):
        rows = order[start : start + mini]
        rows = rows[np.argsort(-lengths[rows], kind="stable")]
        out.append([torch.from_numpy(rows[i : i + micro]) for i in range(0, len(rows), micro)])
    return out


@torch.no_grad()
def reference_logprobs(
    model: PreTrainedModel, batch: PackedBatch, chunks: list[torch.Tensor], dtype: torch.dtype = torch.float32
) -> torch.Tensor:
    """``log π(c_t)`` of every row under ``model`` (B, C), computed chunk by chunk in the given grouping."""
    out = torch.zeros_like(batch.completion_mask)
    for rows in chunks:
        part = batch.rows(rows)
        logprobs, _ = token_logprobs(model, part, dtype=dtype)
        out[rows, : part.num_completion_columns] = logprobs
    return out


class Mismatch:
    """Running mean and max of ``|log π_trainer - log π_sampler|`` over completion tokens.

    The sampler and the trainer compute the same policy through different code (a KV-cached decoder against a
    full forward) and, in bfloat16, with different rounding; the gap alone moves PPO ratios off 1 before any
    update, which matters for clipping studies. Measured on the trainer's log-probs taken before the first
    optimiser step of the rollout, when both sides hold the same weights.
    """

    def __init__(self) -> None:
        self.total, self.tokens, self.max = 0.0, 0.0, 0.0

    def add(self, trainer: torch.Tensor, sampler: torch.Tensor, mask: torch.Tensor) -> None:
        gap = (trainer.detach() - sampler).abs() * mask
        self.total += float(gap.sum())
        self.tokens += float(mask.sum())
        self.max = max(self.max, float(gap.max()))

    def metrics(self) -> dict[str, float]:
        if not self.tokens:
            return {}
        return {"actor/logprob_mismatch": self.total / self.tokens, "actor/logprob_mismatch_max": self.max}


def update_policy(
    model: PreTrainedModel,
    reference: PreTrainedModel | None,
    optimizer: torch.optim.Optimizer,
    batch: PackedBatch,
    advantages: torch.Tensor,
    config: UpdateConfig,
    seed: int,
    step: int,
    sampler_logprobs: torch.Tensor | None = None,
    token_groups: dict[str, torch.Tensor] | None = None,
) -> dict[str, float]:
    """Run the schedule's updates on one rollout; return metrics averaged over updates (token-weighted).

    ``batch`` holds the rollout's B completions, ``advantages`` is (B,) or per token (B, C). Returns ``actor/pg_loss``,
    ``actor/clip_frac_low``, ``actor/clip_frac_high``, ``actor/entropy``, ``actor/kl`` (with a reference),
    ``actor/grad_norm`` (before clipping) and ``optim/updates``; with ``sampler_logprobs`` (B, C), the log-probs
    the sampler reported for ``batch.completion_ids``, also ``actor/logprob_mismatch`` (mean) and
    ``actor/logprob_mismatch_max`` (see :class:`Mismatch`). ``token_groups`` maps a name to a (B, C) mask of
    completion tokens (e.g. the tokens before the strategy is settled); each adds ``actor/clip_frac_<name>``, the
    share of that group's tokens the clamp acted on (low and high together), and the group's complement adds
    ``actor/clip_frac_not_<name>``. Measurement only: the loss does not change.
    """
    num_rows = batch.input_ids.shape[0]
    lengths = batch.lengths.cpu().numpy()
    plan = [micro_batches(config, epoch_order(num_rows, seed, step, e), lengths) for e in range(config.schedule.epochs)]
    first_epoch_chunks = [rows for mini in plan[0] for rows in mini]
    after_first_mini = first_epoch_chunks[len(plan[0][0]) :]  # the first mini-batch's forward is its own π_old
    old = None if config.schedule.on_policy else reference_logprobs(model, batch, after_first_mini, config.dtype)
    ref = None if reference is None else reference_logprobs(reference, batch, first_epoch_chunks, config.dtype)
    wants_entropy_grad = config.loss.entropy_coef > 0
    mismatch = Mismatch()

    sums: dict[str, float] = defaultdict(float)
    weights: dict[str, float] = defaultdict(float)
    grad_norms, losses = [], []
    for epoch in plan:
        for mini in epoch:
            mini_loss = 0.0
            rows_all = torch.cat(mini)
            norm = Normaliser(
                num_seqs=len(rows_all),
                num_tokens=float(batch.completion_mask[rows_all].sum()),
                max_len=config.max_len,
            )
            for rows in mini:
                part = batch.rows(rows)
                C = part.num_completion_columns
                logprobs, entropy = token_logprobs(
                    model, part, with_entropy=True, dtype=config.dtype, entropy_grad=wants_entropy_grad
                )
                if not grad_norms:  # before the first step: this forward is π_old
                    if old is not None:
                        old[rows, :C] = logprobs.detach()
                    elif sampler_logprobs is not None:
                        mismatch.add(logprobs, sampler_logprobs[rows, :C], part.completion_mask)
                if not wants_entropy_grad:
                    entropy = entropy.detach()
                old_part = logprobs.detach() if old is None else old[rows, :C]
                # (R, 1) per completion, or (R, C) per token (PPO's GAE)
                part_advantages = advantages[rows, None] if advantages.dim() == 1 else advantages[rows, :C]
                loss, metrics = policy_loss(
                    logprobs,
                    old_part,
                    part_advantages.squeeze(1) if advantages.dim() == 1 else part_advantages,
                    part.completion_mask,
                    config.loss,
                    norm,
                    ref_logprobs=None if ref is None else ref[rows, :C],
                    entropy=entropy,
                )
                loss.backward()
                mini_loss += metrics.pop("actor/pg_loss")  # micro-batch losses add up to the mini-batch loss
                tokens = float(part.completion_mask.sum())
                for key, value in metrics.items():
                    sums[key] += value * tokens
                    weights[key] += tokens
                if token_groups:
                    _count_group_clips(
                        logprobs, old_part, part_advantages, part, token_groups, rows, config, sums, weights
                    )
            if not grad_norms and old is not None and sampler_logprobs is not None:  # old is complete now
                mismatch.add(old, sampler_logprobs, batch.completion_mask)
            max_norm = config.grad_clip if config.grad_clip > 0 else float("inf")
            grad_norms.append(float(torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm)))
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            losses.append(mini_loss)
    out = {key: sums[key] / weights[key] if weights[key] else float("nan") for key in sums}
    out["actor/pg_loss"] = float(np.mean(losses))
    out["actor/grad_norm"] = float(np.mean(grad_norms))
    out["optim/updates"] = float(len(grad_norms))
    out.update(mismatch.metrics())
    return out


@torch.no_grad()
def _count_group_clips(
    logprobs: torch.Tensor,
    old: torch.Tensor,
    advantages: torch.Tensor,
    part: PackedBatch,
    groups: dict[str, torch.Tensor],
    rows: torch.Tensor,
    config: UpdateConfig,
    sums: dict[str, float],
    weights: dict[str, float],
) -> None:
    """Add each token group's (and its complement's) clipped-token count and token count to ``sums``/``weights``."""
    low, high = clipped_tokens(torch.exp(logprobs - old), advantages, config.loss)  # advantages (R, 1) or (R, C)
    clipped = (low | high).to(part.completion_mask.dtype) * part.completion_mask
    C = part.num_completion_columns
    for name, mask in groups.items():
        inside = mask[rows, :C].to(clipped.dtype) * part.completion_mask
        for key, group in (
            (f"actor/clip_frac_{name}", inside),
            (f"actor/clip_frac_not_{name}", part.completion_mask - inside),
        ):
            sums[key] += float((clipped * group).sum())
            weights[key] += float(group.sum())
