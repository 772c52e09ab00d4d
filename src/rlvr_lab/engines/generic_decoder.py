"""The generic row decoder: any Hugging Face causal LM through its own forward and ``past_key_values``.

The fallback for architectures the lean decoder does not know, and the reference it is tested against. Rows
live in one left-padded batch, as in ``generate``: an attention mask ``(rows, T)`` marks real tokens and
positions are passed explicitly, so a row's tokens sit at positions ``0, 1, ...`` whatever its padding.

Refilling a finished row means splicing a newly prefilled prompt into the batch cache: both caches are
left-padded to a common length and the row is overwritten, then all-padding columns on the left are cut. That
surgery needs plain full-attention ``DynamicLayer`` caches; for any other cache (sliding windows, hybrid
models) ``refills_partially`` is ``False`` and the engine waits until the whole batch has finished before
prefilling a new one (static batching: slower, still exact).
"""

from __future__ import annotations

import inspect

import torch
from transformers import PreTrainedModel
from transformers.cache_utils import Cache, DynamicLayer

from rlvr_lab.engines.common import dedupe


def _left_pad(tensor: torch.Tensor, width: int, dim: int) -> torch.Tensor:
    """Prepend ``width`` zero columns to ``tensor`` along ``dim``."""
    if width == 0:
        return tensor
    shape = list(tensor.shape)
    shape[dim] = width
    return torch.cat([tensor.new_zeros(shape), tensor], dim=dim)


class GenericDecoder:
    """A batch of ``rows`` sequences decoded through ``model(...)`` with a transformers cache."""

    def __init__(self, model: PreTrainedModel, rows: int, max_len: int) -> None:
        del max_len  # the cache grows as needed
        self.model = model
        self.rows = rows
        self.device = next(model.parameters()).device
        self.cache: Cache | None = None
        self.mask: torch.Tensor | None = None  # (rows, T): 1 for real tokens, 0 for left padding
        self.refills_partially = True
        self._keep_last = "logits_to_keep" in inspect.signature(model.forward).parameters

    def _forward(self, ids: torch.Tensor, mask: torch.Tensor, positions: torch.Tensor, cache: Cache | None):
        extra = {"logits_to_keep": 1} if self._keep_last else {}
        return self.model(
            input_ids=ids, attention_mask=mask, position_ids=positions, past_key_values=cache, use_cache=True, **extra
        )

    def prefill(self, rows: torch.Tensor, prompts: list[list[int]]) -> torch.Tensor:
        """Start ``prompts`` in ``rows`` ``(k,)``; return next-token logits ``(k, V)``.

        Distinct prompts run once, left-padded like ``generate`` would pad them. Without partial refills the
        engine only calls this when every row is free, and the batch is rebuilt: rows not asked for get a
        copy of the first prompt (idle rows whose output nobody reads).
        """
        if self.cache is None or not self.refills_partially or len(rows) == self.rows:
            everything = [prompts[0]] * self.rows
            for r, prompt in zip(rows.tolist(), prompts, strict=True):
                everything[r] = prompt
            self.cache, self.mask, logits = self._run(everything)
            self.refills_partially = all(type(layer) is DynamicLayer for layer in self.cache.layers)
            return logits[rows]
        cache, mask, logits = self._run(prompts)
        self._splice(rows, cache, mask)
        return logits

    def _run(self, prompts: list[list[int]]) -> tuple[Cache, torch.Tensor, torch.Tensor]:
        """Prefill ``prompts``: their cache and mask ``(k, P)`` (one row per prompt) and last logits ``(k, V)``."""
        distinct, inverse_list = dedupe(prompts)
        inverse = torch.tensor(inverse_list, device=self.device)
        width = max(len(p) for p in distinct)
        ids = torch.zeros(len(distinct), width, dtype=torch.long, device=self.device)
        mask = torch.zeros_like(ids)
        for i, prompt in enumerate(distinct):
            ids[i, width - len(prompt) :] = torch.tensor(prompt, device=self.device)
            mask[i, width - len(prompt) :] = 1
        positions = (mask.cumsum(-1) - 1).clamp(min=0)
        out = self._forward(ids, mask, positions, None)
        cache = out.past_key_values
        cache.batch_select_indices(inverse)
        return cache, mask[inverse], out.logits[:, -1][inverse]

    def _splice(self, rows: torch.Tensor, cache: Cache, mask: torch.Tensor) -> None:
        """Overwrite ``rows`` of the batch cache with a freshly prefilled ``cache``, aligning on the right."""
        assert self.cache is not None and self.mask is not None
        old_len, new_len = self.mask.shape[1], mask.shape[1]
        length = max(old_len, new_len)
        self.mask = _left_pad(self.mask, length - old_len, 1)
        self.mask[rows] = _left_pad(mask, length - new_len, 1)
        for layer, new in zip(self.cache.layers, cache.layers, strict=True):
            layer.keys = _left_pad(layer.keys, length - old_len, 2)
            layer.values = _left_pad(layer.values, length - old_len, 2)
            layer.keys[rows] = _left_pad(new.keys, length - new_len, 2)
            layer.values[rows] = _left_pad(new.values, length - new_len, 2)
        unused = int(self.mask.any(0).int().argmax())  # leading columns that are padding in every row
        if unused:
            self.mask = self.mask[:, unused:]
            for layer in self.cache.layers:
                layer.keys, layer.values = layer.keys[:, :, unused:], layer.values[:, :, unused:]

    def decode(self, tokens: torch.Tensor, positions: torch.Tensor, span: int) -> torch.Tensor:
        """Feed ``tokens`` ``(rows,)`` at ``positions`` ``(rows,)``; return next-token logits ``(rows, V)``."""
        del span  # the attention mask already bounds what each row sees
        assert self.mask is not None
        self.mask = torch.cat([self.mask, self.mask.new_ones(self.rows, 1)], dim=1)
        out = self._forward(tokens.unsqueeze(1), self.mask, positions.unsqueeze(1), self.cache)
        self.cache = out.past_key_values
        return out.logits[:, -1]

    def keep(self, rows: torch.Tensor) -> None:
        """Shrink the batch to ``rows`` (in that order)."""
        assert self.cache is not None and self.mask is not None
        self.cache.batch_select_indices(rows)
        self.mask = self.mask[rows]
        self.rows = len(rows)
