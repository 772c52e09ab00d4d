"""Data without the hub: benchmarks found in the data directories, ``rlvr data``, and fast, teaching failures offline.

The hub is switched off with ``HF_HUB_OFFLINE=1`` (the rule of :func:`rlvr_lab.runtime.data.hub_offline`), and the user
data cache is a temporary folder, so nothing on this machine's own cache changes what the tests see.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from rlvr_lab.cli import build_app
from rlvr_lab.runtime.data import data_dirs, hub_offline, user_data_dir
from rlvr_lab.tasks import ProblemSourceError, load_problems

SRC = Path(__file__).resolve().parents[1] / "src"


@pytest.fixture
def offline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Hub off, an empty user cache under tmp_path, no data directory from the environment."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("RLVR_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("RLVR_DATA_DIR", raising=False)
    hub_offline.cache_clear()
    yield tmp_path
    hub_offline.cache_clear()


def run_cli(*args: str) -> tuple[int, str, float]:
    started = time.perf_counter()
    result = CliRunner().invoke(build_app(), list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.output, time.perf_counter() - started


def test_offline_is_reported_with_its_reason(offline: Path) -> None:
    assert hub_offline() == "HF_HUB_OFFLINE=1"


def test_data_dirs_search_the_named_folder_then_the_user_cache(offline: Path, data_dir: Path) -> None:
    assert data_dirs(data_dir) == [data_dir, offline / "cache" / "data"]
    assert data_dirs() == [user_data_dir()]
    with pytest.raises(ProblemSourceError, match="does not exist"):
        data_dirs(offline / "typo")


def test_missing_benchmark_offline_fails_at_once_naming_the_paths_searched(offline: Path) -> None:
    out = offline / "s.jsonl"
    code, output, seconds = run_cli(
        "sample", "--model", "qwen-math-like", "--problems", "aime2025", "--data-dir", str(offline), "--out", str(out)
    )
    flat = " ".join(output.split())
    assert code == 1 and seconds < 5.0
    assert "benchmark 'aime2025' [test]: no local file" in flat and "HF_HUB_OFFLINE=1" in flat
    assert str(offline / "aime2025" / "test.jsonl") in flat and "cache/data/aime2025/test.jsonl" in flat
    assert "rlvr data import" in flat and "Traceback" not in output
    assert not out.exists()


def test_misspelt_model_offline_fails_at_once_with_the_valid_names(offline: Path) -> None:
    out = offline / "s.jsonl"
    code, output, seconds = run_cli(
        "sample", "--model", "qwen-math-lik", "--problems", "organism", "--template", "organism", "--out", str(out)
    )
    flat = " ".join(output.split())
    assert code == 1 and seconds < 5.0
    assert "model 'qwen-math-lik'" in flat and "Hugging Face cache" in flat and "HF_HUB_OFFLINE=1" in flat
    assert (
        "Valid names: llama-like-v2, olmo-like, olmo-like-v2, qwen-math-like, qwen-math-like-v2, "
        "qwen-math-like-v2-contaminated, smollm2-135m" in flat
    )
    assert not out.exists(), "a failed start must leave no sample file"


def test_misspelt_model_from_a_fresh_process_never_loads_torch(offline: Path) -> None:
    """The check runs before torch is imported: a fresh interpreter fails without importing it."""
    code = (
        "import sys\nfrom rlvr_lab.models.specs import resolve_model_dir\n"
        "try:\n    resolve_model_dir('qwen-math-lik')\nexcept ValueError as e:\n    print('torch' in sys.modules)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60)
    assert result.stdout.strip() == "False", result.stderr


def test_math500_samples_offline_from_the_data_dir(offline: Path, data_dir: Path) -> None:
    out = offline / "m.jsonl"
    args = [
        "sample",
        "--model",
        "qwen-math-like",
        "--problems",
        "math500",
        "--data-dir",
        str(data_dir),
        "--template",
        "organism",
        "--limit",
        "2",
        "--n",
        "1",
        "--max-new-tokens",
        "8",
        "--out",
        str(out),
        "--json",
    ]
    result = CliRunner().invoke(build_app(), args)  # fmt: skip
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert (summary["problems"], summary["sampled"]) == (2, 2)
    rows = [json.loads(line) for line in out.read_text().splitlines()[1:]]
    assert [row["problem_id"] for row in rows] == ["test/precalculus/807.json", "test/intermediate_algebra/1994.json"]


def test_data_import_then_list_then_load_from_the_cache(offline: Path, data_dir: Path) -> None:
    code, output, _ = run_cli("data", "import", str(data_dir), "--json")
    assert code == 0, output
    imported = json.loads(output)
    cache = offline / "cache" / "data"
    assert imported["out"] == str(cache)
    assert {"benchmark": "math500", "split": "test", "file": "math500/test.jsonl",
            "found": str(cache / "math500" / "test.jsonl")} in imported["files"]  # fmt: skip
    assert (cache / "math500" / "test.jsonl").read_bytes() == (data_dir / "math500" / "test.jsonl").read_bytes()

    code, output, _ = run_cli("data", "list", "--json")
    listed = {(f["benchmark"], f["split"]): f["found"] for f in json.loads(output)["files"]}
    assert listed[("math500", "test")] == str(cache / "math500" / "test.jsonl")
    assert listed[("aime2025", "test")] is None
    assert len(load_problems("math500")) == 500  # no --data-dir: the user cache is searched

    (cache / "math500" / "test.jsonl").write_text("{}\n")
    code, output, _ = run_cli("data", "import", str(data_dir))
    assert code == 1 and "exists with other contents; pass --replace" in " ".join(output.split())
    code, output, _ = run_cli("data", "import", str(data_dir), "--replace")
    assert code == 0 and len(load_problems("math500")) == 500


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("data", "import", "aime2025"), "hf:math-ai/aime25: the hub is out of reach (HF_HUB_OFFLINE=1)"),
        (("data", "import", "math-500"), "unknown benchmark 'math-500'; choose one of: aime2024"),
        (("data", "import", "organism"), "benchmark 'organism' is generated, not downloaded"),
        (("data", "list", "--data-dir", "/no/such/folder"), "data directory /no/such/folder does not exist"),
    ],
)
def test_data_command_errors(offline: Path, args: tuple[str, ...], message: str) -> None:
    code, output, _ = run_cli(*args)
    assert code == 1 and message in " ".join(output.split()) and "Traceback" not in output
