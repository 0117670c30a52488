"""Scorers inside real cross_validate / GridSearchCV calls, against scikit-learn and the formula."""

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, StratifiedKFold, cross_validate
from sklearn.svm import LinearSVC

from tacelearn.metrics import delong_auc_scorer, net_benefit_scorer


@pytest.fixture(scope="module")
def data():
    X, y = make_classification(n_samples=240, n_features=6, flip_y=0.1, random_state=0)
    return X, y


CV = StratifiedKFold(n_splits=4, shuffle=True, random_state=0)


@pytest.mark.parametrize("estimator", [LogisticRegression(), LinearSVC()])
def test_delong_auc_scorer_equals_sklearn_roc_auc(data, estimator):
    X, y = data
    result = cross_validate(estimator, X, y, cv=CV,
                            scoring={"delong": delong_auc_scorer, "sklearn": "roc_auc"})
    np.testing.assert_allclose(result["test_delong"], result["test_sklearn"], rtol=1e-12)


def test_delong_auc_scorer_with_string_labels(data):
    X, y = data
    labels = np.where(y == 1, "OR", "NOR")
    result = cross_validate(LogisticRegression(), X, labels, cv=CV,
                            scoring={"delong": delong_auc_scorer, "sklearn": "roc_auc"})
    np.testing.assert_allclose(result["test_delong"], result["test_sklearn"], rtol=1e-12)


def test_net_benefit_scorer_equals_the_formula_per_fold(data):
    X, y = data
    pt = 0.3
    result = cross_validate(LogisticRegression(), X, y, cv=CV, scoring=net_benefit_scorer(pt))
    expected = []
    for train, test in CV.split(X, y):
        p = clone(LogisticRegression()).fit(X[train], y[train]).predict_proba(X[test])[:, 1]
        event, treated = y[test] == 1, p >= pt
        n = len(test)
        expected.append(np.sum(event & treated) / n - np.sum(~event & treated) / n * pt / (1 - pt))
    np.testing.assert_allclose(result["test_score"], expected, rtol=1e-12)


def test_net_benefit_scorer_pos_label_picks_the_event_column(data):
    X, y = data
    labels = np.where(y == 1, "OR", "NOR")
    pt = 0.4
    result = cross_validate(LogisticRegression(), X, labels, cv=CV,
                            scoring=net_benefit_scorer(pt, pos_label="NOR"))
    expected = []
    for train, test in CV.split(X, labels):
        model = clone(LogisticRegression()).fit(X[train], labels[train])
        p = model.predict_proba(X[test])[:, list(model.classes_).index("NOR")]
        event, treated = labels[test] == "NOR", p >= pt
        n = len(test)
        expected.append(np.sum(event & treated) / n - np.sum(~event & treated) / n * pt / (1 - pt))
    np.testing.assert_allclose(result["test_score"], expected, rtol=1e-12)


def test_scorers_drive_a_grid_search(data):
    X, y = data
    search = GridSearchCV(LogisticRegression(), {"C": [0.001, 1.0]}, cv=CV,
                          scoring={"auc": delong_auc_scorer, "nb": net_benefit_scorer(0.2)},
                          refit="auc")
    search.fit(X, y)
    assert search.best_params_["C"] in (0.001, 1.0)
    reference = GridSearchCV(LogisticRegression(), {"C": [0.001, 1.0]}, cv=CV,
                             scoring="roc_auc").fit(X, y)
    np.testing.assert_allclose(search.cv_results_["mean_test_auc"],
                               reference.cv_results_["mean_test_score"], rtol=1e-12)


def test_net_benefit_scorer_refuses_a_bad_threshold():
    with pytest.raises(ValueError, match="threshold"):
        net_benefit_scorer(1.0)
