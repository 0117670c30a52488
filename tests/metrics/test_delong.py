"""DeLong AUC variance, CI and tests against pROC's published values and brute-force references."""

import numpy as np
import pandas as pd
import pytest
from scipy.stats import mannwhitneyu, norm
from sklearn.metrics import roc_auc_score

from tacelearn.metrics import (
    delong_covariance,
    delong_roc_ci,
    delong_roc_test,
    delong_roc_variance,
    delong_test_matrix,
    roc_direction,
)

# pROC's reference values for its aSAH example, controls = "Good", cases = "Poor",
# direction "<". Published in pROC's test suite (github.com/xrobin/pROC, tests/testthat:
# test-auc.R, test-var.R, test-cov.R, test-ci.auc.R, test-roc.test.R) to 15 digits, and in the
# pROC documentation / Robin et al., BMC Bioinformatics 12:77 (2011) to 4-7 digits:
# roc(aSAH$outcome, aSAH$s100b): "Area under the curve: 0.7314", "95% CI: 0.6301-0.8326
# (DeLong)"; roc.test(roc.s100b, roc.wfns): "Z = -2.209, p-value = 0.02718", AUCs 0.7313686
# and 0.8236789.
PROC_AUC = {"wfns": 0.823678861788618, "ndka": 0.611957994579946}
PROC_VARIANCE = {
    "wfns": 0.00146991470882363,
    "ndka": 0.0031908105493913,
    "s100b": 0.00266868245717244,
}
PROC_COVARIANCE = {
    ("wfns", "ndka"): -0.000532967856762438,
    ("ndka", "s100b"): -0.000756164938056579,
    ("s100b", "wfns"): 0.00119615567376754,
}
PROC_NDKA_CI = (0.501244999271703, 0.722670989888189)
PROC_NDKA_FEMALE_CI = (0.5261398281, 0.8081458862)
# roc.test(roc1, roc2): Z, p, conf.int of AUC1 - AUC2.
PROC_TESTS = {
    ("wfns", "s100b"): (2.20898359144091, 0.0271757822291882, 0.0104061769564846,
                        0.174214419249478),
    ("wfns", "ndka"): (2.79777591868904, 0.00514557970691098, 0.0634011709339876,
                       0.3600405634833566),
    ("ndka", "s100b"): (-1.39077002573558, 0.164295175223054, -0.2876917446341914,
                        0.0488706064228094),
}
PROC_WFNS_S100B_GREATER = 0.0135878911145941
PROC_WFNS_S100B_LESS = 0.986412108885406
RTOL = 1e-12


@pytest.fixture(scope="module")
def asah(shared_data):
    return pd.read_csv(shared_data / "asah" / "aSAH.csv")


def brute_force_delong(is_case, scores):
    """DeLong et al. (1988) from the O(m * n) placement matrix: AUCs and covariance matrix."""
    cases = scores[:, is_case]
    controls = scores[:, ~is_case]
    psi = (cases[:, :, None] > controls[:, None, :]) + 0.5 * (
        cases[:, :, None] == controls[:, None, :]
    )
    v10 = psi.mean(axis=2)
    v01 = psi.mean(axis=1)
    covariance = np.atleast_2d(np.cov(v10)) / cases.shape[1] + np.atleast_2d(
        np.cov(v01)
    ) / controls.shape[1]
    return v10.mean(axis=1), covariance


def tied_data(seed, n=240, n_models=3, levels=5):
    rng = np.random.default_rng(seed)
    y = rng.random(n) < 0.4
    scores = rng.integers(0, levels, size=(n_models, n)) + y * rng.integers(0, 2, (n_models, n))
    return y, scores.astype(float)


# --- pROC -----------------------------------------------------------------------------------


