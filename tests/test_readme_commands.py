"""Every command of the README, as written.

- The pipeline block runs in order from an empty folder (slow). The only changes are smaller values of the options
  the README names for this (``--n``, ``--limit``, ``--k``, ``--steps``, ``--problems`` of ``organism stats``,
  ``grade --workers``, and ``train``'s ``--prompts-per-step``, ``--train-limit`` and ``--eval-limit``), so it
  takes a minute rather than an hour; the flags, file names and their order are the README's. Its last command,
  ``rlvr demo --quick``, is the demo ``tests/test_demo.py`` runs; here it is checked to be that command.
- Every other ``rlvr`` command (the audit, the GPU recipes) is parsed by the real command line: every option
  exists and every value converts; those that only plan (``--dry-run``) run as written and exit 0. The GPU
  commands themselves need GPUs and the hub: they are not run here.
- ``make demo`` and ``make test`` are targets of the Makefile.
"""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import pytest
from typer.main import get_command
from typer.testing import CliRunner

from rlvr_lab.cli import build_app

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
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


def readme_commands() -> list[list[str]]:
    """Every ``rlvr`` command of every ``bash`` block of the README (continuation lines joined, ``rlvr`` removed)."""
    text = README.read_text(encoding="utf-8")
    commands = []
    for block in re.findall(r"```bash\n(.*?)```", text, re.DOTALL):
        for line in block.replace("\\\n", " ").splitlines():
            words = shlex.split(line, comments=True)
            if words and words[0] == "rlvr":
                commands.append(words[1:])
    return commands


def parse(words: list[str]) -> object:
    """Parse ``rlvr WORDS`` with the real command line (typer's own click) down to the leaf command, invoking
    nothing; a missing option or a value that does not convert raises click's usage error."""
    command = get_command(build_app())
    context = command.make_context("rlvr", list(words))
    while hasattr(command, "resolve_command"):  # a group: descend to the subcommand
        name, sub, rest = command.resolve_command(context, [*context._protected_args, *context.args])
        assert sub is not None, words
        context = sub.make_context(name, rest, parent=context)
        command = sub
    return context


def test_every_readme_command_parses_and_the_dry_runs_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    commands = readme_commands()
    assert len(commands) > len(pipeline_commands())  # the audit and scale blocks are read too
    monkeypatch.chdir(tmp_path)
    for words in commands:
        parse(words)
        if "--dry-run" in words:
            result = CliRunner().invoke(build_app(), words)
            assert result.exit_code == 0, f"rlvr {shlex.join(words)}:\n{result.output}"
    text = README.read_text(encoding="utf-8")
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    assert text.startswith("# rlvr-lab\n\n```bash\nmake demo") and "\nmake test" in text[:400]
    assert re.search(r"^demo: ", makefile, re.MULTILINE) and re.search(r"^test: ", makefile, re.MULTILINE)


def test_a_misspelt_option_does_not_parse() -> None:
    """The parse above can fail: an option the command does not have is a usage error."""
    with pytest.raises(Exception, match="No such option: --dryrun"):
        parse(["train", "--recipe", "spurious-rewards-qwen2.5-math-7b", "--nproc", "8", "--dryrun"])


@pytest.mark.slow
def test_the_readme_pipeline_runs_as_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    commands = pipeline_commands()
    assert commands[-1] == ["demo", "--quick", "--out", "runs/demo-quick"]
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
