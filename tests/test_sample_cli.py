"""``rlvr sample`` end to end on a config-built model, including a real SIGKILL mid-run and the resume.

The model is a randomly initialised tiny Llama with the organism's character tokenizer, saved in Hugging Face
format, so the whole path (load_model, prompt encoding, the torch engine, the store) is the real one.
"""

from __future__ import annotations

import inspect
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from typer.testing import CliRunner

from rlvr_lab.cli import build_app
from rlvr_lab.cli.sample import sample
from rlvr_lab.engines.base import SamplingConfig
from rlvr_lab.engines.common import fitting_max_new_tokens
from rlvr_lab.models.loading import tiny_llama
from rlvr_lab.organism.tokenizer import build_char_tokenizer
from rlvr_lab.store import read_header, read_sample_table

QUESTIONS = ["What is 3+4?", "What is 12-5?", "Compute 6*7.", "What is 9+9?", "What is 100-1?", "Compute 8*8."]


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("tiny-model")
    tokenizer = build_char_tokenizer()
    tiny_llama(vocab_size=len(tokenizer), hidden_size=32, num_layers=2, num_heads=2, seed=0).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def problems_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("problems") / "arith.jsonl"
    rows = [{"id": f"q{i}", "problem": q, "answer": "0"} for i, q in enumerate(QUESTIONS)]
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


def sample_args(model_dir: Path, problems: Path, out: Path, *extra: str) -> list[str]:
    return [
        "sample", "--model", str(model_dir), "--problems", str(problems), "--out", str(out),
        "--template", "none", "--engine", "torch", "--seed", "3", *extra,
    ]  # fmt: skip


def test_cli_defaults_are_the_sampling_config_defaults() -> None:
    parameters = inspect.signature(sample).parameters
    defaults = SamplingConfig()
    for name in ("temperature", "top_p", "top_k", "seed"):
        assert parameters[name].default == getattr(defaults, name), name
    # unset: the config's 512, or less where the model's context leaves less room (organisms: 256 - prompt)
    assert parameters["max_new_tokens"].default is None
    assert fitting_max_new_tokens([8, 20], None) == defaults.max_new_tokens == 512
    assert fitting_max_new_tokens([8, 20], 256) == 236
    assert fitting_max_new_tokens([8], 4096) == 512
    with pytest.raises(ValueError, match="no room left"):
        fitting_max_new_tokens([256], 256)


def keys(path: Path) -> Counter[str]:
    """Samples per problem, after checking that no (problem, sample) pair repeats."""
    table = read_sample_table(path)  # raises on a duplicate pair
    return Counter(table["problem_id"].to_pylist())


