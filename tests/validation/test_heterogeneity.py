"""Per-group performance tables, leave-one-centre-out validation and pooled per-centre results,
against hand loops, brute-force DeLong variances and statsmodels fits."""

import warnings

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from scipy.special import expit, logit
from scipy.stats import norm
from sklearn.base import clone
from sklearn.compose import make_column_transformer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import make_pipeline

from tacelearn.validation import (
    leave_one_center_out,
    pool_performance,
    pool_random_effects,
    subgroup_performance,
)

Z = norm.ppf(0.975)


def brute_force_delong(y, p):
    """DeLong et al. (1988) from the m x n placement kernel."""
    cases, controls = p[y == 1], p[y == 0]
    psi = (cases[:, None] > controls[None, :]) + 0.5 * (cases[:, None] == controls[None, :])
    auc = psi.mean()
    return auc, (np.var(psi.mean(axis=1), ddof=1) / cases.size
                 + np.var(psi.mean(axis=0), ddof=1) / controls.size)


def hand_row(y, p):
    """One row of the table by independent means."""
    lp = logit(np.clip(p, 1e-8, 1 - 1e-8))
    slope = sm.GLM(y.astype(float), sm.add_constant(lp), family=sm.families.Binomial()).fit()
    offset = sm.GLM(y.astype(float), np.ones((y.size, 1)), family=sm.families.Binomial(),
                    offset=lp).fit()
    auc, variance = brute_force_delong(y, p)
    return {
        "n": y.size, "events": int(y.sum()), "expected": p.sum(), "auc": auc,
        "auc_low": max(0.0, auc - Z * np.sqrt(variance)),
        "auc_high": min(1.0, auc + Z * np.sqrt(variance)), "auc_variance": variance,
        "calibration_intercept": offset.params[0], "intercept_low": offset.conf_int()[0, 0],
        "intercept_high": offset.conf_int()[0, 1], "intercept_variance": offset.bse[0] ** 2,
        "calibration_slope": slope.params[1], "slope_low": slope.conf_int()[1, 0],
        "slope_high": slope.conf_int()[1, 1], "slope_variance": slope.bse[1] ** 2,
        "brier": np.mean((p - y) ** 2),
    }


def assert_row_matches(row, expected):
    for column, value in expected.items():
        # statsmodels stops its IRLS at a relative deviance change of 1e-8.
        assert row[column] == pytest.approx(value, rel=1e-6, abs=1e-7), column


def simulated_groups(seed=0, n=600):
    rng = np.random.default_rng(seed)
    centre = rng.choice(["centre_1", "centre_2", "centre_3"], n)
    bclc = rng.choice(["A", "B", "C"], n, p=[0.4, 0.4, 0.2])
    shift = np.select([centre == "centre_2", centre == "centre_3"], [0.6, -0.4], 0.0)
    p = rng.uniform(0.05, 0.95, n)
    y = (rng.random(n) < expit(shift + 0.8 * logit(p))).astype(int)
    return y, p, pd.DataFrame({"center": centre, "bclc": bclc})


def test_subgroup_rows_match_hand_computations():
    y, p, groups = simulated_groups()
    table = subgroup_performance(y, p, groups)
    assert table[["variable", "level"]].values.tolist() == [
        ["all", "all"], ["center", "centre_1"], ["center", "centre_2"], ["center", "centre_3"],
        ["bclc", "A"], ["bclc", "B"], ["bclc", "C"]]
    assert_row_matches(table.iloc[0], hand_row(y, p))
    for _, row in table.iloc[1:].iterrows():
        members = (groups[row["variable"]] == row["level"]).to_numpy()
        assert_row_matches(row, hand_row(y[members], p[members]))


def test_several_models_get_a_model_column():
    y, p, groups = simulated_groups(1)
    other = np.clip(p + 0.1, 0, 1)
    both = subgroup_performance(y, {"clinical": p, "dltr": other}, groups["center"],
                                overall=False)
    assert both["model"].tolist() == ["clinical"] * 3 + ["dltr"] * 3
    single = subgroup_performance(y, other, groups["center"], overall=False)
    assert both.iloc[3:].drop(columns="model").reset_index(drop=True).equals(single)


