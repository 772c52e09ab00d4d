"""`rlvr train`: a config file plus command-line overrides, through the real app."""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from typer.testing import CliRunner

from rlvr_lab.cli import build_app
from rlvr_lab.models.loading import tiny_llama
from rlvr_lab.organism.tokenizer import build_char_tokenizer


def test_train_command_resolves_file_then_flags(tmp_path: Path) -> None:
    tokenizer = build_char_tokenizer()
    tiny_llama(len(tokenizer), hidden_size=32, num_layers=1, num_heads=2).save_pretrained(tmp_path / "model")
    tokenizer.save_pretrained(tmp_path / "model")
    problems = tmp_path / "problems.jsonl"
    problems.write_text(
        "".join(json.dumps({"id": f"q{i}", "problem": f"{i}+1=", "answer": i + 1}) + "\n" for i in range(4))
    )
    config = tmp_path / "config.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "model": str(tmp_path / "model"),
                "train_data": str(problems),
                "eval_data": str(problems),
                "prompt": "none",
                "preset": "small-rollout",
                "group_size": 2,
                "mini_batch_size": 8,
                "max_new_tokens": 4,
                "eval_samples": 1,
                "steps": 5,
                "threads": 1,
            }
        )
    )
    out = tmp_path / "run"
    args = ["train", str(config), "--steps", "1", "--reward", "format&not:python", "--out", str(out), "--quiet"]
    result = CliRunner().invoke(build_app(), [*args, "--no-tensorboard"])
    assert result.exit_code == 0, result.output
    resolved = yaml.safe_load((out / "config.yaml").read_text())
    # preset (4 prompts) < file (group 2, mini-batch 8) < command line (1 step, reward)
    assert (resolved["prompts_per_step"], resolved["group_size"], resolved["mini_batch_size"]) == (4, 2, 8)
    assert (resolved["steps"], resolved["reward"], resolved["tensorboard"]) == (1, "format&not:python", False)
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records] == [0, 1]

    bad = CliRunner().invoke(build_app(), ["train", "--preset", "clipped", "--out", str(tmp_path / "x")])
    assert bad.exit_code != 0 and "choose one of: clip, no-clip" in bad.output


def test_train_help_lists_every_option() -> None:
    result = CliRunner().invoke(build_app(), ["train", "--help"], terminal_width=200)
    assert result.exit_code == 0
    for flag in ("--prompts-per-step", "--mini-batch-size", "--eps-high", "--one-shot", "--resume", "--no-tensorboard"):
        assert flag in result.output
