"""Random-effects pooling against the textbook formulas and R's metafor on the BCG trials."""

import numpy as np
import pandas as pd
import pytest
from scipy import optimize, stats
from scipy.special import expit, logit

from tacelearn.validation import pool_random_effects

# The BCG vaccine trials (Colditz et al., JAMA 1994;271:698-702), as in metafor's dat.bcg:
# tuberculosis cases and non-cases among vaccinated (tpos, tneg) and control (cpos, cneg).
TPOS = np.array([4, 6, 3, 62, 33, 180, 8, 505, 29, 17, 186, 5, 27])
TNEG = np.array([119, 300, 228, 13536, 5036, 1361, 2537, 87886, 7470, 1699, 50448, 2493, 16886])
CPOS = np.array([11, 29, 11, 248, 47, 372, 10, 499, 45, 65, 141, 3, 29])
CNEG = np.array([128, 274, 209, 12619, 5761, 1079, 619, 87892, 7232, 1600, 27197, 2338, 17825])
# Log risk ratios and their variances, as metafor's escalc(measure = "RR").
LOG_RR = np.log(TPOS / (TPOS + TNEG)) - np.log(CPOS / (CPOS + CNEG))
VARIANCE = 1 / TPOS - 1 / (TPOS + TNEG) + 1 / CPOS - 1 / (CPOS + CNEG)

# Published: metafor's own test of rma(yi, vi, method = "DL") against Stata's metan on dat.bcg
# (tests/testthat/test_misc_metan_vs_rma.uni_with_dat.bcg.r): estimate -0.7141, CI -1.0644 to
# -0.3638, z -3.9952, tau^2 0.3088, I^2 92.1173%; Q = 152.2330.
# R 4.2.2, metafor 3.8.1 (full digits):
#   dat <- escalc(measure = "RR", ai = tpos, bi = tneg, ci = cpos, di = cneg, data = dat.bcg)
#   res <- rma(yi, vi, data = dat, method = m)
#   c(res$beta, res$se, res$ci.lb, res$ci.ub, res$tau2, res$I2, res$QE, res$zval)
#   half <- qt(0.975, res$k - 2) * sqrt(res$tau2 + res$se^2); res$beta + c(-1, 1) * half
METAFOR = {
    "DL": {"estimate": -0.714117222073, "se": 0.178742089535, "ci": (-1.06444528008,
                                                                     -0.363789164062),
           "tau2": 0.308760262862, "i2": 0.921173468546, "q": 152.233008082,
           "z": -3.99523818889, "pi": (-1.998838495752, 0.570604051606)},
    "REML": {"estimate": -0.714532348365, "se": 0.179781531780, "ci": (-1.06689767574,
                                                                       -0.362167020990),
             "tau2": 0.313243325981, "i2": 0.922213860750, "q": 152.233008082,
             "z": -3.97444799412, "pi": (-2.00837605069, 0.57931135396)},
}
# Four centres' AUCs and DeLong variances, pooled on the logit scale in R:
#   auc <- c(0.71, 0.78, 0.64, 0.83); v <- c(0.0021, 0.0017, 0.0040, 0.0012)
#   res <- rma(qlogis(auc), v / (auc * (1 - auc))^2, method = m)
#   plogis(c(res$beta, res$ci.lb, res$ci.ub)); res$tau2; res$I2; plogis(res$beta +/- half)
AUC = np.array([0.71, 0.78, 0.64, 0.83])
AUC_VARIANCE = np.array([0.0021, 0.0017, 0.0040, 0.0012])
METAFOR_AUC = {
    "DL": (0.748021100898, 0.662652764585, 0.817728542649, 0.117317516886, 0.66237838169796,
           0.344763174493, 0.943657315606),
    "REML": (0.747989614522, 0.661424497249, 0.818495710555, 0.121912599068, 0.67091612653308,
             0.337874187734, 0.945247283003),
}


def test_dersimonian_laird_matches_the_published_bcg_meta_analysis():
    result = pool_random_effects(LOG_RR, VARIANCE, method="DL")
    assert result.estimate == pytest.approx(-0.7141, abs=5e-5)
    assert result.confidence_interval == pytest.approx((-1.0644, -0.3638), abs=5e-5)
    assert result.statistic == pytest.approx(-3.9952, abs=5e-5)
    assert result.tau2 == pytest.approx(0.3088, abs=5e-5)
    assert 100 * result.i2 == pytest.approx(92.1173, abs=5e-5)
    assert result.q == pytest.approx(152.2330, abs=5e-5)


def test_dersimonian_laird_matches_the_textbook_formulas():
    y, v = LOG_RR, VARIANCE
    w = 1 / v
    fixed = np.sum(w * y) / np.sum(w)
    q = np.sum(w * (y - fixed) ** 2)
    k = y.size
    tau2 = max(0.0, (q - (k - 1)) / (np.sum(w) - np.sum(w**2) / np.sum(w)))
    w_star = 1 / (v + tau2)
    pooled = np.sum(w_star * y) / np.sum(w_star)
    se = np.sqrt(1 / np.sum(w_star))
    half = stats.t.ppf(0.975, k - 2) * np.sqrt(tau2 + se**2)  # Higgins et al. (2009)
    result = pool_random_effects(y, v, method="DL")
    assert result.tau2 == pytest.approx(tau2, rel=1e-12)
    assert result.estimate == pytest.approx(pooled, rel=1e-12)
    assert result.standard_error == pytest.approx(se, rel=1e-12)
    assert result.confidence_interval == pytest.approx((pooled - 1.959964 * se,
                                                        pooled + 1.959964 * se), rel=1e-6)
    assert result.prediction_interval == pytest.approx((pooled - half, pooled + half),
                                                       rel=1e-12)
    assert result.i2 == pytest.approx((q - (k - 1)) / q, rel=1e-12)
    assert result.q_pvalue == pytest.approx(stats.chi2.sf(q, k - 1), rel=1e-9)
    assert result.pvalue == pytest.approx(2 * stats.norm.sf(abs(pooled / se)), rel=1e-9)


