"""Calibration metrics and the loess calibration curve against statsmodels, R and hand formulas.

The smoother itself (R's loess) is tested in tests/stats/test_loess.py, the logistic
recalibration fit in tests/stats/test_logistic.py.
"""

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from scipy.special import expit, logit
from scipy.stats import norm
from sklearn.metrics import brier_score_loss

from tacelearn.metrics import (
    CALIBRATION_METRICS,
    brier_scores,
    calibration_metrics,
    loess_calibration_curve,
    loess_calibration_errors,
)

# A small data set whose R results are quoted below: distinct predictions, a miscalibrated
# outcome. (A score with 8 distinct values, where loess's k-d tree meets ties, is in
# tests/stats/test_loess.py.)
R_P = np.array([
    0.669, 0.226, 0.317, 0.787, 0.976, 0.157, 0.096, 0.194, 0.365, 0.183, 0.585, 0.612,
    0.121, 0.563, 0.024, 0.467, 0.957, 0.787, 0.593, 0.332, 0.218, 0.445, 0.287, 0.86,
    0.225, 0.283, 0.795, 0.278, 0.277, 0.088, 0.469, 0.274, 0.873, 0.295, 0.763, 0.488,
    0.469, 0.946, 0.882, 0.096, 0.255, 0.197, 0.889, 0.552, 0.377, 0.821, 0.355, 0.674,
    0.239, 0.043, 0.688, 0.343, 0.348, 0.285, 0.261, 0.567, 0.341, 0.429, 0.214, 0.505,
    0.582, 0.423, 0.407, 0.926, 0.066, 0.333, 0.518, 0.595, 0.061, 0.252, 0.072, 0.027,
    0.329, 0.411, 0.845, 0.033, 0.708, 0.459, 0.586, 0.161,
])
R_Y = np.array([
    0, 0, 1, 1, 1, 0, 1, 0, 1, 1, 1, 1, 0, 1, 0, 1, 0, 1, 1, 0, 1, 1, 1, 1, 0, 0, 1, 0, 1,
    0, 1, 1, 1, 1, 0, 0, 0, 1, 1, 1, 0, 0, 1, 1, 1, 0, 0, 1, 0, 0, 1, 0, 1, 1, 1, 1, 0, 0,
    1, 1, 1, 1, 1, 1, 0, 0, 1, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0,
])
# R 4.2.2, with p <- R_P, y <- R_Y:
#   summ <- function(p, y, surface) {
#     fit <- loess(y ~ p, control = loess.control(surface = surface))
#     e <- abs(predict(fit, newdata = p) - p)
#     c(ICI = mean(e), E50 = median(e), E90 = unname(quantile(e, 0.9)), Emax = max(e))
#   }
#   summ(p, y, "interpolate"); summ(p, y, "direct")   (Austin & Steyerberg)
R_LOESS_ERRORS = {
    "interpolate": (0.173380940894973, 0.194486591189537, 0.235037888796326, 0.241466324657858),
    "direct": (0.174062514584936, 0.196436906779232, 0.235037888796326, 0.240418722670494),
}
#   predict(loess(y ~ p), newdata = c(0.1, 0.3, 0.5, 0.7, 0.9))
R_CURVE = (0.271974788637161, 0.501968239525047, 0.713854067602231, 0.692592819261430,
           0.735084009319082)
#   g1 <- glm(y ~ 1, offset = qlogis(p), family = binomial); coef(g1); confint.default(g1)
R_INTERCEPT = (0.660111219407057, 0.144013588476892, 1.17620885033722)
#   g2 <- glm(y ~ qlogis(p), family = binomial); coef(g2)[2]; confint.default(g2)[2, ]
R_SLOPE = (0.474409731233318, 0.1243267402689275, 0.824492722197708)
#   rms 6.5.0: val.prob(p, y, pl = FALSE)[c("Slope", "Brier")]
R_VAL_PROB = {"Slope": 0.474409731228690, "Brier": 0.252117237500000}


def miscalibrated(seed, n=500, intercept=-0.4, slope=0.6):
    rng = np.random.default_rng(seed)
    p = rng.uniform(0.03, 0.97, n)
    y = rng.random(n) < expit(intercept + slope * logit(p))
    return y, p


def statsmodels_fits(y, p):
    """Calibration-in-the-large (offset GLM) and the slope GLM, fitted by statsmodels."""
    lp = logit(p)
    citl = sm.GLM(y.astype(float), np.ones((y.size, 1)), family=sm.families.Binomial(),
                  offset=lp).fit()
    slope = sm.GLM(y.astype(float), sm.add_constant(lp), family=sm.families.Binomial()).fit()
    return citl, slope


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_intercept_and_slope_match_statsmodels_glm(seed):
    y, p = miscalibrated(seed)
    citl, slope = statsmodels_fits(y, p)
    result = calibration_metrics(y, p, n_resamples=0)
    assert result.calibration_intercept == pytest.approx(citl.params[0], rel=1e-8)
    assert result.calibration_slope == pytest.approx(slope.params[1], rel=1e-8)
    # Wald intervals, as statsmodels' conf_int and R's confint.default.
    assert result.confidence_intervals["calibration_intercept"] == pytest.approx(
        tuple(citl.conf_int()[0]), rel=1e-7)
    assert result.confidence_intervals["calibration_slope"] == pytest.approx(
        tuple(slope.conf_int()[1]), rel=1e-7)


