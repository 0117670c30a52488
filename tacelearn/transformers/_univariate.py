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

from ..stats import contingency_test, mann_whitney_u

__all__ = ["UnivariateSelector"]

_CONTINUOUS_TESTS = ("mannwhitney", "welch")
_COLUMN_CHOICES = ("auto", "categorical", *_CONTINUOUS_TESTS)


def _as_numbers(series):
    """The values of a Series as floats, or None when some present value is not a number."""
    if isinstance(series.dtype, pd.CategoricalDtype) or series.dtype == bool:
        return None
    if pd.api.types.is_numeric_dtype(series.dtype):  # nothing to parse: skip to_numeric
        return series.to_numpy(dtype=float, na_value=np.nan)
    numbers_ = pd.to_numeric(series, errors="coerce")
    if numbers_.notna().sum() < series.notna().sum():
        return None
    return numbers_.to_numpy(dtype=float, na_value=np.nan)


def _is_categorical(numbers_):
    """Text, category and boolean columns (no ``numbers_``), and numeric columns with at most
    two values."""
    return numbers_ is None or np.unique(numbers_[~np.isnan(numbers_)]).size <= 2


def _not_tested(reason):
    return np.nan, np.nan, f"not tested ({reason})"


def _contingency_table(values, y, classes):
    """Counts of classes (rows, every class) x levels (columns, the observed values as text
    in sorted order), counted with numpy: ``pd.crosstab`` cost most of a clinical model's fit,
    and a bootstrap validation refits it hundreds of times."""
    levels, level_codes = np.unique(values.astype(str).to_numpy(), return_inverse=True)
    class_codes = np.searchsorted(classes, y)
    counts = np.bincount(class_codes * levels.size + level_codes.ravel(),
                         minlength=classes.size * levels.size)
    return counts.reshape(classes.size, levels.size)


def _categorical_test(values, y, classes):
    result = contingency_test(_contingency_table(values, y, classes))
    if result.test == "not_tested":
        return _not_tested(result.reason)
    return result.statistic, result.pvalue, result.test


def _two_sample_test(samples, test):
    if test == "mannwhitney":
        result = mann_whitney_u(samples[1], samples[0])
        return result.statistic, result.pvalue, "mannwhitney"
    if min(s.size for s in samples) < 2:
        return _not_tested("a class has fewer than two values")
    if max(np.ptp(s) for s in samples) == 0:
        return _not_tested("constant within each class")  # R's t.test refuses this too
    result = stats.ttest_ind(samples[1], samples[0], equal_var=False)
    return float(result.statistic), float(result.pvalue), "welch"


def _k_sample_test(samples, test):
    if test == "mannwhitney":
        result = stats.kruskal(*samples)
        return float(result.statistic), float(result.pvalue), "kruskal"
    if min(s.size for s in samples) < 2:
        return _not_tested("a class has fewer than two values")
    if max(np.ptp(s) for s in samples) == 0:
        return _not_tested("constant within each class")
    result = stats.f_oneway(*samples, equal_var=False)
    return float(result.statistic), float(result.pvalue), "welch_anova"


def _continuous_test(values, y, classes, test):
    numbers_ = np.asarray(values, dtype=float)
    samples = [numbers_[y == c] for c in classes]
    if any(s.size == 0 for s in samples):
        return _not_tested("a class has no value")
    if np.ptp(numbers_) == 0:
        return _not_tested("all values are equal")
    if len(classes) == 2:
        return _two_sample_test(samples, test)
    return _k_sample_test(samples, test)


