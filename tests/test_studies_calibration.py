"""`rlvr study calibration`: the findings' intervals, simulated through their own functions, cover their true effect
and keep a null effect's "reproduced" rare; the old bootstrap over seeds and problems did not."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from rlvr_lab.cli import build_app
from rlvr_lab.studies.calibration import (
    NO_VERDICT,
    Design,
    Population,
    clipped_normal_mean,
    demo_designs,
    simulate,
    true_effect,
)

POP = Population()


def test_the_truth_is_exact() -> None:
    assert clipped_normal_mean(0.0, 0.58) == pytest.approx(0.0, abs=1e-15)  # a symmetric clip keeps the null 0
    assert clipped_normal_mean(0.3, 0.0) == 0.3 and clipped_normal_mean(2.0, 0.0) == 1.0
    assert clipped_normal_mean(5.0, 0.1) == pytest.approx(1.0, abs=1e-9)
    designs = {d.kind: d for d in demo_designs()}
    difficulties = POP.difficulties()
    for design in designs.values():
        assert true_effect(design, POP, difficulties, null=True) == pytest.approx(0.0, abs=1e-15)
    # the boundary's known effect is of the size the demo measured (pass@256 base − GT-RL = 0.025)
    assert 0.015 < true_effect(designs["large-k"], POP, difficulties, null=False) < 0.025


def test_five_seeds_reach_95_percent_where_the_old_bootstrap_did_not() -> None:
    design = Design("arm − base", "arm-vs-base", problems=120, samples=8, seeds=5)
    null = simulate(design, POP, null=True, sims=600, resamples=300)
    assert null.coverage >= 0.95 and null.verdicts["reproduced"] <= 0.03
    assert null.old_coverage is not None and null.old_coverage < 0.94  # percentile bootstrap: too narrow
    effect = simulate(design, POP, null=False, sims=300, resamples=300, old=False)
    assert effect.coverage >= 0.94 and effect.verdicts["reproduced"] > 0.3 and effect.verdicts["opposite"] == 0


def test_one_training_seed_gets_no_verdict() -> None:
    design = Design("one seed", "arm-vs-base", problems=120, samples=8, seeds=1, decides=False)
    rates = simulate(design, POP, null=False, sims=60, resamples=200)
    assert rates.verdicts[NO_VERDICT] == 1.0
    assert rates.coverage < 0.8  # evaluation noise only: the interval misses the training's spread


def test_sign_test_keeps_the_sparse_boundary_null_rare() -> None:
    design = Design("pass@64", "large-k", problems=120, samples=256, k=64, shift=0.7)
    rates = simulate(design, POP, null=True, sims=300, resamples=300)
    assert rates.verdicts["reproduced"] <= 0.03 and rates.coverage >= 0.94


@pytest.mark.slow
def test_every_design_of_the_demo_passes() -> None:
    result = CliRunner().invoke(build_app(), ["study", "calibration", "--json", "--sims", "1000"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert summary["passes"] and len(summary["designs"]) == 5
    for record in summary["designs"]:
        if record["design"]["decides"]:
            assert min(record["null"]["coverage"], record["effect"]["coverage"]) >= 0.94, record
            assert record["null"]["verdicts"]["reproduced"] <= 0.03, record