def test_auc_and_variance_match_proc(asah):
    for marker, expected in PROC_VARIANCE.items():
        auc, variance = delong_roc_variance(asah["outcome"], asah[marker], pos_label="Poor")
        assert variance == pytest.approx(expected, rel=RTOL)
        if marker in PROC_AUC:
            assert auc == pytest.approx(PROC_AUC[marker], rel=RTOL)
    auc, _ = delong_roc_variance(asah["outcome"], asah["s100b"], pos_label="Poor")
    assert round(auc, 4) == 0.7314
    assert round(auc, 7) == 0.7313686


def test_ci_matches_proc(asah):
    low, high = delong_roc_ci(asah["outcome"], asah["ndka"], pos_label="Poor")
    assert (low, high) == pytest.approx(PROC_NDKA_CI, rel=RTOL)
    female = asah["gender"] == "Female"
    low, high = delong_roc_ci(asah["outcome"][female], asah["ndka"][female], pos_label="Poor")
    assert (low, high) == pytest.approx(PROC_NDKA_FEMALE_CI, abs=1e-10)
    low, high = delong_roc_ci(asah["outcome"], asah["s100b"], pos_label="Poor")
    assert (round(low, 4), round(high, 4)) == (0.6301, 0.8326)


def test_covariance_matches_proc(asah):
    names = ["wfns", "ndka", "s100b"]
    aucs, covariance = delong_covariance(asah["outcome"], asah[names], pos_label="Poor")
    for (first, second), expected in PROC_COVARIANCE.items():
        i, j = names.index(first), names.index(second)
        assert covariance[i, j] == pytest.approx(expected, rel=RTOL)
        assert covariance[j, i] == pytest.approx(expected, rel=RTOL)
    for i, name in enumerate(names):
        assert covariance[i, i] == pytest.approx(PROC_VARIANCE[name], rel=RTOL)
    assert aucs[0] == pytest.approx(PROC_AUC["wfns"], rel=RTOL)


@pytest.mark.parametrize("pair", list(PROC_TESTS))
def test_paired_test_matches_proc(asah, pair):
    statistic, pvalue, low, high = PROC_TESTS[pair]
    result = delong_roc_test(asah["outcome"], asah[pair[0]], asah[pair[1]], pos_label="Poor")
    assert result.statistic == pytest.approx(statistic, rel=RTOL)
    assert result.pvalue == pytest.approx(pvalue, rel=RTOL)
    assert tuple(result.confidence_interval) == pytest.approx((low, high), rel=RTOL)
    reversed_ = delong_roc_test(asah["outcome"], asah[pair[1]], asah[pair[0]], pos_label="Poor")
    assert reversed_.statistic == pytest.approx(-statistic, rel=RTOL)
    assert reversed_.pvalue == pytest.approx(pvalue, rel=RTOL)


def test_published_s100b_wfns_example(asah):
    result = delong_roc_test(asah["outcome"], asah["s100b"], asah["wfns"], pos_label="Poor")
    assert round(result.statistic, 3) == -2.209
    assert round(result.pvalue, 5) == 0.02718
    assert (round(result.auc_1, 7), round(result.auc_2, 7)) == (0.7313686, 0.8236789)


def test_one_sided_tests_match_proc(asah):
    y, wfns, s100b = asah["outcome"], asah["wfns"], asah["s100b"]
    greater = delong_roc_test(y, wfns, s100b, alternative="greater", pos_label="Poor")
    less = delong_roc_test(y, wfns, s100b, alternative="less", pos_label="Poor")
    assert greater.pvalue == pytest.approx(PROC_WFNS_S100B_GREATER, rel=RTOL)
    assert less.pvalue == pytest.approx(PROC_WFNS_S100B_LESS, rel=RTOL)
    # pROC: the direction of the scores does not change the test when both are flipped.
    flipped = delong_roc_test(y == "Good", -wfns, -s100b, alternative="greater")
    assert flipped.pvalue == pytest.approx(PROC_WFNS_S100B_GREATER, rel=RTOL)


