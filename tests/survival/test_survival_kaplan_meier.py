"""Kaplan-Meier tables against the product-limit and exponential Greenwood formulas."""

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from tacelearn.survival import kaplan_meier

TIME = np.array([6, 7, 10, 15, 19, 25, 1, 3, 4, 5, 8, 9], dtype=float)
EVENT = np.array([1, 0, 1, 1, 0, 1, 1, 1, 1, 0, 1, 1])
GROUP = np.array(["high"] * 6 + ["low"] * 6)


def product_limit(time, event, confidence_level=0.95):
    """S(t), its log-log interval and the at-risk counts at every distinct time, by hand."""
    z = stats.norm.ppf(0.5 + confidence_level / 2)
    rows, survival, greenwood = [], 1.0, 0.0
    for t in np.unique(time):
        at_risk = np.sum(time >= t)
        deaths = np.sum((time == t) & (event == 1))
        survival *= 1 - deaths / at_risk
        if deaths and at_risk > deaths:
            greenwood += deaths / (at_risk * (at_risk - deaths))
        if 0 < survival < 1:
            theta = np.log(-np.log(survival))
            half_width = z * np.sqrt(greenwood) / abs(np.log(survival))
            lower, upper = np.exp(-np.exp(theta + half_width)), np.exp(-np.exp(theta - half_width))
        else:
            lower = upper = np.nan
        rows.append((t, survival, lower, upper, at_risk, deaths))
    return pd.DataFrame(rows, columns=["time", "survival", "ci_lower", "ci_upper", "at_risk",
                                       "events"])


def test_curves_match_product_limit_formula():
    result = kaplan_meier(TIME, EVENT, GROUP)
    for group in ("high", "low"):
        member = group == GROUP
        expected = product_limit(TIME[member], EVENT[member])
        curve = result.survival.query("group == @group").iloc[1:]  # row 0 is time 0
        np.testing.assert_allclose(curve["time"], expected["time"])
        np.testing.assert_allclose(curve["survival"], expected["survival"], atol=1e-12)
        np.testing.assert_array_equal(curve["at_risk"], expected["at_risk"])
        np.testing.assert_array_equal(curve["events"], expected["events"])
        inside = expected["survival"].between(0, 1, inclusive="neither").to_numpy()
        np.testing.assert_allclose(curve["ci_lower"].to_numpy()[inside],
                                   expected["ci_lower"][inside], rtol=1e-9)
        np.testing.assert_allclose(curve["ci_upper"].to_numpy()[inside],
                                   expected["ci_upper"][inside], rtol=1e-9)
    start = result.survival.query("time == 0")
    assert start["survival"].tolist() == [1.0, 1.0]
    assert start["at_risk"].tolist() == [6, 6]


def test_summary_counts_and_medians_by_hand():
    summary = kaplan_meier(TIME, EVENT, GROUP).summary
    assert summary.index.tolist() == ["high", "low"]
    assert summary["n"].tolist() == [6, 6]
    assert summary["events"].tolist() == [4, 5]
    # high: S = 1, 5/6, 5/6 * 3/4 = 0.625, 0.625 * 2/3 = 0.417 at t = 15 -> median 15.
    # low: S(4) = 5/6 * 4/5 * 3/4 = 0.5 exactly -> median 4 (first time S <= 0.5).
    assert summary["median"].tolist() == [15.0, 4.0]


def test_median_interval_is_where_the_bounds_cross_one_half():
    result = kaplan_meier(TIME, EVENT, GROUP)
    for group in ("high", "low"):
        curve = result.survival.query("group == @group")
        expected_lower = curve.loc[curve["ci_lower"].round(12) <= 0.5, "time"].min()
        expected_upper = curve.loc[curve["ci_upper"].round(12) <= 0.5, "time"].min()
        assert result.summary.loc[group, "median_ci_lower"] == expected_lower
        assert result.summary.loc[group, "median_ci_upper"] == expected_upper


def test_median_not_reached_is_infinite():
    summary = kaplan_meier([1.0, 2.0, 3.0, 4.0], [1, 0, 0, 0]).summary
    assert summary.index.tolist() == ["all"]
    assert np.isinf(summary.loc["all", "median"])


def test_confidence_level_widens_intervals():
    narrow = kaplan_meier(TIME, EVENT, GROUP, confidence_level=0.8).survival
    wide = kaplan_meier(TIME, EVENT, GROUP, confidence_level=0.99).survival
    inside = narrow["survival"].between(0, 1, inclusive="neither")
    assert (wide.loc[inside, "ci_lower"] < narrow.loc[inside, "ci_lower"]).all()
    assert (wide.loc[inside, "ci_upper"] > narrow.loc[inside, "ci_upper"]).all()
    with pytest.raises(ValueError, match="confidence_level"):
        kaplan_meier(TIME, EVENT, GROUP, confidence_level=95)


def test_categorical_groups_keep_their_order():
    groups = pd.Series(pd.Categorical(GROUP, categories=["low", "high"]))
    result = kaplan_meier(TIME, EVENT, groups)
    assert result.summary.index.tolist() == ["low", "high"]
    assert list(result.fitters) == ["low", "high"]
