"""Cox regression against R's coxph (survival 3.5.3) and a hand-maximised partial likelihood."""

import numpy as np
import pandas as pd
import pytest
from scipy import optimize, stats

from tacelearn.survival import cox_hazard_ratio, cox_regression

# Distinct times: Breslow, Efron and the exact partial likelihood coincide.
TIME = np.array([6, 7, 10, 15, 19, 25, 1, 3, 4, 5, 8, 9], dtype=float)
EVENT = np.array([1, 0, 1, 1, 0, 1, 1, 1, 1, 0, 1, 1])
LOW = np.array([0] * 6 + [1] * 6)
# Tied times, two covariates.
TIED_TIME = [3, 5, 5, 2, 8, 8, 8, 1, 4, 4, 6, 7, 7, 7, 2, 3, 9, 9, 1, 5, 6, 6, 2, 4, 8, 3, 3,
             5, 7, 1, 2, 2, 6, 9, 4, 4, 5, 8, 1, 7]
TIED_EVENT = [1, 1, 0, 1, 1, 1, 0, 1, 1, 1, 0, 1, 1, 1, 1, 0, 1, 1, 1, 1, 1, 0, 1, 1, 1, 1, 1,
              0, 1, 1, 0, 1, 1, 1, 1, 1, 0, 1, 1, 1]
TIED_COVARIATES = pd.DataFrame({
    "a": [0, 1, 1, 0, 1, 0, 1, 1, 0, 0, 1, 0, 1, 1, 0, 1, 0, 1, 1, 0, 0, 1, 1, 0, 1, 0, 0, 1,
          1, 0, 1, 0, 0, 1, 0, 1, 1, 0, 1, 0],
    "b": [2.1, 0.5, 1.3, 3.3, 0.2, 1.1, 2.2, 0.7, 1.8, 2.9, 0.4, 1.5, 0.9, 2.4, 3.1, 0.3, 1.2,
          0.8, 2.6, 1.9, 0.6, 1.4, 2.8, 0.1, 1.7, 2.0, 3.0, 0.9, 1.6, 2.3, 0.2, 2.7, 1.0, 0.5,
          2.5, 1.3, 0.8, 1.1, 3.2, 0.4]})


def partial_likelihood_fit(time, event, x):
    """Root of the partial-likelihood score and the observed information, by hand."""

    def score(beta):
        total = 0.0
        for i in np.flatnonzero(event):
            risk = x[time >= time[i]]
            weights = np.exp(beta * risk)
            total += x[i] - np.sum(weights * risk) / np.sum(weights)
        return total

    beta = optimize.brentq(score, -10, 10, xtol=1e-14)
    information = 0.0
    for i in np.flatnonzero(event):
        risk = x[time >= time[i]]
        weights = np.exp(beta * risk) / np.sum(np.exp(beta * risk))
        information += np.sum(weights * risk**2) - np.sum(weights * risk) ** 2
    return beta, 1 / np.sqrt(information)


def test_single_covariate_matches_r_and_the_partial_likelihood():
    table = cox_hazard_ratio(TIME, EVENT, pd.Series(LOW, name="low_score"))
    row = table.loc["low_score"]
    beta, se = partial_likelihood_fit(TIME, EVENT, LOW)
    assert row["coef"] == pytest.approx(beta, rel=1e-10)
    assert row["se"] == pytest.approx(se, rel=1e-10)
    # R: summary(coxph(Surv(TIME, EVENT) ~ LOW)): coef 2.3169764626563127, se
    # 1.1145595358241165, HR 10.144954239848438 (1.1416560843439798-90.14982527576062),
    # Wald p 0.037633253753816168; lifelines' default stopping gave 10.1427 (1.1416-90.1168).
    assert row["coef"] == pytest.approx(2.3169764626563127, rel=1e-10)
    assert row["se"] == pytest.approx(1.1145595358241165, rel=1e-10)
    assert row["hazard_ratio"] == pytest.approx(10.144954239848438, rel=1e-10)
    assert row["ci_lower"] == pytest.approx(1.1416560843439798, rel=1e-10)
    assert row["ci_upper"] == pytest.approx(90.14982527576062, rel=1e-10)
    assert row["statistic"] == pytest.approx(2.0788270058118674, rel=1e-10)
    assert row["pvalue"] == pytest.approx(0.037633253753816168, rel=1e-9)
    # R: s$logtest -> 6.120358975244194255, p 0.013363366059477376
    assert row["lr_statistic"] == pytest.approx(6.120358975244194255, rel=1e-10)
    assert row["lr_pvalue"] == pytest.approx(0.013363366059477376, rel=1e-9)
    assert not row["infinite"]


