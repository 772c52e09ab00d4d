"""The ``rlvr`` command line: one thin command per stage over the typed library functions.

Each command lives in its own module of this package and exposes ``register(app)``; heavy imports (torch,
transformers) happen inside the command bodies so ``rlvr --help`` stays fast.
"""

from __future__ import annotations

import importlib
import os

import typer

COMMAND_MODULES = (
    "sample",
    "grade",
    "passk",
    "compare",
    "store",
    "organism",
    "train",
    "report",
    "demo",
    "data",
    "export",
    "study",
    "distill",
    "recipe",
    "audit",
)


STDERR_LOGS = {"VLLM_LOGGING_STREAM": "ext://sys.stderr"}
"""Libraries that log to stdout by default, sent to stderr: stdout carries ``--json`` (a user's own setting wins)."""


def build_app() -> typer.Typer:
    for name, value in STDERR_LOGS.items():
        os.environ.setdefault(name, value)
    app = typer.Typer(
        name="rlvr",
        help="rlvr-lab: sample, grade and measure reasoning boundaries; train with any RLVR signal.",
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
        rich_markup_mode=None,
    )
    for name in COMMAND_MODULES:
        importlib.import_module(f"rlvr_lab.cli.{name}").register(app)
    return app


def main() -> None:
    build_app()()
