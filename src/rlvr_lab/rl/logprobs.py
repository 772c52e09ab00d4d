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
    rows = logits.reshape(B * kept, V)[flat]  # (B * C, V)
    ids = batch.completion_ids.flatten()
    # plain autograd over a float32 copy for an entropy bonus (a gradient through the entropy) and under torch.func
    # transforms (rl/multiseed.py vmaps this function), which the chunked function's in-place writes cannot run under
    transformed = getattr(torch._C, "_are_functorch_transforms_active", lambda: False)()
    if transformed or (with_entropy and entropy_grad and torch.is_grad_enabled()):
        logits = rows.view(B, C, V).float()
        lse = torch.logsumexp(logits, dim=-1)  # (B, C)
        picked = logits.gather(-1, ids.view(B, C, 1)).squeeze(-1)
        entropy = None
        if with_entropy:
            with torch.set_grad_enabled(torch.is_grad_enabled() and entropy_grad):  # a metric only: no graph
                entropy = lse - (torch.softmax(logits, dim=-1) * logits).sum(dim=-1)  # H = logsumexp(z) - Σ p z
        return picked - lse, entropy
    logprobs, entropy = _PickedLogSoftmax.apply(rows, ids, with_entropy)
    return logprobs.view(B, C), None if entropy is None else entropy.view(B, C)


VOCAB_CHUNK_BYTES = 2**21
"""float32 logits converted at a time by :class:`_PickedLogSoftmax` (2 MiB: a few rows of a 49k vocabulary, which
stay in a core's L2 cache through the passes over them)."""


class _PickedLogSoftmax(torch.autograd.Function):
    """``log softmax(z)[y]`` of each row of ``z`` ``(N, V)``, and optionally its entropy (no gradient), with float32
    statistics computed a few rows at a time.

    Why: the autograd graph of ``z.float()``, ``logsumexp`` and ``gather`` keeps a float32 copy of every kept logit
    (for 16 x 64 SmolLM2 positions, 200 MB) and walks it several times in memory, forward and backward. Here each
    chunk of rows is converted, reduced and dropped while it sits in the cache, and the backward recomputes
    ``exp(z - lse)`` from the saved logits in their own dtype. The arithmetic is autograd's own, op for op
    (``logsumexp``'s backward ``grad * exp(z - lse)``, ``gather``'s ``scatter_add_``, the cast back to the logits'
    dtype), so values and gradients are bit-identical to the unchunked graph (``tests/test_rl_logprobs.py``).
    """

    @staticmethod
    def forward(ctx, logits: torch.Tensor, ids: torch.Tensor, with_entropy: bool):  # type: ignore[override]
        N, V = logits.shape
        step = max(1, VOCAB_CHUNK_BYTES // (4 * V))
        lse = logits.new_empty(N, dtype=torch.float32)
        picked = torch.empty_like(lse)
        entropy = torch.empty_like(lse) if with_entropy else None
        for start in range(0, N, step):
            x = logits[start : start + step].float()
            lse[start : start + step] = torch.logsumexp(x, dim=-1)
            picked[start : start + step] = x.gather(-1, ids[start : start + step, None]).squeeze(-1)
            if entropy is not None:
                entropy[start : start + step] = lse[start : start + step] - (torch.softmax(x, dim=-1) * x).sum(-1)
        ctx.save_for_backward(logits, ids, lse)
        if entropy is not None:
            ctx.mark_non_differentiable(entropy)
        return picked - lse, entropy

    @staticmethod
    def backward(ctx, grad: torch.Tensor, _entropy_grad: torch.Tensor | None):  # type: ignore[override]
        logits, ids, lse = ctx.saved_tensors
        N, V = logits.shape
        step = max(1, VOCAB_CHUNK_BYTES // (4 * V))
        out = torch.empty_like(logits)
        for start in range(0, N, step):
            part = slice(start, start + step)
            x = logits[part].float()
            d = (-grad[part]).unsqueeze(-1) * (x - lse[part].unsqueeze(-1)).exp()  # logsumexp's backward
            out[part] = d.scatter_add_(-1, ids[part, None], grad[part, None])  # gather's backward, then the cast
        return out, None, None


def pack_logprobs(logprobs: Sequence[Sequence[float]], columns: int) -> torch.Tensor:
    """The sampler's per-token log-probs laid out like :attr:`PackedBatch.completion_ids`: (B, columns), 0-padded."""
    out = torch.zeros((len(logprobs), columns))
    for i, row in enumerate(logprobs):
        out[i, : len(row)] = torch.tensor(row, dtype=torch.float32)
    return out
