"""Cox hazard ratios against a hand-maximised partial likelihood and lifelines."""

import numpy as np
import pandas as pd
import pytest
from lifelines import CoxPHFitter
from scipy import optimize, stats

from tacelearn.survival import cox_hazard_ratio

# Distinct times: Breslow, Efron and the exact partial likelihood coincide.
TIME = np.array([6, 7, 10, 15, 19, 25, 1, 3, 4, 5, 8, 9], dtype=float)
EVENT = np.array([1, 0, 1, 1, 0, 1, 1, 1, 1, 0, 1, 1])
LOW = np.array([0] * 6 + [1] * 6)


def partial_likelihood_fit(time, event, x):
    """Root of the partial-likelihood score and the observed information, by hand."""

    def score(beta):
        total = 0.0
        for i in np.flatnonzero(event):
            risk = x[time >= time[i]]
            weights = np.exp(beta * risk)
            total += x[i] - np.sum(weights * risk) / np.sum(weights)
        return total

    beta = optimize.brentq(score, -10, 10, xtol=1e-12)
    information = 0.0
    for i in np.flatnonzero(event):
        risk = x[time >= time[i]]
        weights = np.exp(beta * risk) / np.sum(np.exp(beta * risk))
        information += np.sum(weights * risk**2) - np.sum(weights * risk) ** 2
    return beta, 1 / np.sqrt(information)


def test_single_covariate_matches_partial_likelihood():
    table = cox_hazard_ratio(TIME, EVENT, pd.Series(LOW, name="low_score"))
    beta, se = partial_likelihood_fit(TIME, EVENT, LOW)
    row = table.loc["low_score"]
    # lifelines stops Newton-Raphson once the log-likelihood settles: about 1e-4 from the root,
    # a thousandth of the standard error.
    assert row["coef"] == pytest.approx(beta, abs=1e-3)
    assert row["se"] == pytest.approx(se, rel=1e-3)
    assert row["hazard_ratio"] == pytest.approx(np.exp(beta), rel=1e-3)
    z = stats.norm.ppf(0.975)
    assert row["ci_lower"] == pytest.approx(np.exp(beta - z * se), rel=1e-3)
    assert row["ci_upper"] == pytest.approx(np.exp(beta + z * se), rel=1e-3)
    assert row["statistic"] == pytest.approx(beta / se, rel=1e-3)
    assert row["pvalue"] == pytest.approx(2 * stats.norm.sf(abs(beta / se)), rel=1e-3)


def test_multivariable_matches_lifelines_directly():
    rng = np.random.default_rng(0)
    n = 120
    covariates = pd.DataFrame({"score": rng.random(n), "pvi": rng.integers(0, 2, n)})
    hazard = np.exp(-1.5 * covariates["score"] + 0.7 * covariates["pvi"])
    time = np.round(rng.exponential(10 / hazard), 1)
    event = (rng.random(n) < 0.8).astype(int)
    table = cox_hazard_ratio(time, event, covariates, confidence_level=0.9)

    frame = covariates.assign(T=time, E=event)
    direct = CoxPHFitter(alpha=0.1).fit(frame, "T", "E")
    np.testing.assert_allclose(table["coef"], direct.params_[["score", "pvi"]], rtol=1e-10)
    np.testing.assert_allclose(table["hazard_ratio"], np.exp(direct.params_[["score", "pvi"]]),
                               rtol=1e-10)
    np.testing.assert_allclose(table[["ci_lower", "ci_upper"]],
                               np.exp(direct.confidence_intervals_.loc[["score", "pvi"]]),
                               rtol=1e-10)
    np.testing.assert_allclose(table["pvalue"], direct.summary.loc[["score", "pvi"], "p"],
                               rtol=1e-10)


def test_bad_covariates_are_named():
    with pytest.raises(ValueError, match="covariate 'pvi' is constant"):
        cox_hazard_ratio(TIME, EVENT, pd.DataFrame({"pvi": np.ones(12)}))
    with pytest.raises(ValueError, match=r"covariate 'x' is missing at index label\(s\) \[3\]"):
        cox_hazard_ratio(TIME, EVENT, pd.Series(np.where(np.arange(12) == 3, np.nan, 1.0) *
                                                np.arange(12), name="x"))
    with pytest.raises(TypeError, match="covariate 'bclc' must hold numbers"):
        cox_hazard_ratio(TIME, EVENT, pd.DataFrame({"bclc": ["A", "B"] * 6}))
    with pytest.raises(ValueError, match="differ in length"):
        cox_hazard_ratio(TIME, EVENT, LOW[:-1])
