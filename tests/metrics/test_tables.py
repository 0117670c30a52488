"""performance_table (Table 2) against pROC's published CIs and scipy's intervals; formatting."""

import numpy as np
import pandas as pd
import pytest
from scipy.stats import binomtest

from tacelearn.metrics import (
    PERFORMANCE_METRICS,
    format_estimate_ci,
    format_performance_table,
    performance_table,
)

# pROC's tests/testthat/test-ci.auc.R: ci.auc(aSAH$outcome, aSAH$ndka), whole set and women.
PROC_NDKA_CI = {"all": (0.501244999271703, 0.722670989888189),
                "female": (0.5261398281, 0.8081458862)}


@pytest.fixture(scope="module")
def asah_cohorts(shared_data):
    asah = pd.read_csv(shared_data / "asah" / "aSAH.csv")
    female = asah[asah["gender"] == "Female"]
    y = {"all": asah["outcome"], "female": female["outcome"]}
    scores = {"ndka": {"all": asah["ndka"], "female": female["ndka"]},
              "s100b": {"all": asah["s100b"], "female": female["s100b"]}}
    return y, scores


def test_table_holds_proc_auc_intervals_and_exact_proportions(asah_cohorts):
    y, scores = asah_cohorts
    table = performance_table(y, scores, threshold=0.2, method="exact", pos_label="Poor")
    assert list(table.columns) == ["model", "cohort", "metric", "estimate", "low", "high",
                                   "ci_method"]
    assert len(table) == 2 * 2 * len(PERFORMANCE_METRICS)
    rows = table.set_index(["model", "cohort", "metric"])
    for cohort, (low, high) in PROC_NDKA_CI.items():
        assert rows.loc[("ndka", cohort, "auc"), "low"] == pytest.approx(low, abs=1e-10)
        assert rows.loc[("ndka", cohort, "auc"), "high"] == pytest.approx(high, abs=1e-10)
        assert rows.loc[("ndka", cohort, "auc"), "ci_method"] == "delong"
    # s100b >= 0.2 on the whole set, counted by hand and bounded by scipy's Clopper-Pearson.
    is_case = (y["all"] == "Poor").to_numpy()
    called = scores["s100b"]["all"].to_numpy() >= 0.2
    k, n = int(np.sum(called & is_case)), int(is_case.sum())
    sensitivity = rows.loc[("s100b", "all", "sensitivity")]
    expected = binomtest(k, n).proportion_ci(method="exact")
    assert sensitivity.estimate == pytest.approx(k / n)
    assert (sensitivity.low, sensitivity.high) == pytest.approx((expected.low, expected.high),
                                                                abs=1e-9)
    assert sensitivity.ci_method == "exact"


def test_bootstrap_table_is_repeatable(asah_cohorts):
    y, scores = asah_cohorts
    kwargs = {"method": "bootstrap", "n_resamples": 200, "random_state": 0, "pos_label": "Poor"}
    first = performance_table(y, scores, **kwargs)
    second = performance_table(y, scores, **kwargs)
    pd.testing.assert_frame_equal(first, second)
    proportions = first[first["metric"] != "auc"]
    assert set(proportions["ci_method"]) <= {"bootstrap", "wilson"}
    # Wilson only where the estimate is 0% or 100% and every resample would equal it.
    fallback = proportions[proportions["ci_method"] == "wilson"]
    assert fallback["estimate"].isin([0.0, 1.0]).all()


def test_default_intervals_are_wilson_and_never_zero_width():
    # A perfect model on 20 responders: the percentile bootstrap said 1.000 (1.000-1.000).
    y = {"internal": [1] * 20 + [0] * 12}
    scores = {"DLTR_MLP": {"internal": [0.9] * 20 + [0.1] * 12}}
    table = performance_table(y, scores).set_index("metric")
    assert set(table.loc[table.index != "auc", "ci_method"]) == {"wilson"}
    # R: prop.test(20, 20, correct = FALSE)$conf.int -> 0.83887484194718065 1
    assert table.loc["sensitivity", "low"] == pytest.approx(0.83887484194718065, rel=1e-12)
    boot = performance_table(y, scores, method="bootstrap", random_state=0).set_index("metric")
    # At 100% the bootstrap falls back to Wilson's interval, and says so.
    assert boot.loc["sensitivity", "ci_method"] == "wilson"
    assert boot.loc["sensitivity", "low"] == pytest.approx(0.83887484194718065, rel=1e-12)


def test_missing_or_unknown_cohorts_are_named():
    y = {"internal": [0, 1, 0, 1], "external": [1, 0, 1, 0]}
    with pytest.raises(ValueError, match="model 'dltr' has no scores for cohort 'external'"):
        performance_table(y, {"dltr": {"internal": [0.1, 0.9, 0.2, 0.8]}})
    with pytest.raises(ValueError, match="unknown cohort"):
        performance_table({"internal": [0, 1, 0, 1]},
                          {"dltr": {"internal": [0.1, 0.9, 0.2, 0.8], "other": [0.5] * 4}})
    with pytest.raises(ValueError, match="model 'dltr', cohort 'internal': .*NaN"):
        performance_table({"internal": [0, 1, 0, 1]},
                          {"dltr": {"internal": [0.1, np.nan, 0.2, 0.8]}})
    with pytest.raises(TypeError, match="mapping"):
        performance_table([0, 1, 0, 1], {"dltr": {}})


def test_format_estimate_ci():
    assert format_estimate_ci(0.8216, 0.69251, 0.95) == "0.822 (0.693-0.950)"
    assert format_estimate_ci(0.5, 0.25, 0.75, digits=2) == "0.50 (0.25-0.75)"
    assert format_estimate_ci(-0.01, -0.05, 0.02, separator=" to ") == "-0.010 (-0.050 to 0.020)"
    assert format_estimate_ci(np.nan, np.nan, np.nan) == "NA"
    assert format_estimate_ci(0.5, np.nan, np.nan) == "0.500"


def test_format_performance_table_layout(asah_cohorts):
    y, scores = asah_cohorts
    table = performance_table(y, scores, method="wilson", pos_label="Poor")
    wide = format_performance_table(table)
    assert list(wide.columns) == list(PERFORMANCE_METRICS)
    assert list(wide.index) == [("all", "ndka"), ("all", "s100b"), ("female", "ndka"),
                                ("female", "s100b")]
    low, high = PROC_NDKA_CI["all"]
    assert wide.loc[("all", "ndka"), "auc"] == f"0.612 ({low:.3f}-{high:.3f})"
    with pytest.raises(ValueError, match="performance_table"):
        format_performance_table(table.drop(columns="low"))
