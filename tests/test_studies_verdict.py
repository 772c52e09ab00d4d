"""The one verdict rule: reproduced only when the interval excludes 0 on the paper's side."""

import math

import pytest

from rlvr_lab.studies.verdict import Claim, Finding, verdict


@pytest.mark.parametrize(
    ("low", "high", "direction", "expected"),
    [
        (0.01, 0.2, 1, "reproduced"),
        (-0.01, 0.2, 1, "not significant"),
        (-0.3, -0.02, 1, "opposite"),
        (-0.3, -0.02, -1, "reproduced"),
        (0.01, 0.2, -1, "opposite"),
        (0.0, 0.2, 1, "not significant"),
        (math.nan, 0.2, 1, "not significant"),
    ],
)
def test_verdict_table(low: float, high: float, direction: int, expected: str) -> None:
    assert verdict(low, high, direction) == expected


def test_verdict_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="direction"):
        verdict(0.1, 0.2, 0)
    with pytest.raises(ValueError, match="out of order"):
        verdict(0.3, 0.2)


def test_finding_reports_interval_and_verdict() -> None:
    claim = Claim("P", "c", "Δ acc", direction=-1)
    finding = Finding(claim, effect=-0.05, low=-0.08, high=-0.02, interval="paired over 5 seeds", detail="s0 -0.05")
    assert finding.reproduced
    assert finding.observed() == "-0.050 [-0.080, -0.020]"
    row = finding.as_dict()
    assert row["verdict"] == "reproduced" and row["direction"] == -1 and row["interval"] == "paired over 5 seeds"
