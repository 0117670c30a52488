"""Threshold metrics, their intervals and Youden's threshold against independent references."""

import numpy as np
import pytest
from scipy import stats
from scipy.stats import binomtest
from sklearn.metrics import confusion_matrix, roc_curve

from tacelearn.metrics import (
    THRESHOLD_METRICS,
    binary_metrics,
    binary_metrics_ci,
    youden_threshold,
)


def simulated(seed, n=200, prevalence=0.4):
    rng = np.random.default_rng(seed)
    y = rng.random(n) < prevalence
    score = np.clip(rng.normal(0.35 + 0.3 * y, 0.2), 0, 1)
    return y, score


def hand_counts(y, score, threshold):
    tn, fp, fn, tp = confusion_matrix(y, score >= threshold, labels=[False, True]).ravel()
    return {"tp": tp, "fp": fp, "tn": tn, "fn": fn}


def test_binary_metrics_match_the_confusion_matrix():
    y, score = simulated(0)
    counts = hand_counts(y, score, 0.5)
    metrics = binary_metrics(y, score, 0.5)
    tp, fp, tn, fn = (counts[k] for k in ("tp", "fp", "tn", "fn"))
    assert {k: metrics[k] for k in counts} == counts
    assert metrics["accuracy"] == pytest.approx((tp + tn) / y.size)
    assert metrics["sensitivity"] == pytest.approx(tp / (tp + fn))
    assert metrics["specificity"] == pytest.approx(tn / (tn + fp))
    assert metrics["ppv"] == pytest.approx(tp / (tp + fp))
    assert metrics["npv"] == pytest.approx(tn / (tn + fn))


def test_a_score_equal_to_the_threshold_is_positive():
    metrics = binary_metrics([0, 1, 1, 0], [0.5, 0.5, 0.2, 0.1], threshold=0.5)
    assert (metrics["tp"], metrics["fp"]) == (1, 1)


def test_undefined_metric_is_nan_without_warning():
    metrics = binary_metrics([0, 1, 1, 0], [0.1, 0.2, 0.3, 0.4], threshold=0.9)
    assert np.isnan(metrics["ppv"])
    assert metrics["npv"] == 0.5


@pytest.mark.parametrize(("method", "scipy_method"),
                         [("wilson", "wilson"), ("wilsoncc", "wilsoncc"), ("exact", "exact")])
@pytest.mark.parametrize("confidence_level", [0.95, 0.9])
def test_proportion_intervals_match_scipy(method, scipy_method, confidence_level):
    y, score = simulated(1, n=90)
    # Threshold 0.15 calls nearly everyone positive: proportions near 1 and near 0 both appear.
    for threshold in (0.15, 0.5):
        table = binary_metrics_ci(y, score, threshold=threshold, method=method,
                                  confidence_level=confidence_level)
        for metric, row in table.iterrows():
            if row.denominator == 0:
                continue
            expected = binomtest(int(row.numerator), int(row.denominator)).proportion_ci(
                confidence_level=confidence_level, method=scipy_method
            )
            assert row.low == pytest.approx(expected.low, abs=1e-9), metric
            assert row.high == pytest.approx(expected.high, abs=1e-9), metric


def test_interval_bounds_at_zero_and_all_successes():
    # Every control negative and every case positive: specificity = sensitivity = 1.
    table = binary_metrics_ci([0, 0, 0, 1, 1], [0.1, 0.2, 0.3, 0.8, 0.9], method="exact")
    assert table.loc["sensitivity", "high"] == 1.0
    assert table.loc["sensitivity", "low"] == pytest.approx(
        binomtest(2, 2).proportion_ci(method="exact").low
    )


