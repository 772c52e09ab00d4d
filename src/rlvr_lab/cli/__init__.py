"""The ``rlvr`` command line: one thin command per stage over the typed library functions.

Each command lives in its own module of this package and exposes ``register(app)``; heavy imports (torch,
transformers) happen inside the command bodies so ``rlvr --help`` stays fast.
"""

from __future__ import annotations

import importlib

import typer

COMMAND_MODULES = ("sample", "grade", "passk", "compare", "organism", "train", "report", "demo", "study")


def build_app() -> typer.Typer:
    app = typer.Typer(
        name="rlvr",
        help="rlvr-lab: sample, grade and measure reasoning boundaries; train with any RLVR signal.",
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
    )
    for name in COMMAND_MODULES:
        importlib.import_module(f"rlvr_lab.cli.{name}").register(app)
    return app


def main() -> None:
    build_app()()