def test_matrix_holds_the_proc_pvalues(asah):
    matrix = delong_test_matrix(asah["outcome"], asah[["wfns", "ndka", "s100b"]],
                                pos_label="Poor")
    for (first, second), (_, pvalue, _, _) in PROC_TESTS.items():
        assert matrix.loc[first, second] == pytest.approx(pvalue, rel=RTOL)
        assert matrix.loc[second, first] == pytest.approx(pvalue, rel=RTOL)
    assert np.diag(matrix.to_numpy()).tolist() == [1.0, 1.0, 1.0]


# --- brute force and other libraries ---------------------------------------------------------


@pytest.mark.parametrize("seed", range(4))
def test_covariance_matches_brute_force_with_ties(seed):
    y, scores = tied_data(seed)
    expected_aucs, expected_cov = brute_force_delong(y, scores)
    aucs, covariance = delong_covariance(y, scores.T)
    np.testing.assert_allclose(aucs, expected_aucs, rtol=1e-13)
    np.testing.assert_allclose(covariance, expected_cov, rtol=1e-11, atol=1e-16)
    for k in range(scores.shape[0]):
        auc, variance = delong_roc_variance(y, scores[k])
        assert auc == pytest.approx(roc_auc_score(y, scores[k]), rel=1e-12)
        assert variance == pytest.approx(expected_cov[k, k], rel=1e-11)


@pytest.mark.parametrize("seed", range(3))
def test_paired_test_matches_brute_force(seed):
    y, scores = tied_data(seed + 10, n=180, n_models=2, levels=7)
    aucs, cov = brute_force_delong(y, scores)
    z = (aucs[0] - aucs[1]) / np.sqrt(cov[0, 0] + cov[1, 1] - 2 * cov[0, 1])
    result = delong_roc_test(y, scores[0], scores[1])
    assert result.statistic == pytest.approx(z, rel=1e-10)
    assert result.pvalue == pytest.approx(2 * norm.sf(abs(z)), rel=1e-9)
    half = norm.ppf(0.975) * np.sqrt(cov[0, 0] + cov[1, 1] - 2 * cov[0, 1])
    assert tuple(result.confidence_interval) == pytest.approx(
        (aucs[0] - aucs[1] - half, aucs[0] - aucs[1] + half), rel=1e-10
    )


def test_near_ties_give_exactly_the_mann_whitney_auc():
    rng = np.random.default_rng(5)
    base = 0.3
    # Scores 0 to 3 units in the last place apart: distinct doubles, no tolerance may merge them.
    steps = rng.integers(0, 4, size=300)
    scores = np.array([base + s * np.spacing(base) for s in steps])
    assert np.unique(scores).size == 4
    y = rng.random(300) < 0.5
    u = mannwhitneyu(scores[y], scores[~y]).statistic
    auc, _ = delong_roc_variance(y, scores)
    assert auc == u / (y.sum() * (~y).sum())


def test_large_counts_stay_exact():
    rng = np.random.default_rng(6)
    y = rng.random(200_000) < 0.3
    scores = np.round(rng.random(y.size) + 0.2 * y, 2)
    u = mannwhitneyu(scores[y], scores[~y]).statistic
    assert delong_roc_variance(y, scores)[0] == u / (y.sum() * (~y).sum())


# --- edge cases ------------------------------------------------------------------------------


def test_identical_and_monotone_scores_test_as_identical():
    y, scores = tied_data(3, n_models=1)
    for other in (scores[0].copy(), np.exp(scores[0]), 3 * scores[0] + 1):
        result = delong_roc_test(y, scores[0], other)
        assert (result.statistic, result.pvalue) == (0.0, 1.0)
        assert result.standard_error == 0.0
    one_sided = delong_roc_test(y, scores[0], scores[0], alternative="greater")
    assert (one_sided.statistic, one_sided.pvalue) == (0.0, 0.5)


