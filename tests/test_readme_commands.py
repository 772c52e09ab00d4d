"""The README's pipeline, run as written: every command of its ``bash`` block, in order, from an empty folder.

The only changes are smaller values of the options the README names for this (``--n``, ``--limit``, ``--k``,
``--steps``, ``--problems`` of ``organism stats``, ``grade --workers``, and ``train``'s ``--prompts-per-step``,
``--train-limit`` and ``--eval-limit``), so the pipeline takes a minute rather than an hour; the flags, file names
and their order are the README's. The last command, ``rlvr demo
--quick --out runs/demo``, is run as written by ``tests/test_demo.py``; here it is only checked to be that command.
"""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import pytest
from typer.testing import CliRunner

from rlvr_lab.cli import build_app

pytestmark = pytest.mark.slow

README = Path(__file__).resolve().parents[1] / "README.md"
SHRINK = {"--n": "6", "--k": "1,2,4", "--steps": "2"}
"""Option -> smaller value, for every command that has it."""
EXTRA = {
    "sample": ["--limit", "6"],
    "grade": ["--workers", "1"],
    "train": ["--prompts-per-step", "4", "--eval-limit", "6", "--train-limit", "16"],
    "organism stats": ["--n", "4", "--problems", "6"],
}
"""Options appended (all shown in the command's --help; ``sample --limit`` in the README too)."""


def pipeline_commands() -> list[list[str]]:
    """The commands of the README's pipeline block, comments dropped, ``rlvr`` removed."""
    text = README.read_text(encoding="utf-8")
    section = text[text.index("## The pipeline") :]
    block = section[section.index("```bash\n") + len("```bash\n") : section.index("```\n", 8)]
    commands = []
    for line in block.splitlines():
        words = shlex.split(line, comments=True)
        assert words[0] == "rlvr", line
        commands.append(words[1:])
    return commands


def shrunk(words: list[str]) -> list[str]:
    words = [SHRINK.get(words[i - 1], word) if i else word for i, word in enumerate(words)]
    name = " ".join(words[:2]) if words[0] == "organism" else words[0]
    return words + EXTRA.get(name, [])


def test_the_readme_pipeline_runs_as_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    commands = pipeline_commands()
    assert commands[-1] == ["demo", "--quick", "--out", "runs/demo"]
    assert commands[0] == ["sample", "--model", "qwen-math-like", "--problems", "organism", "--template", "organism",
                           "--n", "64", "--out", "base.jsonl"]  # fmt: skip
    runner = CliRunner()
    outputs = {}
    for words in commands[:-1]:
        args = shrunk(words)
        result = runner.invoke(build_app(), args)
        assert result.exit_code == 0, f"rlvr {shlex.join(args)}:\n{result.output}"
        outputs[" ".join(words[:2])] = result
    header = json.loads(Path("base.jsonl").read_text().splitlines()[0])
    assert 240 <= header["sampling"]["max_new_tokens"] <= 248  # 256-token context minus the longest prompt
    passk = json.loads(outputs["passk base.parquet"].stdout)
    assert passk["k"] == [1, 2, 4] and passk["problems"] == 6 and passk["n"] == 6
    assert 0.0 <= passk["pass_at_k"]["1"] <= passk["pass_at_k"]["4"] <= 1.0
    assert passk["metadata"]["grading"]["timeout_s"] == 5.0
    for path in ("base.parquet", "rl.parquet", "runs/r1/model/config.json", "cmp/compare.json", "cmp/passk.png",
                 "report/report.html", "report/summary.json"):  # fmt: skip
        assert Path(path).is_file(), path
    assert "qwen-math-like" in outputs["organism stats"].stdout
    assert "math500" in outputs["data list"].stdout
