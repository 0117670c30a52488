"""LogisticRecalibrator: scikit-learn's estimator checks, recovery of a simulated miscalibration,
statsmodels fits as the reference, per-centre recalibration and saving."""

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from scipy.special import expit, logit
from sklearn.compose import make_column_transformer
from sklearn.exceptions import NotFittedError
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import cross_val_predict
from sklearn.pipeline import make_pipeline
from sklearn.utils.estimator_checks import parametrize_with_checks

from tacelearn.metrics import calibration_metrics
from tacelearn.validation import LogisticRecalibrator

# The common checks fit on well-separated blobs. A model that separates cases from controls
# leaves the recalibration slope without a maximum-likelihood estimate (it is infinite), and
# fit refuses such a sample with a ValueError that says so; the intercept-only method has no
# such limit and passes every check.
_SEPARABLE = ("the check's data are separable, so the recalibration slope has no "
              "maximum-likelihood estimate and fit raises ValueError by design")
EXPECTED_FAILED_CHECKS = {
    name: _SEPARABLE for name in ("check_positive_only_tag_during_fit",
                                  "check_pipeline_consistency", "check_estimators_pickle",
                                  "check_classifiers_classes")
}


@parametrize_with_checks(
    [LogisticRecalibrator(method="intercept"),
     LogisticRecalibrator(LogisticRegression(C=0.1), method="intercept", cv=3),
     LogisticRecalibrator()],
    expected_failed_checks=lambda est: (EXPECTED_FAILED_CHECKS
                                        if est.method == "intercept+slope" else {}),
)
def test_sklearn_compatible(estimator, check):
    check(estimator)


TRUE_COEF = np.array([1.2, -0.8, 0.5])


def development_model():
    """A fitted logistic regression whose log-odds are exactly ``X @ TRUE_COEF``."""
    model = LogisticRegression()
    model.coef_, model.intercept_ = TRUE_COEF[None, :].copy(), np.zeros(1)
    model.classes_, model.n_features_in_ = np.array([False, True]), 3
    return model


