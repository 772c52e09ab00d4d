"""Supervised fine-tuning on (prompt, completion) token pairs: the loss of distillation.

The loss is the mean negative log-likelihood of the completion tokens (the prompt is read, not predicted; the
stop token is part of the completion so the student learns to stop), every token weighing the same. Batches use
the trainer's packed layout (:func:`rlvr_lab.rl.logprobs.pack`) and its teacher-forced log-probs, so what SFT
maximises is exactly the log-probability the RL loss's ratio is made of. Shuffling is seeded per epoch.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from transformers import PreTrainedModel

from rlvr_lab.rl.logprobs import pack, token_logprobs


@dataclass(frozen=True)
class SFTConfig:
    epochs: int = 2
    """Passes over the pairs."""
    batch_size: int = 32
    """Pairs per optimiser step."""
    lr: float = 5e-4
    """AdamW learning rate (constant)."""
    seed: int = 0
    """Seed of the shuffles."""


def sft(
    model: PreTrainedModel,
    pairs: Sequence[tuple[Sequence[int], Sequence[int]]],
    pad_id: int,
    config: SFTConfig,
    progress: Callable[[int, float], None] | None = None,
) -> list[float]:
    """Fine-tune ``model`` on ``pairs`` of (prompt ids, completion ids); return each step's mean token NLL.
    The model is left in eval mode (no dropout was used either way)."""
    if not pairs:
        raise ValueError("no (prompt, completion) pairs to fine-tune on")
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=0.0)
    losses: list[float] = []
    for epoch in range(config.epochs):
        order = np.random.default_rng([config.seed, epoch]).permutation(len(pairs))
        for start in range(0, len(order), config.batch_size):
            rows = [pairs[i] for i in order[start : start + config.batch_size]]
            batch = pack([p for p, _ in rows], [c for _, c in rows], pad_id).to(model.device)
            logprobs, _ = token_logprobs(model, batch)
            mask = batch.completion_mask
            loss = -(logprobs * mask).sum() / mask.sum()
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            losses.append(float(loss.detach()))
            if progress is not None:
                progress(len(losses), losses[-1])
    model.eval()
    return losses
