"""What ``rlvr audit`` audits: the claimed arm, read from a RECIPE_OR_CONFIG argument by one function.

:func:`resolve_claim` is the only reader of that argument: a recipe of :mod:`rlvr_lab.recipes` (a shipped name,
such as ``organism-ground-truth``, or a recipe file), or a training config YAML file (the format of ``rlvr train
CONFIG.yaml``, plus an optional ``largest_k``). :func:`default_models` adds the other organism family when no model
is given, or says that a second family is missing.
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
    """Where the values came from (recipe or config file)."""

    def config(self, **overrides: Any) -> TrainConfig:
        return resolve_config(dict(self.values), overrides)

    @property
    def model(self) -> str:
        return self.config().model

    @property
    def reward(self) -> str:
        return self.config().reward


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
    """The claimed arm named by ``spec``: a shipped recipe or a recipe file (:func:`rlvr_lab.recipes.load_recipe`:
    its ``train`` section with each axis's default arm; its largest k, the largest ``n`` of its evaluation and
    sampling sections), or a training config file (``rlvr train``'s YAML, plus an optional ``largest_k``).

    The one place a RECIPE_OR_CONFIG argument is read; ``ValueError`` naming the recipes when none matches.
    """
    from rlvr_lab.recipes import RecipeError, load_recipe
    from rlvr_lab.rl.config import load_config_file

    path = Path(spec)
    if path.suffix in (".yaml", ".yml") and path.is_file():
        values = load_config_file(path)
        if not {"name", "train"} <= set(values):  # not a recipe: a TrainConfig file
            largest = int(values.pop("largest_k", DEFAULT_LARGEST_K))
            resolve_config(values)  # unknown keys and bad values fail here, naming the field
            return Claimed(path.stem, tuple(sorted(values.items())), largest, f"config file {path}")
    try:
        recipe = load_recipe(spec)
    except RecipeError as error:
        raise ValueError(f"{error} (or give a training config file, .yaml)") from None
    sizes = [entry.value for entry in recipe.sampling_n.values()]
    sizes += [entries["n"].value for entries in recipe.evaluation.values() if "n" in entries]
    largest = max((int(n) for n in sizes if n), default=DEFAULT_LARGEST_K)
    values = recipe.train_values()
    return Claimed(recipe.name, tuple(sorted(values.items())), largest, f"recipe {recipe.name}")


def default_models(claimed: Claimed) -> tuple[tuple[str, ...], str]:
    """The models to audit when none is given, and a note: the claim's model plus, for an organism, the other
    family's; otherwise the claim's model alone, with the missing second family said."""
    model = claimed.model
    other = SECOND_FAMILY.get(model)
    if other is not None:
        return (model, other), ""
    return (model,), f"one model family only ({model}): a second family is asked for; give it with --model"