def test_intercept_and_slope_match_r_glm_and_val_prob():
    result = calibration_metrics(R_Y, R_P, n_resamples=0)
    assert result.calibration_intercept == pytest.approx(R_INTERCEPT[0], rel=1e-9)
    assert result.calibration_slope == pytest.approx(R_SLOPE[0], rel=1e-9)
    # R's glm takes the standard errors from the weights of its last IRLS step, one step
    # before convergence: they agree to about 1e-6.
    assert result.confidence_intervals["calibration_intercept"] == pytest.approx(
        R_INTERCEPT[1:], rel=1e-5)
    assert result.confidence_intervals["calibration_slope"] == pytest.approx(R_SLOPE[1:],
                                                                             rel=1e-5)
    assert result.calibration_slope == pytest.approx(R_VAL_PROB["Slope"], rel=1e-9)
    assert result.brier == pytest.approx(R_VAL_PROB["Brier"], rel=1e-12)


def test_brier_and_scaled_brier_match_hand_formulas():
    y, p = miscalibrated(3, n=300)
    result = calibration_metrics(y, p, n_resamples=0)
    brier = sum((pi - yi) ** 2 for pi, yi in zip(p, y)) / len(y)
    prevalence = sum(y) / len(y)
    brier_of_prevalence = sum((prevalence - yi) ** 2 for yi in y) / len(y)
    assert result.brier == pytest.approx(brier, rel=1e-12)
    assert result.scaled_brier == pytest.approx(1 - brier / brier_of_prevalence, rel=1e-12)
    scores = brier_scores(y, p)
    assert scores == (result.brier, result.scaled_brier)
    assert scores.brier == pytest.approx(brier_score_loss(y, p), rel=1e-12)
    named = brier_scores(np.where(y, "OR", "NOR"), p, pos_label="OR")
    assert named == scores


@pytest.mark.parametrize("surface", sorted(R_LOESS_ERRORS))
def test_loess_calibration_errors_match_r(surface):
    errors = loess_calibration_errors(R_Y, R_P, surface=surface)
    assert tuple(errors) == pytest.approx(R_LOESS_ERRORS[surface], rel=1e-9)
    assert errors._fields == ("ici", "e50", "e90", "emax")
    if surface == "interpolate":  # the default of calibration_metrics
        result = calibration_metrics(R_Y, R_P, n_resamples=0)
        assert (result.ici, result.e50, result.e90, result.emax) == pytest.approx(
            R_LOESS_ERRORS[surface], rel=1e-9)


def test_loess_curve_matches_r_predict():
    curve = loess_calibration_curve(R_Y, R_P, points=[0.1, 0.3, 0.5, 0.7, 0.9], n_resamples=0)
    assert curve["observed"].to_numpy() == pytest.approx(R_CURVE, rel=1e-9)
    assert curve[["low", "high"]].isna().all().all()


def test_well_calibrated_predictions_look_well_calibrated():
    rng = np.random.default_rng(6)
    p = rng.uniform(0.02, 0.98, 20000)
    y = rng.random(p.size) < p
    result = calibration_metrics(y, p, n_resamples=0)
    low, high = result.confidence_intervals["calibration_slope"]
    assert low < 1 < high
    low, high = result.confidence_intervals["calibration_intercept"]
    assert low < 0 < high
    assert result.ici < 0.01
    assert result.emax < 0.05


def test_overfitted_predictions_have_a_slope_below_one_and_a_larger_ici():
    y, p = miscalibrated(7, n=2000, intercept=0.0, slope=0.5)
    result = calibration_metrics(y, p, n_resamples=0)
    assert result.confidence_intervals["calibration_slope"].high < 0.7
    assert result.ici > 0.05


def test_bootstrap_interval_of_the_brier_score_agrees_with_the_normal_approximation():
    y, p = miscalibrated(8, n=1000)
    result = calibration_metrics(y, p, n_resamples=600, random_state=0)
    squared = (p - y) ** 2
    half_width = norm.ppf(0.975) * squared.std(ddof=1) / np.sqrt(y.size)
    low, high = result.confidence_intervals["brier"]
    assert low == pytest.approx(result.brier - half_width, abs=0.2 * half_width)
    assert high == pytest.approx(result.brier + half_width, abs=0.2 * half_width)


def test_bootstrap_intervals_are_reproducible_and_contain_the_estimates():
    y, p = miscalibrated(9, n=200)
    first = calibration_metrics(y, p, n_resamples=200, random_state=1)
    second = calibration_metrics(y, p, n_resamples=200, random_state=1)
    other = calibration_metrics(y, p, n_resamples=200, random_state=2)
    assert first.confidence_intervals == second.confidence_intervals
    assert first.confidence_intervals["ici"] != other.confidence_intervals["ici"]
    table = first.table
    assert list(table.index) == list(CALIBRATION_METRICS)
    assert (table["low"] <= table["estimate"]).all()
    assert (table["estimate"] <= table["high"]).all()
    assert table["ci_method"].tolist() == ["wald"] * 2 + ["bootstrap"] * 6


