"""Teacher-forced per-token log-probabilities and entropies of completions under a causal LM.

Layout (the one TRL's ``GRPOTrainer`` uses, so the two compute the same numbers): prompts are LEFT-padded to the
longest prompt ``P`` and completions RIGHT-padded to the longest completion ``C``::

    [pad pad p0 p1 p2 | c0 c1 c2 pad]      input_ids      (B, P + C)
    [ 0   0  1  1  1  |  1  1  1   0 ]      attention_mask (B, P + C)
                      [  1  1  1   0 ]      completion_mask (B, C)

so every completion starts at column ``P`` and only the last ``C + 1`` positions need logits (``logits_to_keep``):
the logit at column ``P - 1 + t`` predicts completion token ``t``. Position ids count real tokens only
(``cumsum(mask) - 1``), so a left-padded prompt sees the same positions as an unpadded one.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from transformers import PreTrainedModel


@dataclass(frozen=True)
class PackedBatch:
    """Prompt + completion token ids laid out for one forward pass (see the module docstring)."""

    input_ids: torch.Tensor
    """(B, P + C) token ids, pads where the attention mask is 0."""
    attention_mask: torch.Tensor
    """(B, P + C) 1 for real tokens."""
    position_ids: torch.Tensor
    """(B, P + C) position of each real token within its own sequence."""
    completion_ids: torch.Tensor
    """(B, C) completion token ids (right-padded)."""
    completion_mask: torch.Tensor
    """(B, C) float, 1 for real completion tokens."""

    @property
    def num_completion_columns(self) -> int:
        return self.completion_ids.shape[1]

    def to(self, device: str | torch.device) -> PackedBatch:
        """The same batch on ``device``."""
        return PackedBatch(*(getattr(self, f.name).to(device) for f in dataclasses.fields(self)))

    def rows(self, index: slice | torch.Tensor) -> PackedBatch:
        """A sub-batch of rows (same column layout)."""
        return PackedBatch(
            self.input_ids[index],
            self.attention_mask[index],
            self.position_ids[index],
            self.completion_ids[index],
            self.completion_mask[index],
        )


def pack(prompts: Sequence[Sequence[int]], completions: Sequence[Sequence[int]], pad_id: int) -> PackedBatch:
    """Lay out ``B`` (prompt, completion) pairs; every prompt and completion needs at least one token."""
    if len(prompts) != len(completions) or not prompts:
        raise ValueError(f"need as many prompts as completions (> 0), got {len(prompts)} and {len(completions)}")
    if min(map(len, prompts)) < 1 or min(map(len, completions)) < 1:
        raise ValueError("every prompt and completion needs at least one token")
    B, P, C = len(prompts), max(map(len, prompts)), max(map(len, completions))
    ids = torch.full((B, P + C), pad_id, dtype=torch.long)
    attn = torch.zeros((B, P + C), dtype=torch.long)
    for i, (p, c) in enumerate(zip(prompts, completions, strict=True)):
        ids[i, P - len(p) : P] = torch.tensor(p, dtype=torch.long)
        ids[i, P : P + len(c)] = torch.tensor(c, dtype=torch.long)
        attn[i, P - len(p) : P + len(c)] = 1
    position_ids = (attn.cumsum(dim=1) - 1).clamp(min=0)
    return PackedBatch(ids, attn, position_ids, ids[:, P:], attn[:, P:].float())


def token_logprobs(
    model: PreTrainedModel, batch: PackedBatch, with_entropy: bool = False
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """``(log π(c_t | prefix) (B, C), entropy of π at each completion position (B, C) or None)``.

    Raw temperature-1 distribution. Gradients flow through the log-probs when grad mode is on; the entropy
    carries gradient only when the caller's grad mode is on as well (it is needed for an entropy bonus).
    Computed as ``logit[y] - logsumexp(logits)`` so no (B, C, V) log-softmax copy is kept for the log-probs.
    """
    C = batch.num_completion_columns
    out = model(
        input_ids=batch.input_ids,
        attention_mask=batch.attention_mask,
        position_ids=batch.position_ids,
        logits_to_keep=C + 1,
        use_cache=False,
    )
    logits = out.logits[:, :-1].float()  # (B, C, V): column t predicts completion token t
    lse = torch.logsumexp(logits, dim=-1)  # (B, C)
    picked = logits.gather(-1, batch.completion_ids.unsqueeze(-1)).squeeze(-1)  # (B, C)
    logprobs = picked - lse
    entropy = None
    if with_entropy:
        probs = torch.softmax(logits, dim=-1)
        entropy = lse - (probs * logits).sum(dim=-1)  # H = logsumexp(z) - Σ p z
    return logprobs, entropy
