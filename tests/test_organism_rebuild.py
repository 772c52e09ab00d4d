"""Rebuild ``qwen-math-like`` from its seed and check its calibration table (slow: a full build, then stats).

Tolerances: the build pins its thread count, so on the machine that built the shipped checkpoint the weights
come out identical; elsewhere float rounding in other CPU kernels can move them slightly, so each rate must lie
within 5 points of the shipped table (``calibration.json`` beside the shipped checkpoint, written by
``rlvr organism stats qwen-math-like --json``) and meet the profile's targets.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rlvr_lab.organism.pretrain import build_profile
from rlvr_lab.organism.profiles import check_targets, get_profile, shipped_checkpoint, shipped_tables
from rlvr_lab.organism.stats import StatsConfig, measure

TOLERANCE = 0.05


@pytest.mark.slow
def test_rebuilt_qwen_math_like_matches_its_calibration(tmp_path: Path) -> None:
    shipped_dir = shipped_checkpoint("qwen-math-like")
    assert shipped_dir is not None
    shipped = json.loads((shipped_dir / "calibration.json").read_text())
    config = StatsConfig(**{k: shipped["config"][k] for k in ("n", "problems", "rule", "seed")})

    out = build_profile(get_profile("qwen-math-like"), tmp_path / "rebuilt")
    rebuilt = measure(str(out), config).to_dict()

    for key in ("code_frequency", "acc_given_code", "acc_given_language", "boxed_rate"):
        assert rebuilt[key] == pytest.approx(shipped[key], abs=TOLERANCE), key
    for k in ("1", "8", "64"):
        assert rebuilt["pass_at_k"][k] == pytest.approx(shipped["pass_at_k"][k], abs=TOLERANCE), f"pass@{k}"
    # the profile's targets
    assert abs(rebuilt["code_frequency"] - 0.65) <= 0.05
    assert rebuilt["acc_given_code"] >= rebuilt["acc_given_language"] + 0.10
    assert rebuilt["boxed_rate"] < 0.98
    assert rebuilt["pass_at_k"]["64"] >= rebuilt["pass_at_k"]["1"] + 0.20
    assert rebuilt["solved_under_5pct"] > 0 and rebuilt["solved_over_95pct"] > 0


@pytest.mark.slow
def test_rebuilt_qwen_math_like_v2_meets_its_targets(tmp_path: Path) -> None:
    """The v2 build from its seed: within 5 points of the shipped table, and the same default-template targets
    met and missed as the shipped table (the python-hint targets need the hint table, checked on the shipped
    files)."""
    profile = get_profile("qwen-math-like-v2")
    shipped = shipped_tables(profile.name)["organism"]
    config = StatsConfig(**{k: shipped["config"][k] for k in ("n", "problems", "rule", "seed")})

    rebuilt = measure(str(build_profile(profile, tmp_path / "rebuilt")), config).to_dict()

    for key in ("code_frequency", "acc_given_code", "acc_given_language", "code_majority_share"):
        assert rebuilt[key] == pytest.approx(shipped[key], abs=TOLERANCE), key
    for k in ("1", "8", "64"):
        assert rebuilt["pass_at_k"][k] == pytest.approx(shipped["pass_at_k"][k], abs=TOLERANCE), f"pass@{k}"
    checks = [(t.metric, met) for t, _, met in check_targets(profile, {"organism": rebuilt}) if met is not None]
    expected = [(t.metric, met) for t, _, met in check_targets(profile, {"organism": shipped}) if met is not None]
    assert len(checks) >= 8 and checks == expected
