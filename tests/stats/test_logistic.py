"""fit_logistic_recalibration against statsmodels' GLM and R's glm; the logit clip."""

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from scipy.special import expit, logit

from tacelearn.stats import (
    DEFAULT_LOGIT_EPSILON,
    check_logit_epsilon,
    clipped_logit,
    fit_logistic_recalibration,
)


def miscalibrated(seed, n=400, intercept=-0.4, slope=0.6):
    rng = np.random.default_rng(seed)
    p = rng.uniform(0.03, 0.97, n)
    return rng.random(n) < expit(intercept + slope * logit(p)), logit(p)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_offset_fit_matches_statsmodels(seed):
    y, lp = miscalibrated(seed)
    reference = sm.GLM(y.astype(float), np.ones((y.size, 1)), family=sm.families.Binomial(),
                       offset=lp).fit()
    fit = fit_logistic_recalibration(y, lp, slope=False)
    assert fit.coef == pytest.approx(reference.params, rel=1e-9)
    assert fit.covariance == pytest.approx(reference.cov_params(), rel=1e-6)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_slope_fit_matches_statsmodels(seed):
    y, lp = miscalibrated(seed)
    reference = sm.GLM(y.astype(float), sm.add_constant(lp), family=sm.families.Binomial()).fit()
    fit = fit_logistic_recalibration(y, lp, slope=True)
    assert fit.coef == pytest.approx(reference.params, rel=1e-9)
    assert fit.covariance == pytest.approx(reference.cov_params(), rel=1e-6)


def test_matches_r_glm():
    # R 4.2.2: p <- c(0.1, 0.2, 0.3, 0.4, 0.6, 0.7, 0.8, 0.9); y <- c(0, 0, 1, 0, 1, 0, 1, 1)
    #   g <- glm(y ~ qlogis(p), family = binomial); coef(g); sqrt(diag(vcov(g)))
    p = np.array([0.1, 0.2, 0.3, 0.4, 0.6, 0.7, 0.8, 0.9])
    fit = fit_logistic_recalibration([0, 0, 1, 0, 1, 0, 1, 1], logit(p), slope=True)
    assert fit.coef[0] == pytest.approx(0.0, abs=1e-12)
    assert fit.coef[1] == pytest.approx(1.073941455, rel=1e-8)
    # R's standard errors come from its last IRLS weights, one step before convergence.
    assert np.sqrt(np.diag(fit.covariance)) == pytest.approx([0.8624466360, 0.7645055864],
                                                              rel=1e-5)


def test_extreme_predictions_converge_by_step_halving():
    # Predictions near 0 and 1 with a true slope of 0.2: a full Newton step from slope 1
    # overshoots; the fit must still reach statsmodels' maximum.
    rng = np.random.default_rng(3)
    lp = rng.uniform(-15, 15, 300)
    y = rng.random(300) < expit(0.3 + 0.2 * lp)
    reference = sm.GLM(y.astype(float), sm.add_constant(lp), family=sm.families.Binomial()).fit()
    assert fit_logistic_recalibration(y, lp, slope=True).coef == pytest.approx(reference.params,
                                                                               rel=1e-8)


@pytest.mark.parametrize(("y", "expected_slope"), [
    ([0, 0, 0, 0, 1, 1, 1, 1], np.inf),
    ([1, 1, 1, 1, 0, 0, 0, 0], -np.inf),
])
def test_separated_outcomes_have_an_infinite_slope(y, expected_slope):
    lp = np.linspace(-2, 2, 8)
    fit = fit_logistic_recalibration(y, lp, slope=True)
    assert fit.coef[1] == expected_slope
    assert np.isnan(fit.coef[0])
    assert np.isnan(fit.covariance).all()


@pytest.mark.parametrize("slope", [False, True])
def test_one_class_gives_nan(slope):
    fit = fit_logistic_recalibration(np.zeros(8, dtype=bool), np.linspace(-2, 2, 8), slope=slope)
    assert np.isnan(fit.coef).all()
    assert np.isnan(fit.covariance).all()


def test_a_constant_linear_predictor_has_no_slope():
    fit = fit_logistic_recalibration([0, 1, 0, 1], np.zeros(4), slope=True)
    assert np.isnan(fit.coef).all()


@pytest.mark.parametrize(("is_case", "linear_predictor", "message"), [
    ([0, 1, 2], [0.1, 0.2, 0.3], "booleans"),
    ([0, 1, 1], [0.1, 0.2], "2 values but is_case has 3"),
    ([0, 1, 1], [0.1, np.inf, 0.3], r"position\(s\) \[1\]; clip"),
    ([[0, 1]], [0.1, 0.2], "one-dimensional"),
])
def test_bad_input_is_refused(is_case, linear_predictor, message):
    with pytest.raises(ValueError, match=message):
        fit_logistic_recalibration(is_case, linear_predictor, slope=True)


def test_clipped_logit_clips_and_counts():
    logits, n_clipped = clipped_logit([0.0, 1e-10, 0.25, 1.0])
    assert n_clipped == 3
    bound = np.log(DEFAULT_LOGIT_EPSILON / (1 - DEFAULT_LOGIT_EPSILON))
    # 1 - 1e-8 is not exact in binary: the upper bound agrees to about 1e-9.
    assert logits == pytest.approx([bound, bound, np.log(1 / 3), -bound], rel=1e-9)
    assert clipped_logit([0.25, 0.5], 0.0)[1] == 0


def test_check_logit_epsilon_refuses_certain_probabilities_by_name():
    probabilities = pd.Series([0.2, 0.0, 0.5, 1.0], index=["P1", "P2", "P3", "P4"])
    with pytest.raises(ValueError, match=r"exactly 0 or 1 at index label\(s\) \['P2', 'P4'\]"):
        check_logit_epsilon(None, probabilities.to_numpy(), probabilities)
    assert check_logit_epsilon(None, np.array([0.2, 0.7])) == 0.0
    assert check_logit_epsilon(1e-6) == 1e-6
    for bad in (-0.1, 0.5):
        with pytest.raises(ValueError, match=r"\[0, 0.5\)"):
            check_logit_epsilon(bad)
