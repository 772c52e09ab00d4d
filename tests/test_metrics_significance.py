"""The sign test, Student's t and the minimum detectable effect against values computed by hand or tabulated."""

from __future__ import annotations

import math

import numpy as np
import pytest

from rlvr_lab.metrics.significance import minimum_detectable_effect, sign_test, signs, t_cdf, t_quantile


def test_sign_test_is_the_exact_binomial() -> None:
    assert sign_test(4, 0) == pytest.approx(2 / 16)  # the boundary finding's 4 against 0: p = 0.125, not < 0.05
    assert sign_test(0, 3) == pytest.approx(2 / 8)
    assert sign_test(6, 0) == pytest.approx(2 / 64)  # six problems all one way: the fewest that reach 5%
    assert sign_test(10, 3) == pytest.approx(2 * (1 + 13 + 78 + 286) / 2**13)
    assert sign_test(5, 5) == 1.0 and sign_test(0, 0) == 1.0
    with pytest.raises(ValueError, match=">= 0"):
        sign_test(-1, 2)


def test_signs_leave_ties_out() -> None:
    assert signs(np.array([0.5, 0.0, -0.25, 1.0, 0.0])) == (2, 1)


@pytest.mark.parametrize(
    ("df", "expected"),
    [(1, 12.7062047), (2, 4.3026527), (4, 2.7764451), (10, 2.2281389), (119, 1.9800999), (math.inf, 1.9599640)],
)
def test_t_quantiles_match_the_tables(df: float, expected: float) -> None:
    assert t_quantile(0.975, df) == pytest.approx(expected, abs=2e-6)
    assert t_quantile(0.025, df) == pytest.approx(-expected, abs=2e-6)


def test_t_cdf_of_one_df_is_the_cauchy() -> None:
    for t in (-30.0, -1.0, 0.3, 5.0):
        assert t_cdf(t, 1) == pytest.approx(0.5 + math.atan(t) / math.pi, abs=1e-7)


def test_minimum_detectable_effect_is_2_8_standard_errors() -> None:
    assert minimum_detectable_effect(0.01) == pytest.approx(0.01 * (1.959964 + 0.841621), abs=1e-6)
    assert minimum_detectable_effect(0.01, df=4) == pytest.approx(0.01 * (2.776445 + 0.940965), abs=1e-5)
    assert math.isnan(minimum_detectable_effect(math.nan))


def test_far_tails_of_few_degrees_of_freedom() -> None:
    # the p-value of two seeds inverts the t interval at levels down to 1e-6: one degree of freedom, t near 6e5
    assert t_quantile(1 - 5e-7, 1) == pytest.approx(math.tan(math.pi * (0.5 - 5e-7)), rel=1e-6)
    assert t_quantile(1 - 5e-7, 2) == pytest.approx(999.99925, rel=1e-5)  # closed form for 2 df
    assert t_cdf(6.4e5, 1) == pytest.approx(0.5 + math.atan(6.4e5) / math.pi, abs=1e-12)
    with pytest.raises(ValueError, match=">= 1"):
        t_cdf(1.0, 0.5)
