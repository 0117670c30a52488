"""Logistic recalibration of a classifier on a local sample (Steyerberg 2019, ch. 20)."""

from __future__ import annotations

from numbers import Real

import numpy as np
import pandas as pd
from scipy.special import expit
from sklearn.base import BaseEstimator, ClassifierMixin, MetaEstimatorMixin, _fit_context, clone
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import cross_val_predict
from sklearn.utils import assert_all_finite, get_tags
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils.multiclass import check_classification_targets, type_of_target
from sklearn.utils.validation import check_is_fitted, column_or_1d

from ..stats import DEFAULT_LOGIT_EPSILON, clipped_logit, fit_logistic_recalibration
from ..utils import describe_rows

__all__ = ["LogisticRecalibrator"]

_METHODS = ("intercept", "intercept+slope")


def _recalibration(is_case, linear_predictor, method, where):
    """``(intercept, slope)`` of the recalibration fitted on one sample."""
    n_cases = int(is_case.sum())
    if n_cases in (0, is_case.shape[0]):
        raise ValueError(f"the recalibration sample {where}holds one class only "
                         f"({is_case.shape[0]} patients, {n_cases} cases)")
    if method == "intercept":
        return float(fit_logistic_recalibration(is_case, linear_predictor,
                                                slope=False).coef[0]), 1.0
    intercept, slope = fit_logistic_recalibration(is_case, linear_predictor, slope=True).coef
    if not np.isfinite(slope):
        raise ValueError(
            f"the recalibration slope {where}is undefined ({slope}): the model's predictions "
            "are constant or separate the cases from the controls; use method='intercept'"
        )
    return float(intercept), float(slope)


