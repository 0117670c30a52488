"""What every validation routine computes on a set of patients: the named performance metrics,
one row of a performance table, and the probabilities a fitted classifier gives the case label.

Module-level functions only, so that joblib can ship them to any backend (Dask included).
"""

from __future__ import annotations

import numpy as np
from scipy.special import ndtri
from scipy.stats import rankdata
from sklearn.base import clone
from sklearn.utils import _safe_indexing

from ..metrics import (
    brier_scores,
    delong_roc_ci,
    delong_roc_variance,
    loess_calibration_errors,
)
from ..stats import clipped_logit, fit_logistic_recalibration
from ..utils import sequential_in_dask_worker

__all__ = ["PERFORMANCE_COLUMNS", "VALIDATION_METRICS", "case_label_of", "case_probability",
           "check_confidence_level", "check_metric_names", "evaluate_metrics", "fit_and_predict",
           "performance_row", "rank_auc"]

#: Metrics that :func:`tacelearn.validation.bootstrap_validate` can estimate.
VALIDATION_METRICS = ("auc", "calibration_slope", "calibration_intercept", "brier",
                      "scaled_brier", "ici", "e50", "e90", "emax")
_LOESS_METRICS = ("ici", "e50", "e90", "emax")

#: Columns of one row of a per-group performance table, after the grouping columns.
PERFORMANCE_COLUMNS = (
    "n", "events", "expected", "auc", "auc_low", "auc_high", "auc_variance",
    "calibration_intercept", "intercept_low", "intercept_high", "intercept_variance",
    "calibration_slope", "slope_low", "slope_high", "slope_variance", "brier",
)


def check_confidence_level(confidence_level):
    """The normal quantile of a two-sided interval at ``confidence_level``, in (0, 1)."""
    if not 0.0 < confidence_level < 1.0:
        raise ValueError(
            f"confidence_level must lie strictly between 0 and 1, got {confidence_level!r}"
        )
    return float(ndtri(0.5 + confidence_level / 2.0))


def check_metric_names(metrics):
    """The metric names as a tuple, or a ValueError listing the unknown ones."""
    if isinstance(metrics, str):
        metrics = (metrics,)
    names = tuple(metrics)
    unknown = [name for name in names if name not in VALIDATION_METRICS]
    if unknown or not names:
        raise ValueError(f"metrics must be a non-empty selection of {VALIDATION_METRICS}; "
                         f"unknown: {unknown}")
    if len(set(names)) != len(names):
        raise ValueError(f"metrics are repeated: {list(names)}")
    return names


def rank_auc(is_case, probabilities):
    """AUC from midranks (Mann-Whitney); NaN without both classes."""
    n_cases = int(is_case.sum())
    n_controls = is_case.shape[0] - n_cases
    if n_cases == 0 or n_controls == 0:
        return np.nan
    ranks = rankdata(probabilities)
    return float((ranks[is_case].sum() - n_cases * (n_cases + 1) / 2.0)
                 / (n_cases * n_controls))


def evaluate_metrics(names, is_case, probabilities, epsilon):
    """The named metrics of these predictions, as an array in the order of ``names``.

    Undefined values are NaN (all of them with one class only; the loess errors when the
    loess neighbourhood collapses); a slope whose maximum-likelihood estimate is infinite
    (separated predictions) is +/-inf.
    """
    if not 0 < is_case.sum() < is_case.shape[0]:
        return np.full(len(names), np.nan)
    values = {}
    if "auc" in names:
        values["auc"] = rank_auc(is_case, probabilities)
    if {"brier", "scaled_brier"} & set(names):
        values["brier"], values["scaled_brier"] = brier_scores(is_case, probabilities)
    if {"calibration_intercept", "calibration_slope"} & set(names):
        linear_predictor, _ = clipped_logit(probabilities, epsilon)
        if "calibration_intercept" in names:
            values["calibration_intercept"] = fit_logistic_recalibration(
                is_case, linear_predictor, slope=False).coef[0]
        if "calibration_slope" in names:
            values["calibration_slope"] = fit_logistic_recalibration(
                is_case, linear_predictor, slope=True).coef[1]
    if set(_LOESS_METRICS) & set(names):
        try:
            errors = loess_calibration_errors(is_case, probabilities)
        except ValueError:
            errors = (np.nan,) * len(_LOESS_METRICS)
        values.update(zip(_LOESS_METRICS, errors))
    return np.array([values[name] for name in names], dtype=np.float64)


