"""Kaplan-Meier tables against R's survfit (survival 3.5.3) and the formulas written by hand."""

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from tacelearn.survival import CONF_TYPES, kaplan_meier

TIME = np.array([6, 7, 10, 15, 19, 25, 1, 3, 4, 5, 8, 9], dtype=float)
EVENT = np.array([1, 0, 1, 1, 0, 1, 1, 1, 1, 0, 1, 1])
GROUP = np.array(["high"] * 6 + ["low"] * 6)
# The issue's example: S = 5/6, 4/6, 1/2, 1/2, 1/4, 0.
ISSUE_TIME = [1, 3, 4, 5, 8, 9]
ISSUE_EVENT = [1, 1, 1, 0, 1, 1]


def hand_curve(time, event, conf_type, confidence_level=0.95):
    """Product limit, Greenwood and the three interval types of Klein & Moeschberger 4.3."""
    z = stats.norm.ppf(0.5 + confidence_level / 2)
    rows, survival, greenwood = [], 1.0, 0.0
    for t in np.unique(time):
        at_risk = np.sum(time >= t)
        deaths = np.sum((time == t) & (event == 1))
        survival *= 1 - deaths / at_risk
        if deaths:
            greenwood += deaths / (at_risk * (at_risk - deaths)) if at_risk > deaths else np.inf
        se = np.sqrt(greenwood)
        if not 0 < survival < 1:
            lower = upper = np.nan
        elif conf_type == "plain":
            half_width = z * se * survival
            lower, upper = max(survival - half_width, 0), min(survival + half_width, 1)
        elif conf_type == "log":
            lower, upper = survival * np.exp(-z * se), min(survival * np.exp(z * se), 1)
        else:
            theta = np.log(-np.log(survival))
            half_width = z * se / abs(np.log(survival))
            lower, upper = np.exp(-np.exp(theta + half_width)), np.exp(-np.exp(theta - half_width))
        rows.append((t, survival, lower, upper, at_risk, deaths))
    return pd.DataFrame(rows, columns=["time", "survival", "ci_lower", "ci_upper", "at_risk",
                                       "events"])


@pytest.mark.parametrize("conf_type", CONF_TYPES)
def test_curves_match_the_formulas(conf_type):
    result = kaplan_meier(TIME, EVENT, GROUP, conf_type=conf_type)
    for group in ("high", "low"):
        member = group == GROUP
        expected = hand_curve(TIME[member], EVENT[member], conf_type)
        curve = result.survival.query("group == @group").iloc[1:]  # row 0 is time 0
        np.testing.assert_allclose(curve["time"], expected["time"])
        np.testing.assert_allclose(curve["survival"], expected["survival"], atol=1e-15)
        np.testing.assert_array_equal(curve["at_risk"], expected["at_risk"])
        np.testing.assert_array_equal(curve["events"], expected["events"])
        inside = expected["survival"].between(0, 1, inclusive="neither").to_numpy()
        for bound in ("ci_lower", "ci_upper"):
            np.testing.assert_allclose(curve[bound].to_numpy()[inside],
                                       expected[bound][inside], rtol=1e-12)
    start = result.survival.query("time == 0")
    assert start["survival"].tolist() == [1.0, 1.0]
    assert start["at_risk"].tolist() == [6, 6]


# R: f <- survfit(Surv(c(1,3,4,5,8,9), c(1,1,1,0,1,1)) ~ 1, conf.type = ...);
# data.frame(f$lower, f$upper); quantile(f, 0.5)
R_ISSUE_BANDS = {
    "log": ([0.5826547954771396, 0.3786064608870951, 0.2246303477692667, 0.2246303477692667,
             0.0504587931389417, np.nan], [1, 1, 1, 1, 1, np.nan]),
    "log-log": ([0.273122849928356, 0.1946166368062349, 0.110948260351438, 0.110948260351438,
                 0.0123095164750105, np.nan],
                [0.974712426690894, 0.904434164322516, 0.803709236850057, 0.803709236850057,
                 0.645948537398101, np.nan]),
    "plain": ([0.5351343093804739, 0.2894714219746095, 0.0999240269703909, 0.0999240269703909,
               0.0, np.nan],
              [1, 1, 0.900075973029609, 0.900075973029609, 0.650075973029609, np.nan]),
}
# quantile(f, 0.5): median 6 (S = 0.5 over [4, 8): the midpoint), lower bound by type,
# upper bound NA.
R_ISSUE_MEDIAN = {"log": (6.0, 3.0), "log-log": (6.0, 1.0), "plain": (6.0, 3.0)}