def test_global_tests_match_r():
    result = cox_regression(TIME, EVENT, LOW)
    # R: fit$loglik -> -15.150932588710408 -12.090753101088310; fit$wald.test ->
    # 4.3215217200927336; fit$score -> 6.2644435276458665 (p 0.012318485402018501)
    assert result.log_likelihood == pytest.approx((-15.150932588710408, -12.090753101088310),
                                                  rel=1e-12)
    assert result.likelihood_ratio.pvalue == pytest.approx(0.013363366059477376, rel=1e-9)
    assert result.wald.statistic == pytest.approx(4.3215217200927336, rel=1e-9)
    assert result.score.statistic == pytest.approx(6.2644435276458665, rel=1e-12)
    assert result.score.pvalue == pytest.approx(0.012318485402018501, rel=1e-12)
    statistic, pvalue = result.likelihood_ratio  # unpacks like scipy's results
    assert result.likelihood_ratio.degrees_of_freedom == 1
    assert (result.n_patients, result.n_events, result.ties) == (12, 9, "efron")
    assert not result.monotone


# R: coxph(Surv(TIED_TIME, TIED_EVENT) ~ a + b, ties = ...): coefficients, se, wald.test,
# score, logtest and drop1(fit, test = "Chisq"). Breslow with coxph.control(eps = 1e-13):
# R's default stopping (eps = 1e-9) leaves its Breslow fit 3.5e-9 from the maximum.
R_TIED = {
    "efron": {"coef": [-0.62099211187412895, 0.88664948980855929],
              "se": [0.37342863183601888, 0.25637246809418035],
              "wald": 15.194232920841632, "score": 16.93568833076769,
              "lr": 16.750983402300221, "drop1": [2.81342812114121, 12.35502017946902]},
    "breslow": {"coef": [-0.55944299040031509, 0.80484621993699756],
                "se": [0.37190404044820996, 0.25101684765848215],
                "wald": 13.236565550710525, "score": 14.567641507853304,
                "lr": 14.412391061273922, "drop1": [2.30078963470538, 10.61876042511878]},
}


@pytest.mark.parametrize("ties", ["efron", "breslow"])
def test_tied_times_match_r_for_both_methods(ties):
    result = cox_regression(TIED_TIME, TIED_EVENT, TIED_COVARIATES, ties=ties)
    expected = R_TIED[ties]
    np.testing.assert_allclose(result.table["coef"], expected["coef"], rtol=1e-10)
    np.testing.assert_allclose(result.table["se"], expected["se"], rtol=1e-10)
    np.testing.assert_allclose(result.table["lr_statistic"], expected["drop1"], rtol=1e-10)
    assert result.wald.statistic == pytest.approx(expected["wald"], rel=1e-10)
    assert result.score.statistic == pytest.approx(expected["score"], rel=1e-12)
    assert result.likelihood_ratio.statistic == pytest.approx(expected["lr"], rel=1e-10)
    assert result.likelihood_ratio.degrees_of_freedom == 2
    z = stats.norm.ppf(0.975)
    np.testing.assert_allclose(result.table["ci_upper"],
                               np.exp(np.array(expected["coef"]) + z * np.array(expected["se"])),
                               rtol=1e-10)


def test_breslow_and_efron_differ_on_tied_data():
    efron = cox_hazard_ratio(TIED_TIME, TIED_EVENT, TIED_COVARIATES)
    breslow = cox_hazard_ratio(TIED_TIME, TIED_EVENT, TIED_COVARIATES, ties="breslow")
    assert abs(efron.loc["b", "coef"] - breslow.loc["b", "coef"]) > 0.05


def test_monotone_likelihood_is_flagged_with_the_likelihood_ratio_test():
    # Every event in the exposed group. R: summary(coxph(Surv(1:8, x) ~ x)) with
    # x = c(0,1,1,1,1,0,0,0): coef 21.7 ("Ran out of iterations"), Wald p 0.99917, LR
    # 7.1106961183435810625 (p 0.0076625348144819987), score 5.628685214890204236.
    # R's LR is taken at its last iterate, 21.7, short of the supremum by about 1e-9.
    x = [0, 1, 1, 1, 1, 0, 0, 0]
    result = cox_regression(np.arange(1, 9), x, pd.Series(x, name="exposed"))
    row = result.table.loc["exposed"]
    assert result.monotone
    assert row["infinite"]
    assert (row["coef"], row["hazard_ratio"]) == (np.inf, np.inf)
    assert row[["se", "ci_lower", "ci_upper", "statistic", "pvalue"]].isna().all()
    assert np.isnan(result.wald.pvalue)
    assert row["lr_statistic"] == pytest.approx(7.1106961183435810625, rel=1e-8)
    assert row["lr_pvalue"] == pytest.approx(0.0076625348144819987, rel=1e-8)
    assert result.likelihood_ratio.pvalue == pytest.approx(0.0076625348144819987, rel=1e-8)
    assert result.score.statistic == pytest.approx(5.628685214890204236, rel=1e-12)
    reversed_ = cox_hazard_ratio(np.arange(1, 9), x, 1 - np.array(x))
    assert (reversed_["coef"].iloc[0], reversed_["hazard_ratio"].iloc[0]) == (-np.inf, 0.0)


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
    with pytest.raises(ValueError, match="collinear"):
        cox_hazard_ratio(TIME, EVENT, pd.DataFrame({"low": LOW, "twice": 2 * LOW}))
    with pytest.raises(ValueError, match="ties"):
        cox_hazard_ratio(TIME, EVENT, LOW, ties="exact")