# R: binom.test(k, n)$conf.int, prop.test(k, n, correct = FALSE)$conf.int and
# prop.test(k, n)$conf.int (R 4.2.2).
R_PROPORTION_INTERVALS = {
    (0, 10): {"exact": (0, 0.30849710781876083), "wilson": (0, 0.27753279986288915),
              "wilsoncc": (0, 0.34453721830692247)},
    (20, 20): {"exact": (0.83156652901691464, 1), "wilson": (0.83887484194718065, 1),
               "wilsoncc": (0.79954665498651289, 1)},
    (3, 4): {"exact": (0.19412044968324341, 0.99369053679029018),
             "wilson": (0.30064184258240201, 0.95441273919029945),
             "wilsoncc": (0.21942652006536287, 0.9868088381762733)},
    (7, 10): {"exact": (0.34754714994000269, 0.93326048882226553),
              "wilson": (0.39677814746114537, 0.89220873259369904),
              "wilsoncc": (0.35367072351116879, 0.91905217579000553)},
    (1, 37): {"exact": (0.00068403102469466546, 0.14160309561115803),
              "wilson": (0.004786974451940448, 0.13824069863730512),
              "wilsoncc": (0.0014124325581987536, 0.15809450829191823)},
}


@pytest.mark.parametrize(("counts", "method"), [
    (counts, method) for counts in R_PROPORTION_INTERVALS for method in ("exact", "wilson",
                                                                          "wilsoncc")])
def test_proportion_intervals_match_r(counts, method):
    k, n = counts
    # Sensitivity k / n: n cases, k of them called positive; no controls called positive.
    y = np.r_[np.ones(n, int), np.zeros(5, int)]
    score = np.r_[np.ones(k), np.zeros(n - k), np.zeros(5)]
    row = binary_metrics_ci(y, score, method=method).loc["sensitivity"]
    assert (row.numerator, row.denominator) == (k, n)
    np.testing.assert_allclose((row.low, row.high), R_PROPORTION_INTERVALS[counts][method],
                               rtol=1e-9, atol=1e-15)


def test_wilson_is_the_default():
    y, score = simulated(7, n=60)
    assert binary_metrics_ci(y, score).equals(binary_metrics_ci(y, score, method="wilson"))
    assert binary_metrics_ci(y, score).attrs["ci_methods"]["ppv"] == "wilson"


def scipy_bca(y, called, metric, n_resamples, seed):
    """scipy.stats.bootstrap's BCa interval of one metric, resampling patients."""

    def statistic(truth, positive, axis=-1):
        tp = (truth & positive).sum(axis)
        fp = (~truth & positive).sum(axis)
        tn = (~truth & ~positive).sum(axis)
        fn = (truth & ~positive).sum(axis)
        values = {"accuracy": (tp + tn) / truth.shape[axis], "sensitivity": tp / (tp + fn),
                  "specificity": tn / (tn + fp), "ppv": tp / (tp + fp), "npv": tn / (tn + fn)}
        return values[metric]

    result = stats.bootstrap((y, called), statistic, paired=True, vectorized=True,
                             n_resamples=n_resamples, method="BCa", random_state=seed)
    return result.confidence_interval


def test_bootstrap_is_bca_as_scipy_computes_it():
    y, score = simulated(2, n=300)
    table = binary_metrics_ci(y, score, method="bootstrap", n_resamples=20000, random_state=0)
    for metric in THRESHOLD_METRICS:
        low, high = scipy_bca(y, score >= 0.5, metric, 20000, seed=1)
        # Two independent sets of 20000 resamples: Monte Carlo error well below 0.01.
        assert table.loc[metric, "low"] == pytest.approx(low, abs=0.01), metric
        assert table.loc[metric, "high"] == pytest.approx(high, abs=0.01), metric
    assert set(table.attrs["ci_methods"].values()) == {"bootstrap"}
    assert table.attrs["stratified"] is False


def test_bootstrap_at_one_hundred_percent_falls_back_to_wilson():
    # 20/20 cases called positive: every resample gives 1.000, so the percentile bootstrap
    # gave 1.000-1.000. The interval is Wilson's, R's prop.test(20, 20, correct = FALSE).
    y = np.r_[np.ones(20, int), np.zeros(10, int)]
    score = np.r_[np.full(20, 0.9), np.full(3, 0.8), np.full(7, 0.1)]
    table = binary_metrics_ci(y, score, method="bootstrap", random_state=0)
    assert table.loc["sensitivity", "low"] == pytest.approx(0.83887484194718065, rel=1e-12)
    assert table.loc["sensitivity", "high"] == 1.0
    assert table.attrs["ci_methods"]["sensitivity"] == "wilson"
    assert table.attrs["ci_methods"]["specificity"] == "bootstrap"
    assert table.loc["specificity", "high"] > table.loc["specificity", "low"]


