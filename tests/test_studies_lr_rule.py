"""The learning-rate rule: drift of the on-policy control and the choice along the grid (pure functions)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rlvr_lab.studies.lr_rule import LrRuleConfig, accuracy_curve, choose_rate, control_job, drift, lr_rule_jobs


def test_drift_is_the_largest_mean_change_from_step_0() -> None:
    curves = {0: {0: 0.40, 5: 0.41, 10: 0.37}, 1: {0: 0.50, 5: 0.49, 10: 0.49}}
    worst, mean = drift(curves)
    assert mean == pytest.approx({5: 0.0, 10: -0.02})
    assert worst == pytest.approx(0.02)
    with pytest.raises(ValueError, match="step-0 evaluation"):
        drift({0: {5: 0.4}})


def test_the_rule_stops_at_the_first_failing_rate() -> None:
    assert choose_rate({1e-4: 0.004, 3e-4: 0.009, 1e-3: 0.05}, 0.01) == 3e-4
    # a larger rate that passes by chance after a failure is not picked
    assert choose_rate({1e-4: 0.004, 3e-4: 0.02, 1e-3: 0.005}, 0.01) == 1e-4
    assert choose_rate({1e-4: 0.03}, 0.01) is None


def test_control_runs_are_on_policy_random_reward_and_paired(tmp_path: Path) -> None:
    config = LrRuleConfig(rates=(1e-4, 1e-3), seeds=(0, 1))
    jobs = lr_rule_jobs(tmp_path, config)
    assert len(jobs) == 4 and len({job.run_dir for job in jobs}) == 4
    for job in jobs:
        c = job.config
        assert c.schedule().on_policy and c.schedule().rollout_size == 1024 and c.reward == "random:0.5"
        assert c.eval_every == config.training.eval_every and c.eval_limit == config.training.curve_problems
    assert {job.config.seed for job in jobs if job.config.lr == 1e-3} == {0, 1}
    run = control_job(tmp_path, config, 1e-3, 1).run_dir
    run.mkdir(parents=True)
    records = [{"step": 0, "eval/accuracy": 0.5}, {"step": 1, "reward/mean": 0.5}, {"step": 5, "eval/accuracy": 0.45}]
    (run / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    assert accuracy_curve(run) == {0: 0.5, 5: 0.45}
    with pytest.raises(ValueError, match="increasing order"):
        LrRuleConfig(rates=(1e-3, 1e-4))


def test_study_commands_refuse_bad_options(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from rlvr_lab.cli import build_app

    runner, app = CliRunner(), build_app()
    result = runner.invoke(app, ["study", "lr-rule", "--out", str(tmp_path), "--rates", "1e-3,1e-4"])
    assert result.exit_code != 0 and "increasing order" in result.output
    result = runner.invoke(app, ["study", "clip-ablation", "--out", str(tmp_path), "--schedule", "ppo"])
    assert result.exit_code != 0 and "--schedule must be demo or paper" in result.output
    assert not any(tmp_path.iterdir())  # nothing trained, nothing written
