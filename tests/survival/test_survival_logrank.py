"""Log-rank test against lifelines called directly and against the textbook formula."""

import numpy as np
import pytest
from lifelines.statistics import logrank_test as lifelines_logrank
from lifelines.statistics import multivariate_logrank_test
from scipy import stats

from tacelearn.survival import logrank_test

TIME = np.array([6, 7, 10, 15, 19, 25, 1, 3, 4, 5, 8, 9], dtype=float)
EVENT = np.array([1, 0, 1, 1, 0, 1, 1, 1, 1, 0, 1, 1])
GROUP = np.array(["high"] * 6 + ["low"] * 6)


def logrank_by_formula(time, event, groups):
    """k-sample log-rank: observed minus expected events and their hypergeometric covariance."""
    levels = sorted(set(groups))
    k = len(levels)
    observed_minus_expected = np.zeros(k)
    covariance = np.zeros((k, k))
    for t in np.unique(time[event == 1]):
        at_risk = np.array([np.sum((time >= t) & (groups == g)) for g in levels], dtype=float)
        deaths = np.array([np.sum((time == t) & (event == 1) & (groups == g)) for g in levels])
        n, d = at_risk.sum(), deaths.sum()
        observed_minus_expected += deaths - d * at_risk / n
        share = at_risk / n
        factor = d * (n - d) / (n - 1) if n > 1 else 0.0
        covariance += factor * (np.diag(share) - np.outer(share, share))
    u = observed_minus_expected[:-1]
    statistic = float(u @ np.linalg.solve(covariance[:-1, :-1], u))
    return statistic, stats.chi2.sf(statistic, k - 1)


def test_two_groups_match_formula_and_lifelines():
    result = logrank_test(TIME, EVENT, GROUP)
    statistic, pvalue = logrank_by_formula(TIME, EVENT, GROUP)
    assert result.statistic == pytest.approx(statistic, rel=1e-10)
    assert result.pvalue == pytest.approx(pvalue, rel=1e-10)
    high, low = GROUP == "high", GROUP == "low"
    direct = lifelines_logrank(TIME[high], TIME[low], EVENT[high], EVENT[low])
    assert result.statistic == pytest.approx(direct.test_statistic, rel=1e-12)
    assert result.pvalue == pytest.approx(direct.p_value, rel=1e-12)
    assert result.degrees_of_freedom == 1
    assert result.groups == ("high", "low")


def test_matches_r_survdiff():
    # R: survdiff(Surv(TIME, EVENT) ~ GROUP)$chisq -> 6.2644435276458665 (its P from chi2, 1 df)
    result = logrank_test(TIME, EVENT, GROUP)
    assert result.statistic == pytest.approx(6.2644435276458665, rel=1e-10)
    assert result.pvalue == pytest.approx(stats.chi2.sf(6.2644435276458665, 1), rel=1e-10)


def test_result_unpacks_like_scipy():
    statistic, pvalue = logrank_test(TIME, EVENT, GROUP)
    assert (statistic, pvalue) == (logrank_test(TIME, EVENT, GROUP).statistic,
                                   logrank_test(TIME, EVENT, GROUP).pvalue)


def test_three_groups_with_ties_match_formula_and_lifelines():
    rng = np.random.default_rng(3)
    groups = rng.choice(["a", "b", "c"], size=60)
    scale = np.select([groups == "a", groups == "b"], [5.0, 8.0], 12.0)
    time = np.ceil(rng.exponential(scale))  # whole months: tied event times
    event = (rng.random(60) < 0.75).astype(int)
    result = logrank_test(time, event, groups)
    statistic, pvalue = logrank_by_formula(time, event, groups)
    assert result.degrees_of_freedom == 2
    assert result.statistic == pytest.approx(statistic, rel=1e-9)
    assert result.pvalue == pytest.approx(pvalue, rel=1e-9)
    direct = multivariate_logrank_test(time, groups, event)
    assert result.statistic == pytest.approx(direct.test_statistic, rel=1e-12)


def test_one_group_or_no_event_is_refused():
    with pytest.raises(ValueError, match="at least two groups"):
        logrank_test(TIME, EVENT, ["x"] * 12)
    with pytest.raises(ValueError, match="no event"):
        logrank_test(TIME, np.zeros(12), GROUP)