@pytest.mark.parametrize("conf_type", CONF_TYPES)
def test_bands_and_median_are_rs_where_the_curve_reaches_zero(conf_type):
    result = kaplan_meier(ISSUE_TIME, ISSUE_EVENT, conf_type=conf_type)
    curve = result.survival.iloc[1:]
    lower, upper = R_ISSUE_BANDS[conf_type]
    # NA (not [0, 0]) where S = 0, as R gives.
    np.testing.assert_allclose(curve["ci_lower"], lower, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(curve["ci_upper"], upper, rtol=1e-12)
    summary = result.summary.loc["all"]
    assert (summary["median"], summary["median_ci_lower"]) == R_ISSUE_MEDIAN[conf_type]
    assert np.isnan(summary["median_ci_upper"])
    assert result.conf_type == conf_type


def test_group_medians_as_r():
    # R: quantile(survfit(Surv(TIME, EVENT) ~ GROUP), 0.5): high 15 (10-NA), low 6 (3-NA);
    # with conf.type = "log-log": high 15 (6-NA), low 6 (1-NA).
    summary = kaplan_meier(TIME, EVENT, GROUP).summary
    assert summary.index.tolist() == ["high", "low"]
    assert summary["n"].tolist() == [6, 6]
    assert summary["events"].tolist() == [4, 5]
    assert summary["median"].tolist() == [15.0, 6.0]
    assert summary["median_ci_lower"].tolist() == [10.0, 3.0]
    assert summary["median_ci_upper"].isna().all()
    log_log = kaplan_meier(TIME, EVENT, GROUP, conf_type="log-log").summary
    assert log_log["median_ci_lower"].tolist() == [6.0, 1.0]


def test_median_of_a_curve_ending_at_one_half():
    # R: quantile(survfit(Surv(c(1, 2, 3, 4), c(1, 1, 0, 0)) ~ 1), 0.5) -> 3 (1-NA): the
    # midpoint of reaching 0.5 (time 2) and the last time (4).
    summary = kaplan_meier([1.0, 2.0, 3.0, 4.0], [1, 1, 0, 0]).summary.loc["all"]
    assert (summary["median"], summary["median_ci_lower"]) == (3.0, 1.0)
    assert np.isnan(summary["median_ci_upper"])


def test_log_log_has_no_band_where_survival_is_one():
    # R: survfit(Surv(c(1, 2, 3, 5, 6), c(0, 1, 0, 1, 1)) ~ 1, conf.type = "log-log"): NA at
    # time 1 (S = 1); median 5 (2-NA).
    result = kaplan_meier([1, 2, 3, 5, 6], [0, 1, 0, 1, 1], conf_type="log-log")
    assert result.survival[["ci_lower", "ci_upper"]].iloc[:2].isna().all().all()
    np.testing.assert_allclose(result.survival["ci_lower"].iloc[2], 0.12794691759514587,
                               rtol=1e-12)
    summary = result.summary.loc["all"]
    assert (summary["median"], summary["median_ci_lower"]) == (5.0, 2.0)


def test_tied_times_with_censoring_as_r():
    # R: survfit(Surv(c(2,2,2,3,3,5,5,7,8,8), c(1,0,1,1,0,1,1,0,1,0)) ~ 1): S(8) =
    # 0.20571428571428571, lower 0.040760601411566309, upper 1; median 5 (3-NA).
    result = kaplan_meier([2, 2, 2, 3, 3, 5, 5, 7, 8, 8], [1, 0, 1, 1, 0, 1, 1, 0, 1, 0])
    last = result.survival.iloc[-1]
    assert last["survival"] == pytest.approx(0.20571428571428571, rel=1e-15)
    assert last["ci_lower"] == pytest.approx(0.040760601411566309, rel=1e-12)
    assert last["ci_upper"] == 1.0
    summary = result.summary.loc["all"]
    assert (summary["median"], summary["median_ci_lower"]) == (5.0, 3.0)


def test_median_not_reached_is_na():
    # R: quantile(survfit(Surv(c(1, 2, 3, 4), c(1, 0, 0, 0)) ~ 1), 0.5) -> NA (1-NA)
    summary = kaplan_meier([1.0, 2.0, 3.0, 4.0], [1, 0, 0, 0]).summary
    assert summary.index.tolist() == ["all"]
    assert summary.loc["all", ["median", "median_ci_upper"]].isna().all()
    assert summary.loc["all", "median_ci_lower"] == 1.0


def test_confidence_level_widens_intervals():
    narrow = kaplan_meier(TIME, EVENT, GROUP, confidence_level=0.8).survival
    wide = kaplan_meier(TIME, EVENT, GROUP, confidence_level=0.99).survival
    inside = narrow["survival"].between(0, 1, inclusive="neither")
    assert (wide.loc[inside, "ci_lower"] < narrow.loc[inside, "ci_lower"]).all()
    assert (wide.loc[inside, "ci_upper"] >= narrow.loc[inside, "ci_upper"]).all()
    with pytest.raises(ValueError, match="confidence_level"):
        kaplan_meier(TIME, EVENT, GROUP, confidence_level=95)
    with pytest.raises(ValueError, match="conf_type"):
        kaplan_meier(TIME, EVENT, GROUP, conf_type="arcsine")


def test_categorical_groups_keep_their_order():
    groups = pd.Series(pd.Categorical(GROUP, categories=["low", "high"]))
    result = kaplan_meier(TIME, EVENT, groups)
    assert result.summary.index.tolist() == ["low", "high"]
    assert result.survival["group"].unique().tolist() == ["low", "high"]
