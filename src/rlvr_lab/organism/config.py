"""The organism's model shape and training budget: plain frozen dataclasses, free of torch so profiles stay light."""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class ModelConfig:
    """Shape of the Llama; the defaults give about 0.66M parameters (about 2.6 MB in fp32)."""

    hidden_size: int = 128
    """Width of the residual stream."""
    num_layers: int = 3
    """Transformer blocks."""
    num_heads: int = 4
    """Attention heads (no grouped-query sharing)."""
    intermediate_size: int = 384
    """Width of the SwiGLU feed-forward layer."""
    max_position_embeddings: int = 256
    """Context length: a prompt plus a solution stay well under it."""


@dataclass(frozen=True)
class TrainConfig:
    """The optimisation budget and schedule."""

    steps: int = 4000
    """Optimiser steps."""
    batch_size: int = 32
    """Examples per step."""
    lr: float = 8e-3
    """Peak learning rate."""
    warmup_steps: int = 100
    """Linear warmup from 0 to ``lr``."""
    min_lr_ratio: float = 0.05
    """The cosine decay ends at ``lr * min_lr_ratio``."""
    weight_decay: float = 0.01
    """AdamW decoupled weight decay."""
    loss_tokens: int = 16
    """A batch's summed token loss is divided by ``batch_size * loss_tokens`` (a constant, so every token weighs
    the same in every batch; about the mean tokens per solution, so the learning rate keeps its usual scale)."""
    threads: int = 1
    """Torch CPU threads while training. Pinned because float sums depend on the thread count, so the same seed
    gives the same weights on any machine; one thread is also the fastest on a shared, oversubscribed CPU, where
    each op of a multi-threaded torch waits for its descheduled sibling threads (measured here: 9x slower)."""

    def lr_at(self, step: int) -> float:
        """Learning rate for 0-based ``step``: warmup, then cosine from ``lr`` to ``lr * min_lr_ratio``."""
        if step < self.warmup_steps:
            return self.lr * (step + 1) / self.warmup_steps
        progress = (step - self.warmup_steps) / max(1, self.steps - self.warmup_steps)
        assert 0.0 <= progress <= 1.0, f"progress {progress} outside [0, 1] at step {step} of {self.steps}"
        return self.lr * (self.min_lr_ratio + (1 - self.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * progress)))