def _auc_columns(is_case, probabilities, confidence_level):
    n_cases = int(is_case.sum())
    n_controls = is_case.shape[0] - n_cases
    if min(n_cases, n_controls) < 2:
        return {"auc": rank_auc(is_case, probabilities), "auc_low": np.nan,
                "auc_high": np.nan, "auc_variance": np.nan}
    auc, variance = delong_roc_variance(is_case, probabilities)
    low, high = delong_roc_ci(is_case, probabilities, confidence_level)
    return {"auc": auc, "auc_low": low, "auc_high": high, "auc_variance": variance}


def _calibration_columns(is_case, probabilities, z, epsilon):
    columns = dict.fromkeys(PERFORMANCE_COLUMNS[7:15], np.nan)
    if not 0 < is_case.sum() < is_case.shape[0]:
        return columns
    linear_predictor, _ = clipped_logit(probabilities, epsilon)
    for name, prefix, slope in (("calibration_intercept", "intercept", False),
                                ("calibration_slope", "slope", True)):
        fit = fit_logistic_recalibration(is_case, linear_predictor, slope=slope)
        estimate, variance = fit.coef[-1], fit.covariance[-1, -1]
        half_width = z * np.sqrt(variance)
        columns.update({name: float(estimate), f"{prefix}_low": float(estimate - half_width),
                        f"{prefix}_high": float(estimate + half_width),
                        f"{prefix}_variance": float(variance)})
    return columns


def performance_row(is_case, probabilities, *, confidence_level, z, epsilon):
    """One row of a performance table: counts, AUC with its DeLong interval and variance,
    calibration intercept and slope with Wald intervals and variances, Brier score."""
    row = {"n": int(is_case.shape[0]), "events": int(is_case.sum()),
           "expected": float(probabilities.sum())}
    row.update(_auc_columns(is_case, probabilities, confidence_level))
    row.update(_calibration_columns(is_case, probabilities, z, epsilon))
    row["brier"] = (float(np.mean((probabilities - is_case) ** 2)) if is_case.shape[0]
                    else np.nan)
    return row


def case_label_of(y, is_case):
    """The label of the cases, as a Python scalar."""
    labels = np.asarray(y, dtype=object) if not hasattr(y, "to_numpy") else y.to_numpy()
    label = labels[np.flatnonzero(is_case)[0]]
    return label.item() if hasattr(label, "item") else label


def case_probability(model, X, case_label):
    """``model.predict_proba(X)`` for the case label."""
    classes = list(getattr(model, "classes_", []))
    if case_label not in classes:
        raise ValueError(f"the case label {case_label!r} is not one of the classes {classes} "
                         f"of the fitted {type(model).__name__}")
    return np.asarray(model.predict_proba(X), dtype=np.float64)[:, classes.index(case_label)]


def fit_and_predict(estimator, X, y, train, case_label, predict=None):
    """Fit a clone of ``estimator`` on rows ``train``; its case probabilities for rows
    ``predict`` (all rows when None).

    On a Dask worker the refit's own joblib calls (a ColumnTransformer's steps) stay in this
    task instead of going back to the cluster as tiny tasks of their own.
    """
    with sequential_in_dask_worker():
        model = clone(estimator).fit(_safe_indexing(X, train), _safe_indexing(y, train))
        return case_probability(model, X if predict is None else _safe_indexing(X, predict),
                                case_label)