def test_missing_and_categorical_levels():
    y, p, groups = simulated_groups(2)
    diameter = np.random.default_rng(2).uniform(1, 15, y.size)
    diameter[:7] = np.nan
    size_class = pd.cut(diameter, [0, 5, 10, 20, 30], labels=["<=5", "5-10", "10-20", ">20"])
    table = subgroup_performance(y, p, {"tumour_size": size_class}, overall=False)
    levels = table["level"].tolist()
    assert levels[:3] == ["<=5", "5-10", "10-20"]  # the empty ">20" class has no row
    assert pd.isna(levels[3])
    assert table["n"].tolist()[3] == 7
    assert table["n"].sum() == y.size


def test_small_groups_give_nan_instead_of_failing():
    y = np.array([1, 0, 0, 0, 1, 1, 0, 1, 0, 0])
    p = np.array([0.7, 0.2, 0.4, 0.3, 0.6, 0.8, 0.5, 0.9, 0.1, 0.35])
    group = np.array(["a", "a", "a", "a", "b", "b", "b", "c", "c", "c"])
    table = subgroup_performance(y, p, {"g": group}, overall=False).set_index("level")
    assert table.loc["a", "auc"] == 1.0  # one case: the AUC exists, its variance does not
    assert np.isnan(table.loc["a", ["auc_low", "auc_variance"]].astype(float)).all()
    assert table.loc["a", "calibration_slope"] == np.inf  # the predictions separate
    assert np.isnan(table.loc["a", "slope_low"])
    assert np.isfinite(table.loc["a", "calibration_intercept"])
    assert table.loc["c", "events"] == 1
    assert table.loc["b", "brier"] == pytest.approx(np.mean((p[4:7] - y[4:7]) ** 2))


def test_probabilities_of_zero_or_one_are_named_with_the_model():
    y, p, groups = simulated_groups(3, n=60)
    p = p.copy()
    p[5] = 1.0
    with pytest.raises(ValueError, match=r"model 'dltr': .*position\(s\) \[5\]"):
        subgroup_performance(y, {"clinical": np.clip(p, 0.01, 0.99), "dltr": p}, groups,
                             epsilon=None)


def test_pool_performance_pools_each_metric_as_pool_random_effects_does():
    y, p, groups = simulated_groups(4, n=1200)
    table = subgroup_performance(y, p, groups["center"], overall=False)
    pooled = pool_performance(table, method="DL")
    auc = pool_random_effects(table["auc"], table["auc_variance"], method="DL",
                              transform="logit")
    slope = pool_random_effects(table["calibration_slope"], table["slope_variance"],
                                method="DL")
    assert pooled.loc["auc", "estimate"] == auc.estimate
    assert (pooled.loc["auc", "low"], pooled.loc["auc", "high"]) == auc.confidence_interval
    assert pooled.loc["auc", "scale"] == "logit"
    assert pooled.loc["calibration_slope", "tau2"] == slope.tau2
    assert (pooled.loc["calibration_slope", "prediction_low"],
            pooled.loc["calibration_slope", "prediction_high"]) == slope.prediction_interval
    # The planted centre shifts make calibration-in-the-large heterogeneous.
    assert pooled.loc["calibration_intercept", "i2"] > 0.5
    assert (pooled["k"] == 3).all()


def test_pool_performance_leaves_out_undefined_rows_and_splits_models():
    y, p, groups = simulated_groups(5, n=900)
    table = subgroup_performance(y, {"a": p, "b": p ** 1.3}, groups["center"], overall=False)
    table.loc[0, "auc"] = np.nan
    pooled = pool_performance(table)
    assert pooled.loc[("a", "auc"), "k"] == 2
    assert pooled.loc[("b", "auc"), "k"] == 3
    assert np.isnan(pooled.loc[("a", "auc"), "prediction_low"])
    with pytest.raises(ValueError, match="lacks column"):
        pool_performance(table.drop(columns="slope_variance"))


def centre_cohort(seed=0):
    rng = np.random.default_rng(seed)
    sizes = {"centre_1": 200, "centre_2": 150, "centre_3": 120, "centre_4": 90}
    centre = np.repeat(list(sizes), list(sizes.values()))
    X = rng.standard_normal((centre.size, 3))
    shift = np.select([centre == "centre_3", centre == "centre_4"], [0.8, -0.5], 0.0)
    y = (rng.random(centre.size) < expit(shift + X @ [1.0, -0.6, 0.3])).astype(int)
    cohort = pd.DataFrame(X, columns=["alt", "afp", "age"]).assign(center=centre)
    cohort["patient_id"] = [f"P{i:03d}" for i in range(len(cohort))]
    return cohort.sample(frac=1.0, random_state=seed).reset_index(drop=True), y


