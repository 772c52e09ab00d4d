"""Issue 22, "Nothing silently wrong": one test per numbered defect, named after it (``test_<n>_...``).

Point 1 (the grading corpus) lives in ``tests/test_grading_corpus.py``. Each test here reproduces its defect on
real parts (make, pytest, the CLI, the store, the trainer) and fails on the code before the fix.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _clean_env(**extra: str) -> dict[str, str]:
    """This environment without a data folder, with ``extra`` added."""
    env = {key: value for key, value in os.environ.items() if key != "RLVR_DATA_DIR"}
    env.update(extra)
    return env


# ------------------------------------------------------------------------------------------- 11-12: first hour


def _exported_data_dir(folder: Path) -> str:
    """``$RLVR_DATA_DIR`` as a recipe of a copy of the Makefile in ``folder`` sees it (empty: not passed)."""
    shutil.copy(ROOT / "Makefile", folder / "Makefile")
    result = subprocess.run(
        ["make", "-s", "-f", "Makefile", "--eval", 'probe-data-dir: ; @echo "[$$RLVR_DATA_DIR]"', "probe-data-dir"],
        cwd=folder,
        env=_clean_env(),
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout.strip()[1:-1]


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_11_makefile_passes_only_a_data_folder_that_exists(tmp_path: Path) -> None:
    clone = tmp_path / "clone"
    clone.mkdir()
    assert _exported_data_dir(clone) == ""
    (tmp_path / "shared" / "data").mkdir(parents=True)
    assert _exported_data_dir(clone) == str(tmp_path / "shared" / "data")


def test_11_organism_needs_no_data_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from rlvr_lab.tasks.benchmarks import load_problems
    from rlvr_lab.tasks.loaders import ProblemSourceError

    monkeypatch.setenv("RLVR_DATA_DIR", str(tmp_path / "missing"))
    assert len(load_problems("organism", limit=3)) == 3
    with pytest.raises(ProblemSourceError, match="missing"):
        load_problems("math500", limit=1)


def test_11_tests_that_need_benchmark_files_skip_with_the_command(tmp_path: Path) -> None:
    """A fresh clone has no ``../shared/data``: the data tests skip, saying how to get the files."""
    test = "tests/test_grading_fastpaths.py"
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider", test, "-k", "math500"],
        cwd=ROOT,
        env=_clean_env(RLVR_CACHE_DIR=str(tmp_path / "cache"), PYTHONPATH=str(ROOT / "src")),
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-2000:]
    assert "skipped" in result.stdout and "error" not in result.stdout.lower()
    assert "rlvr data import math500" in result.stdout


def _demo_profiles_reported() -> str:
    """The organisms of the demo whose tables the README reports (on the README, or on docs/demo/README.md)."""
    for page in (ROOT / "README.md", ROOT / "docs" / "demo" / "README.md"):
        if page.is_file():
            found = re.search(r"rlvr demo --out \S+ --profiles (\S+)", page.read_text(encoding="utf-8"))
            if found:
                return found.group(1)
    raise AssertionError("no `rlvr demo --out DIR --profiles ...` line in README.md or docs/demo/README.md")


def _make_demo_recipe() -> str:
    recipe = re.search(r"^demo:.*\n((?:\t.*\n)+)", (ROOT / "Makefile").read_text(encoding="utf-8"), re.MULTILINE)
    assert recipe is not None
    return recipe.group(1)


def test_12_make_demo_runs_the_organisms_the_readme_reports() -> None:
    assert f"--profiles {_demo_profiles_reported()}" in _make_demo_recipe()


def test_12_readme_pipeline_writes_where_make_demo_does_not() -> None:
    demo_out = re.search(r"rlvr demo --out (\S+)", _make_demo_recipe()).group(1)  # type: ignore[union-attr]
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    quick = re.findall(r"rlvr demo --quick --out (\S+)", readme)
    assert quick and demo_out not in quick


# ------------------------------------------------------------------------------------------- 2-4: identity

QUESTIONS = ["What is 3+4?", "What is 12-5?", "Compute 6*7.", "What is 9+9?", "What is 100-1?", "Compute 8*8."]


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from rlvr_lab.models.loading import tiny_llama
    from rlvr_lab.organism.tokenizer import build_char_tokenizer

    folder = tmp_path_factory.mktemp("tiny-model")
    tokenizer = build_char_tokenizer()
    tiny_llama(vocab_size=len(tokenizer), hidden_size=32, num_layers=2, num_heads=2, seed=0).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def _problems(path: Path, answers: list[str], questions: list[str] = QUESTIONS) -> Path:
    rows = [{"id": f"q{i}", "problem": q, "answer": a} for i, (q, a) in enumerate(zip(questions, answers, strict=True))]
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


def _cli(*args: str) -> tuple[int, str]:
    from typer.testing import CliRunner

    from rlvr_lab.cli import build_app

    result = CliRunner().invoke(build_app(), list(args))
    return result.exit_code, result.output


def _sample(model: Path, problems: Path, out: Path, *extra: str) -> tuple[int, str]:
    return _cli(
        "sample", "--model", str(model), "--problems", str(problems), "--out", str(out), "--template", "none",
        "--n", "1", "--seed", "3", "--max-new-tokens", "4", *extra,
    )  # fmt: skip


def test_2_grade_refuses_samples_drawn_from_other_problems(tiny_model: Path, tmp_path: Path) -> None:
    drawn = _problems(tmp_path / "drawn.jsonl", ["7", "7", "42", "18", "99", "64"])
    other = _problems(tmp_path / "other.jsonl", ["1", "1", "1", "1", "1", "1"])  # same ids, other gold answers
    code, output = _sample(tiny_model, drawn, tmp_path / "s.jsonl", "--limit", "2")
    assert code == 0, output
    code, output = _cli("grade", "--problems", str(other), "--samples", str(tmp_path / "s.jsonl"),
                        "--out", str(tmp_path / "g.parquet"), "--workers", "1")  # fmt: skip
    assert code == 1
    assert "drawn from" in output and str(other) in output and str(drawn) in output
    assert not (tmp_path / "g.parquet").exists()
    code, output = _cli("grade", "--problems", str(drawn), "--samples", str(tmp_path / "s.jsonl"),
                        "--out", str(tmp_path / "g.parquet"), "--workers", "1")  # fmt: skip
    assert code == 0, output


def test_2_compare_refuses_files_graded_against_other_problems(tmp_path: Path) -> None:
    samples = tmp_path / "foreign.jsonl"  # a file of another tool: no header, so grade cannot check it
    samples.write_text(
        "".join(
            json.dumps({"problem_id": f"q{i}", "sample_idx": 0, "completion": "\\boxed{7}"}) + "\n" for i in range(6)
        ),
        encoding="utf-8",
    )
    graded = []
    for name, answers in (("a", ["7"] * 6), ("b", ["1"] * 6)):
        problems = _problems(tmp_path / f"{name}.jsonl", answers)
        code, output = _cli("grade", "--problems", str(problems), "--samples", str(samples),
                            "--out", str(tmp_path / f"{name}.parquet"), "--workers", "1")  # fmt: skip
        assert code == 0, output
        graded.append(str(tmp_path / f"{name}.parquet"))
    code, output = _cli("compare", *graded, "--out", str(tmp_path / "cmp"))
    assert code == 1
    assert "graded against" in output and "a.jsonl" in output and "b.jsonl" in output
    assert not (tmp_path / "cmp").exists()


def test_3_resume_refuses_a_store_of_other_weights(tiny_model: Path, tmp_path: Path) -> None:
    model = tmp_path / "model"
    shutil.copytree(tiny_model, model)
    problems = _problems(tmp_path / "p.jsonl", ["7", "7", "42", "18", "99", "64"])
    out = tmp_path / "s.jsonl"
    code, output = _sample(model, problems, out, "--limit", "1")
    assert code == 0, output
    from rlvr_lab.models.loading import tiny_llama

    # the same path, other weights (what `rlvr train --resume` does to its output folder)
    tiny_llama(vocab_size=len(json.loads((model / "tokenizer.json").read_text())["model"]["vocab"]),
               hidden_size=32, num_layers=2, num_heads=2, seed=1).save_pretrained(model)  # fmt: skip
    before = out.read_bytes()
    code, output = _sample(model, problems, out, "--limit", "2")
    assert code == 1
    assert "model_hash: file has" in output
    assert out.read_bytes() == before


def test_4_generation_budget_ignores_shard_and_limit(tiny_model: Path, tmp_path: Path) -> None:
    from rlvr_lab.store import read_header

    questions = ["What is 3+4?", "x" * 700, "What is 9+9?", "What is 1+1?"]  # the long prompt is not in --limit 1
    problems = _problems(tmp_path / "p.jsonl", ["7", "0", "18", "2"], questions)
    budgets = {}
    for name, extra in (("all", ()), ("limit", ("--limit", "1")), ("shard", ("--shard", "0/2"))):
        code, output = _cli(
            "sample", "--model", str(tiny_model), "--problems", str(problems), "--out", str(tmp_path / f"{name}.jsonl"),
            "--template", "none", "--n", "1", "--seed", "3", *extra,
        )  # fmt: skip
        assert code == 0, output
        budgets[name] = read_header(tmp_path / f"{name}.jsonl").sampling["max_new_tokens"]  # type: ignore[union-attr]
    assert budgets["limit"] == budgets["shard"] == budgets["all"] < 512  # the context, not the default, decides


# ------------------------------------------------------------------------------------------- 5-8: concurrency


def _foreign_samples(path: Path, count: int = 6) -> Path:
    rows = [{"problem_id": f"q{i}", "sample_idx": 0, "completion": f"\\boxed{{{i}}}"} for i in range(count)]
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


def test_5_two_grades_with_one_out_both_leave_a_readable_file(tmp_path: Path) -> None:
    """A second ``grade`` to the same --out while the first is writing (run from the first's progress callback):
    with one shared ``OUT.tmp`` the two wrote into one file and the first then failed; each now has its own."""
    import pyarrow.parquet as pq

    from rlvr_lab.grading import Grader, GradingConfig
    from rlvr_lab.grading.graded_file import grade_to_parquet
    from rlvr_lab.tasks.problem import Problem

    problems = {f"q{i}": Problem(id=f"q{i}", prompt="?", answer=str(i)) for i in range(6)}
    samples = _foreign_samples(tmp_path / "s.jsonl")
    out = tmp_path / "g.parquet"
    with Grader(GradingConfig(workers=1)) as grader:

        def second(_: int) -> None:
            grade_to_parquet(problems, samples, out, grader, {"run": "second"})

        grade_to_parquet(problems, samples, out, grader, {"run": "first"}, progress=second)
    table = pq.read_table(out)
    assert table.num_rows == 6 and all(table.column("correct").to_pylist())
    assert not list(tmp_path.glob("*.tmp"))


def test_5_a_second_training_of_one_run_dir_is_refused(tmp_path: Path) -> None:
    from rlvr_lab.rl.config import TrainConfig
    from rlvr_lab.rl.run_dir import prepare_run_dir

    run_dir = tmp_path / "run"
    run_dir.mkdir()
    holder = subprocess.Popen(  # another process training this run directory holds its lock
        [sys.executable, "-c", "import fcntl, os, sys, time; fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT); "
         "fcntl.flock(fd, fcntl.LOCK_EX); print('locked', flush=True); time.sleep(60)", str(run_dir / ".lock")],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        with pytest.raises(OSError, match="being trained by another process"):
            prepare_run_dir(TrainConfig(out=str(run_dir)), resume=False)
        assert not (run_dir / "config.yaml").exists()
    finally:
        holder.kill()
        holder.wait()


def test_6_resume_rewrites_metrics_atomically(tmp_path: Path) -> None:
    """A write that fails half-way (here a file-size limit, as a full disk would) must leave the old log whole; the
    in-place rewrite truncated it first and lost the steps for good."""
    metrics = tmp_path / "metrics.jsonl"
    lines = [json.dumps({"step": step, "pad": "x" * 2000}) for step in range(8)]
    metrics.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
    before = metrics.read_bytes()
    script = (
        "import resource, signal, sys; from pathlib import Path; "
        "signal.signal(signal.SIGXFSZ, signal.SIG_IGN); resource.setrlimit(resource.RLIMIT_FSIZE, (4000, 4000)); "
        "from rlvr_lab.rl.logger import truncate_jsonl; truncate_jsonl(Path(sys.argv[1]), 3)"
    )
    result = subprocess.run(
        [sys.executable, "-c", script, str(metrics)],
        env=_clean_env(PYTHONPATH=str(ROOT / "src")),
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode != 0  # the write did fail
    assert metrics.read_bytes() == before
    from rlvr_lab.rl.logger import truncate_jsonl

    truncate_jsonl(metrics, 3)
    assert [json.loads(line)["step"] for line in metrics.read_text().splitlines()] == [0, 1, 2, 3]


def test_7_a_failed_merge_leaves_no_store(tmp_path: Path) -> None:
    from rlvr_lab.store import SampleStore, SampleStoreError, StoredSample, StoreHeader, merge_stores

    def header(shard: str) -> StoreHeader:
        return StoreHeader(model="m", engine="torch", template={}, sampling={}, problems="p", seed=0,
                           created_at="", rlvr_version="", shard=shard, keep_tokens=False)  # fmt: skip

    for index in range(2):
        with SampleStore.open(tmp_path / f"shard-{index}.jsonl", header(f"{index}/2")) as store:
            store.append([StoredSample(f"q{index}-{i}", 0, "\\boxed{1}", [], [], "stop", 3) for i in range(3)])
    with (tmp_path / "shard-1.jsonl").open("a") as handle:  # a corrupt record before the last line
        handle.write("{not json\n" + json.dumps({"problem_id": "z", "sample_idx": 0, "completion": ""}) + "\n")
    out = tmp_path / "merged" / "all.jsonl"
    with pytest.raises(SampleStoreError, match="invalid JSON"):
        merge_stores([tmp_path / "shard-0.jsonl", tmp_path / "shard-1.jsonl"], out)
    assert not out.exists()
    assert not [p for p in out.parent.iterdir()]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
def test_8_grader_workers_die_with_their_parent(tmp_path: Path) -> None:
    import signal
    import time

    script = (
        "from rlvr_lab.grading import Grader, GradingConfig\n"
        "grader = Grader(GradingConfig(workers=1, timeout_s=600))\n"
        "grader.pool.start()\n"
        "print(*grader.pool.pids, flush=True)\n"
        "grader.verify([('1', '10^{10^{10^{10}}}')])  # a worker busy in C code for minutes\n"
    )
    parent = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, env=_clean_env(PYTHONPATH=str(ROOT / "src"))
    )
    assert parent.stdout is not None
    workers = [int(pid) for pid in parent.stdout.readline().split()]
    time.sleep(3)  # the worker is in the power now
    parent.send_signal(signal.SIGKILL)
    parent.wait()

    def alive(pid: int) -> bool:
        try:
            return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
        except FileNotFoundError:
            return False

    deadline = time.monotonic() + 20
    while any(alive(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.2)
    left = [pid for pid in workers if alive(pid)]
    for pid in left:
        os.kill(pid, signal.SIGKILL)
    assert left == []


# ------------------------------------------------------------------------------------------- 9-10: inputs


@pytest.fixture(scope="module")
def train_assets(tiny_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("train")
    rows = [{"id": f"q{i:02d}", "problem": f"{i}+{i}=", "answer": str(2 * i)} for i in range(12)]
    (root / "problems.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return root


def _train_values(model: Path, assets: Path, out: Path, **overrides: object) -> dict[str, object]:
    return {
        "model": str(model), "out": str(out), "train_data": str(assets / "problems.jsonl"),
        "eval_data": str(assets / "problems.jsonl"), "eval_limit": 2, "eval_samples": 1, "prompt": "none",
        "steps": 6, "prompts_per_step": 2, "group_size": 2, "mini_batch_size": 4, "max_new_tokens": 6,
        "reward": "random:0.5", "eval_every": 0, "save_every": 1, "tensorboard": False, "seed": 3, "threads": 1,
        **overrides,
    }  # fmt: skip


def test_9_non_finite_training_stops_and_keeps_the_last_good_checkpoint(
    tiny_model: Path, train_assets: Path, tmp_path: Path
) -> None:
    from safetensors.torch import load_file

    from rlvr_lab.rl.checkpoint import list_checkpoints
    from rlvr_lab.rl.config import resolve_config
    from rlvr_lab.rl.trainer import train

    out = tmp_path / "run"
    config = resolve_config(cli_values=_train_values(tiny_model, train_assets, out, lr=1e30, grad_clip=0.0))
    with pytest.raises(ValueError, match=r"step \d+: .*(nan|inf)"):
        train(config, show_progress=False)
    assert not (out / "model").exists()
    checkpoints = list_checkpoints(out)
    for checkpoint in checkpoints:
        weights = load_file(str(checkpoint / "model.safetensors"))
        assert all(bool(tensor.isfinite().all()) for tensor in weights.values()), checkpoint
    steps = [json.loads(line)["step"] for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert steps == list(range(len(steps)))  # the bad step was not logged


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"lr": "fast"}, "lr"),
        ({"lr": float("inf")}, "lr"),
        ({"temperature": -1.0}, "temperature"),
        ({"train_limit": 0}, "train_limit"),
        ({"reward": "randon:0.5"}, "reward"),
        ({"group_size": 1, "mini_batch_size": 2}, "group_size"),
    ],
)
def test_10_bad_training_inputs_give_one_line_and_write_nothing(
    tiny_model: Path, train_assets: Path, tmp_path: Path, overrides: dict[str, object], field: str
) -> None:
    import yaml

    out = tmp_path / "run"
    values = _train_values(tiny_model, train_assets, out, **overrides)
    config_file = tmp_path / "config.yaml"
    config_file.write_text(yaml.safe_dump(values), encoding="utf-8")
    code, output = _cli("train", str(config_file))
    assert code != 0
    assert field in output and "Traceback" not in output, output
    assert not out.exists()


def test_10_full_disk_while_saving_a_checkpoint_is_one_named_error(tiny_model: Path, tmp_path: Path) -> None:
    """A full disk (a file-size limit here) while a checkpoint is written: one OSError naming the checkpoint and the
    one kept, instead of torch's or safetensors' own traceback."""
    script = (
        "import resource, signal, sys; from pathlib import Path; import torch\n"
        "from transformers import AutoModelForCausalLM, AutoTokenizer\n"
        "from rlvr_lab.rl.checkpoint import TrainerState, save_checkpoint\n"
        "model = AutoModelForCausalLM.from_pretrained(sys.argv[1]); tok = AutoTokenizer.from_pretrained(sys.argv[1])\n"
        "run = Path(sys.argv[2])\n"
        "save_checkpoint(run, model, tok, TrainerState(1, {}, torch.get_rng_state(), None), keep=3)\n"
        "signal.signal(signal.SIGXFSZ, signal.SIG_IGN); resource.setrlimit(resource.RLIMIT_FSIZE, (20000, 20000))\n"
        "try:\n"
        "    save_checkpoint(run, model, tok, TrainerState(2, {}, torch.get_rng_state(), None), keep=3)\n"
        "except OSError as error:\n"
        "    print('ERROR', error)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script, str(tiny_model), str(tmp_path / "run")],
        env=_clean_env(PYTHONPATH=str(ROOT / "src")),
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.stdout.startswith("ERROR "), result.stderr[-2000:]
    assert "step_000002" in result.stdout and "step_000001, is kept" in result.stdout
    assert not (tmp_path / "run" / "checkpoints" / "step_000002.tmp").exists()


def test_10_unwritable_grade_out_names_the_folder(tmp_path: Path) -> None:
    samples = _foreign_samples(tmp_path / "s.jsonl")
    problems = _problems(tmp_path / "p.jsonl", ["0", "1", "2", "3", "4", "5"])
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    code, output = _cli("grade", "--problems", str(problems), "--samples", str(samples),
                        "--out", str(blocker / "g.parquet"), "--workers", "1")  # fmt: skip
    assert code == 1
    assert f"--out {blocker / 'g.parquet'}" in output and "choose a writable folder" in output


def test_10_non_utf8_problem_file_names_file_and_line(tmp_path: Path) -> None:
    problems = tmp_path / "p.jsonl"
    problems.write_bytes(
        b'{"id": "a", "problem": "1+1", "answer": "2"}\n{"id": "b", "problem": "x\xff", "answer": "1"}\n'
    )
    samples = _foreign_samples(tmp_path / "s.jsonl", count=1)
    code, output = _cli(
        "grade", "--problems", str(problems), "--samples", str(samples), "--out", str(tmp_path / "g.parquet")
    )
    assert code == 1
    assert f"{problems}:2" in output and "UTF-8" in output


def test_10_passk_on_a_sample_file_says_grade_it_first(tmp_path: Path) -> None:
    samples = _foreign_samples(tmp_path / "s.jsonl")
    code, output = _cli("passk", str(samples), "--k", "1")
    assert code == 1
    assert "grade it first" in output and "Parquet magic" not in output
