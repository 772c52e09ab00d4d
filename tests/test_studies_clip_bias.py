"""The clip-bias laboratory: the trainer's own grpo / update_policy / policy_loss keep the clip term's bias.

Random rewards carry no information, so any systematic movement is the optimiser's. The pinned result (the
issue's two-token toy): at the target cell, accuracy moves up with ``clip`` and down with ``no-clip`` and the
on-policy arm, each beyond 3 standard errors over seeds. Deterministic (seeded draws).
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from rlvr_lab.studies.clip_bias import (
    TARGET,
    ArmResult,
    ClipBiasResult,
    SweepConfig,
    TabularPolicy,
    ToyConfig,
    mean_se,
    run_arm,
    run_arms,
    sweep_table,
    target_table,
)


@pytest.fixture(scope="module")
def runs() -> dict[str, ArmResult]:
    """The target cell with 512 seeds (measured z: +5.1, -6.3, -6.1), so a different CPU's rounding cannot move
    any arm across 3 SE; about 20 s of CPU."""
    arms = ("clip", "no-clip", "on-policy-batch")
    return {arm: run_arm(dataclasses.replace(TARGET, arm=arm, seeds=512)) for arm in arms}


@pytest.fixture(scope="module")
def target(runs: dict[str, ArmResult]) -> dict[str, dict[str, float]]:
    return {arm: mean_se(r.accuracy_change) for arm, r in runs.items()}


def test_clip_raises_accuracy_beyond_3_se(target: dict[str, dict[str, float]]) -> None:
    assert target["clip"]["z"] > 3
    assert target["clip"]["mean"] > 0.05


@pytest.mark.parametrize("arm", ["no-clip", "on-policy-batch"])
def test_without_the_clamp_acting_accuracy_falls_beyond_3_se(target: dict[str, dict[str, float]], arm: str) -> None:
    assert target[arm]["z"] < -3
    assert target[arm]["mean"] < -0.05


def test_the_target_clips_about_two_percent_of_tokens(runs: dict[str, ArmResult]) -> None:
    clip = runs["clip"]
    assert 0.01 < clip.clip_frac < 0.03  # mean over the run's updates
    assert clip.clip_frac_strategy > clip.clip_frac  # the deciding token is reached, more than the answer token
    assert runs["no-clip"].clip_frac > 0 and runs["on-policy-batch"].clip_frac == 0.0


@pytest.mark.parametrize("arm", ["on-policy-batch", "small-rollout"])
def test_on_policy_runs_are_bit_identical_with_and_without_the_clamp(arm: str) -> None:
    config = ToyConfig(arm=arm, lr=1.0, seeds=32, steps=8)
    clamped, free = run_arm(config), run_arm(dataclasses.replace(config, clamp=False))
    assert free.config.loss().clip == "none" and clamped.config.loss().clip == "clip"
    assert np.array_equal(clamped.accuracy_change, free.accuracy_change)
    assert np.array_equal(clamped.mode_change, free.mode_change)
    assert clamped.clip_frac == free.clip_frac == 0.0
    assert np.abs(clamped.accuracy_change).max() > 0.01  # the runs did move


def test_off_policy_runs_differ_with_and_without_the_clamp() -> None:
    config = ToyConfig(arm="clip", lr=1.0, seeds=32, steps=8)
    free = run_arm(dataclasses.replace(config, clamp=False))
    assert not np.array_equal(run_arm(config).mode_change, free.mode_change)


def test_rates_in_one_batch_match_separate_runs_in_distribution_and_are_paired() -> None:
    config = ToyConfig(arm="on-policy-batch", seeds=16, steps=3)
    low, high = run_arms(config, (0.01, 0.3))
    assert (low.config.lr, high.config.lr) == (0.01, 0.3)
    assert np.abs(low.mode_change).mean() < np.abs(high.mode_change).mean()
    # one update on the whole rollout: the batch of rates is the separate runs, up to the loss's 1/B (twice the
    # rows in the batch) which Adam undoes but for its ε
    alone = run_arm(dataclasses.replace(config, lr=0.3))
    assert np.allclose(alone.mode_change, high.mode_change, atol=2e-5)


def test_tabular_policy_reads_its_row_and_starts_at_the_prior() -> None:
    policy = TabularPolicy(4, (0.65, 0.35), (0.9, 0.3), blocks=2)
    p, _ = policy.probabilities()
    assert torch.allclose(p[:, 0], torch.full((4,), 0.65, dtype=torch.float64))
    assert torch.allclose(policy.accuracy(), torch.full((4,), 0.65 * 0.9 + 0.35 * 0.3, dtype=torch.float64))
    logits = policy(input_ids=torch.tensor([[3, 1, 0]]), logits_to_keep=3).logits
    assert logits.shape == (1, 3, 2)
    assert torch.allclose(torch.softmax(logits[0, 1], -1)[0], torch.tensor(0.3))  # p(correct | strategy 1)


def test_sweep_tables_and_config_errors() -> None:
    config = SweepConfig(base=ToyConfig(seeds=4, steps=1), lrs=(0.3,), updates=(16,))
    result = ClipBiasResult(tuple(r for cell in config.cells() for r in run_arms(cell, config.lrs)))
    assert len(result.sweep) == 2 * 4
    assert set(result.target()) == {"clip", "no-clip", "on-policy-batch", "small-rollout"}
    assert len(sweep_table(result).rows) == 8 and len(target_table(result).rows) == 4
    with pytest.raises(ValueError, match="must divide the rollout"):
        ToyConfig(updates=5)
    with pytest.raises(ValueError, match="unknown arm"):
        ToyConfig(arm="ppo")


def test_study_clip_bias_command_writes_its_files(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from rlvr_lab.cli import build_app

    result = CliRunner().invoke(
        build_app(), ["study", "clip-bias", "--out", str(tmp_path), "--seeds", "4", "--steps", "1"]
    )
    assert result.exit_code == 0, result.output
    summary = json.loads((tmp_path / "clip_bias.json").read_text())
    assert set(summary["target_verdicts"]) == {"clip", "no-clip", "on-policy-batch", "small-rollout"}
    assert len(summary["sweep"]) == 2 * 6 * 3  # policies × cells × rates
    assert (tmp_path / "clip_bias.png").stat().st_size > 1000
    assert "Clip bias: Δ accuracy at the target cell" in (tmp_path / "clip_bias.md").read_text()
    bad = CliRunner().invoke(build_app(), ["study", "clip-bias", "--out", str(tmp_path), "--seeds", "1"])
    assert bad.exit_code != 0 and "--seeds >= 2" in bad.output
