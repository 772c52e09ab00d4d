"""The layering rule of docs/architecture.md, read from the code's own imports (lazy ones inside functions too;
imports under ``if TYPE_CHECKING:`` are types, not dependencies): no import cycle between files, no import from a
lower layer to a higher one but the one the document names, at most 5 loose modules at the top level, and no
library module importing the command line."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "rlvr_lab"

LAYERS = {  # wing or top-level module -> layer (docs/architecture.md, "Layers and wings")
    "registry": 0, "runtime": 0, "metrics": 0,
    "tasks": 1, "engines": 1, "analysis": 1,
    "models": 2, "prompts": 2, "store": 2, "identity": 2,
    "grading": 3, "sampling": 3, "report": 3, "rewards": 3,
    "organism": 4, "rl": 4, "recipes": 4,
    "backends": 5, "export": 5, "studies": 5,
    "cli": 6, "__main__": 7,
}  # fmt: skip
ALLOWED_UP = {("tasks/benchmarks.py", "grading/extract.py")}
"""The one import that runs up a layer: gold answers of worked solutions read with the model answers' box parser."""


def _module_file(name: str) -> Path | None:
    parts = name.split(".")[1:]
    path = SRC.joinpath(*parts)
    if path.with_suffix(".py").is_file():
        return path.with_suffix(".py")
    if (path / "__init__.py").is_file():
        return path / "__init__.py"
    return None


def _imports(path: Path, source: str | None = None) -> set[Path]:
    """Files of ours that ``path`` (or ``source`` read as that file) imports at run time (anywhere in the file,
    not under TYPE_CHECKING)."""
    tree = ast.parse(path.read_text(encoding="utf-8") if source is None else source)
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skipped.update(id(child) for stmt in node.body for child in ast.walk(stmt))
    found = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        names = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        for name in names:
            if name == "rlvr_lab" or not name.startswith("rlvr_lab."):
                continue
            target = _module_file(name)
            if target is not None and target != path:
                found.add(target)
    return found


def _graph() -> dict[Path, set[Path]]:
    return {path: _imports(path) for path in SRC.rglob("*.py")}


def _wing(path: Path) -> str:
    rel = path.relative_to(SRC)
    return rel.parts[0] if len(rel.parts) > 1 else rel.stem


def _cycles(graph: dict[Path, set[Path]]) -> list[list[Path]]:
    """Strongly connected components of more than one file (Tarjan), ignoring package faces (``__init__.py``
    re-exports its own submodules, which is not a dependency between them)."""
    nodes = [p for p in graph if p.name != "__init__.py"]
    edges = {p: {q for q in graph[p] if q.name != "__init__.py"} for p in nodes}
    index: dict[Path, int] = {}
    low: dict[Path, int] = {}
    stack: list[Path] = []
    on_stack: set[Path] = set()
    out: list[list[Path]] = []

    def visit(v: Path) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in edges[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(component)

    for node in nodes:
        if node not in index:
            visit(node)
    return out


def test_no_import_cycle() -> None:
    cycles = _cycles(_graph())
    assert not cycles, [[str(p.relative_to(SRC)) for p in c] for c in cycles]


def test_imports_run_down_the_layers() -> None:
    up = set()
    for path, targets in _graph().items():
        for target in targets:
            a, b = _wing(path), _wing(target)
            assert a in LAYERS and b in LAYERS, f"{path.relative_to(SRC)} -> {target.relative_to(SRC)}: not in LAYERS"
            if LAYERS[b] > LAYERS[a]:
                up.add((str(path.relative_to(SRC)), str(target.relative_to(SRC))))
    assert up <= ALLOWED_UP, sorted(up - ALLOWED_UP)


def test_the_top_level_holds_at_most_five_loose_modules_and_the_library_never_imports_the_cli() -> None:
    loose = sorted(p.stem for p in SRC.glob("*.py") if p.stem not in ("__init__", "__main__"))
    assert len(loose) <= 5, loose
    cli = [p for p, targets in _graph().items() if _wing(p) not in ("cli", "__main__") and any(
        _wing(t) == "cli" for t in targets)]  # fmt: skip
    assert not cli, cli


@pytest.mark.parametrize("source", ["import rlvr_lab.cli.train\n", "def f():\n    from rlvr_lab.cli import main\n"])
def test_the_reader_sees_plain_and_lazy_imports(source: str) -> None:
    """The graph can fail: a plain or a lazy import of the command line is seen; one under TYPE_CHECKING is not."""
    here = SRC / "studies" / "demo.py"
    assert SRC / "cli" / ("train.py" if "train" in source else "__init__.py") in _imports(here, source)
    typed = "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n" + "".join(
        "    " + line + "\n" for line in source.splitlines()
    )
    assert not _imports(here, typed)