def test_bootstrap_covers_the_truth_at_about_the_nominal_rate():
    rng = np.random.default_rng(3)
    true_sensitivity, true_specificity, n_cases, n_controls = 0.8, 0.7, 60, 80
    y = np.r_[np.ones(n_cases, bool), np.zeros(n_controls, bool)]
    hits = np.zeros(2)
    n_trials = 300
    for trial in range(n_trials):
        called = np.r_[rng.random(n_cases) < true_sensitivity,
                       rng.random(n_controls) > true_specificity]
        table = binary_metrics_ci(y, called.astype(float), method="bootstrap", n_resamples=1000,
                                  random_state=trial)
        hits += [
            table.loc["sensitivity", "low"] <= true_sensitivity <= table.loc["sensitivity", "high"],
            table.loc["specificity", "low"] <= true_specificity <= table.loc["specificity", "high"],
        ]
    coverage = hits / n_trials
    # Bootstrap intervals of a binomial proportion run slightly below 95%; 300 trials give a
    # standard error of about 1.3 points.
    assert np.all((coverage > 0.89) & (coverage < 0.99)), coverage


def test_bootstrap_leaves_out_undefined_resamples():
    # Two patients called positive out of 30: many unstratified resamples call nobody positive.
    y = np.r_[np.ones(10, bool), np.zeros(20, bool)]
    score = np.zeros(30)
    score[[0, 10]] = 1.0
    table = binary_metrics_ci(y, score, method="bootstrap", n_resamples=2000, random_state=0)
    undefined = table.attrs["undefined_resamples"]["ppv"]
    # P(no positive drawn) = (28/30)^30 ~ 0.126.
    assert 0.09 < undefined / 2000 < 0.16
    assert np.isfinite(table.loc["ppv", ["low", "high"]].to_numpy()).all()
    assert table.attrs["undefined_resamples"]["accuracy"] == 0


def test_stratified_bootstrap_keeps_sensitivity_defined():
    y, score = simulated(4, n=30)
    table = binary_metrics_ci(y, score, method="bootstrap", stratified=True, n_resamples=500,
                              random_state=0)
    assert table.attrs["undefined_resamples"]["sensitivity"] == 0
    assert table.attrs["undefined_resamples"]["specificity"] == 0


def test_metric_undefined_in_the_data_has_no_interval():
    table = binary_metrics_ci([0, 1, 1, 0], [0.1, 0.2, 0.3, 0.4], threshold=0.9,
                              method="bootstrap", random_state=0)
    assert table.loc["ppv", ["estimate", "low", "high"]].isna().all()
    assert table.loc["npv", "denominator"] == 4


def test_random_state_makes_the_bootstrap_repeatable():
    y, score = simulated(5)
    first = binary_metrics_ci(y, score, method="bootstrap", random_state=7)
    second = binary_metrics_ci(y, score, method="bootstrap", random_state=7)
    other = binary_metrics_ci(y, score, method="bootstrap", random_state=8)
    assert first.equals(second)
    assert not first.equals(other)
    assert list(first.index) == list(THRESHOLD_METRICS)


def test_bad_arguments_are_refused():
    y, score = simulated(6, n=20)
    with pytest.raises(ValueError, match="method"):
        binary_metrics_ci(y, score, method="wald")
    with pytest.raises(ValueError, match="confidence_level"):
        binary_metrics_ci(y, score, confidence_level=95)
    with pytest.raises(ValueError, match="n_resamples"):
        binary_metrics_ci(y, score, method="bootstrap", n_resamples=0)
    with pytest.raises(ValueError, match="threshold"):
        binary_metrics(y, score, threshold=np.nan)


@pytest.mark.parametrize("seed", range(5))
def test_youden_threshold_maximises_j_on_the_roc_curve(seed):
    y, score = simulated(seed + 20, n=120)
    score = np.round(score, 2)  # ties
    fpr, tpr, thresholds = roc_curve(y, score, drop_intermediate=False)
    best_j = np.max(tpr - fpr)
    chosen = youden_threshold(y, score)
    metrics = binary_metrics(y, score, chosen)
    assert metrics["sensitivity"] + metrics["specificity"] - 1 == pytest.approx(best_j)
    assert chosen == max(t for t, j in zip(thresholds, tpr - fpr) if np.isclose(j, best_j))
