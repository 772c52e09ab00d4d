"""The papers' setups as data: one YAML file per recipe beside this module, every value with its source.

A recipe names a paper's (or the organism's) configuration once, so ``rlvr train``, ``rlvr export verl``,
``rlvr sample`` and ``rlvr audit`` read the same numbers, and each number says where it comes from (a paper
section, the authors' script, or a default of the framework they ran). ``rlvr recipe list|show NAME`` prints them.

The API (small on purpose; other modules use only this)::

    load_recipe(name_or_path) -> Recipe       # a shipped name (recipe_names()) or a YAML file
    recipe_names() -> list[str]
    recipe.train_values(arms=()) -> dict      # TrainConfig overrides (the `train:` section, then the chosen arms)
    recipe.sampling_values(problems, arms=()) -> dict   # rlvr sample options for a benchmark
    recipe.arms -> {axis: {arm: {key: Sourced}}}         # e.g. reward: {ground_truth, random, ...}, clip: {...}
    recipe.evaluation -> {benchmark: {key: Sourced}}     # how the paper evaluates (n, temperature per benchmark)
    recipe.to_dict() -> dict                  # everything, values and sources, as JSON-ready data

File format: top-level ``name``, ``title``, ``paper``; sections ``train`` (TrainConfig field -> entry),
``sampling`` (``template``, ``temperature``, ``top_p``, ``max_new_tokens`` -> entry, and ``n``: benchmark ->
entry), ``arms`` (axis -> arm -> field -> entry), ``evaluation`` (benchmark -> key -> entry) and ``launch``
(``nproc``, ``strategy``, ``vllm`` -> entry: the hardware the paper used, printed, never applied: the command
line decides where a run goes). Every entry is ``{value: ..., source: "..."}``; an entry without a source is an
error, so a number cannot enter a recipe unexplained.

Arms: each axis has a default arm, its first; ``arms=("random", "no-clip")`` picks one arm per axis by name (arm
names are unique within a recipe). Resolution in the commands: TrainConfig defaults < preset < recipe
(``train`` then arms) < CONFIG.yaml < ``--set key=value`` and explicit options.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

RECIPE_DIR = Path(__file__).resolve().parent
"""Where the shipped recipe files are (package data)."""
SAMPLING_KEYS = ("template", "temperature", "top_p", "max_new_tokens")
"""Keys of a recipe's ``sampling`` section besides ``n``."""
LAUNCH_KEYS = ("nproc", "strategy", "vllm")
SECTIONS = ("name", "title", "paper", "train", "sampling", "arms", "evaluation", "launch")


class RecipeError(ValueError):
    """A malformed recipe file or an unknown recipe or arm; the message names the file and the field."""


@dataclass(frozen=True)
class Sourced:
    """One value of a recipe and where it comes from."""

    value: Any
    source: str


Entries = Mapping[str, Sourced]


@dataclass(frozen=True)
class Recipe:
    """A parsed recipe file (see the module docstring for the format)."""

    name: str
    title: str
    paper: str
    path: Path
    train: Entries = field(default_factory=dict)
    sampling: Entries = field(default_factory=dict)
    sampling_n: Entries = field(default_factory=dict)
    """Samples per problem, by benchmark name."""
    arms: Mapping[str, Mapping[str, Entries]] = field(default_factory=dict)
    evaluation: Mapping[str, Entries] = field(default_factory=dict)
    launch: Entries = field(default_factory=dict)

    def arm_names(self) -> list[str]:
        return [arm for axis in self.arms.values() for arm in axis]

    def chosen_arms(self, arms: Sequence[str] = ()) -> dict[str, str]:
        """Axis -> arm: the arms asked for, and each other axis's default (its first arm)."""
        chosen = {axis: next(iter(options)) for axis, options in self.arms.items()}
        seen: dict[str, str] = {}
        for arm in arms:
            axis = next((a for a, options in self.arms.items() if arm in options), None)
            if axis is None:
                raise RecipeError(
                    f"recipe {self.name!r} has no arm {arm!r}; choose from {', '.join(self.arm_names()) or 'none'}"
                )
            if axis in seen:
                raise RecipeError(f"recipe {self.name!r}: arms {seen[axis]!r} and {arm!r} are both on axis {axis!r}")
            seen[axis] = arm
            chosen[axis] = arm
        return chosen

    def _arm_entries(self, arms: Sequence[str]) -> dict[str, Sourced]:
        merged: dict[str, Sourced] = {}
        for axis, arm in self.chosen_arms(arms).items():
            merged.update(self.arms[axis][arm])
        return merged

    def train_values(self, arms: Sequence[str] = ()) -> dict[str, Any]:
        """TrainConfig overrides: the ``train`` section, then the chosen arms' fields (arms win)."""
        from rlvr_lab.rl.config import FIELDS

        entries = {**self.train, **self._arm_entries(arms)}
        return {key: entry.value for key, entry in entries.items() if key in FIELDS}

    def sampling_values(self, problems: str | None = None, arms: Sequence[str] = ()) -> dict[str, Any]:
        """``rlvr sample`` options: template, temperature, top_p, max_new_tokens, ``n`` for ``problems`` (when the
        recipe names that benchmark) and ``model`` (when an arm sets it)."""
        values = {key: entry.value for key, entry in self.sampling.items()}
        if problems is not None and problems in self.sampling_n:
            values["n"] = self.sampling_n[problems].value
        arm = self._arm_entries(arms)
        if "model" in arm:
            values["model"] = arm["model"].value
        return values

    def to_dict(self) -> dict[str, Any]:
        """The recipe as JSON-ready data: every entry as ``{"value", "source"}``."""

        def plain(entries: Entries) -> dict[str, dict[str, Any]]:
            return {k: {"value": e.value, "source": e.source} for k, e in entries.items()}

        sampling = plain(self.sampling)
        if self.sampling_n:
            sampling["n"] = plain(self.sampling_n)  # type: ignore[assignment]
        return {
            "name": self.name,
            "title": self.title,
            "paper": self.paper,
            "file": str(self.path),
            "train": plain(self.train),
            "sampling": sampling,
            "arms": {axis: {arm: plain(e) for arm, e in options.items()} for axis, options in self.arms.items()},
            "evaluation": {bench: plain(e) for bench, e in self.evaluation.items()},
            "launch": plain(self.launch),
        }