def test_probabilities_of_exactly_zero_or_one_are_clipped_and_counted():
    y, p = miscalibrated(10, n=200)
    p = p.copy()
    p[[3, 17]] = [0.0, 1.0]
    result = calibration_metrics(y, p, n_resamples=0, epsilon=1e-6)
    assert result.n_clipped == 2
    citl, slope = statsmodels_fits(y, np.clip(p, 1e-6, 1 - 1e-6))
    assert result.calibration_intercept == pytest.approx(citl.params[0], rel=1e-8)
    assert result.calibration_slope == pytest.approx(slope.params[1], rel=1e-8)


def test_probabilities_of_exactly_zero_or_one_can_be_refused():
    y, p = miscalibrated(11, n=50)
    p = pd.Series(p, index=[f"P{i:02d}" for i in range(50)])
    p.iloc[[4, 9]] = [0.0, 1.0]
    with pytest.raises(ValueError, match=r"exactly 0 or 1 at index label\(s\) \['P04', 'P09'\]"):
        calibration_metrics(y, p, epsilon=None)


def test_separating_predictions_have_an_infinite_slope():
    p = np.array([0.1, 0.2, 0.3, 0.4, 0.6, 0.7, 0.8, 0.9])
    y = p > 0.5
    result = calibration_metrics(y, p, n_resamples=0, span=1.0)
    assert result.calibration_slope == np.inf
    assert np.isnan(result.confidence_intervals["calibration_slope"]).all()
    assert np.isfinite(result.calibration_intercept)


def test_string_labels_need_pos_label():
    y, p = miscalibrated(12, n=100)
    labels = np.where(y, "OR", "NOR")
    with pytest.raises(ValueError, match="pos_label"):
        calibration_metrics(labels, p)
    named = calibration_metrics(labels, p, pos_label="OR", n_resamples=0)
    assert named.calibration_slope == calibration_metrics(y, p, n_resamples=0).calibration_slope


@pytest.mark.parametrize(("y", "p", "message"), [
    ([0, 1, 1], [0.2, 0.5], "3"),
    ([0, 1, 1, 0], [0.2, 0.5, 1.2, 0.4], r"\[0, 1\]"),
    ([1, 1, 1, 1], [0.2, 0.5, 0.6, 0.4], "one class"),
    ([0, 1, 1, 0], [0.2, np.nan, 0.6, 0.4], "NaN"),
])
@pytest.mark.parametrize("metric", [calibration_metrics, brier_scores,
                                    loess_calibration_errors])
def test_bad_input_is_refused(y, p, message, metric):
    with pytest.raises(ValueError, match=message):
        metric(y, p)


def test_too_few_neighbours_and_collapsed_neighbourhoods_are_refused():
    with pytest.raises(ValueError, match="at least 4"):
        loess_calibration_errors([0, 1, 0, 1], [0.2, 0.4, 0.6, 0.8])
    p = np.r_[np.full(40, 0.3), np.linspace(0.4, 0.9, 10)]
    y = np.arange(50) % 2
    with pytest.raises(ValueError, match="share one value"):
        loess_calibration_errors(y, p)


def test_tied_predictions_leave_the_loess_metrics_undefined_and_the_others_reported():
    # A model of a few binary factors: 40 of 50 patients share one prediction, so no loess
    # neighbourhood has width; the GLM quantities and the Brier score are still defined.
    p = np.r_[np.full(40, 0.3), np.linspace(0.4, 0.9, 10)]
    y = np.arange(50) % 2
    with pytest.warns(RuntimeWarning, match="ICI, E50, E90 and Emax are undefined"):
        result = calibration_metrics(y, p, n_resamples=20, random_state=0)
    assert np.isnan([result.ici, result.e50, result.e90, result.emax]).all()
    citl, slope = statsmodels_fits(y, p)
    assert result.calibration_intercept == pytest.approx(citl.params[0], rel=1e-8)
    assert result.calibration_slope == pytest.approx(slope.params[1], rel=1e-8)
    assert result.brier == pytest.approx(brier_score_loss(y, p))


def test_curve_band_covers_the_truth_and_is_nan_outside_the_data():
    rng = np.random.default_rng(13)
    p = rng.uniform(0.2, 0.8, 800)
    y = rng.random(800) < p
    curve = loess_calibration_curve(y, p, points=[0.1, 0.3, 0.5, 0.7, 0.9], n_resamples=300,
                                    random_state=0)
    inside = curve.iloc[1:4]
    assert ((inside["low"] < inside["predicted"]) & (inside["predicted"] < inside["high"])).all()
    assert ((inside["low"] <= inside["observed"]) & (inside["observed"] <= inside["high"])).all()
    assert curve.iloc[[0, 4]][["observed", "low", "high"]].isna().all().all()
    grid = loess_calibration_curve(y, p, points=11, n_resamples=0)
    assert grid["predicted"].to_numpy() == pytest.approx(np.linspace(p.min(), p.max(), 11))
