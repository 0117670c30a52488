"""Univariate screening of clinical factors, as clinical prediction studies do before modelling."""

from __future__ import annotations

import numbers
import warnings

import numpy as np
import pandas as pd
from scipy import stats
from sklearn.base import BaseEstimator, _fit_context
from sklearn.feature_selection import SelectorMixin
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

__all__ = ["UnivariateSelector"]

_CONTINUOUS_TESTS = ("mannwhitney", "welch")
# Expected cell counts below this make the chi-square approximation unreliable (Cochran's rule).
_MIN_EXPECTED_COUNT = 5


def _is_categorical(values):
    """Text, category and boolean columns, and numeric columns with at most two values."""
    if isinstance(values, pd.Series):
        if isinstance(values.dtype, pd.CategoricalDtype) or values.dtype == bool:
            return True
        if values.dtype == object or pd.api.types.is_string_dtype(values.dtype):
            numbers_ = pd.to_numeric(values, errors="coerce")
            if numbers_.notna().sum() < values.notna().sum():
                return True
            values = numbers_
        values = values.to_numpy(dtype=float, na_value=np.nan)
    else:
        try:
            values = np.asarray(values, dtype=float)
        except (TypeError, ValueError):
            return True
    present = values[~np.isnan(values)]
    return np.unique(present).size <= 2


def _present(values):
    series = pd.Series(values)
    return series.notna().to_numpy()


def _categorical_test(values, y):
    table = pd.crosstab(pd.Series(values).astype(str).to_numpy(), y).to_numpy()
    if table.shape[0] < 2 or table.shape[1] < 2:
        return np.nan, 1.0, "constant"
    expected = stats.contingency.expected_freq(table)
    if expected.min() < _MIN_EXPECTED_COUNT:
        try:
            result = stats.fisher_exact(table)
            return float(result.statistic), float(result.pvalue), "fisher"
        except ValueError:
            # SciPy before 1.17 has Fisher's test for 2 x 2 tables only.
            pass
    result = stats.chi2_contingency(table, correction=table.shape == (2, 2))
    return float(result.statistic), float(result.pvalue), "chi2"


def _continuous_test(values, y, classes, test):
    values = pd.to_numeric(pd.Series(values), errors="coerce").to_numpy(dtype=float)
    samples = [values[y == c] for c in classes]
    if any(s.size == 0 for s in samples) or np.ptp(values) == 0:
        return np.nan, 1.0, "constant"
    if len(classes) == 2:
        if test == "mannwhitney":
            result = stats.mannwhitneyu(samples[1], samples[0], alternative="two-sided")
            return float(result.statistic), float(result.pvalue), "mannwhitney"
        if min(s.size for s in samples) < 2:
            return np.nan, 1.0, "constant"
        result = stats.ttest_ind(samples[1], samples[0], equal_var=False)
        return float(result.statistic), float(result.pvalue), "welch"
    # More than two classes: the k-sample forms of the same tests.
    if test == "mannwhitney":
        result = stats.kruskal(*samples)
        return float(result.statistic), float(result.pvalue), "kruskal"
    if min(s.size for s in samples) < 2:
        return np.nan, 1.0, "constant"
    result = stats.f_oneway(*samples, equal_var=False)
    return float(result.statistic), float(result.pvalue), "welch_anova"


