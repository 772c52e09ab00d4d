"""``rlvr store merge``: the shard stores of one sharded sampling run into one store.

Merging is optional: ``rlvr grade`` reads a directory or glob of shards directly. A merged store is an ordinary
store (no shard in its header) that ``rlvr sample`` without ``--shard`` resumes or extends.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from rlvr_lab.cli.passk import fail, reflow

app = typer.Typer(help="Sample stores: merge the shards of a sharded run.", no_args_is_help=True)


@app.command("merge")
def merge(
    shards: Annotated[
        list[str], typer.Argument(help="Shard stores: a directory, quoted glob, or files.", show_default=False)
    ],
    out: Annotated[Path, typer.Option(help="Merged store (JSONL); rerun to finish an interrupted merge.")],
    json_out: Annotated[bool, typer.Option("--json", help="Print a JSON summary on stdout.")] = False,
) -> None:
    """Merge all N shards of one `rlvr sample --shards N` run into OUT.

    Refused, with the reason, when the shards belong to different runs or one of the N is missing.
    """
    from rlvr_lab.store import merge_stores, sample_files

    try:
        files = sample_files(shards)
        written = merge_stores(files, out)
    except (ValueError, OSError) as error:
        raise fail(error) from None
    if json_out:
        typer.echo(json.dumps({"out": str(out), "shards": [str(f) for f in files], "written": written}))
        return
    typer.echo(f"merged {len(files)} shards into {out}: {written} samples written")


def register(cli: typer.Typer) -> None:
    """Add ``rlvr store`` (with ``merge``) to the app."""
    merge.__doc__ = reflow(merge.__doc__)
    cli.add_typer(app, name="store")
