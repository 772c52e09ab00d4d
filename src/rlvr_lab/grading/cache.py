"""The verdict cache both graders share: a bounded least-recently-used map from a key (a (gold, answer) pair for
maths, a hash of program and tests for code) to its verdict.

Verdicts are pure functions of their key, so a cached one is exact; the bound keeps a long training run's memory
flat (least recently used forgotten first). Not thread-safe by itself: each grader holds it under its own lock.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class VerdictCache(Generic[K, V]):
    """At most ``size`` verdicts (0: remember nothing)."""

    def __init__(self, size: int) -> None:
        if size < 0:
            raise ValueError(f"cache_size must be >= 0, got {size}")
        self.size = size
        self._items: OrderedDict[K, V] = OrderedDict()

    def get(self, key: K) -> V | None:
        value = self._items.get(key)
        if value is not None:
            self._items.move_to_end(key)
        return value

    def put(self, key: K, value: V) -> None:
        if self.size == 0:
            return
        self._items[key] = value
        self._items.move_to_end(key)
        if len(self._items) > self.size:
            self._items.popitem(last=False)

    def __len__(self) -> int:
        return len(self._items)
