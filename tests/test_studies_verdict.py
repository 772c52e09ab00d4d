"""The one verdict rule: reproduced only when the interval excludes 0 on the paper's side."""

import math

import pytest

from rlvr_lab.studies.verdict import NO_VERDICT, Claim, Finding, correct, findings_table, holm, verdict


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


def test_holm_adjusts_step_down_in_input_order() -> None:
    # sorted 0.01, 0.02, 0.03, 0.2 with m = 4: 0.04, 0.06, 0.06 (monotone), 0.2
    assert holm([0.03, 0.2, 0.01, 0.02]) == pytest.approx([0.06, 0.2, 0.04, 0.06])
    assert holm([0.5, 0.6]) == pytest.approx([1.0, 1.0])  # capped at 1
    adjusted = holm([math.nan, 0.01, 0.04])  # NaN is not a test: m = 2
    assert math.isnan(adjusted[0]) and adjusted[1:] == pytest.approx([0.02, 0.04])
    assert holm([]) == []
    with pytest.raises(ValueError, match="not in"):
        holm([1.2])


def _finding(claim: Claim, p: float, low: float = 0.01, high: float = 0.2) -> Finding:
    return Finding(claim, (low + high) / 2, low, high, "t over 5 seeds × 40 problems", p_value=p)


def test_secondary_comparisons_are_judged_on_their_holm_p() -> None:
    primary = Claim("P", "main", "Δ", role="primary")
    minor = [Claim("P", f"minor {i}", "Δ", role="secondary") for i in range(3)]
    pairs = zip(minor, (0.02, 0.03, 0.04), strict=True)
    found = correct([_finding(primary, 0.03), *(_finding(c, p) for c, p in pairs)])
    assert [f.verdict for f in found] == ["reproduced", "not significant", "not significant", "not significant"]
    assert [f.adjusted_p for f in found[1:]] == pytest.approx([0.06, 0.06, 0.06])
    assert found[0].role_text() == "primary (p = 0.03)" and found[1].role_text() == "secondary (Holm p = 0.06)"
    strong = correct([_finding(minor[0], 0.001), _finding(minor[1], 0.02)])
    assert [f.verdict for f in strong] == ["reproduced", "reproduced"]  # 0.002 and 0.02 < 0.05
    # a secondary comparison never corrected cannot be reproduced
    assert _finding(minor[0], 0.001).verdict == "not significant"
    # families are corrected apart; two primaries in one family are refused
    other = Claim("Q", "other", "Δ", role="secondary")
    assert correct([_finding(minor[0], 0.02), _finding(other, 0.02)])[0].adjusted_p == pytest.approx(0.02)
    with pytest.raises(ValueError, match="2 primary comparisons"):
        correct([_finding(primary, 0.01), _finding(Claim("P", "also main", "Δ"), 0.01)])


def test_a_test_that_does_not_reject_overrules_the_interval() -> None:
    # the boundary's bootstrap excludes 0 on 4 problems against 0, the exact sign test gives p = 0.125
    assert _finding(Claim("P", "c", "Δ"), 0.125).verdict == "not significant"
    assert _finding(Claim("P", "c", "Δ"), math.nan).verdict == "reproduced"  # no test: the interval decides


def test_evaluation_noise_only_gives_no_verdict() -> None:
    finding = Finding(Claim("P", "c", "Δ"), 0.1, 0.05, 0.15, "paired bootstrap over 40 problems", noise_only=True)
    assert finding.verdict == NO_VERDICT == "evaluation noise only: no verdict" and not finding.reproduced
    row = findings_table([finding]).rows[0]
    assert row[7] == NO_VERDICT and row[4] == "+0.100 [+0.050, +0.150]"


def test_holm_accepts_0_and_1_and_caps_each_adjusted_p_at_1() -> None:
    assert holm([0.0, 1.0]) == [0.0, 1.0]  # the closed interval [0, 1]: both ends are p-values
    assert holm([0.6, 0.7]) == [1.0, 1.0]  # 2 × 0.6 = 1.2 is capped at 1, and 0.7 then carries the running 1


def test_correct_gives_primary_findings_their_own_p_as_adjusted_p() -> None:
    primary, minor = Claim("P", "main", "Δ"), Claim("P", "minor", "Δ", role="secondary")
    found = correct([_finding(primary, 0.03), _finding(minor, 0.2)])
    assert found[0].adjusted_p == 0.03 and found[1].adjusted_p == 0.2


def test_the_findings_table_prints_each_findings_numbers_in_the_documented_columns() -> None:
    """Every cell written out by hand: the columns (the same in every study's table and in the demo's
    ``README_table.md``), p-values at two significant figures or ``< 0.001``, the MDE rounded to 3 places, empty
    (None) when unknown, and the note that states the rule."""
    strong = Finding(Claim("P", "c1", "Δ acc"), 0.1234, 0.01, 0.2, "t over 3 seeds", "s0 +0.1", 0.0004, mde=0.12345)
    edge = Finding(Claim("P", "c2", "Δ code", role="secondary"), 0.02, -0.01, 0.05, "bootstrap", p_value=0.001)
    quiet = Finding(Claim("Q", "c3", "Δ", direction=-1), -0.1, -0.2, -0.05, "bootstrap")
    table = findings_table(correct([strong, edge, quiet]))
    assert table.title == "Findings: what the organism reproduces"
    assert findings_table([], title="T").title == "T"
    assert table.columns == (
        "paper", "claim", "role", "effect", "observed", "interval", "MDE", "verdict", "per seed / per arm"
    )  # fmt: skip
    assert table.rows == (
        ("P", "c1", "primary (p = < 0.001)", "Δ acc", "+0.123 [+0.010, +0.200]", "t over 3 seeds", 0.123,
         "reproduced", "s0 +0.1"),
        ("P", "c2", "secondary (Holm p = 0.001)", "Δ code", "+0.020 [-0.010, +0.050]", "bootstrap", None,
         "not significant", ""),
        ("Q", "c3", "primary", "Δ", "-0.100 [-0.200, -0.050]", "bootstrap", None, "reproduced", ""),
    )  # fmt: skip
    assert table.note == (
        "effect [95% interval]; reproduced: the interval excludes 0 on the paper's side and p < 0.05 (Holm-adjusted "
        "within the claim family for secondary comparisons), opposite: the same on the other side, not significant: "
        "otherwise; evaluation noise only: no verdict where the interval ignores seed-to-seed variation; MDE: "
        "minimum detectable effect at 80% power (criteria in rlvr_lab/studies/findings.py, fixed before the runs)"
    )
    secondary = Finding(Claim("P", "c", "Δ", role="secondary"), 0.1, 0.05, 0.15, "b")
    assert secondary.role_text() == "secondary"  # never corrected: no Holm p to print
