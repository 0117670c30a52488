"""The Mann-Whitney U (Wilcoxon rank-sum) test, choosing exact or normal P values as R does.

scipy's ``mannwhitneyu(method="auto")`` computes exact P values only when the smaller group has
at most 8 values; R's ``wilcox.test`` does so whenever both groups have fewer than 50 values
and there are no ties, and otherwise uses the normal approximation with a continuity
correction and a tie-corrected variance. Clinicians compare against R, so every Mann-Whitney
test of tacelearn (the univariate screening, differential expression, cell fractions) goes
through :func:`mann_whitney_u`, which applies R's rule and lets scipy compute.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

__all__ = ["EXACT_MAX_SIZE", "MannWhitneyResult", "mann_whitney_u"]

#: Exact P values when both groups have fewer values than this and none is tied (R's rule).
EXACT_MAX_SIZE = 50


@dataclass(frozen=True)
class MannWhitneyResult:
    """Result of :func:`mann_whitney_u`, shaped like scipy's test results.

    Made by :func:`mann_whitney_u`; each parameter is kept as an attribute of the same name.
    It unpacks as ``statistic, pvalue``; each is an array, one value per column, when the
    samples are 2-D.

    Parameters
    ----------
    statistic : float or numpy.ndarray
        U of the first sample (R's ``W``); NaN where not tested.
    pvalue : float or numpy.ndarray
        Two-sided P value; NaN where not tested.
    method : str or numpy.ndarray of str
        ``"exact"``, ``"asymptotic"`` (normal approximation with continuity correction) or
        ``"not tested: ..."`` with the reason (all values equal, an empty group).

    See Also
    --------
    mann_whitney_u : Runs the test.

    Examples
    --------
    >>> import numpy as np
    >>> from tacelearn.stats import mann_whitney_u
    >>> x = np.array([[1.0, 5.0], [2.0, 5.0], [3.0, 5.0]])
    >>> y = np.array([[4.0, 5.0], [6.0, 5.0], [7.0, 5.0]])
    >>> statistic, pvalue = mann_whitney_u(x, y)  # R: wilcox.test(x[, 1], y[, 1]): W = 0
    >>> statistic.tolist(), pvalue.round(3).tolist()
    ([0.0, nan], [0.1, nan])
    >>> mann_whitney_u(x, y).method.tolist()
    ['exact', 'not tested: all values are equal']
    """

    statistic: float | np.ndarray
    pvalue: float | np.ndarray
    method: str | np.ndarray

    def __iter__(self):
        # Unpacks as ``statistic, pvalue = mann_whitney_u(...)``, like scipy's results.
        return iter((self.statistic, self.pvalue))


def _tied(pooled):
    """Per column: whether any two of the pooled values are equal."""
    ordered = np.sort(pooled, axis=0)
    return (np.diff(ordered, axis=0) == 0).any(axis=0)


def mann_whitney_u(x, y):
    """Two-sided Mann-Whitney U test with R's ``wilcox.test`` choice of P value.

    Exact P values when both groups have fewer than :data:`EXACT_MAX_SIZE` (50) values and
    the pooled values have no ties; otherwise the normal approximation with continuity
    correction and tie-corrected variance. This is ``wilcox.test(x, y)`` with its defaults
    (``exact = NULL, correct = TRUE``); scipy computes both kinds of P value.

    Parameters
    ----------
    x, y : array-like of shape (n_x,) and (n_y,), or (n_x, k) and (n_y, k)
        The two samples, without missing values. Two-dimensional inputs hold ``k``
        variables (genes, cell types) in columns, each tested on its own: whether a column
        is tested exactly depends on its own ties only.

    Returns
    -------
    result : MannWhitneyResult
        ``statistic`` (U of ``x``), ``pvalue`` and ``method``, floats and a str for 1-D
        input, arrays of length ``k`` for 2-D input. A variable whose pooled values are all
        equal, or an empty sample, is not tested: NaN statistic and P value (R's
        ``wilcox.test`` gives NaN too).

    See Also
    --------
    scipy.stats.mannwhitneyu : The computation.

    Examples
    --------
    >>> from tacelearn.stats import mann_whitney_u
    >>> x = [0.80, 0.83, 1.89, 1.04, 1.45, 1.38, 1.91, 1.64, 0.73, 1.46]
    >>> y = [0.15, 0.28, 0.30, 0.24, 0.21, 0.05, 0.12, 0.34, 0.58, 0.62]
    >>> result = mann_whitney_u(x, y)  # R: wilcox.test(x, y): W = 100, p = 1.0825e-05
    >>> float(result.statistic), f"{result.pvalue:.4e}", result.method
    (100.0, '1.0825e-05', 'exact')
    """
    first, second = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    one_variable = first.ndim == 1
    if one_variable:
        first, second = first[:, None], second[:, None]
    if first.ndim != 2 or second.ndim != 2 or first.shape[1] != second.shape[1]:
        raise ValueError(f"x and y must be 1-D, or 2-D with the same number of columns; got "
                         f"shapes {np.shape(x)} and {np.shape(y)}")
    n_variables = first.shape[1]
    statistic = np.full(n_variables, np.nan)
    pvalue = np.full(n_variables, np.nan)
    method = np.full(n_variables, "not tested: a group has no value", dtype=object)
    if len(first) and len(second):
        pooled = np.vstack([first, second])
        constant = np.ptp(pooled, axis=0) == 0
        method[constant] = "not tested: all values are equal"
        small = len(first) < EXACT_MAX_SIZE and len(second) < EXACT_MAX_SIZE
        exact = ~constant & ~_tied(pooled) if small else np.zeros(n_variables, dtype=bool)
        for name, columns in (("exact", exact), ("asymptotic", ~constant & ~exact)):
            if columns.any():
                result = stats.mannwhitneyu(first[:, columns], second[:, columns], axis=0,
                                            alternative="two-sided", method=name)
                statistic[columns] = result.statistic
                pvalue[columns] = result.pvalue
                method[columns] = name
    if one_variable:
        return MannWhitneyResult(float(statistic[0]), float(pvalue[0]), str(method[0]))
    return MannWhitneyResult(statistic, pvalue, method.astype(str))
