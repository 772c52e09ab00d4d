"""The strategy-switch table and the partial contribution score on hand-made problems."""

from __future__ import annotations

import math

import numpy as np
import pytest

from rlvr_lab.analysis.switches import GROUPS, code_shares, majority_code, strategy_switches


def test_one_sample_per_problem_matches_the_paper_definition() -> None:
    # 8 problems, one response each (shares and accuracies are 0/1), as in the paper.
    code_before = [1, 1, 1, 0, 0, 0, 0, 0]
    code_after = [1, 1, 0, 1, 1, 1, 0, 0]
    acc_before = [1, 0, 0, 0, 0, 1, 0, 1]
    acc_after = [1, 1, 1, 1, 1, 1, 0, 0]
    table = strategy_switches(code_before, acc_before, code_after, acc_after)
    got = {g.name: (g.problems, g.net_gain, g.contribution) for g in table.groups}
    # Net gain over all problems: +1 (C->C) +1 (C->L) +2 (L->C) -1 (L->L) = 3.
    assert got == {
        "Code→Code": (2, 1.0, pytest.approx(1 / 3)),
        "Code→Lang": (1, 1.0, pytest.approx(1 / 3)),
        "Lang→Code": (3, 2.0, pytest.approx(2 / 3)),
        "Lang→Lang": (2, -1.0, pytest.approx(-1 / 3)),
    }
    assert sum(g.contribution for g in table.groups) == pytest.approx(1.0)
    assert table.acc_before == 3 / 8 and table.acc_after == 6 / 8 and table.problems == 8
    lang_code = table.as_dict()["groups"]["Lang→Code"]
    assert (lang_code["acc_before"], lang_code["acc_after"]) == (pytest.approx(1 / 3), 1.0)


def test_many_samples_use_majority_labels_and_accuracies() -> None:
    # Shares 0.5 count as language (code needs a strict majority).
    assert majority_code([0.5, 0.51, 0.0, 1.0]).tolist() == [False, True, False, True]
    table = strategy_switches([0.75, 0.5], [0.25, 0.5], [0.5, 0.75], [0.75, 0.5])
    rows = {g.name: g for g in table.groups}
    assert rows["Code→Lang"].net_gain == pytest.approx(0.5) and rows["Code→Lang"].contribution == 1.0
    assert rows["Lang→Code"].net_gain == 0.0 and rows["Lang→Code"].contribution == 0.0
    assert rows["Code→Code"].problems == 0 and math.isnan(rows["Code→Code"].acc_before)


def test_zero_total_change_leaves_contributions_undefined() -> None:
    # +0.1 and -0.1 cancel (their float sum is not exactly 0).
    table = strategy_switches([1, 0], [0.2, 0.7], [1, 1], [0.3, 0.6])
    assert all(math.isnan(g.contribution) for g in table.groups)
    assert [g.name for g in table.groups] == list(GROUPS)


def test_code_shares_from_responses_and_bad_inputs() -> None:
    responses = [["Let me use Python.", "By hand: 2 + 2 = 4."], ["```python\nprint(4)\n```"]]
    np.testing.assert_array_equal(code_shares(responses), [0.5, 1.0])
    np.testing.assert_array_equal(code_shares(responses, rule="fenced_python"), [0.0, 1.0])
    with pytest.raises(ValueError, match="problem 1 has no responses"):
        code_shares([["x"], []])
    with pytest.raises(ValueError, match="same problems"):
        strategy_switches([1], [1], [1, 0], [1])
    with pytest.raises(ValueError, match="accuracies"):
        strategy_switches([1], [1.5], [1], [1])
