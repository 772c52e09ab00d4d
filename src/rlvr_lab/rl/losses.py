"""The policy loss: PPO's clipped surrogate (or no clip), loss aggregation, KL to a reference, entropy bonus.

Per token ``t`` of completion ``i`` with advantage ``A_i`` and ratio ``ρ = π_θ(y_t) / π_old(y_t)``:

- ``clip`` (Schulman et al., 2017, PPO; ε_low ≠ ε_high is DAPO's "clip-higher", Yu et al., 2025)::

      ℓ = -min(ρ A, clamp(ρ, 1 - ε_low, 1 + ε_high) A)

- ``none`` (the clamp removed, the *Spurious Rewards* ablation, Shao et al., 2025)::

      ℓ = -ρ A

  a first-class mode rather than a huge ε, so the gradient is exactly the importance-weighted policy gradient.

The per-token losses are reduced to a scalar by an *aggregation* (names as in verl's ``agg_loss``):

==========================  ============================================  ==========================
aggregation                 formula over a mini-batch of B sequences     TRL ``loss_type``
==========================  ============================================  ==========================
``seq-mean-token-mean``     ``1/B Σ_i (Σ_t m ℓ / Σ_t m)``                 ``grpo``
``token-mean``              ``Σ m ℓ / Σ m``                               ``bnpo`` (``dapo`` global)
``seq-mean-token-sum-norm`` ``Σ m ℓ / (B · L_max)``, a constant           ``dr_grpo``
==========================  ============================================  ==========================

``L_max`` is the generation budget (``max_new_tokens``), so the Dr. GRPO normaliser does not depend on the lengths
the policy happens to produce. When a mini-batch is processed in several micro-batches, :class:`Normaliser` carries
the *mini-batch* totals so the micro-batch losses sum to the mini-batch loss.

Optional terms: ``β · k3`` where ``k3 = exp(r) - r - 1``, ``r = log π_ref - log π_θ`` (Schulman, "Approximating KL
divergence", 2020; the GRPO paper's KL), added per token; and ``-c · H`` with the entropy aggregated the same way.

Clip fractions: ``clip_frac_low`` is the share of tokens with ``ρ < 1 - ε_low`` and ``A < 0``, ``clip_frac_high``
those with ``ρ > 1 + ε_high`` and ``A > 0``: exactly the tokens whose gradient the clamp removes. Under
``clip: none`` nothing is removed, and the same fractions count what the clamp *would* have removed, so the
ablation can compare how far the policy leaves the trust region.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import torch

from rlvr_lab.registry import Registry

# ----------------------------------------------------------------------------------------------------------------
# Aggregation


@dataclass(frozen=True)
class Normaliser:
    """Totals of the whole mini-batch a (micro-)batch belongs to.

    With one micro-batch per mini-batch these are the batch's own counts (:meth:`of`).
    """

    num_seqs: int
    """Sequences in the mini-batch (B)."""
    num_tokens: float
    """Unmasked completion tokens in the mini-batch (Σ m)."""
    max_len: int
    """The constant length normaliser L_max of ``seq-mean-token-sum-norm`` (the generation budget)."""

    @staticmethod
    def of(mask: torch.Tensor, max_len: int) -> Normaliser:
        """The totals of ``mask`` (B, T) itself."""
        return Normaliser(num_seqs=mask.shape[0], num_tokens=float(mask.sum()), max_len=max_len)


AggregationFn = Callable[[torch.Tensor, torch.Tensor, Normaliser], torch.Tensor]
"""``(values (B, T), mask (B, T), normaliser) -> scalar``."""

AGGREGATIONS: Registry[AggregationFn] = Registry("loss aggregation")


@AGGREGATIONS.register("seq-mean-token-mean")
def seq_mean_token_mean(values: torch.Tensor, mask: torch.Tensor, norm: Normaliser) -> torch.Tensor:
    """Mean over tokens within each sequence, then mean over sequences: every sequence weighs the same.

    A sequence with no unmasked token contributes 0 (its token count is clamped to 1).
    """
    per_seq = (values * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1.0)  # (B,)
    return per_seq.sum() / norm.num_seqs


@AGGREGATIONS.register("token-mean")
def token_mean(values: torch.Tensor, mask: torch.Tensor, norm: Normaliser) -> torch.Tensor:
    """Mean over all unmasked tokens of the mini-batch: every token weighs the same (long answers weigh more)."""
    return (values * mask).sum() / max(norm.num_tokens, 1.0)


@AGGREGATIONS.register("seq-mean-token-sum-norm")
def seq_mean_token_sum_norm(values: torch.Tensor, mask: torch.Tensor, norm: Normaliser) -> torch.Tensor:
    """Sum over tokens divided by the constant ``B · L_max`` (Dr. GRPO): no length bias from the normaliser."""
    return (values * mask).sum() / (norm.num_seqs * norm.max_len)


# ----------------------------------------------------------------------------------------------------------------
# Surrogates (clip modes)


class SurrogateFn(Protocol):
    def __call__(self, ratio: torch.Tensor, advantages: torch.Tensor, eps_low: float, eps_high: float) -> torch.Tensor:
        """``(ratio (B, T), advantages (B, 1)) -> per-token loss (B, T)``."""
        ...


CLIP_MODES: Registry[SurrogateFn] = Registry("clip mode")


@CLIP_MODES.register("clip")
def clipped_surrogate(ratio: torch.Tensor, advantages: torch.Tensor, eps_low: float, eps_high: float) -> torch.Tensor:
    """``-min(ρ A, clamp(ρ, 1 - ε_low, 1 + ε_high) A)`` per token."""
    unclipped = ratio * advantages
    clipped = torch.clamp(ratio, 1.0 - eps_low, 1.0 + eps_high) * advantages
    return -torch.min(unclipped, clipped)


@CLIP_MODES.register("none")
def unclipped_surrogate(ratio: torch.Tensor, advantages: torch.Tensor, eps_low: float, eps_high: float) -> torch.Tensor:
    """``-ρ A`` per token: the clamp removed (``eps_low``/``eps_high`` are unused here)."""
    return -(ratio * advantages)


# ----------------------------------------------------------------------------------------------------------------
# The loss


@dataclass(frozen=True)
class LossConfig:
    """How the per-token policy loss is formed and reduced."""

    clip: str = "clip"
    """Clip mode: ``clip`` (PPO clamp) or ``none`` (clamp removed)."""
    eps_low: float = 0.2
    """Lower clip range: ratios below ``1 - eps_low`` stop pushing down negative-advantage tokens."""
    eps_high: float = 0.2
    """Upper clip range (clip-higher when above ``eps_low``, e.g. DAPO's 0.28)."""
    aggregation: str = "seq-mean-token-mean"
    """How per-token losses become one number; see the module docstring."""
    kl_coef: float = 0.0
    """β of the k3 KL penalty to the frozen reference model; 0 disables it (no reference model is kept)."""
    entropy_coef: float = 0.0
    """Coefficient of the entropy bonus subtracted from the loss; 0 disables it."""

    def __post_init__(self) -> None:
        CLIP_MODES.get(self.clip)
        AGGREGATIONS.get(self.aggregation)
        if not (0 <= self.eps_low < 1 and self.eps_high >= 0):
            raise ValueError(f"need 0 <= eps_low < 1 and eps_high >= 0, got {self.eps_low}, {self.eps_high}")
        if self.kl_coef < 0 or self.entropy_coef < 0:
            raise ValueError(f"kl_coef and entropy_coef must be >= 0, got {self.kl_coef}, {self.entropy_coef}")


def k3_kl(logprobs: torch.Tensor, ref_logprobs: torch.Tensor) -> torch.Tensor:
    """Per-token k3 estimator of KL(π_θ || π_ref): ``exp(r) - r - 1`` with ``r = log π_ref - log π_θ``; ≥ 0."""
    r = ref_logprobs - logprobs
    return torch.exp(r) - r - 1.0


def clipped_tokens(
    ratio: torch.Tensor, advantages: torch.Tensor, config: LossConfig
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(low, high)`` bool masks of the tokens whose gradient the clamp removes (or would remove, under ``none``).

    ``low``: ``ρ < 1 - ε_low`` with ``A < 0``; ``high``: ``ρ > 1 + ε_high`` with ``A > 0``. Shapes: ``ratio`` (B, T),
    ``advantages`` (B, 1).
    """
    return (ratio < 1.0 - config.eps_low) & (advantages < 0), (ratio > 1.0 + config.eps_high) & (advantages > 0)


def _masked_mean(values: torch.Tensor, mask: torch.Tensor) -> float:
    return float((values * mask).sum() / mask.sum().clamp(min=1.0))


def policy_loss(
    logprobs: torch.Tensor,
    old_logprobs: torch.Tensor,
    advantages: torch.Tensor,
    mask: torch.Tensor,
    config: LossConfig,
    norm: Normaliser,
    ref_logprobs: torch.Tensor | None = None,
    entropy: torch.Tensor | None = None,
) -> tuple[torch.Tensor, dict[str, float]]:
    """The scalar loss to minimise and its diagnostics.

    Shapes: ``logprobs``, ``old_logprobs``, ``mask``, ``ref_logprobs``, ``entropy``: (B, T); ``advantages``: (B,)
    for one advantage per completion, or (B, T) per token (PPO's GAE).
    ``logprobs`` carries the gradient; ``old_logprobs`` (the policy before this rollout's updates) and
    ``ref_logprobs`` must not. ``ref_logprobs`` is required when ``kl_coef > 0`` and ``entropy`` when
    ``entropy_coef > 0``. Metrics are token means over ``mask``: ``actor/pg_loss``, ``actor/clip_frac_low``,
    ``actor/clip_frac_high``, plus ``actor/kl`` and ``actor/entropy`` when those tensors are given.
    """
    if logprobs.shape != old_logprobs.shape or logprobs.shape != mask.shape:
        raise ValueError(f"shape mismatch: logprobs {logprobs.shape}, old {old_logprobs.shape}, mask {mask.shape}")
    if advantages.shape not in (logprobs.shape[:1], logprobs.shape):
        raise ValueError(
            f"advantages must be (B,) = {tuple(logprobs.shape[:1])} or (B, T), got {tuple(advantages.shape)}"
        )
    mask = mask.to(logprobs.dtype)
    adv = advantages.unsqueeze(1) if advantages.dim() == 1 else advantages  # (B, 1) or (B, T)
    ratio = torch.exp(logprobs - old_logprobs)  # (B, T)
    per_token = CLIP_MODES.get(config.clip)(ratio, adv, config.eps_low, config.eps_high)  # (B, T)
    aggregate = AGGREGATIONS.get(config.aggregation)

    metrics: dict[str, float] = {}
    with torch.no_grad():
        metrics["actor/pg_loss"] = float(aggregate(per_token, mask, norm))
        low, high = clipped_tokens(ratio, adv, config)
        metrics["actor/clip_frac_low"] = _masked_mean(low.to(mask.dtype), mask)
        metrics["actor/clip_frac_high"] = _masked_mean(high.to(mask.dtype), mask)

    if config.kl_coef > 0:
        if ref_logprobs is None:
            raise ValueError("kl_coef > 0 needs ref_logprobs")
        kl = k3_kl(logprobs, ref_logprobs)
        per_token = per_token + config.kl_coef * kl
        metrics["actor/kl"] = _masked_mean(kl.detach(), mask)
    elif ref_logprobs is not None:
        metrics["actor/kl"] = _masked_mean(k3_kl(logprobs.detach(), ref_logprobs), mask)

    loss = aggregate(per_token, mask, norm)
    if config.entropy_coef > 0:
        if entropy is None:
            raise ValueError("entropy_coef > 0 needs entropy")
        loss = loss - config.entropy_coef * aggregate(entropy, mask, norm)
    if entropy is not None:
        metrics["actor/entropy"] = _masked_mean(entropy.detach(), mask)
    return loss, metrics