def test_degenerate_variance_with_different_aucs_is_certain_not_nan():
    y = np.array([0, 0, 0, 1, 1, 1])
    perfect = np.array([0.1, 0.2, 0.3, 0.7, 0.8, 0.9])
    constant = np.full(6, 0.5)
    result = delong_roc_test(y, perfect, constant)
    assert result.statistic == np.inf
    assert result.pvalue == 0.0
    both_perfect = delong_roc_test(y, perfect, perfect ** 2)
    assert (both_perfect.statistic, both_perfect.pvalue) == (0.0, 1.0)


def test_alternatives_are_complementary():
    y, scores = tied_data(8, n_models=2)
    greater = delong_roc_test(y, scores[0], scores[1], alternative="greater").pvalue
    less = delong_roc_test(y, scores[0], scores[1], alternative="less").pvalue
    two_sided = delong_roc_test(y, scores[0], scores[1]).pvalue
    assert greater + less == pytest.approx(1.0)
    assert two_sided == pytest.approx(2 * min(greater, less))


def test_label_encodings_agree():
    y, scores = tied_data(9, n_models=1)
    reference = delong_roc_variance(y.astype(int), scores[0])
    as_strings = np.where(y, "OR", "NOR")
    assert delong_roc_variance(as_strings, scores[0], pos_label="OR") == reference
    assert delong_roc_variance(y, scores[0]) == reference
    assert delong_roc_variance(np.where(y, 1, -1), scores[0]) == reference
    swapped_auc, swapped_var = delong_roc_variance(as_strings, scores[0], pos_label="NOR")
    assert swapped_auc == pytest.approx(1 - reference[0])
    assert swapped_var == pytest.approx(reference[1])


def test_ci_is_clipped_to_the_unit_interval():
    y = np.array([0, 0, 1, 1, 1])
    assert delong_roc_ci(y, [0.1, 0.4, 0.3, 0.8, 0.9]).high == 1.0


@pytest.mark.parametrize(
    ("y", "score", "message"),
    [
        ([1, 1, 1, 1], [0.1, 0.2, 0.3, 0.4], "one class only"),
        ([0, 1, 0, 1], [0.1, 0.2, 0.3], "has 3 values but y_true has 4"),
        ([0, 1, 0, 1, 1], [0.1, np.nan, 0.3, 0.4, 0.5], r"NaN or infinite .* position\(s\) \[1\]"),
        ([0, 1, 0, 1, 1], [0.1, 0.2, np.inf, 0.4, 0.5], "NaN or infinite"),
        (["a", "b", "a", "b", "b"], [0.1, 0.2, 0.3, 0.4, 0.5], "pass pos_label="),
        ([0, 1, 2, 1, 0], [0.1, 0.2, 0.3, 0.4, 0.5], "3 classes"),
        ([0, 1, 1, 1, 1], [0.1, 0.2, 0.3, 0.4, 0.5], "at least 2 of each"),
        ([0.0, 1.0, np.nan, 1.0, 0.0], [0.1, 0.2, 0.3, 0.4, 0.5], "missing values"),
        ([0, 1, 0, 1, 1], pd.Series([0.1, None, 0.3, 0.4, 0.5], dtype=object), "missing values"),
    ],
)
def test_bad_input_is_refused_clearly(y, score, message):
    with pytest.raises(ValueError, match=message):
        delong_roc_variance(y, score)


def test_errors_name_the_patient_and_the_label():
    y = pd.Series([0, 1, 0, 1, 1], index=["P1", "P2", "P3", "P4", "P5"])
    score = pd.Series([0.1, 0.2, np.nan, 0.4, 0.5], index=y.index)
    with pytest.raises(ValueError, match=r"index label\(s\) \['P3'\]"):
        delong_roc_variance(y, score)
    with pytest.raises(ValueError, match="pos_label='Bad' is not one of the labels"):
        delong_roc_variance(["Good", "Poor", "Good"], [0.1, 0.2, 0.3], pos_label="Bad")
    with pytest.raises(TypeError, match="must hold numbers"):
        delong_roc_variance([0, 1, 0, 1], ["a", "b", "c", "d"])
    with pytest.raises(ValueError, match="alternative"):
        delong_roc_test([0, 1, 0, 1], [1, 2, 3, 4], [1, 2, 3, 4], alternative="bigger")


