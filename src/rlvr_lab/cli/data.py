"""``rlvr data list|import``: which benchmark files are found locally, and filling the user data cache.

Thin shells over :mod:`rlvr_lab.tasks.datafiles`; where the folders are is :mod:`rlvr_lab.runtime.data`'s rule.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from rlvr_lab.cli.passk import JSON_HELP, fail, print_json, reflow

DATA_DIR_HELP = "Folder searched first (layout of shared/data); the user data cache is searched after it."

data_app = typer.Typer(
    name="data",
    help="Benchmark files on this machine: list what is found, import a folder or a hub dataset into the cache.",
    no_args_is_help=True,
)


def list_files(
    data_dir: Annotated[
        Path | None, typer.Option(envvar="RLVR_DATA_DIR", help=DATA_DIR_HELP, show_default=False)
    ] = None,
    json_out: Annotated[bool, typer.Option("--json", help=JSON_HELP)] = False,
) -> None:
    """List every benchmark split and the first data directory holding its file.

    The folders searched, in order: --data-dir (or $RLVR_DATA_DIR), then the user data cache
    (~/.cache/rlvr-lab/data, or $RLVR_CACHE_DIR/data). A benchmark found in none of them is read from the hub when
    the hub is reachable. With --json: {"folders": [...], "files": [{"benchmark", "split", "file", "found"}]}.
    """
    from rlvr_lab.runtime.data import data_dirs
    from rlvr_lab.tasks.datafiles import benchmark_files

    try:
        folders = data_dirs(data_dir)
    except (OSError, RuntimeError) as error:
        raise fail(error) from None
    files = benchmark_files(folders)
    if json_out:
        print_json({"folders": [str(f) for f in folders], "files": [f.as_dict() for f in files]})
        return
    typer.echo("searched, in order: " + ", ".join(str(folder) for folder in folders))
    for item in files:
        where = str(item.found) if item.found is not None else "missing (hub when reachable)"
        typer.echo(f"  {item.benchmark:<14} {item.split:<6} {where}")


def import_data(
    source: Annotated[
        str,
        typer.Argument(
            help="A folder laid out like shared/data (every known benchmark file in it is copied), or a benchmark "
            "name to download from the hub (e.g. math500).",
            show_default=False,
        ),
    ],
    split: Annotated[
        str | None, typer.Option(help="Hub download: only this split (default: all).", show_default=False)
    ] = None,
    replace: Annotated[bool, typer.Option("--replace", help="Overwrite cached files that differ.")] = False,
    json_out: Annotated[bool, typer.Option("--json", help=JSON_HELP)] = False,
) -> None:
    """Copy benchmark files into the user data cache (~/.cache/rlvr-lab/data, or $RLVR_CACHE_DIR/data).

    SOURCE is a folder (copied file by file; files already there with the same bytes are kept, different ones
    are refused without --replace) or a benchmark name (its hub dataset is downloaded, rows as the hub has them).
    With --json: {"out": the cache folder, "files": [{"benchmark", "split", "file", "found"}]}.
    """
    from rlvr_lab.runtime.data import user_data_dir
    from rlvr_lab.tasks.datafiles import import_folder, import_hub

    dest = user_data_dir()
    try:
        path = Path(source).expanduser()
        if path.exists():
            files = import_folder(path, dest, replace=replace)
        else:
            files = import_hub(source, dest, split=split, replace=replace)
    except (OSError, RuntimeError, ValueError) as error:
        raise fail(error) from None
    if json_out:
        print_json({"out": str(dest), "files": [f.as_dict() for f in files]})
        return
    for item in files:
        typer.echo(f"{item.benchmark} [{item.split}] -> {item.found}")


def register(app: typer.Typer) -> None:
    """Add ``rlvr data list`` and ``rlvr data import``."""
    data_app.command("list", help=reflow(list_files.__doc__))(list_files)
    data_app.command("import", help=reflow(import_data.__doc__))(import_data)
    app.add_typer(data_app)
