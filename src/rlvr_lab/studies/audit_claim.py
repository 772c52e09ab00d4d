"""What ``rlvr audit`` audits: the claimed arm, read from a RECIPE_OR_CONFIG argument by one function.

:func:`resolve_claim` is the only reader of that argument, in this order: a training config YAML file (the format
of ``rlvr train CONFIG.yaml``, plus an optional ``largest_k``), a recipe of :mod:`rlvr_lab.recipes` (when that
package has a loader and knows the name), then the built-in organism claims (:data:`ORGANISM_CLAIMS`: the demo's
schedule on ``qwen-math-like-v2``). :func:`default_models` adds the other organism family when none is given, or
says that a second family is missing.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rlvr_lab.rl.config import TrainConfig, resolve_config


@dataclass(frozen=True)
class Claimed:
    """The claimed arm: a training config (field → value of :class:`~rlvr_lab.rl.config.TrainConfig`)."""

    name: str
    """Recipe name or config file stem."""
    values: tuple[tuple[str, Any], ...]
    """The config's explicit values (defaults < preset < these), sorted by field name."""
    largest_k: int
    """The largest k of the evaluation (pass@k is measured for every k up to it)."""
    source: str
    """Where the values came from (recipe, file, built-in table)."""

    def config(self, **overrides: Any) -> TrainConfig:
        return resolve_config(dict(self.values), overrides)

    @property
    def model(self) -> str:
        return self.config().model

    @property
    def reward(self) -> str:
        return self.config().reward


ORGANISM_CLAIMS: dict[str, dict[str, Any]] = {
    "organism-ground-truth": {"reward": "ground_truth"},
    "organism-random-reward": {"reward": "random:0.5"},
}
"""Built-in claims on the shipped organism (used when no recipe of that name is found): the demo's schedule
(:class:`~rlvr_lab.studies.settings.TrainingSettings`, ``clip`` preset) on ``qwen-math-like-v2``."""
ORGANISM_BASE: dict[str, Any] = {
    "model": "qwen-math-like-v2",
    "preset": "clip",
    "steps": 50,
    "lr": 2e-4,
    "train_data": "organism",
    "train_split": "train",
    "train_limit": 400,
    "eval_data": "organism",
    "eval_split": "test",
    "eval_limit": 120,
    "prompt": "organism",
    "max_new_tokens": 64,
}
ORGANISM_LARGEST_K = 256
SECOND_FAMILY = {
    "qwen-math-like-v2": "olmo-like-v2",
    "olmo-like-v2": "qwen-math-like-v2",
    "llama-like-v2": "qwen-math-like-v2",
    "qwen-math-like": "olmo-like",
    "olmo-like": "qwen-math-like",
}
"""The organism of the other family, added when only one organism is audited (a second family is asked for)."""
DEFAULT_LARGEST_K = 256
"""Largest k when the claim does not give one (Yue et al. use 256 on MATH-500)."""


def resolve_claim(spec: str) -> Claimed:
    """The claimed arm named by ``spec``: a recipe (name or file), a training config YAML file, or a built-in
    organism claim.

    The one place a RECIPE_OR_CONFIG argument is read; ``ValueError`` listing the names when none matches.
    """
    from rlvr_lab.rl.config import FIELDS, load_config_file

    path = Path(spec)
    if path.suffix in (".yaml", ".yml") or path.is_file():
        if not path.is_file():
            raise ValueError(f"{spec}: no such config file")
        values = load_config_file(path)
        if {"name", "train"} <= set(values):  # a recipe file (sections name, train, ...), not a TrainConfig file
            recipe = _recipe(str(path))
            if recipe is not None:
                return recipe
        largest = int(values.pop("largest_k", DEFAULT_LARGEST_K))
        resolve_config(values)  # unknown keys and bad values fail here, naming the field
        return Claimed(path.stem, tuple(sorted(values.items())), largest, f"config file {path}")
    recipe = _recipe(spec)
    if recipe is not None:
        return recipe
    if spec in ORGANISM_CLAIMS:
        values = {**ORGANISM_BASE, **ORGANISM_CLAIMS[spec]}
        known = {k: v for k, v in values.items() if k in FIELDS}
        return Claimed(spec, tuple(sorted(known.items())), ORGANISM_LARGEST_K, "built-in organism claim")
    names = sorted({*ORGANISM_CLAIMS, *_recipe_names()})
    raise ValueError(f"{spec!r} is neither a config file (.yaml) nor a known recipe; choose one of {', '.join(names)}")


def _recipe(spec: str) -> Claimed | None:
    """The recipe ``spec`` (a shipped name or a recipe file) through :func:`rlvr_lab.recipes.load_recipe`, if that
    loader exists and knows it: its ``train`` section with each axis's default arm, and its largest k (the largest
    ``n`` of its evaluation and sampling sections)."""
    try:
        from rlvr_lab import recipes
        from rlvr_lab.recipes import load_recipe  # type: ignore[attr-defined]
    except ImportError:  # the recipes package without its loader
        return None
    if spec in _recipe_names():  # a shipped name, given as its file (a name such as "qwen2.5" has a dot)
        spec = str(Path(recipes.__file__).parent / f"{spec}.yaml")
    try:
        recipe = load_recipe(spec)
    except ValueError:  # RecipeError: no such recipe
        return None
    values = dict(recipe.train_values())
    sizes = [entry.value for entry in recipe.sampling_n.values()]
    sizes += [entries["n"].value for entries in recipe.evaluation.values() if "n" in entries]
    largest = max((int(n) for n in sizes if n), default=DEFAULT_LARGEST_K)
    return Claimed(recipe.name, tuple(sorted(values.items())), largest, f"recipe {recipe.name} ({recipe.paper})")


def _recipe_names() -> list[str]:
    try:
        from rlvr_lab.recipes import recipe_names  # type: ignore[attr-defined]
    except ImportError:
        return []
    return list(recipe_names())


def default_models(claimed: Claimed) -> tuple[tuple[str, ...], str]:
    """The models to audit when none is given, and a note: the claim's model plus, for an organism, the other
    family's; otherwise the claim's model alone, with the missing second family said."""
    model = claimed.model
    other = SECOND_FAMILY.get(model)
    if other is not None:
        return (model, other), ""
    return (model,), f"one model family only ({model}): a second family is asked for; give it with --model"