def test_sample_fills_the_store_and_a_rerun_draws_nothing(model_dir: Path, problems_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "s.jsonl"
    args = sample_args(model_dir, problems_file, out, "--n", "3", "--limit", "4", "--max-new-tokens", "6", "--json")
    args.append("--keep-tokens")  # token ids are stored only when asked
    runner = CliRunner()
    first = runner.invoke(build_app(), args)
    assert first.exit_code == 0, first.output
    summary = json.loads(first.stdout)  # stdout is the JSON object alone (progress goes to stderr)
    assert (summary["problems"], summary["n"], summary["existing"], summary["sampled"]) == (4, 3, 0, 12)
    assert summary["template"] == "none" and summary["out"] == str(out)
    assert keys(out) == {f"q{i}": 3 for i in range(4)}
    table = read_sample_table(out)
    assert all(1 <= n <= 6 for n in table["num_tokens"].to_pylist())
    assert table["num_tokens"].to_pylist() == [len(ids) for ids in table["token_ids"].to_pylist()]
    header = read_header(out)
    assert header is not None and header.model == str(model_dir) and header.problems == str(problems_file)
    assert header.sampling["n"] == 3 and header.sampling["max_new_tokens"] == 6 and header.seed == 3
    assert header.keep_tokens and header.shard is None
    second = runner.invoke(build_app(), args)
    assert second.exit_code == 0, second.output
    assert json.loads(second.stdout)["sampled"] == 0
    assert keys(out) == {f"q{i}": 3 for i in range(4)}


def test_other_settings_on_the_same_store_are_refused(model_dir: Path, problems_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "s.jsonl"
    base = sample_args(model_dir, problems_file, out, "--n", "1", "--limit", "1", "--max-new-tokens", "2")
    runner = CliRunner()
    assert runner.invoke(build_app(), base).exit_code == 0
    refused = runner.invoke(build_app(), [*base, "--temperature", "0.5"])
    assert refused.exit_code == 1
    assert "holds samples of a different run" in refused.stderr
    assert "sampling.temperature: file has 1.0, this run has 0.5" in refused.stderr
    assert read_header(out).decoder == "auto"  # the torch engine's decoder is recorded: native sums differ
    other = runner.invoke(build_app(), [*base, "--engine-options", "path=generic"])
    assert other.exit_code == 1 and "decoder: file has 'auto', this run has 'generic'" in other.stderr
    unknown = runner.invoke(build_app(), [*base, "--template", "nope"])
    assert unknown.exit_code == 1 and "unknown prompt template 'nope'" in unknown.stderr


def run_cli(args: list[str]) -> subprocess.Popen[bytes]:
    """``rlvr`` in its own process, as a user would start it."""
    code = "from rlvr_lab.cli import main; main()"
    return subprocess.Popen([sys.executable, "-c", code, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def count_samples(path: Path) -> int:
    return max(0, path.read_bytes().count(b"\n") - 1) if path.exists() else 0


def test_sigkill_mid_run_then_resume_ends_with_exactly_n(model_dir: Path, problems_file: Path, tmp_path: Path) -> None:
    """Kill a real run once some samples are on disk; the re-run completes it with nothing lost or repeated, and
    (the torch engine seeds per problem and sample index) with exactly the samples of an uninterrupted run."""
    n, total = 4, 4 * len(QUESTIONS)
    settings = ("--n", str(n), "--max-new-tokens", "12", "--batch-size", "2", "--keep-tokens")  # 3 chunks of 8
    killed = tmp_path / "killed.jsonl"
    args = sample_args(model_dir, problems_file, killed, *settings)
    proc = run_cli(args)
    deadline = time.monotonic() + 120
    while count_samples(killed) == 0 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGKILL)
    _, stderr = proc.communicate()
    assert proc.returncode == -signal.SIGKILL, f"the run ended before the kill: {stderr.decode()[-2000:]}"
    at_kill = count_samples(killed)
    assert 0 < at_kill < total

    # the same command again; in this process, which skips a second interpreter start but runs the same code
    resumed = CliRunner().invoke(build_app(), args)
    assert resumed.exit_code == 0, resumed.output
    assert keys(killed) == {f"q{i}": n for i in range(len(QUESTIONS))}
    assert f"drew {total - at_kill} now, {at_kill} were there" in " ".join(resumed.stderr.split())

    straight = tmp_path / "straight.jsonl"
    result = CliRunner().invoke(build_app(), sample_args(model_dir, problems_file, straight, *settings))
    assert result.exit_code == 0, result.output
    exact = ["problem_id", "sample_idx", "token_ids", "completion", "finish_reason"]

    def rows(path: Path) -> list[dict]:
        return sorted(read_sample_table(path).to_pylist(), key=lambda row: (row["problem_id"], row["sample_idx"]))

    resumed_rows, straight_rows = rows(killed), rows(straight)
    assert [[r[c] for c in exact] for r in resumed_rows] == [[r[c] for c in exact] for r in straight_rows]
    for resumed_row, straight_row in zip(resumed_rows, straight_rows, strict=True):
        # other batch neighbours may move float sums in the last bits, never the sampled tokens
        assert resumed_row["logprobs"] == pytest.approx(straight_row["logprobs"], abs=1e-4)


def test_dtype_is_recorded_and_a_store_keeps_its_dtype(model_dir: Path, problems_file: Path, tmp_path: Path) -> None:
    """``--dtype auto`` on a tiny model is float32 (whatever the CPU); bfloat16 is recorded in the header, and a
    store sampled in one dtype refuses a run in the other (the samples differ)."""
    runner = CliRunner()
    base = sample_args(
        model_dir, problems_file, tmp_path / "a.jsonl", "--n", "2", "--limit", "2", "--max-new-tokens", "4"
    )
    assert runner.invoke(build_app(), base).exit_code == 0
    assert read_header(tmp_path / "a.jsonl").dtype == "float32"
    bf16 = sample_args(
        model_dir, problems_file, tmp_path / "b.jsonl", "--n", "2", "--limit", "2", "--max-new-tokens", "4"
    )
    result = runner.invoke(build_app(), [*bf16, "--dtype", "bfloat16", "--threads", "1"])
    assert result.exit_code == 0, result.output
    assert read_header(tmp_path / "b.jsonl").dtype == "bfloat16" and keys(tmp_path / "b.jsonl") == {"q0": 2, "q1": 2}
    assert "threads: 1" in result.stderr and result.stdout == ""
    refused = runner.invoke(build_app(), [*bf16, "--dtype", "float32"])
    assert refused.exit_code == 1 and "dtype: file has 'bfloat16', this run has 'float32'" in refused.stderr
    bad = runner.invoke(build_app(), [*bf16, "--dtype", "half"])
    assert bad.exit_code == 1 and "--dtype must be one of auto, float32, bfloat16" in bad.stderr
