"""`rlvr study spurious-mechanisms`: predictions fixed in code, the arms' schedules, the format split, and (slow) the
whole study at a tiny size on the shipped organism."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from rlvr_lab.cli import build_app
from rlvr_lab.organism.tasks import organism_problems
from rlvr_lab.studies.mechanisms import (
    CLIP_FRACTION_THRESHOLD,
    CONCENTRATES,
    GAIN_ON_CLEAN,
    GAIN_ON_S,
    MEMORISED,
    MechanismsConfig,
    arms,
    binary_entropy,
    contamination_findings,
    contamination_pairs,
    contamination_reading,
    contamination_skipped,
    format_split,
    mechanism_jobs,
    predictions,
)
from rlvr_lab.studies.verdict import correct


def test_predictions_are_fixed_before_the_runs() -> None:
    assert CLIP_FRACTION_THRESHOLD == 0.01  # between the lab's 0.2% (no bias) and 2.7% (bias)
    names = [a.name for a in arms(MechanismsConfig())]
    assert names.count("clip") == names.count("no-clip") == 4 and names[-2:] == ["clip-high", "clip-low"]


def test_each_arm_trains_its_own_schedule(tmp_path: Path) -> None:
    jobs = mechanism_jobs(tmp_path, MechanismsConfig(seeds=(0, 1), contamination=False))
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


def test_contamination_pairs_are_the_profiles_split_in_the_evaluations_order() -> None:
    ids = tuple(p.id for p in organism_problems("test", 0, 120))
    pairs = contamination_pairs(ids[::-1], "qwen-math-like-v2-contaminated")  # positions follow the given order
    assert pairs.shape == (60, 2) and len(set(pairs.ravel().tolist())) == 120
    assert ids[::-1][pairs[0, 0]] == "org-test-00090" and ids[::-1][pairs[0, 1]] == "org-test-00018"
    assert len(contamination_pairs(ids[:12], "qwen-math-like-v2-contaminated")) < 2
    with pytest.raises(ValueError, match="no contamination"):
        contamination_pairs(ids, "qwen-math-like-v2")
    assert "switched off" in contamination_skipped(MechanismsConfig(contamination=False))


def _contamination_case(s_gain: float, clean_gain: float, memorised: float) -> list:
    """Hand-built: 20 pairs (problem i leaked, i + 20 its clean pair), 5 seeds; each gain is its mean plus ±0.05
    alternating over problems and seeds (zero mean per seed, in another pattern on S than on clean); the base is
    0.3 on clean and 0.3 + ``memorised`` on S (±0.1 alternating over pairs)."""
    pairs = np.stack([np.arange(20), np.arange(20, 40)], axis=1)
    wiggle = np.where(np.arange(20) % 2, 0.1, -0.1)
    base = np.concatenate([0.3 + memorised + wiggle, 0.3 + wiggle])
    after = {}
    for seed in range(5):
        i = np.arange(20)
        noise = 0.05 * np.concatenate([(-1.0) ** (i + seed), (-1.0) ** (i // 2 + seed)])
        after[seed] = base + noise + np.concatenate([np.full(20, s_gain), np.full(20, clean_gain)])
    return correct(contamination_findings(base, after, pairs))


def test_contamination_prediction_reads_each_account_from_a_case_built_to_support_it() -> None:
    found = _contamination_case(s_gain=0.15, clean_gain=0.0, memorised=0.4)
    verdicts = {f.claim.claim: (f.verdict, round(f.effect, 6)) for f in found}
    assert verdicts[MEMORISED] == ("reproduced", 0.4)
    assert verdicts[CONCENTRATES] == ("reproduced", 0.15) and verdicts[GAIN_ON_S] == ("reproduced", 0.15)
    assert verdicts[GAIN_ON_CLEAN] == ("not significant", 0.0)
    assert contamination_reading(found).startswith("contamination:")
    assert all(p["held"] for p in predictions(found) if p["claim"] != GAIN_ON_CLEAN)

    found = _contamination_case(s_gain=0.1, clean_gain=0.1, memorised=0.4)  # the clip account's case
    verdicts = {f.claim.claim: (f.verdict, round(f.effect, 6)) for f in found}
    assert verdicts[CONCENTRATES] == ("not significant", 0.0) and verdicts[GAIN_ON_CLEAN] == ("reproduced", 0.1)
    assert contamination_reading(found).startswith("clip:")
    assert _reading(s_gain=0.2, clean_gain=0.1).startswith("both:")
    assert _reading(s_gain=0.0, clean_gain=0.0).startswith("neither:")
    assert _reading(s_gain=0.15, clean_gain=0.0, memorised=0.0).startswith("void:")  # no memorisation: no test
    assert len({f.claim.family_name for f in found if f.claim.role == "primary"}) == 3


def _reading(s_gain: float, clean_gain: float, memorised: float = 0.4) -> str:
    return contamination_reading(_contamination_case(s_gain, clean_gain, memorised))


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
