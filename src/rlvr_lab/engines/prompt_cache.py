"""Prompts already prefilled in one ``sample`` call: their keys, values and first logits, kept for the next rows.

Why: a boundary study draws ``n`` = 64 to 1,024 samples of every prompt, and a continuously batched engine starts
them a row or two at a time as other rows finish, so without this each prompt's prefill would run about ``n``
times. Entries are dropped least recently used first once they hold more than ``max_bytes``; the queue visits a
prompt's samples one after another, so a few entries are all it needs. The cache lives as long as the decoder
(one ``sample`` call): the weights may change between calls, never within one.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import torch

DEFAULT_MAX_BYTES = 256 * 2**20
"""Room for 11 SmolLM2-135M prompts of 1,000 tokens in bfloat16 (30 layers × keys and values × 3 heads × 64 dims ×
2 bytes: 23 KB a token), or every prompt of an organism study."""


@dataclass(frozen=True)
class PrefilledPrompt:
    """One prompt's keys and values, a ``(2, kv_heads, prompt_len, head_dim)`` tensor per layer, and the logits
    ``(V,)`` of the token after it."""

    kv: list[torch.Tensor]
    logits: torch.Tensor

    @property
    def nbytes(self) -> int:
        return sum(t.numel() * t.element_size() for t in (*self.kv, self.logits))


class PromptCache:
    """Least-recently-used map from a prompt's token ids to its :class:`PrefilledPrompt`, bounded in bytes."""

    def __init__(self, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self.max_bytes = max_bytes
        self.entries: OrderedDict[tuple[int, ...], PrefilledPrompt] = OrderedDict()
        self.bytes = 0
        self.hits = 0
        self.misses = 0

    def get(self, prompt: Sequence[int]) -> PrefilledPrompt | None:
        """The prompt's entry (now the most recently used), or ``None``; counts a hit or a miss."""
        entry = self.entries.get(tuple(prompt))
        if entry is None:
            self.misses += 1
            return None
        self.entries.move_to_end(tuple(prompt))
        self.hits += 1
        return entry

    def add(self, items: Iterable[tuple[Sequence[int], PrefilledPrompt]]) -> None:
        """Keep each entry, then drop the least recently used until the cache fits (the newest is always kept)."""
        for prompt, entry in items:
            key = tuple(prompt)
            if key in self.entries:
                self.bytes -= self.entries.pop(key).nbytes
            self.entries[key] = entry
            self.bytes += entry.nbytes
        while self.bytes > self.max_bytes and len(self.entries) > 1:
            _, dropped = self.entries.popitem(last=False)
            self.bytes -= dropped.nbytes
