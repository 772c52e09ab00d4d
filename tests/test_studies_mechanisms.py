"""`rlvr study spurious-mechanisms`: predictions fixed in code, the arms' schedules, the format split, and (slow) the
whole study at a tiny size on the shipped organism."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from rlvr_lab.cli import build_app
from rlvr_lab.studies.mechanisms import (
    CLIP_FRACTION_THRESHOLD,
    MechanismsConfig,
    arms,
    binary_entropy,
    format_split,
    mechanism_jobs,
)


def test_predictions_are_fixed_before_the_runs() -> None:
    assert CLIP_FRACTION_THRESHOLD == 0.01  # between the lab's 0.2% (no bias) and 2.7% (bias)
    names = [a.name for a in arms(MechanismsConfig())]
    assert names.count("clip") == names.count("no-clip") == 4 and names[-2:] == ["clip-high", "clip-low"]


def test_each_arm_trains_its_own_schedule(tmp_path: Path) -> None:
    jobs = mechanism_jobs(tmp_path, MechanismsConfig(seeds=(0, 1)))
    runs = {job.name: job.config for job in jobs[1:]}
    assert len(runs) == 10 * 2 and len({job.run_dir for job in jobs[1:]}) == 20
    fast = runs["mechanisms qwen-math-like-v2 no-clip lr 0.001 × 16 updates s1"]
    assert (fast.schedule().updates_per_rollout, fast.clip, fast.lr, fast.seed) == (16, "none", 1e-3, 1)
    high = runs["mechanisms qwen-math-like-v2 clip-high lr 0.0003 × 16 updates s0"]
    assert (high.eps_low, high.eps_high, high.clip) == (0.2, 0.1, "clip")
    with pytest.raises(ValueError, match="must divide"):
        MechanismsConfig(updates=(3,))


def test_format_split_adds_up_to_the_boxed_change() -> None:
    before = {"boxed": np.array([0.5, 1.0]), "given_box": np.array([0.8, 0.4])}
    after = {"boxed": np.array([1.0, 1.0]), "given_box": np.array([0.8, 0.6])}
    boxed, given = format_split(before, after)
    assert boxed == pytest.approx([0.4, 0.0]) and given == pytest.approx([0.0, 0.2])
    total = after["boxed"] * after["given_box"] - before["boxed"] * before["given_box"]
    assert boxed + given == pytest.approx(total)  # no unboxed answers: the two terms are the whole change
    assert binary_entropy(0.5) == 1.0 and binary_entropy(0.0) == 0.0


@pytest.mark.slow
def test_the_study_runs_from_one_command(tmp_path: Path) -> None:
    args = ["study", "spurious-mechanisms", "--out", str(tmp_path), "--lrs", "3e-4", "--updates", "4", "--seeds", "2",
            "--steps", "1", "--problems", "12", "--samples", "2", "--json"]  # fmt: skip
    result = CliRunner().invoke(build_app(), args)
    assert result.exit_code == 0, result.output
    record = json.loads((tmp_path / "mechanisms.json").read_text())
    assert len(record["arms"]) == 4 * 2 and "contamination (arXiv 2507.10532)" in record["not_run"]
    accounts = {f["paper"] for f in record["findings"]}
    assert len(accounts) == 3 and len(record["predictions"]) == 1 + 2 + 2
    for family in accounts:
        assert [f["role"] for f in record["findings"] if f["paper"] == family].count("primary") == 1
    assert all(0.0 <= a["clip_frac_strategy"] <= 1.0 for a in record["arms"])