class UnivariateSelector(SelectorMixin, BaseEstimator):
    """Keep the columns associated with the label in univariate analysis.

    Each column is tested against the class label on its own, missing values left out:
    categorical columns (text, category, boolean, or numbers with at most two values) by the
    chi-square test of independence, or Fisher's exact test when an expected count is below 5;
    continuous columns by the Mann-Whitney U test or Welch's t-test. Columns with a p-value below
    ``alpha`` are kept, as in the screening step of clinical prediction models (the paper kept
    ALT, ascites, BCLC stage and portal venous invasion this way). With more than two classes the
    k-sample forms are used (Kruskal-Wallis, Welch's ANOVA, r x c tables).

    DataFrames pass through as DataFrames with their dtypes, so the selector can sit before
    column-wise preprocessing (imputation, one-hot encoding) and screen whole variables rather
    than dummy columns.

    Parameters
    ----------
    alpha : float, default=0.05
        Significance level: columns with ``pvalue < alpha`` are kept.
    tests : {"auto", "mannwhitney", "welch"} or dict, default="auto"
        Test for continuous columns; ``"auto"`` means Mann-Whitney U (no normality assumption
        for skewed laboratory values). A dict maps column names to ``"mannwhitney"``,
        ``"welch"`` or ``"categorical"``; unnamed columns use ``"auto"``.
    min_features : int, default=1
        Keep at least this many columns (those with the smallest p-values) even when fewer pass
        ``alpha``, so that a downstream model always has an input.

    Attributes
    ----------
    pvalues_ : ndarray of shape (n_features_in_,)
        P-value of each column.
    statistics_ : ndarray of shape (n_features_in_,)
        Test statistic of each column (chi-square, Fisher's odds ratio for 2 x 2 tables or the
        table probability for larger ones, U of the positive class, Welch's t of the positive
        minus the negative class, Kruskal-Wallis H or Welch's F). NaN for constant columns.
    tests_ : ndarray of str
        Name of the test used for each column.
    classes_ : ndarray
        Class labels seen in ``fit``.
    n_features_in_ : int
        Number of columns seen in ``fit``.
    feature_names_in_ : ndarray of str
        Column names seen in ``fit`` (DataFrame input only).

    See Also
    --------
    sklearn.feature_selection.SelectFpr : Selection by a univariate false positive rate.

    Examples
    --------
    >>> import pandas as pd
    >>> from tacelearn.transformers import UnivariateSelector
    >>> X = pd.DataFrame({"alt": [20, 25, 30, 80, 90, 95, 22, 85, 28, 99],
    ...                   "age": [50, 60, 55, 52, 61, 58, 57, 54, 59, 53],
    ...                   "ascites": ["no"] * 5 + ["yes"] * 5})
    >>> y = [1, 1, 1, 0, 0, 0, 1, 0, 1, 0]
    >>> selector = UnivariateSelector(alpha=0.05).fit(X, y)
    >>> selector.get_feature_names_out().tolist()
    ['alt']
    >>> selector.transform(X).columns.tolist()
    ['alt']
    """

    _parameter_constraints: dict = {
        "alpha": [Interval(numbers.Real, 0, 1, closed="both")],
        "tests": [StrOptions({"auto", *_CONTINUOUS_TESTS}), dict],
        "min_features": [Interval(numbers.Integral, 0, None, closed="left")],
    }

    def __init__(self, *, alpha=0.05, tests="auto", min_features=1):
        self.alpha = alpha
        self.tests = tests
        self.min_features = min_features

    def _column_test(self, name):
        if isinstance(self.tests, dict):
            choice = self.tests.get(name, "auto")
            if choice not in ("auto", "categorical", *_CONTINUOUS_TESTS):
                raise ValueError(
                    f"tests[{name!r}] = {choice!r}; expected 'auto', 'categorical', "
                    "'mannwhitney' or 'welch'"
                )
            return choice
        return self.tests

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y):
        """Test every column against ``y``.

        Parameters
        ----------
        X : {array-like, DataFrame} of shape (n_samples, n_features)
            Columns to screen; missing values are allowed and left out per column.
        y : array-like of shape (n_samples,)
            Class labels.

        Returns
        -------
        self : UnivariateSelector
            The fitted selector.
        """
        frame = X if isinstance(X, pd.DataFrame) else None
        X_checked, y = validate_data(self, X, y, dtype=None, ensure_all_finite="allow-nan",
                                     reset=True)
        check_classification_targets(y)
        self.classes_ = np.unique(y)
        if self.classes_.size < 2:
            raise ValueError(
                f"UnivariateSelector needs at least two classes in y; got 1 class: {self.classes_}"
            )
        if isinstance(self.tests, dict) and frame is not None:
            unknown = sorted(set(self.tests) - set(map(str, frame.columns)))
            if unknown:
                raise ValueError(f"tests names column(s) {unknown} that are not in X")
        n_features = X_checked.shape[1]
        statistics, pvalues, tests = np.full(n_features, np.nan), np.ones(n_features), []
        for j in range(n_features):
            name = str(frame.columns[j]) if frame is not None else f"x{j}"
            values = frame.iloc[:, j] if frame is not None else X_checked[:, j]
            present = _present(values)
            column_values = (values[present] if isinstance(values, pd.Series)
                             else values[present])
            y_present = y[present]
            choice = self._column_test(name)
            with warnings.catch_warnings():
                # Tiny or degenerate groups make SciPy warn; the p-value it returns stands.
                warnings.simplefilter("ignore", RuntimeWarning)
                if choice == "categorical" or (choice == "auto" and _is_categorical(values)):
                    result = _categorical_test(np.asarray(column_values), y_present)
                else:
                    test = "mannwhitney" if choice == "auto" else choice
                    result = _continuous_test(np.asarray(column_values), y_present,
                                              self.classes_, test)
            statistics[j], pvalues[j] = result[0], result[1]
            tests.append(result[2])
        pvalues[np.isnan(pvalues)] = 1.0
        self.statistics_ = statistics
        self.pvalues_ = pvalues
        self.tests_ = np.asarray(tests, dtype=object)
        support = pvalues < self.alpha
        n_keep = min(self.min_features, n_features)
        if support.sum() < n_keep:
            support[np.argsort(pvalues, kind="stable")[:n_keep]] = True
        self.support_ = support
        return self

    def _get_support_mask(self):
        check_is_fitted(self)
        return self.support_

    def transform(self, X):
        """Keep the selected columns; DataFrames stay DataFrames with their dtypes.

        Parameters
        ----------
        X : {array-like, DataFrame} of shape (n_samples, n_features_in_)
            Data with the columns seen in ``fit``.

        Returns
        -------
        X_selected : {ndarray, DataFrame} of shape (n_samples, n_selected_features)
            The selected columns.
        """
        check_is_fitted(self)
        if isinstance(X, pd.DataFrame):
            validate_data(self, X, dtype=None, ensure_all_finite="allow-nan", reset=False,
                          skip_check_array=True)
            return X.loc[:, self.support_]
        X = validate_data(self, X, dtype=None, ensure_all_finite="allow-nan", reset=False)
        return X[:, self.support_]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.required = True
        tags.input_tags.allow_nan = True
        tags.input_tags.string = True
        tags.input_tags.categorical = True
        return tags