def cohort_model():
    return make_pipeline(make_column_transformer(("passthrough", ["alt", "afp", "age"])),
                         LogisticRegression())


def test_leave_one_center_out_matches_a_hand_loop():
    cohort, y = centre_cohort()
    y = pd.Series(y, index=cohort.index)
    result = leave_one_center_out(cohort_model(), cohort, y)
    assert result.table["center"].tolist() == ["centre_1", "centre_2", "centre_3", "centre_4"]
    for _, row in result.table.iterrows():
        held_out = (cohort["center"] == row["center"]).to_numpy()
        model = clone(cohort_model()).fit(cohort[~held_out], y[~held_out])
        p = model.predict_proba(cohort[held_out])[:, 1]
        assert row["n_train"] == (~held_out).sum()
        assert_row_matches(row, hand_row(y[held_out].to_numpy(), p))
        assert result.predictions[held_out] == pytest.approx(p, rel=1e-12)
    assert result.pooled.equals(pool_performance(result.table))


def test_leave_one_center_out_runs_in_parallel_with_the_same_numbers():
    import joblib

    cohort, y = centre_cohort(1)
    sequential = leave_one_center_out(cohort_model(), cohort, y, method="DL")
    with joblib.parallel_config(backend="threading"):
        threads = leave_one_center_out(cohort_model(), cohort, y, method="DL", n_jobs=2)
    assert threads.table.equals(sequential.table)


def test_leave_one_center_out_on_the_synthetic_cohort_with_the_clinical_model(tmp_path):
    from tacelearn.datasets import make_tace_cohort
    from tacelearn.estimators import UnseenCategoryWarning, make_clinical_model

    cohort = make_tace_cohort(tmp_path, n_per_center=(90, 70, 60), image_shape=(32, 32, 8))
    y = cohort["objective_response"]
    # BCLC 0 (a single tumour of at most 2 cm) is rare: one centre may hold every case, and a
    # model fitted without it says so (UnseenCategoryWarning) instead of guessing. That warning
    # is tested in tests/estimators; here it is expected and the refits below get it too.
    warnings.simplefilter("ignore", UnseenCategoryWarning)
    # The cohort DataFrame as X and its nullable-integer outcome column as y, as the study
    # passes them. Screening is left out: this test is about the wiring, not the selector.
    result = leave_one_center_out(make_clinical_model(screen=False), cohort, y)
    assert result.table["n"].tolist() == [90, 70, 60]
    for _, row in result.table.iterrows():
        held_out = (cohort["center"] == row["center"]).to_numpy()
        model = make_clinical_model(screen=False).fit(cohort[~held_out],
                                                      y[~held_out].astype(int))
        p = model.predict_proba(cohort[held_out])[:, 1]
        assert row["auc"] == pytest.approx(roc_auc_score(y[held_out].astype(int), p))


def test_leave_one_center_out_names_bad_centres():
    cohort, y = centre_cohort(2)
    with pytest.raises(ValueError, match="no column 'site'"):
        leave_one_center_out(cohort_model(), cohort, y, center_column="site")
    gaps = cohort.assign(center=cohort["center"].where(cohort.index != 4))
    with pytest.raises(ValueError, match=rf"row\(s\) \[4\] \(patient\(s\) "
                                         rf"{cohort.loc[4, 'patient_id']}\)"):
        leave_one_center_out(cohort_model(), gaps, y)
    with pytest.raises(ValueError, match="at least 2 centres"):
        leave_one_center_out(cohort_model(), cohort.assign(center="one"), y)
    with pytest.raises(ValueError, match="rows but y has"):
        leave_one_center_out(cohort_model(), cohort, y[:-1])


def test_pooling_leaves_out_the_overall_row():
    rng = np.random.default_rng(3)
    p = rng.uniform(0.1, 0.9, 300)
    y = rng.random(300) < p
    centre = np.repeat(["A", "B", "C"], 100)
    with_overall = subgroup_performance(y, p, {"center": centre}, overall=True)
    without = subgroup_performance(y, p, {"center": centre}, overall=False)
    pd.testing.assert_frame_equal(pool_performance(with_overall), pool_performance(without))
    assert (pool_performance(with_overall)["k"] == 3).all()