def recipe_names() -> list[str]:
    """The shipped recipes, by name."""
    return sorted(p.stem for p in RECIPE_DIR.glob("*.yaml"))


def load_recipe(spec: str | Path) -> Recipe:
    """The recipe named ``spec`` (a shipped name) or read from the YAML file ``spec``."""
    path = Path(spec)
    if path.suffix not in (".yaml", ".yml"):  # a name (names may hold dots: qwen2.5)
        path = RECIPE_DIR / f"{spec}.yaml"
        if not path.is_file():
            raise RecipeError(f"no recipe {str(spec)!r}; shipped recipes: {', '.join(recipe_names())}")
    elif not path.is_file():
        raise RecipeError(f"recipe file {path} does not exist")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as err:
        raise RecipeError(f"{path}: invalid YAML ({err})") from None
    return parse_recipe(data, path)


def parse_recipe(data: Any, path: Path) -> Recipe:
    """Check and build a recipe from its YAML data; errors name the file and the field."""
    if not isinstance(data, dict):
        raise RecipeError(f"{path}: a recipe is a mapping with sections {', '.join(SECTIONS)}")
    unknown = sorted(set(data) - set(SECTIONS))
    if unknown:
        raise RecipeError(f"{path}: unknown section(s) {unknown}; known: {', '.join(SECTIONS)}")
    for key in ("name", "title", "paper"):
        if not isinstance(data.get(key), str) or not data[key].strip():
            raise RecipeError(f"{path}: field {key!r} must be a non-empty string")
    from rlvr_lab.rl.config import FIELDS

    train = _entries(data.get("train") or {}, f"{path}: train", allowed=FIELDS)
    sampling_data = dict(data.get("sampling") or {})
    sampling_n = _entries(sampling_data.pop("n", None) or {}, f"{path}: sampling.n")
    sampling = _entries(sampling_data, f"{path}: sampling", allowed=SAMPLING_KEYS)
    arms_data = data.get("arms") or {}
    if not isinstance(arms_data, dict):
        raise RecipeError(f"{path}: arms must map an axis to its arms")
    arms: dict[str, dict[str, dict[str, Sourced]]] = {}
    seen: set[str] = set()
    for axis, options in arms_data.items():
        if not isinstance(options, dict) or not options:
            raise RecipeError(f"{path}: arms.{axis} must map arm names to their fields")
        arms[str(axis)] = {}
        for arm, body in options.items():
            if arm in seen:
                raise RecipeError(f"{path}: arm name {arm!r} is used twice (arm names are unique in a recipe)")
            seen.add(arm)
            allowed = {*FIELDS, "model"}
            arms[str(axis)][str(arm)] = _entries(body or {}, f"{path}: arms.{axis}.{arm}", allowed=allowed)
    evaluation_data = data.get("evaluation") or {}
    if not isinstance(evaluation_data, dict):
        raise RecipeError(f"{path}: evaluation must map a benchmark to its settings")
    evaluation = {
        str(bench): _entries(body, f"{path}: evaluation.{bench}", allowed=("n", "temperature", "top_p"))
        for bench, body in evaluation_data.items()
    }
    launch = _entries(data.get("launch") or {}, f"{path}: launch", allowed=LAUNCH_KEYS)
    return Recipe(
        name=data["name"],
        title=data["title"],
        paper=data["paper"],
        path=path,
        train=train,
        sampling=sampling,
        sampling_n=sampling_n,
        arms=arms,
        evaluation=evaluation,
        launch=launch,
    )


def _entries(data: Any, where: str, allowed: Any = None) -> dict[str, Sourced]:
    if not isinstance(data, dict):
        raise RecipeError(f"{where}: expected a mapping of key: {{value, source}}")
    entries: dict[str, Sourced] = {}
    for key, entry in data.items():
        if allowed is not None and key not in allowed:
            raise RecipeError(f"{where}.{key}: unknown key; known: {', '.join(sorted(allowed))}")
        if not isinstance(entry, dict) or set(entry) != {"value", "source"}:
            raise RecipeError(f'{where}.{key}: an entry is {{value: ..., source: "..."}}, got {entry!r}')
        if not isinstance(entry["source"], str) or not entry["source"].strip():
            raise RecipeError(f"{where}.{key}: the source must say where the value comes from")
        entries[str(key)] = Sourced(entry["value"], entry["source"])
    return entries
