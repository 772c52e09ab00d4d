"""One small registry type shared by every pluggable family (rewards, advantages, losses, engines, tasks,
prompt templates).

Design choices, after verl's ``core_algos`` registries and their pitfalls:
- registering a taken name raises, so two plug-ins cannot silently shadow each other;
- an unknown name raises ``ValueError`` listing the valid choices, so a typo in a config is a one-line fix;
- the registered names are what the command line offers as choices;
- plug-ins (the model organism is one) register through the entry-point group ``rlvr_lab.plugins``: a registry
  loads them the first time a name is missing or the names are listed, so no lower layer imports a plug-in and a
  user's package adds benchmarks, templates, models or rewards by declaring one entry point.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from importlib.metadata import entry_points
from typing import Generic, TypeVar

T = TypeVar("T")

PLUGIN_GROUP = "rlvr_lab.plugins"
_plugins_loaded = False


def load_plugins() -> None:
    """Call every ``rlvr_lab.plugins`` entry point once per process (each registers its entries when called).

    The flag is set before the calls, so a plug-in that looks names up in a registry while registering does not
    recurse. A plug-in that fails to import raises: a half-registered plug-in would make names vanish silently.
    """
    global _plugins_loaded
    if _plugins_loaded:
        return
    _plugins_loaded = True
    for point in entry_points(group=PLUGIN_GROUP):
        hook = point.load()
        if callable(hook):
            hook()


class Registry(Generic[T]):
    """A name -> object map that refuses duplicates and explains unknown names."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._items: dict[str, T] = {}

    def register(self, name: str) -> Callable[[T], T]:
        """Decorator: ``@REG.register("name")`` adds the decorated object under ``name``."""

        def deco(obj: T) -> T:
            self.add(name, obj)
            return obj

        return deco

    def add(self, name: str, obj: T) -> None:
        if name in self._items and self._items[name] is not obj:
            raise ValueError(f"{self.kind} {name!r} is already registered")
        self._items[name] = obj

    def get(self, name: str) -> T:
        if name not in self._items:
            load_plugins()
        try:
            return self._items[name]
        except KeyError:
            choices = ", ".join(sorted(self._items)) or "(none)"
            raise ValueError(f"unknown {self.kind} {name!r}; choose one of: {choices}") from None

    def names(self) -> list[str]:
        load_plugins()
        return sorted(self._items)

    def __contains__(self, name: object) -> bool:
        if name not in self._items:
            load_plugins()
        return name in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())
