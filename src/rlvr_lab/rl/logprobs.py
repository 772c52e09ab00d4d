"""Teacher-forced per-token log-probabilities and entropies of completions under a causal LM.

Layout: each row is its prompt followed directly by its completion, RIGHT-padded to the longest row::

    input_ids        [p0 p1 p2 c0 c1 c2 pad pad]      (B, T)
    completion_ids            [c0 c1 c2 pad]           (B, C)
    completion_mask           [ 1  1  1   0]           (B, C)
    positions                 [ 2  3  4   5]           (B, C): the logit column that predicts c_t, len(p) - 1 + t

Why this layout and not TRL's (prompts left-padded, completions right-padded, which pads every row to
``max prompt + max completion``): a row here costs only ``max(prompt + completion)`` columns, a large saving when
both prompts and completions vary in length, as on the organism. Padding sits after every real token, so a causal
model needs no attention mask: real positions never attend to it, positions count from 0 in every row, and the
model can use its fused causal attention path. Only the logits from the earliest completion start onward are
computed (``logits_to_keep``).
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
    """(B, T) prompt then completion, right-padded."""
    prompt_lengths: torch.Tensor
    """(B,) prompt tokens per row."""
    completion_ids: torch.Tensor
    """(B, C) completion token ids, right-padded."""
    completion_mask: torch.Tensor
    """(B, C) float, 1 for real completion tokens."""

    @property
    def num_completion_columns(self) -> int:
        return self.completion_ids.shape[1]

    @property
    def lengths(self) -> torch.Tensor:
        """(B,) real tokens per row (prompt + completion)."""
        return self.prompt_lengths + self.completion_mask.sum(dim=1).long()

    @property
    def positions(self) -> torch.Tensor:
        """(B, C) logit column predicting completion token t: ``prompt_length - 1 + t``."""
        t = torch.arange(self.num_completion_columns, device=self.input_ids.device)
        return self.prompt_lengths.unsqueeze(1) - 1 + t

    def to(self, device: str | torch.device) -> PackedBatch:
        """The same batch on ``device``."""
        return PackedBatch(*(getattr(self, f.name).to(device) for f in dataclasses.fields(self)))

    def rows(self, index: torch.Tensor) -> PackedBatch:
        """The rows ``index``, with columns that are padding in all of them dropped."""
        lengths = self.lengths[index]
        completion = self.completion_mask[index]
        T = int(lengths.max())
        C = int(completion.sum(dim=1).max())
        return PackedBatch(
            self.input_ids[index, :T], self.prompt_lengths[index], self.completion_ids[index, :C], completion[:, :C]
        )


def pack(prompts: Sequence[Sequence[int]], completions: Sequence[Sequence[int]], pad_id: int) -> PackedBatch:
    """Lay out ``B`` (prompt, completion) pairs; every prompt and completion needs at least one token."""
    if len(prompts) != len(completions) or not prompts:
        raise ValueError(f"need as many prompts as completions (> 0), got {len(prompts)} and {len(completions)}")
    if min(map(len, prompts)) < 1 or min(map(len, completions)) < 1:
        raise ValueError("every prompt and completion needs at least one token")
    B = len(prompts)
    T = max(len(p) + len(c) for p, c in zip(prompts, completions, strict=True))
    C = max(map(len, completions))
    ids = torch.full((B, T), pad_id, dtype=torch.long)
    completion_ids = torch.full((B, C), pad_id, dtype=torch.long)
    mask = torch.zeros((B, C))
    for i, (p, c) in enumerate(zip(prompts, completions, strict=True)):
        ids[i, : len(p) + len(c)] = torch.tensor([*p, *c], dtype=torch.long)
        completion_ids[i, : len(c)] = torch.tensor(c, dtype=torch.long)
        mask[i, : len(c)] = 1.0
    prompt_lengths = torch.tensor([len(p) for p in prompts], dtype=torch.long)
    return PackedBatch(ids, prompt_lengths, completion_ids, mask)


def token_logprobs(
    model: PreTrainedModel,
    batch: PackedBatch,
    with_entropy: bool = False,
    dtype: torch.dtype = torch.float32,
    entropy_grad: bool = True,
    first: int | None = None,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """``(log π(c_t | prefix) (B, C), entropy of π at each completion position (B, C) or None)``.

    Raw temperature-1 distribution; values at padded completion columns are meaningless (mask them). Gradients
    flow when grad mode is on, through the entropy as well unless ``entropy_grad`` is False (an entropy logged as a
    metric then builds no autograd graph over the vocabulary). Computed as ``logit[y] - logsumexp(logits)``, so no
    (B, C, V) log-softmax is kept for the log-probs.

    ``dtype`` other than the model's runs the forward under ``torch.autocast`` in that dtype (bfloat16 training:
    the weights and optimiser state stay float32, matrix products run in bfloat16); the log-softmax is float32.

    ``first``: the earliest logit column computed (default: the one before this batch's earliest completion token);
    a caller mapping this function over several batches with ``torch.func.vmap`` passes one for all of them, since
    a traced batch's values cannot choose a shape.
    """
    T = batch.input_ids.shape[1]
    if first is None:
        first = int(batch.prompt_lengths.min()) - 1  # the earliest logit column any completion needs
    device = batch.input_ids.device.type
    with torch.autocast(device, dtype=dtype, enabled=dtype != torch.float32):
        out = model(input_ids=batch.input_ids, logits_to_keep=T - first, use_cache=False)
    logits = out.logits  # (B, T - first, V): column j predicts token first + j + 1 (the last column predicts none)
    B, kept, V = logits.shape
    C = batch.num_completion_columns
    columns = (batch.positions - first).clamp(max=kept - 2)  # (B, C); padded columns clamp harmlessly
    # whole rows of the (B * kept, V) logits, picked before the float32 copy: a row gather copies C vectors of V
    # contiguous values (and its backward adds them back row by row), where a gather along dim 1 with an index
    # expanded to (B, C, V) reads one int64 per logit both ways, and converting first would copy every kept column
    flat = (torch.arange(B, device=columns.device).unsqueeze(1) * kept + columns).flatten()
    logits = logits.reshape(B * kept, V)[flat].view(B, C, V).float()  # (B, C, V)
    lse = torch.logsumexp(logits, dim=-1)  # (B, C)
    picked = logits.gather(-1, batch.completion_ids.unsqueeze(-1)).squeeze(-1)  # (B, C)
    entropy = None
    if with_entropy:
        with torch.set_grad_enabled(torch.is_grad_enabled() and entropy_grad):  # a metric only: no (B, C, V) graph
            probs = torch.softmax(logits, dim=-1)
            entropy = lse - (probs * logits).sum(dim=-1)  # H = logsumexp(z) - Σ p z
    return picked - lse, entropy


def pack_logprobs(logprobs: Sequence[Sequence[float]], columns: int) -> torch.Tensor:
    """The sampler's per-token log-probs laid out like :attr:`PackedBatch.completion_ids`: (B, columns), 0-padded."""
    out = torch.zeros((len(logprobs), columns))
    for i, row in enumerate(logprobs):
        out[i, : len(row)] = torch.tensor(row, dtype=torch.float32)
    return out