def local_sample(seed, n, intercept, slope):
    """Patients of a new centre whose true log-odds are intercept + slope * the development
    log-odds."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, 3))
    y = rng.random(n) < expit(intercept + slope * (X @ TRUE_COEF))
    return X, y


def statsmodels_recalibration(y, p):
    lp = logit(p)
    slope = sm.GLM(y.astype(float), sm.add_constant(lp), family=sm.families.Binomial()).fit()
    offset = sm.GLM(y.astype(float), np.ones((y.size, 1)), family=sm.families.Binomial(),
                    offset=lp).fit()
    return slope.params, offset.params[0]


def test_recovers_a_simulated_miscalibration():
    model = development_model()
    X, y = local_sample(1, 20000, intercept=-0.7, slope=0.6)
    recalibrator = LogisticRecalibrator(model, prefit=True).fit(X, y)
    assert recalibrator.intercept_ == pytest.approx(-0.7, abs=0.07)
    assert recalibrator.slope_ == pytest.approx(0.6, abs=0.04)
    (intercept, slope), _ = statsmodels_recalibration(y, model.predict_proba(X)[:, 1])
    assert recalibrator.intercept_ == pytest.approx(intercept, rel=1e-8)
    assert recalibrator.slope_ == pytest.approx(slope, rel=1e-8)


def test_intercept_only_recalibration_is_the_offset_glm():
    model = development_model()
    X, y = local_sample(2, 3000, intercept=0.9, slope=1.0)
    recalibrator = LogisticRecalibrator(model, method="intercept", prefit=True).fit(X, y)
    _, offset_intercept = statsmodels_recalibration(y, model.predict_proba(X)[:, 1])
    assert recalibrator.slope_ == 1.0
    assert recalibrator.intercept_ == pytest.approx(offset_intercept, rel=1e-8)
    assert recalibrator.intercept_ == pytest.approx(0.9, abs=0.15)


def test_recalibrated_predictions_are_calibrated_in_the_sample_and_rank_alike():
    model = development_model()
    X, y = local_sample(3, 2000, intercept=0.5, slope=0.7)
    recalibrator = LogisticRecalibrator(model, prefit=True).fit(X, y)
    recalibrated = recalibrator.predict_proba(X)[:, 1]
    # Maximum likelihood: on its own sample the recalibrated model has intercept 0, slope 1.
    result = calibration_metrics(y, recalibrated, n_resamples=0)
    assert result.calibration_intercept == pytest.approx(0.0, abs=1e-7)
    assert result.calibration_slope == pytest.approx(1.0, abs=1e-7)
    assert roc_auc_score(y, recalibrated) == roc_auc_score(y, model.predict_proba(X)[:, 1])
    decision = recalibrator.decision_function(X)
    assert expit(decision) == pytest.approx(recalibrated)
    assert (recalibrator.predict(X) == (recalibrated > 0.5)).all()


def test_without_prefit_the_recalibration_uses_out_of_fold_probabilities():
    X, y = local_sample(4, 600, intercept=0.0, slope=1.0)
    base = LogisticRegression(C=0.05)
    recalibrator = LogisticRecalibrator(base, cv=4).fit(X, y)
    out_of_fold = cross_val_predict(base, X, y, cv=4, method="predict_proba")[:, 1]
    (intercept, slope), _ = statsmodels_recalibration(y, out_of_fold)
    assert (recalibrator.intercept_, recalibrator.slope_) == pytest.approx((intercept, slope),
                                                                           rel=1e-8)
    refit = LogisticRegression(C=0.05).fit(X, y)
    assert recalibrator.estimator_.coef_ == pytest.approx(refit.coef_)
    assert recalibrator.estimator_ is not base
    assert recalibrator.n_features_in_ == 3


def test_a_frozen_estimator_is_the_same_as_prefit():
    model = development_model()
    X, y = local_sample(5, 1000, intercept=-0.3, slope=0.8)
    prefit = LogisticRecalibrator(model, prefit=True).fit(X, y)
    frozen = LogisticRecalibrator(FrozenEstimator(model)).fit(X, y)
    assert (frozen.intercept_, frozen.slope_) == pytest.approx((prefit.intercept_,
                                                                prefit.slope_), rel=1e-8)


def centre_cohort():
    """Three centres, each with its own miscalibration of the development model."""
    truths = {"centre_1": (0.0, 1.0), "centre_2": (0.8, 0.5), "centre_3": (-0.6, 1.3)}
    frames = []
    for seed, (centre, (intercept, slope)) in enumerate(truths.items()):
        X, y = local_sample(10 + seed, 800, intercept, slope)
        frame = pd.DataFrame(X, columns=["a", "b", "c"]).assign(center=centre, y=y)
        frames.append(frame)
    cohort = pd.concat(frames, ignore_index=True)
    cohort["patient_id"] = [f"P{i:04d}" for i in range(len(cohort))]
    return cohort


def cohort_model():
    model = development_model()
    columns = make_column_transformer(("passthrough", ["a", "b", "c"]))
    columns.fit(pd.DataFrame(np.zeros((1, 3)), columns=["a", "b", "c"]))
    return make_pipeline(FrozenEstimator(columns), FrozenEstimator(model))


def test_per_centre_recalibration_fits_each_centre_on_its_own_patients():
    cohort = centre_cohort()
    model = cohort_model()
    recalibrator = LogisticRecalibrator(model, prefit=True, group_column="center")
    recalibrator.fit(cohort, cohort["y"])
    assert recalibrator.groups_.tolist() == ["centre_1", "centre_2", "centre_3"]
    for position, centre in enumerate(recalibrator.groups_):
        patients = cohort[cohort["center"] == centre]
        (intercept, slope), _ = statsmodels_recalibration(
            patients["y"].to_numpy(), model.predict_proba(patients)[:, 1])
        assert recalibrator.intercept_[position] == pytest.approx(intercept, rel=1e-8)
        assert recalibrator.slope_[position] == pytest.approx(slope, rel=1e-8)
    rows = cohort.iloc[[5, 900, 2000]]
    expected = [expit(recalibrator.intercept_[k] + recalibrator.slope_[k]
                      * logit(model.predict_proba(rows.iloc[[i]])[0, 1]))
                for i, k in enumerate([0, 1, 2])]
    assert recalibrator.predict_proba(rows)[:, 1] == pytest.approx(expected)


def test_unknown_and_missing_centres_are_named():
    cohort = centre_cohort()
    recalibrator = LogisticRecalibrator(cohort_model(), prefit=True, group_column="center")
    recalibrator.fit(cohort, cohort["y"])
    new = cohort.iloc[:3].assign(center=["centre_1", "centre_9", "centre_2"])
    with pytest.raises(ValueError, match=r"centre_9.*P0001.*fitted for"):
        recalibrator.predict_proba(new)
    with pytest.raises(ValueError, match="needs X to be a DataFrame"):
        recalibrator.predict_proba(new.drop(columns="center"))
    missing = cohort.assign(center=cohort["center"].where(cohort.index != 7))
    with pytest.raises(ValueError, match=r"missing at row\(s\) \[7\] \(patient\(s\) P0007\)"):
        LogisticRecalibrator(cohort_model(), prefit=True,
                             group_column="center").fit(missing, missing["y"])


def test_samples_that_cannot_be_recalibrated_are_refused():
    model = development_model()
    X, y = local_sample(6, 200, 0.0, 1.0)
    with pytest.raises(NotFittedError):
        LogisticRecalibrator(LogisticRegression(), prefit=True).fit(X, y)
    separated = model.predict_proba(X)[:, 1] > 0.5
    with pytest.raises(ValueError, match="use method='intercept'"):
        LogisticRecalibrator(model, prefit=True).fit(X, separated)
    LogisticRecalibrator(model, prefit=True, method="intercept").fit(X, separated)
    with pytest.raises(ValueError, match="Only binary classification"):
        LogisticRecalibrator(model, prefit=True).fit(X, np.arange(200) % 3)


def test_survives_save_model(tmp_path):
    estimators = pytest.importorskip("tacelearn.estimators")
    cohort = centre_cohort()
    recalibrator = LogisticRecalibrator(make_pipeline(
        make_column_transformer(("passthrough", ["a", "b", "c"])), LogisticRegression()),
        group_column="center", cv=3).fit(cohort, cohort["y"])
    # On the allow-list of saved classes: no trust to grant.
    folder = estimators.save_model(recalibrator, tmp_path / "recalibrated")
    loaded = estimators.load_model(folder)
    assert loaded.predict_proba(cohort) == pytest.approx(recalibrator.predict_proba(cohort))
    assert loaded.groups_.tolist() == recalibrator.groups_.tolist()