class LogisticRecalibrator(ClassifierMixin, MetaEstimatorMixin, BaseEstimator):
    """Recalibrate a classifier's probabilities by logistic regression on its logits.

    A model developed in one hospital often ranks the patients of another well but predicts
    probabilities that are too high or low on average (calibration-in-the-large) or too
    extreme (calibration slope below 1). Logistic recalibration keeps the model and refits
    ``logit P(y) = a + logit(p)`` (``method="intercept"``) or ``a + b logit(p)``
    (``method="intercept+slope"``) on a local sample (Steyerberg 2019, ch. 20; Van Calster et
    al. 2019). The AUC does not change: the map from ``p`` to the recalibrated probability is
    increasing.

    Parameters
    ----------
    estimator : classifier with ``predict_proba``, default=None
        The model to recalibrate; ``None`` means ``LogisticRegression()``.
    method : {"intercept+slope", "intercept"}, default="intercept+slope"
        Refit the intercept only (updating the baseline risk, for a new centre with a
        different response rate), or the intercept and the slope.
    prefit : bool, default=False
        ``True``: ``estimator`` is already fitted (e.g. on the development centre) and is used
        as is; :meth:`fit` estimates the recalibration on ``X, y``, the local sample.
        ``sklearn.frozen.FrozenEstimator(model)`` with ``prefit=False`` does the same.
        ``False``: :meth:`fit` fits a clone of ``estimator`` on ``X, y`` and the recalibration
        on its out-of-fold probabilities (``cv``), like
        :class:`~sklearn.calibration.CalibratedClassifierCV` with ``ensemble=False``.
    cv : int, cross-validation generator or iterable, default=5
        Folds of the out-of-fold probabilities when ``prefit=False`` (an int means stratified
        folds without shuffling).
    group_column : str, optional
        A column of ``X`` (a DataFrame such as the cohort), e.g. ``"center"``: each of its
        values gets its own recalibration, fitted on its patients; :meth:`predict_proba` then
        needs the column and accepts only the values seen in :meth:`fit` (compared as text).
    epsilon : float, default=1e-8
        Probabilities are clipped to ``[epsilon, 1 - epsilon]`` before their logit is taken.

    Attributes
    ----------
    estimator_ : classifier
        The recalibrated model: ``estimator`` itself when ``prefit``, a fitted clone otherwise.
    classes_ : ndarray of shape (2,)
        The class labels; ``classes_[1]`` is the case label.
    intercept_ : float or ndarray of shape (n_groups,)
        ``a``; one per group with ``group_column``.
    slope_ : float or ndarray of shape (n_groups,)
        ``b`` (1 for ``method="intercept"``); one per group with ``group_column``.
    groups_ : ndarray of str of shape (n_groups,)
        The values of ``group_column`` seen in :meth:`fit` (only with ``group_column``).
    n_features_in_ : int
        Number of features the recalibrated model saw, where it records it.
    feature_names_in_ : ndarray of str
        Their names, where the recalibrated model records them.

    See Also
    --------
    tacelearn.metrics.calibration_metrics : Calibration intercept and slope with intervals.
    sklearn.calibration.CalibratedClassifierCV : Platt scaling and isotonic calibration on the
        decision function.

    References
    ----------
    Steyerberg EW. Clinical Prediction Models, 2nd ed. Springer 2019, chapter 20.

    Examples
    --------
    A model developed in one centre, recalibrated in another whose patients respond more often:

    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> from tacelearn.validation import LogisticRecalibrator
    >>> rng = np.random.default_rng(0)
    >>> X_dev, X_local = rng.standard_normal((2000, 3)), rng.standard_normal((2000, 3))
    >>> y_dev = rng.random(2000) < 1 / (1 + np.exp(-2.0 * X_dev[:, 0]))
    >>> # the local truth: log-odds 1.0 + 0.5 * (the development log-odds)
    >>> y_local = rng.random(2000) < 1 / (1 + np.exp(-(1.0 + 0.5 * 2.0 * X_local[:, 0])))
    >>> model = LogisticRegression().fit(X_dev, y_dev)
    >>> local = LogisticRecalibrator(model, prefit=True).fit(X_local, y_local)
    >>> print(f"intercept {local.intercept_:.2f}, slope {local.slope_:.2f}")
    intercept 1.06, slope 0.55
    >>> model.predict_proba(X_local[:2])[:, 1].round(3)
    array([0.06 , 0.856])
    >>> local.predict_proba(X_local[:2])[:, 1].round(3)
    array([0.388, 0.885])
    """

    _parameter_constraints: dict = {
        "estimator": [HasMethods(["fit", "predict_proba"]), None],
        "method": [StrOptions(set(_METHODS))],
        "prefit": ["boolean"],
        "cv": ["cv_object"],
        "group_column": [str, None],
        "epsilon": [Interval(Real, 0.0, 0.5, closed="neither")],
    }

    def __init__(self, estimator=None, *, method="intercept+slope", prefit=False, cv=5,
                 group_column=None, epsilon=DEFAULT_LOGIT_EPSILON):
        self.estimator = estimator
        self.method = method
        self.prefit = prefit
        self.cv = cv
        self.group_column = group_column
        self.epsilon = epsilon

    def _base(self):
        return LogisticRegression() if self.estimator is None else self.estimator

    def _group_values(self, X):
        """The group of every row of ``X``, as text."""
        if not isinstance(X, pd.DataFrame) or self.group_column not in X.columns:
            raise ValueError(f"group_column={self.group_column!r} needs X to be a DataFrame "
                             "with that column")
        values = X[self.group_column]
        missing = values.isna().to_numpy()
        if missing.any():
            raise ValueError(f"column {self.group_column!r} is missing at "
                             f"{describe_rows(X, missing)}")
        return values.astype(str).to_numpy()

    def _fit_base(self, X, y):
        """The fitted model and its case probabilities for ``X``, as the recalibration sees them."""
        base = self._base()
        if self.prefit:
            check_is_fitted(base)
            return base, np.asarray(base.predict_proba(X), dtype=np.float64)
        out_of_fold = cross_val_predict(clone(base), X, y, cv=self.cv, method="predict_proba")
        return clone(base).fit(X, y), np.asarray(out_of_fold, dtype=np.float64)

    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y):
        """Fit the model (unless ``prefit``) and the recalibration.

        Parameters
        ----------
        X : array-like or pandas.DataFrame of shape (n_samples, ...)
            The recalibration sample, as the model takes it.
        y : array-like of shape (n_samples,)
            Binary outcome.

        Returns
        -------
        self : LogisticRecalibrator
            The fitted recalibrator.
        """
        y = column_or_1d(y, warn=True)
        assert_all_finite(y, input_name="y")
        check_classification_targets(y)
        target_type = type_of_target(y, input_name="y")
        if target_type != "binary":
            raise ValueError("Only binary classification is supported. The type of the target "
                             f"is {target_type}: LogisticRecalibrator recalibrates the "
                             "probability of one of two classes.")
        groups = self._group_values(X) if self.group_column is not None else None
        model, probabilities = self._fit_base(X, y)
        classes = np.asarray(model.classes_)
        unknown = sorted(set(np.unique(y).tolist()) - set(classes.tolist()))
        if classes.shape[0] != 2 or unknown:
            raise ValueError(f"the model's classes {classes.tolist()} must be the two labels of "
                             f"y (y also holds {unknown})")
        is_case = y == classes[1]
        linear_predictor, _ = clipped_logit(probabilities[:, 1], self.epsilon)
        if groups is None:
            self.intercept_, self.slope_ = _recalibration(is_case, linear_predictor, self.method,
                                                          "")
        else:
            self.groups_ = np.unique(groups)
            coefficients = [
                _recalibration(is_case[groups == group], linear_predictor[groups == group],
                               self.method, f"of {self.group_column} = {group!r} ")
                for group in self.groups_
            ]
            self.intercept_, self.slope_ = (np.array(c) for c in zip(*coefficients))
        self.estimator_ = model
        self.classes_ = classes
        for name in ("n_features_in_", "feature_names_in_"):
            if hasattr(model, name):
                setattr(self, name, getattr(model, name))
        return self

    def _coefficients(self, X):
        """Intercept and slope for every row of ``X``."""
        if self.group_column is None:
            return self.intercept_, self.slope_
        groups = self._group_values(X)
        position = np.searchsorted(self.groups_, groups)
        known = (position < self.groups_.shape[0]) & (
            self.groups_[np.minimum(position, self.groups_.shape[0] - 1)] == groups)
        if not known.all():
            raise ValueError(
                f"{self.group_column} {sorted(set(groups[~known]))} at "
                f"{describe_rows(X, ~known)} has no recalibration; fitted for "
                f"{self.groups_.tolist()}"
            )
        return self.intercept_[position], self.slope_[position]

    def decision_function(self, X):
        """Recalibrated log-odds of the case label.

        Parameters
        ----------
        X : array-like or pandas.DataFrame of shape (n_samples, ...)
            Patients, as the model takes them.

        Returns
        -------
        log_odds : ndarray of shape (n_samples,)
            ``a + b logit(p)``.
        """
        check_is_fitted(self)
        probabilities = np.asarray(self.estimator_.predict_proba(X), dtype=np.float64)[:, 1]
        linear_predictor, _ = clipped_logit(probabilities, self.epsilon)
        intercept, slope = self._coefficients(X)
        return intercept + slope * linear_predictor

    def predict_proba(self, X):
        """Recalibrated class probabilities.

        Parameters
        ----------
        X : array-like or pandas.DataFrame of shape (n_samples, ...)
            Patients, as the model takes them.

        Returns
        -------
        probabilities : ndarray of shape (n_samples, 2)
            Columns in the order of ``classes_``.
        """
        case = expit(self.decision_function(X))
        return np.column_stack((1.0 - case, case))

    def predict(self, X):
        """The case label where the recalibrated probability exceeds 0.5.

        Parameters
        ----------
        X : array-like or pandas.DataFrame of shape (n_samples, ...)
            Patients, as the model takes them.

        Returns
        -------
        labels : ndarray of shape (n_samples,)
            One of ``classes_`` per patient.
        """
        check_is_fitted(self)
        return self.classes_[(self.decision_function(X) > 0.0).astype(int)]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags = get_tags(self._base()).input_tags
        tags.classifier_tags.multi_class = False
        return tags
