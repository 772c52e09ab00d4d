"""``rlvr recipe list|show NAME``, and the ``--recipe``/``--arm``/``--set`` options that ``train``, ``export verl``
and ``sample`` share (declared once here so their flags and help cannot drift apart).

A recipe (:mod:`rlvr_lab.recipes`) is a paper's setup as data; the options resolve as: TrainConfig defaults <
preset < recipe (its ``train`` section, then the chosen arms) < CONFIG.yaml < ``--set key=value`` and explicit
options.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from rlvr_lab.cli.passk import JSON_HELP, fail, print_json

RecipeName = Annotated[
    str | None,
    typer.Option(
        "--recipe",
        help="A paper's setup as data (`rlvr recipe list`): its values come before CONFIG.yaml and options.",
        show_default=False,
    ),
]
Arms = Annotated[
    list[str] | None,
    typer.Option(
        "--arm",
        help="A recipe arm, e.g. random or no-clip (repeatable, one per axis; `rlvr recipe show NAME`).",
        show_default=False,
    ),
]
SetValues = Annotated[
    list[str] | None,
    typer.Option(
        "--set", help="Any training option as key=value (repeatable), e.g. --set lr=5e-7.", show_default=False
    ),
]

recipe_app = typer.Typer(
    name="recipe", help="The papers' setups shipped as data (every value with its source).", no_args_is_help=True
)


def parse_sets(items: list[str] | None) -> dict[str, Any]:
    """``--set key=value`` pairs; values read as YAML reads them (numbers, booleans, null), keys with ``-`` or
    ``_``. A float field also takes YAML 1.1's strings such as ``5e-7`` (YAML wants ``5.0e-7``)."""
    import yaml

    from rlvr_lab.rl.config import FIELDS

    values: dict[str, Any] = {}
    for item in items or []:
        key, sep, text = item.partition("=")
        key = key.strip().replace("-", "_")
        if not sep or not key:
            raise typer.BadParameter(f"--set {item!r} is not key=value")
        value = yaml.safe_load(text.strip())
        if isinstance(value, str) and key in FIELDS and str(FIELDS[key].type).startswith("float"):
            try:
                value = float(value)
            except ValueError:
                raise typer.BadParameter(f"--set {item!r}: {key} is a number") from None
        values[key] = value
    return values


def recipe_train_values(recipe: str | None, arms: list[str] | None) -> dict[str, Any]:
    """The TrainConfig values of ``recipe`` with ``arms`` ({} without a recipe; arms alone are an error)."""
    if recipe is None:
        if arms:
            raise typer.BadParameter("--arm needs --recipe")
        return {}
    from rlvr_lab.recipes import load_recipe

    return load_recipe(recipe).train_values(arms or ())


@recipe_app.command("list")
def list_recipes(json_output: Annotated[bool, typer.Option("--json", help=JSON_HELP)] = False) -> None:
    """The shipped recipes: name, title and paper."""
    from rlvr_lab.recipes import load_recipe, recipe_names

    recipes = [load_recipe(name) for name in recipe_names()]
    if json_output:
        print_json({"recipes": [{"name": r.name, "title": r.title, "paper": r.paper} for r in recipes]})
        return
    for r in recipes:
        typer.echo(f"{r.name}\n    {r.title}\n    {r.paper}")


@recipe_app.command("show")
def show_recipe(
    name: Annotated[str, typer.Argument(help="A recipe name (rlvr recipe list) or a recipe YAML file.")],
    json_output: Annotated[bool, typer.Option("--json", help=JSON_HELP)] = False,
) -> None:
    """Every value of a recipe with its source, and its arms."""
    from rlvr_lab.recipes import RecipeError, load_recipe

    try:
        recipe = load_recipe(name)
    except RecipeError as err:
        raise fail(err) from None
    data = recipe.to_dict()
    if json_output:
        print_json(data)
        return
    typer.echo(f"{recipe.name}: {recipe.title}\n{recipe.paper}\n({recipe.path})")
    for section in ("train", "sampling", "launch"):
        if data[section]:
            typer.echo(f"\n{section}:")
            _echo_entries(data[section], "  ")
    for axis, options in data["arms"].items():
        typer.echo(f"\narms on {axis} (--arm NAME; the first is the default):")
        for arm, entries in options.items():
            typer.echo(f"  {arm}:")
            _echo_entries(entries, "    ")
    if data["evaluation"]:
        typer.echo("\nevaluation:")
        for bench, entries in data["evaluation"].items():
            typer.echo(f"  {bench}:")
            _echo_entries(entries, "    ")


def _echo_entries(entries: dict[str, Any], indent: str) -> None:
    for key, entry in entries.items():
        if "value" not in entry:  # sampling.n: benchmark -> entry
            typer.echo(f"{indent}{key}:")
            _echo_entries(entry, indent + "  ")
            continue
        typer.echo(f"{indent}{key}: {entry['value']!r}    # {entry['source']}")


def register(app: typer.Typer) -> None:
    """Add ``rlvr recipe``."""
    app.add_typer(recipe_app)
