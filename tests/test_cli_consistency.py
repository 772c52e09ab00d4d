"""One CLI: every command has ``--json`` as a flag and shows its defaults; wrong names end in a message, not a trace.

Each bad input is run through the real command (``CliRunner`` on :func:`rlvr_lab.cli.build_app`) and checked for
its exit status, the message naming the bad value and the valid choices, and the absence of a traceback.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from rlvr_lab.cli import build_app
from rlvr_lab.runtime.data import hub_offline


def commands() -> dict[str, Any]:
    """Every leaf command of ``rlvr`` by its full name (``organism stats``, ``data list``, ...)."""
    found: dict[str, Any] = {}

    def walk(command: Any, prefix: str) -> None:
        if hasattr(command, "commands"):  # a group (typer bundles its own copy of click's classes)
            for name, sub in command.commands.items():
                walk(sub, f"{prefix} {name}".strip())
        else:
            found[prefix] = command

    walk(typer.main.get_command(build_app()), "")
    return found


def test_every_command_has_a_json_flag() -> None:
    names = commands()
    assert {"sample", "grade", "passk", "compare", "train", "report", "demo", "organism stats", "data list",
            "data import", "organism build"} <= set(names)  # fmt: skip
    missing = [name for name, command in names.items() if not any(
        "--json" in getattr(p, "opts", ()) and getattr(p, "is_flag", False) for p in command.params
    )]  # fmt: skip
    assert not missing, f"commands without a --json flag: {missing}"


@pytest.mark.parametrize("name", ["sample", "grade", "passk", "compare", "train", "report", "demo", "data list"])
def test_help_shows_defaults_and_no_bool_metavar(name: str) -> None:
    result = CliRunner().invoke(build_app(), [*name.split(), "--help"])
    assert result.exit_code == 0
    assert "<bool>" not in result.output
    command = commands()[name]
    ctx = command.context_class(command)
    for param in command.params:
        shown = param.default is not None and not getattr(param, "is_flag", False) and param.show_default is not False
        if param.param_type_name == "option" and shown:
            record = param.get_help_record(ctx)
            assert record is not None and "default" in record[1], f"{name} {param.opts}: {record}"


def test_library_logs_are_sent_to_stderr(monkeypatch: pytest.MonkeyPatch) -> None:
    """vLLM logs to stdout unless told otherwise, which would break --json (vLLM's own benchmarks do the same)."""
    import os

    monkeypatch.delenv("VLLM_LOGGING_STREAM", raising=False)
    build_app()
    assert os.environ["VLLM_LOGGING_STREAM"] == "ext://sys.stderr"
    monkeypatch.setenv("VLLM_LOGGING_STREAM", "ext://sys.stdout")
    build_app()
    assert os.environ["VLLM_LOGGING_STREAM"] == "ext://sys.stdout"


def test_json_takes_no_value(tmp_path: Path) -> None:
    result = CliRunner().invoke(build_app(), ["data", "list", "--json", "true"])
    assert result.exit_code == 2 and "unexpected extra argument" in result.output


@pytest.fixture
def offline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("RLVR_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.chdir(tmp_path)
    hub_offline.cache_clear()
    yield tmp_path
    hub_offline.cache_clear()


ORGANISM = ["--model", "qwen-math-like", "--problems", "organism", "--template", "organism", "--out", "s.jsonl"]
TRAIN = ["train", "--steps", "1", "--out", "r", "--quiet"]

BAD_INPUTS = [
    # (args, exit status, message fragments)
    (["sample", *ORGANISM, "--template", "qwen-boxd"], 1, ["unknown prompt template 'qwen-boxd'", "qwen-boxed, r1"]),
    (["sample", *ORGANISM[:2], "--problems", "math50", "--out", "s.jsonl"], 1,
     ["'math50' is neither a benchmark (", "math500", "olympiadbench", "nor an existing file"]),
    (["sample", *ORGANISM, "--engine", "vlm"], 1, ["unknown engine 'vlm'", "hf, torch, vllm"]),
    (["sample", *ORGANISM, "--max-new-tokens", "512"], 1,
     ["16 + 512 max_new_tokens = 528 exceeds the model's context of 256 tokens; use at most 240"]),
    ([*TRAIN, "--reward", "bogus"], 2, ["unknown reward 'bogus'", "choose one of: format, ground_truth"]),
    ([*TRAIN, "--reward", "incorrect"], 1, ["reward 'incorrect' needs a sample store", "rlvr sample --model"]),
    ([*TRAIN, "--reward", "incorrect:store=nowhere.jsonl"], 1, ["nowhere.jsonl"]),
    ([*TRAIN, "--preset", "clipp"], 2, ["unknown preset 'clipp'", "clip, no-clip, on-policy-batch, paper"]),
    ([*TRAIN, "--prompt", "bogus"], 1, ["unknown prompt template 'bogus'", "organism"]),
    ([*TRAIN, "--model", "qwen-math-lik"], 1, ["model 'qwen-math-lik'", "Valid names: llama-like-v2, olmo-like"]),
    (["grade", "--problems", "organism", "--samples", "s.jsonl", "--out", "g.parquet", "--fallbacks", "answer"], 1,
     ["answer"]),
    (["grade", "--problems", "organism", "--samples", "s.jsonl", "--out", "g.parquet", "--fields", "q=x"], 1,
     ["bad field mapping 'q=x'"]),
    (["report", ".", "--out", "rep", "--rule", "bogus"], 2, ["--rule must be one of contains_python"]),
    (["organism", "stats", "olmo-lik", "--n", "1", "--problems", "1"], 1, ["olmo-lik"]),
    ([*TRAIN, "--decoder", "fast"], 2, ["decoder must be one of auto, lean, native, generic, got 'fast'"]),
    (["demo", "--out", "d", "--decoder", "fast"], 2, ["--decoder must be one of auto, lean, native, generic"]),
]  # fmt: skip


@pytest.mark.parametrize(
    ("args", "status", "fragments"), BAD_INPUTS, ids=[" ".join(a[:1] + a[-2:]) for a, _, _ in BAD_INPUTS]
)
def test_bad_names_end_in_a_message_not_a_traceback(
    offline: Path, args: list[str], status: int, fragments: list[str]
) -> None:
    result = CliRunner().invoke(build_app(), args)
    flat = " ".join(result.output.split())
    assert result.exit_code == status, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output
    for fragment in fragments:
        assert fragment in flat, f"{fragment!r} not in {flat!r}"
    assert not (offline / "s.jsonl").exists()


def test_an_empty_problems_file_fails_naming_it(offline: Path) -> None:
    (offline / "empty.jsonl").write_text("")
    args = ["sample", "--model", "qwen-math-like", "--problems", "empty.jsonl", "--template", "organism"]
    result = CliRunner().invoke(build_app(), [*args, "--out", "s.jsonl"])
    assert result.exit_code == 1
    assert "--problems empty.jsonl: no problems to sample (an empty file, or --limit 0)" in result.output
    assert not (offline / "s.jsonl").exists()