# pROC 1.18: controls' median 0.8 > cases' median 0.7, so roc(y, S, direction = "auto") picks
# ">" although the "<" AUC is 0.52 > 0.5 (pROC's rule compares medians, not AUCs).
DIRECTION_Y = [0, 0, 0, 0, 0, 1, 1, 1, 1, 1]
DIRECTION_S = [0.9, 0.8, 0.1, 0.2, 0.85, 0.7, 0.75, 0.3, 0.95, 0.6]
DIRECTION_S2 = [0.2, 0.5, 0.3, 0.1, 0.45, 0.6, 0.4, 0.9, 0.8, 0.35]


def test_direction_as_proc():
    # R: r <- roc(y, s, direction = d); auc(r); var(r); ci.auc(r, method = "delong")
    #   "<":    0.52, 0.0528, 0.069634564234054785-0.97036543576594525
    #   ">":    0.48, 0.0528, 0.02963456423405475-0.93036543576594521
    #   "auto": r$direction is ">", so the same as ">".
    assert delong_roc_variance(DIRECTION_Y, DIRECTION_S) == pytest.approx((0.52, 0.0528),
                                                                          rel=1e-12)
    for direction in (">", "auto"):
        auc, variance = delong_roc_variance(DIRECTION_Y, DIRECTION_S, direction=direction)
        assert (auc, variance) == pytest.approx((0.48, 0.0528), rel=1e-12)
        low, high = delong_roc_ci(DIRECTION_Y, DIRECTION_S, direction=direction)
        assert (low, high) == pytest.approx((0.02963456423405475, 0.93036543576594521),
                                            rel=1e-12)
    assert delong_roc_ci(DIRECTION_Y, DIRECTION_S) == pytest.approx(
        (0.069634564234054785, 0.97036543576594525), rel=1e-12)
    assert roc_direction(DIRECTION_Y, DIRECTION_S) == ">"
    assert roc_direction(DIRECTION_Y, DIRECTION_S2) == "<"
    assert roc_direction(DIRECTION_Y, DIRECTION_S, "<") == "<"


def test_direction_in_paired_tests_as_proc():
    # R: roc.test(roc(y, s, direction = ">"), roc(y, s2, direction = ">")) -> Z =
    # 1.6681153124565979, p = 0.095292838023456658; with direction = "auto" on both (">" and
    # "<"): Z = -1.0995249992067473, p = 0.27153913587657008.
    flipped = delong_roc_test(DIRECTION_Y, DIRECTION_S, DIRECTION_S2, direction=">")
    assert flipped.statistic == pytest.approx(1.6681153124565979, rel=1e-10)
    assert flipped.pvalue == pytest.approx(0.095292838023456658, rel=1e-10)
    auto = delong_roc_test(DIRECTION_Y, DIRECTION_S, DIRECTION_S2, direction="auto")
    assert auto.statistic == pytest.approx(-1.0995249992067473, rel=1e-10)
    assert auto.pvalue == pytest.approx(0.27153913587657008, rel=1e-10)
    matrix = delong_test_matrix(DIRECTION_Y, {"s": DIRECTION_S, "s2": DIRECTION_S2},
                                direction="auto")
    assert matrix.loc["s", "s2"] == pytest.approx(0.27153913587657008, rel=1e-10)
    aucs, _ = delong_covariance(DIRECTION_Y, {"s": DIRECTION_S, "s2": DIRECTION_S2},
                                direction="auto")
    assert aucs[0] == pytest.approx(0.48)
    with pytest.raises(ValueError, match="direction"):
        delong_roc_variance(DIRECTION_Y, DIRECTION_S, direction="up")