class UnivariateSelector(SelectorMixin, BaseEstimator):
    """Keep the columns associated with the label in univariate analysis.

    Each column is tested against the class label on its own, missing values left out, and
    columns with ``pvalue < alpha`` are kept, as in the screening step of clinical prediction
    models (the paper kept ALT, ascites, BCLC stage and portal venous invasion this way).

    - Categorical columns (text, category, boolean, or numbers with at most two values):
      :func:`tacelearn.stats.contingency_test` on the classes x levels table, the rule Table 1
      uses too: chi-square (Yates-corrected for 2 x 2) when every expected count is at least
      5, otherwise Fisher's exact test, exact for larger tables where feasible and otherwise a
      Monte Carlo estimate with a fixed seed (:data:`tacelearn.stats.MONTE_CARLO_SEED`), so a
      fit is reproducible.
    - Continuous columns: the Mann-Whitney U test, exact or normal as R's ``wilcox.test``
      chooses (:func:`tacelearn.stats.mann_whitney_u`), or Welch's t-test. With more than two
      classes the k-sample forms are used (Kruskal-Wallis, Welch's ANOVA).

    A column that cannot be tested (one level observed, all values equal, a class without a
    value) gets a NaN p-value, is not kept on its p-value, and ``tests_`` says why.

    The output follows scikit-learn's ``set_output``: a NumPy array by default; with
    ``set_output(transform="pandas")`` a DataFrame input comes back as a DataFrame with its
    dtypes and index, so the selector can sit before column-wise preprocessing (imputation,
    one-hot encoding) and screen whole variables rather than dummy columns.

    Parameters
    ----------
    alpha : float, default=0.05
        Significance level: columns with ``pvalue < alpha`` are kept.
    tests : {"auto", "mannwhitney", "welch"} or dict, default="auto"
        Test for continuous columns; ``"auto"`` means Mann-Whitney U (no normality assumption
        for skewed laboratory values). Categorical columns get the categorical test whatever
        this says. A dict maps column names to ``"mannwhitney"``, ``"welch"`` (test that
        numeric column as continuous) or ``"categorical"``; unnamed columns use ``"auto"``.
    min_features : int, default=1
        Keep at least this many columns (those with the smallest p-values) even when fewer pass
        ``alpha``, so that a downstream model always has an input.

    Attributes
    ----------
    pvalues_ : ndarray of shape (n_features_in_,)
        P-value of each column; NaN for a column that could not be tested.
    statistics_ : ndarray of shape (n_features_in_,)
        Test statistic of each column (chi-square, Fisher's odds ratio for 2 x 2 tables or the
        table probability for larger ones, U of the positive class, Welch's t of the positive
        minus the negative class, Kruskal-Wallis H or Welch's F); NaN when not tested.
    tests_ : ndarray of str of shape (n_features_in_,)
        Test of each column: ``"chi2"``, ``"fisher"``, ``"fisher_monte_carlo"``,
        ``"mannwhitney"``, ``"welch"``, ``"kruskal"``, ``"welch_anova"``, or
        ``"not tested (reason)"``.
    support_ : ndarray of bool of shape (n_features_in_,)
        The kept columns.
    classes_ : ndarray
        Class labels seen in ``fit``.
    n_features_in_ : int
        Number of columns seen in ``fit``.
    feature_names_in_ : ndarray of str
        Column names seen in ``fit`` (DataFrame input only).

    See Also
    --------
    sklearn.feature_selection.SelectFpr : Selection by a univariate false positive rate.
    tacelearn.stats.contingency_test, tacelearn.stats.mann_whitney_u : The tests.

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
    >>> selector.tests_.tolist()
    ['mannwhitney', 'mannwhitney', 'fisher']
    >>> selector.set_output(transform="pandas").transform(X).columns.tolist()
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

    def _column_choice(self, name):
        if not isinstance(self.tests, dict):
            return self.tests
        choice = self.tests.get(name, "auto")
        if choice not in _COLUMN_CHOICES:
            raise ValueError(f"tests[{name!r}] = {choice!r}; expected 'auto', 'categorical', "
                             "'mannwhitney' or 'welch'")
        return choice

    def _test_column(self, name, values, y):
        if not isinstance(values, pd.Series):  # a Series keeps its dtype
            values = pd.Series(values)
        present = values.notna().to_numpy()  # a mask by position: the index plays no part
        values, y = values[present], y[present]
        choice = self._column_choice(name)
        named_continuous = isinstance(self.tests, dict) and choice in _CONTINUOUS_TESTS
        numbers_ = None if choice == "categorical" else _as_numbers(values)
        if choice == "categorical" or (not named_continuous and _is_categorical(numbers_)):
            return _categorical_test(values, y, self.classes_)
        if numbers_ is None:
            raise ValueError(f"column {name!r} holds text or categories: it cannot be tested "
                             f"with {choice!r}; name it 'categorical' in tests")
        test = "mannwhitney" if choice == "auto" else choice
        return _continuous_test(numbers_, y, self.classes_, test)

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
        if isinstance(self.tests, dict):
            names = set(map(str, frame.columns)) if frame is not None else set()
            unknown = sorted(set(self.tests) - names)
            if unknown:
                raise ValueError(f"tests names column(s) {unknown} that are not in X")
        results = []
        with warnings.catch_warnings():
            # Tiny groups make SciPy warn (e.g. few values for Kruskal-Wallis); the p-value
            # it returns stands, and degenerate columns are caught before SciPy sees them.
            warnings.simplefilter("ignore", RuntimeWarning)
            for j in range(X_checked.shape[1]):
                name = str(frame.columns[j]) if frame is not None else f"x{j}"
                values = frame.iloc[:, j] if frame is not None else X_checked[:, j]
                results.append(self._test_column(name, values, y))
        statistics, pvalues, tests = zip(*results)
        self.statistics_ = np.asarray(statistics, dtype=float)
        self.pvalues_ = np.asarray(pvalues, dtype=float)
        self.tests_ = np.asarray(tests, dtype=str)
        support = self.pvalues_ < self.alpha
        n_keep = min(self.min_features, support.size)
        if support.sum() < n_keep:
            # argsort puts NaN (untested) last: tested columns are kept first.
            support[np.argsort(self.pvalues_, kind="stable")[:n_keep]] = True
        self.support_ = support
        return self

    def _get_support_mask(self):
        check_is_fitted(self)
        return self.support_

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.required = True
        tags.input_tags.allow_nan = True
        tags.input_tags.string = True
        tags.input_tags.categorical = True
        return tags
