"""The boundary-extension studies end to end at toy sizes on the shipped organisms (the numbers are the README's,
from full-size runs; here the plumbing: files, findings with verdicts, resumability)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from rlvr_lab.cli import build_app
from rlvr_lab.organism.profiles import shipped_checkpoint
from rlvr_lab.studies.settings import TrainingSettings

pytestmark = pytest.mark.skipif(
    shipped_checkpoint("qwen-math-like") is None or shipped_checkpoint("olmo-like") is None,
    reason="the organisms are not shipped",
)

TINY = TrainingSettings(steps=1, train_problems=32, curve_problems=2, curve_samples=1, save_every=1)


def _summary(path: Path) -> dict:
    record = json.loads(path.read_text())
    for finding in record["findings"]:
        assert finding["verdict"] in {"reproduced", "not significant", "opposite"}
        assert finding["low"] <= finding["effect"] <= finding["high"]
    return record


def test_prompting_study_and_cli(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        build_app(), ["study", "prompting", "--root", str(tmp_path), "--problems", "12", "--samples", "4", "--json"]
    )
    assert result.exit_code == 0, result.output
    record = _summary(tmp_path / "prompting" / "summary.json")
    assert [f["direction"] for f in record["findings"]] == [1, -1, -1]  # qwen-v2 helped; olmo-v2, llama-v2 hurt
    # the v2 organisms learned the hint in pretraining: it moves every profile toward code
    assert all(row["code_hint"] > row["code_default"] for row in record["result"].values()), record["result"]
    assert (tmp_path / "prompting" / "prompting.png").stat().st_size > 0
    assert "Findings" in (tmp_path / "prompting" / "prompting.md").read_text()


@pytest.mark.slow
def test_training_studies_share_one_root(tmp_path: Path) -> None:
    from rlvr_lab.studies.algorithms import AlgorithmsConfig, run_algorithms_study
    from rlvr_lab.studies.distillation import DistillationStudyConfig, run_distillation_study
    from rlvr_lab.studies.lucky import LuckyConfig, run_lucky_study

    summary = run_algorithms_study(
        AlgorithmsConfig("qwen-math-like", ("grpo", "remax"), TINY, problems=6, samples=4), tmp_path
    )
    record = _summary(summary)
    assert len(record["findings"]) == 3  # ΔSE > 0 for each, and "alike"
    assert record["result"]["remax"]["samples"] == record["result"]["grpo"]["samples"] + 16  # the greedy baselines
    lucky = _summary(run_lucky_study(LuckyConfig("qwen-math-like", TINY, problems=6, samples=4), tmp_path))
    assert set(lucky["result"]) == {"base", "GT-RL"}
    assert lucky["result"]["base"]["lucky_samples"] <= lucky["result"]["base"]["correct_samples"]
    config = DistillationStudyConfig(
        "qwen-math-like", teacher_steps=2, training=TINY, samples_per_problem=2, problems=6, samples=4
    )
    distilled = _summary(run_distillation_study(config, tmp_path))
    assert len(distilled["findings"]) == 3
    assert distilled["result"]["distill"]["pairs"] > 0
    # one GT run served all three studies
    runs = list((tmp_path / "runs").rglob("rlvr_train.json"))
    assert len(runs) == 2


@pytest.mark.slow
def test_boundary_over_training_cli(tmp_path: Path) -> None:
    from rlvr_lab.studies.boundary_training import checkpoint_models

    run = tmp_path / "run"
    args = ["study", "boundary-over-training", str(run), "--steps", "2", "--save-every", "1"]
    result = CliRunner().invoke(build_app(), [*args, "--problems", "4", "--samples", "4"])
    assert result.exit_code == 0, result.output
    assert [step for step, _ in checkpoint_models(run)] == [0, 1, 2]
    record = _summary(run / "boundary_over_training" / "summary.json")
    assert set(record["result"]["steps"]) == {"0", "1", "2"}
    assert record["result"]["steps"]["0"]["delta_pass@1"] == [0.0, 0.0, 0.0]  # step 0 against itself


def test_distill_cli_rejects_a_missing_teacher(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        build_app(),
        ["distill", "--teacher", str(tmp_path / "nope"), "--student", "qwen-math-like", "--out", str(tmp_path)],
    )
    assert result.exit_code == 1
    assert "error:" in result.output


def test_rl_runs_share_the_demo_folder_and_labels(tmp_path: Path) -> None:
    from rlvr_lab.studies.output import rl_run, run_label
    from rlvr_lab.studies.settings import run_dir

    grpo = rl_run(tmp_path / "runs", "qwen-math-like", TINY)
    assert Path(grpo.out) == run_dir(tmp_path / "runs", "qwen-math-like", "ground_truth", "clip", 0)
    assert run_label(grpo) == "qwen-math-like-ground_truth-clip-s0"
    dapo = rl_run(tmp_path, "qwen-math-like", TINY, "dapo")
    assert (dapo.eps_high, dapo.dynamic_sampling, dapo.overlong_buffer) == (0.28, True, 16)
    assert run_label(dapo) == "qwen-math-like-ground_truth-clip-dapo-s0"
