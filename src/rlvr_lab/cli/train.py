"""`rlvr train` (placeholder until its issue lands)."""

import typer


def register(app: typer.Typer) -> None:
    """Add this module's command(s) to the app."""