@pytest.mark.parametrize("method", ["DL", "REML"])
def test_matches_metafor(method):
    expected = METAFOR[method]
    result = pool_random_effects(LOG_RR, VARIANCE, method=method)
    # metafor stops its REML iterations at a change below 1e-5; ours goes to 1e-12.
    tolerance = 1e-9 if method == "DL" else 1e-5
    assert result.estimate == pytest.approx(expected["estimate"], rel=tolerance)
    assert result.standard_error == pytest.approx(expected["se"], rel=tolerance)
    assert result.confidence_interval == pytest.approx(expected["ci"], rel=tolerance)
    assert result.tau2 == pytest.approx(expected["tau2"], rel=tolerance)
    assert result.i2 == pytest.approx(expected["i2"], rel=tolerance)
    assert result.q == pytest.approx(expected["q"], rel=1e-9)
    assert result.statistic == pytest.approx(expected["z"], rel=tolerance)
    assert result.prediction_interval == pytest.approx(expected["pi"], rel=tolerance)


def test_reml_maximises_the_restricted_likelihood():
    y, v = LOG_RR, VARIANCE

    def negative_restricted_log_likelihood(tau2):
        w = 1 / (v + tau2)
        mu = np.sum(w * y) / np.sum(w)
        return 0.5 * (np.sum(np.log(v + tau2)) + np.log(np.sum(w)) + np.sum(w * (y - mu) ** 2))

    best = optimize.minimize_scalar(negative_restricted_log_likelihood, bounds=(0, 5),
                                    method="bounded", options={"xatol": 1e-12})
    assert pool_random_effects(y, v, method="REML").tau2 == pytest.approx(best.x, rel=1e-6)


def test_homogeneous_estimates_give_no_heterogeneity():
    result = pool_random_effects([0.5, 0.52, 0.49, 0.51], [0.04, 0.05, 0.03, 0.06])
    assert result.tau2 == 0.0
    assert result.i2 == 0.0
    w = 1 / np.array([0.04, 0.05, 0.03, 0.06])
    assert result.estimate == pytest.approx(np.sum(w * [0.5, 0.52, 0.49, 0.51]) / w.sum())


@pytest.mark.parametrize("method", ["DL", "REML"])
def test_aucs_are_pooled_on_the_logit_scale(method):
    result = pool_random_effects(AUC, AUC_VARIANCE, method=method, transform="logit")
    estimate, low, high, tau2, i2, pi_low, pi_high = METAFOR_AUC[method]
    tolerance = 1e-9 if method == "DL" else 1e-5
    assert result.estimate == pytest.approx(estimate, rel=tolerance)
    assert result.confidence_interval == pytest.approx((low, high), rel=tolerance)
    assert result.prediction_interval == pytest.approx((pi_low, pi_high), rel=tolerance)
    assert result.tau2 == pytest.approx(tau2, rel=tolerance)
    assert result.i2 == pytest.approx(i2, rel=tolerance)
    on_logits = pool_random_effects(logit(AUC), AUC_VARIANCE / (AUC * (1 - AUC)) ** 2,
                                    method=method)
    assert result.estimate == pytest.approx(expit(on_logits.estimate), rel=1e-12)
    assert result.transform == "logit"


def test_two_estimates_have_no_prediction_interval():
    result = pool_random_effects([0.8, 1.1], [0.02, 0.03])
    assert np.isnan(result.prediction_interval).all()
    assert np.isfinite(result.confidence_interval).all()


@pytest.mark.parametrize(("estimates", "variances", "kwargs", "message"), [
    ([0.7], [0.01], {}, "at least 2"),
    ([0.7, np.nan, 0.8], [0.01, 0.01, 0.01], {}, r"estimates has NaN .* position\(s\) \[1\]"),
    ([0.7, 0.8], [0.01, 0.0], {}, r"positive; not at position\(s\) \[1\]"),
    ([0.7, 1.0], [0.01, 0.01], {"transform": "logit"}, r"between 0 and 1.*\[1\]"),
    ([0.7, 0.8], [0.01, 0.01, 0.01], {}, "2 values but variances has 3"),
    ([0.7, 0.8], [0.01, 0.01], {"method": "HE"}, "method"),
])
def test_bad_input_is_refused(estimates, variances, kwargs, message):
    with pytest.raises(ValueError, match=message):
        pool_random_effects(estimates, variances, **kwargs)


def test_pandas_input_names_the_offending_centre():
    estimates = pd.Series([0.7, np.inf, 0.8], index=["centre_1", "centre_2", "centre_3"])
    with pytest.raises(ValueError, match=r"index label\(s\) \['centre_2'\]"):
        pool_random_effects(estimates, [0.01, 0.01, 0.01])
