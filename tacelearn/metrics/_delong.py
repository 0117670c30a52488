"""DeLong's nonparametric AUC variance, confidence interval and paired test (fast midrank form).

DeLong, DeLong & Clarke-Pearson (1988) estimate the covariance of correlated AUCs from placement
values: for a case, the fraction of controls scored below it (ties count one half); for a
control, the fraction of cases scored above it. Sun & Xu (2014) obtain them in O(N log N) from
midranks: a case's placement is (pooled midrank - midrank among cases) / n_controls. Within a
run of equal scores in the pooled sorted order, that difference is the number of controls before
the run plus half the controls inside it, so one sort per model and running counts give every
placement exactly, in integer arithmetic, without ranking cases and controls separately.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import pandas as pd
from scipy.special import ndtr, ndtri

from ..utils import check_binary_outcome, check_named_scores, check_scores

__all__ = [
    "DIRECTIONS",
    "ConfidenceInterval",
    "DeLongTestResult",
    "delong_covariance",
    "delong_roc_ci",
    "delong_roc_test",
    "delong_roc_variance",
    "delong_test_matrix",
    "roc_direction",
]

_ALTERNATIVES = ("two-sided", "greater", "less")
#: pROC's ``direction``: "<" (controls below cases, tacelearn's default), ">" or "auto".
DIRECTIONS = ("<", ">", "auto")


class ConfidenceInterval(NamedTuple):
    """Lower and upper bound of a confidence interval, a named tuple.

    Parameters
    ----------
    low : float
        Lower bound.
    high : float
        Upper bound.

    See Also
    --------
    delong_roc_ci : Returns one for the AUC.

    Examples
    --------
    >>> from tacelearn.metrics import ConfidenceInterval
    >>> interval = ConfidenceInterval(0.69, 0.95)
    >>> low, high = interval
    >>> interval.high - interval.low == high - low
    True
    """

    low: float
    high: float


@dataclass(frozen=True)
class DeLongTestResult:
    """Result of :func:`delong_roc_test`, shaped like scipy's test results.

    Returned by :func:`delong_roc_test`; each parameter is kept as an attribute of the same
    name.

    Parameters
    ----------
    statistic : float
        The z statistic of AUC1 - AUC2; 0 when the two scores rank the patients identically.
    pvalue : float
        The p-value under the chosen alternative.
    auc_1, auc_2 : float
        The two AUCs.
    confidence_interval : ConfidenceInterval
        Two-sided Wald interval of AUC1 - AUC2 at ``confidence_level`` (as pROC's ``conf.int``,
        whatever the alternative).
    difference : float
        AUC1 - AUC2.
    standard_error : float
        DeLong standard error of the difference.
    alternative : {"two-sided", "greater", "less"}
        The alternative hypothesis behind ``pvalue``.
    confidence_level : float
        Level of ``confidence_interval``.

    See Also
    --------
    delong_roc_test : Computes it.

    Examples
    --------
    >>> from tacelearn.metrics import delong_roc_test
    >>> y = [0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1]
    >>> m1 = [.10, .35, .20, .60, .30, .45, .70, .40, .80, .65, .90, .55]
    >>> m2 = [.30, .20, .50, .40, .10, .60, .35, .70, .45, .80, .25, .75]
    >>> result = delong_roc_test(y, m1, m2)
    >>> round(result.difference, 4), result.alternative
    (0.1667, 'two-sided')
    >>> low, high = result.confidence_interval
    >>> bool(low < 0 < high)
    True
    """

    statistic: float
    pvalue: float
    auc_1: float
    auc_2: float
    confidence_interval: ConfidenceInterval
    difference: float
    standard_error: float
    alternative: str
    confidence_level: float


def _tie_runs(scores, is_case):
    """Sort once; return the order and, per run of equal scores, its bounds and class counts."""
    order = np.argsort(scores)
    sorted_scores = scores[order]
    n_total = scores.shape[0]
    run_start = np.empty(n_total, dtype=bool)
    run_start[0] = True
    np.not_equal(sorted_scores[1:], sorted_scores[:-1], out=run_start[1:])
    starts = np.flatnonzero(run_start)
    ends = np.empty_like(starts)
    ends[:-1] = starts[1:]
    ends[-1] = n_total
    cases_through = np.cumsum(is_case[order], dtype=np.int64)[ends - 1]
    cases_before = np.empty_like(cases_through)
    cases_before[0] = 0
    cases_before[1:] = cases_through[:-1]
    cases_in = cases_through - cases_before
    controls_in = (ends - starts) - cases_in
    controls_before = starts - cases_before
    return order, ends - starts, cases_before, cases_in, controls_before, controls_in


class _Placements(NamedTuple):
    auc: float
    case: np.ndarray  # one placement per case, in the input order of the cases
    control: np.ndarray  # one placement per control, in the input order of the controls


def _run_placements(scores, is_case, n_cases, n_controls):
    """Per-run placements (twice their numerators, exact integers) and the AUC."""
    order, run_length, cases_before, cases_in, controls_before, controls_in = _tie_runs(
        scores, is_case
    )
    twice_case = 2 * controls_before + controls_in
    twice_control = 2 * (n_cases - cases_before) - cases_in
    # Twice the Mann-Whitney U as an exact integer: the AUC is then one correctly rounded division.
    auc = float(np.dot(cases_in, twice_case)) / (2.0 * n_cases * n_controls)
    return order, run_length, cases_in, controls_in, twice_case, twice_control, auc


def _single_variance(scores, is_case, n_cases, n_controls):
    _, _, cases_in, controls_in, twice_case, twice_control, auc = _run_placements(
        scores, is_case, n_cases, n_controls
    )
    # Every member of a run shares its placement, so the variances are sums over runs.
    case_dev = twice_case / (2.0 * n_controls) - auc
    control_dev = twice_control / (2.0 * n_cases) - auc
    s10 = np.dot(cases_in, case_dev * case_dev) / (n_cases - 1)
    s01 = np.dot(controls_in, control_dev * control_dev) / (n_controls - 1)
    return auc, float(s10 / n_cases + s01 / n_controls)


def _placements(scores, is_case, n_cases, n_controls):
    order, run_length, _, _, twice_case, twice_control, auc = _run_placements(
        scores, is_case, n_cases, n_controls
    )
    # Row r of the table holds run r's placement for a control (column 0) and a case (column 1).
    table = np.column_stack((twice_control / (2.0 * n_cases), twice_case / (2.0 * n_controls)))
    run_of_sorted = np.repeat(np.arange(run_length.shape[0]), run_length)
    per_sorted = table.ravel()[2 * run_of_sorted + is_case[order]]
    per_patient = np.empty_like(per_sorted)
    per_patient[order] = per_sorted
    return _Placements(auc, per_patient[is_case], per_patient[~is_case])


def _sample_variance(values):
    centred = values - values.mean()
    return float(np.dot(centred, centred)) / (values.shape[0] - 1)


def _difference_variance(first, second):
    """DeLong variance of AUC1 - AUC2, from the differences of placements.

    Working on differences (not var1 + var2 - 2 cov) keeps it exactly 0 when both scores rank
    the patients alike, so such models test as identical instead of dividing rounding noise.
    """
    n_cases = first.case.shape[0]
    n_controls = first.control.shape[0]
    return (
        _sample_variance(first.case - second.case) / n_cases
        + _sample_variance(first.control - second.control) / n_controls
    )


def _z_and_pvalue(difference, variance, alternative):
    if variance > 0.0:
        statistic = difference / np.sqrt(variance)
    elif difference == 0.0:
        statistic = 0.0
    else:
        # Both rankings are constant in placement yet the AUCs differ: certainty, not NaN.
        statistic = np.copysign(np.inf, difference)
    if alternative == "two-sided":
        pvalue = 2.0 * ndtr(-abs(statistic))
    elif alternative == "greater":
        pvalue = ndtr(-statistic)
    else:
        pvalue = ndtr(statistic)
    return float(statistic), float(min(pvalue, 1.0))


def _check_confidence_level(confidence_level):
    if not 0.0 < confidence_level < 1.0:
        raise ValueError(
            f"confidence_level must lie strictly between 0 and 1, got {confidence_level!r}"
        )
    return ndtri(0.5 + confidence_level / 2.0)


def _check_direction(direction):
    if direction not in DIRECTIONS:
        raise ValueError(f"direction must be one of {DIRECTIONS}, got {direction!r}")


def _resolved(scores, is_case, direction):
    # pROC's "auto": ">" when the controls' median exceeds the cases' (the AUC may then be
    # below 0.5: the rule looks at medians, not at the AUC).
    if direction == "auto":
        return ">" if np.median(scores[~is_case]) > np.median(scores[is_case]) else "<"
    return direction


def _oriented(scores, is_case, direction):
    """Scores turned so that higher means more likely a case, per pROC's ``direction``."""
    return -scores if _resolved(scores, is_case, direction) == ">" else scores


def roc_direction(y_true, y_score, direction="auto", *, pos_label=None):
    """The ROC direction pROC would use: ``"<"`` or ``">"``.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        Binary outcome.
    y_score : array-like of shape (n_samples,)
        Scores.
    direction : {"<", ">", "auto"}, default="auto"
        ``"<"``: controls score lower than cases (tacelearn's default everywhere else: never
        flipped); ``">"``: they score higher; ``"auto"``: pROC's ``roc(direction = "auto")``
        rule, ``">"`` when the controls' median score exceeds the cases'.
    pos_label : int, float, bool or str, default=None
        The case label; may be omitted for {0, 1}, {-1, 1} and boolean outcomes.

    Returns
    -------
    direction : str
        ``"<"`` or ``">"``.

    See Also
    --------
    delong_roc_variance : Takes the same ``direction``.

    Examples
    --------
    >>> from tacelearn.metrics import roc_direction
    >>> y = [0, 0, 0, 0, 0, 1, 1, 1, 1, 1]
    >>> score = [.9, .8, .1, .2, .85, .7, .75, .3, .95, .6]
    >>> roc_direction(y, score)  # pROC: roc(y, score)$direction, though AUC("<") = 0.52
    '>'
    """
    _check_direction(direction)
    is_case = check_binary_outcome(y_true, pos_label=pos_label)
    return _resolved(check_scores(y_score, is_case.shape[0]), is_case, direction)


def _outcome_counts(y_true, pos_label):
    is_case = check_binary_outcome(y_true, pos_label=pos_label)
    n_cases = int(is_case.sum())
    n_controls = is_case.shape[0] - n_cases
    if min(n_cases, n_controls) < 2:
        raise ValueError(
            f"y_true has {n_cases} case(s) and {n_controls} control(s); DeLong's variance "
            "needs at least 2 of each"
        )
    return is_case, n_cases, n_controls


def delong_roc_variance(y_true, y_score, *, pos_label=None, direction="<"):
    """AUC and its DeLong variance, by the fast midrank algorithm.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        Binary outcome.
    y_score : array-like of shape (n_samples,)
        Scores.
    pos_label : int, float, bool or str, default=None
        The case label; may be omitted for {0, 1}, {-1, 1} and boolean outcomes.
    direction : {"<", ">", "auto"}, default="<"
        pROC's ``direction``: ``"<"``, higher scores mean more likely a case (never
        flipped, tacelearn's default); ``">"``, lower scores do; ``"auto"``, pROC's guess:
        ``">"`` when the controls' median score exceeds the cases'.

    Returns
    -------
    auc : float
        Area under the ROC curve (Mann-Whitney U / (n_cases * n_controls), ties count 1/2).
    variance : float
        DeLong's variance of the AUC, as pROC's ``var(roc)``.

    Raises
    ------
    ValueError
        One class only, a length mismatch, NaN or infinite scores, an unknown ``pos_label``.

    See Also
    --------
    delong_roc_ci : Confidence interval from this variance.
    delong_covariance : The same for several models at once.

    Examples
    --------
    >>> from tacelearn.metrics import delong_roc_variance
    >>> y = [0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1]
    >>> m1 = [.10, .35, .20, .60, .30, .45, .70, .40, .80, .65, .90, .55]
    >>> m2 = [.30, .20, .50, .40, .10, .60, .35, .70, .45, .80, .25, .75]
    >>> auc, variance = delong_roc_variance(y, m1)  # pROC: auc(r), var(r) of roc(y, m1)
    >>> print(f"{auc:.7f} {variance:.10f}")
    0.9166667 0.0064814815
    """
    _check_direction(direction)
    is_case, n_cases, n_controls = _outcome_counts(y_true, pos_label)
    scores = _oriented(check_scores(y_score, is_case.shape[0]), is_case, direction)
    return _single_variance(scores, is_case, n_cases, n_controls)


def delong_roc_ci(y_true, y_score, confidence_level=0.95, *, pos_label=None, direction="<"):
    """DeLong confidence interval of the AUC, as pROC's ``ci.auc(method="delong")``.

    The Wald interval AUC +/- z * sqrt(variance), clipped to [0, 1].

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        Binary outcome.
    y_score : array-like of shape (n_samples,)
        Scores.
    confidence_level : float, default=0.95
        Level of the interval.
    pos_label : int, float, bool or str, default=None
        The case label; may be omitted for {0, 1}, {-1, 1} and boolean outcomes.
    direction : {"<", ">", "auto"}, default="<"
        pROC's ``direction`` (see :func:`delong_roc_variance`).

    Returns
    -------
    low, high : float
        The interval, as a :class:`ConfidenceInterval` named tuple.

    See Also
    --------
    delong_roc_variance : The AUC and variance behind the interval.

    Examples
    --------
    >>> from tacelearn.metrics import delong_roc_ci
    >>> y = [0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1]
    >>> m1 = [.10, .35, .20, .60, .30, .45, .70, .40, .80, .65, .90, .55]
    >>> m2 = [.30, .20, .50, .40, .10, .60, .35, .70, .45, .80, .25, .75]
    >>> low, high = delong_roc_ci(y, m1)  # pROC: ci.auc(roc(y, m1), method = "delong")
    >>> print(f"{low:.4f}-{high:.4f}")
    0.7589-1.0000
    """
    z = _check_confidence_level(confidence_level)
    auc, variance = delong_roc_variance(y_true, y_score, pos_label=pos_label,
                                        direction=direction)
    half_width = float(z * np.sqrt(variance))
    return ConfidenceInterval(max(auc - half_width, 0.0), min(auc + half_width, 1.0))


def delong_roc_test(
    y_true, y_score_1, y_score_2, *, alternative="two-sided", confidence_level=0.95,
    pos_label=None, direction="<",
):
    """DeLong's test for two correlated ROC curves (the same patients scored by two models).

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        Binary outcome.
    y_score_1, y_score_2 : array-like of shape (n_samples,)
        The two models' scores for the same patients.
    alternative : {"two-sided", "greater", "less"}, default="two-sided"
        "greater" tests AUC1 > AUC2, "less" tests AUC1 < AUC2.
    confidence_level : float, default=0.95
        Level of the interval of AUC1 - AUC2.
    pos_label : int, float, bool or str, default=None
        The case label; may be omitted for {0, 1}, {-1, 1} and boolean outcomes.
    direction : {"<", ">", "auto"}, default="<"
        pROC's ``direction`` of each curve (see :func:`delong_roc_variance`); with
        ``"auto"`` each model's direction is chosen on its own, as two ``roc(...,
        direction = "auto")`` objects passed to ``roc.test``.

    Returns
    -------
    result : DeLongTestResult
        ``statistic`` (z of AUC1 - AUC2), ``pvalue``, ``auc_1``, ``auc_2``,
        ``confidence_interval`` of the difference, ``difference``, ``standard_error``. Scores
        that rank the patients identically (the same scores, or one a monotone transform of the
        other) give statistic 0 and a two-sided p-value of 1.

    See Also
    --------
    delong_test_matrix : All pairwise tests between several models.
    delong_covariance : The covariance matrix of several AUCs.

    Examples
    --------
    >>> from tacelearn.metrics import delong_roc_test
    >>> y = [0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1]
    >>> m1 = [.10, .35, .20, .60, .30, .45, .70, .40, .80, .65, .90, .55]
    >>> m2 = [.30, .20, .50, .40, .10, .60, .35, .70, .45, .80, .25, .75]
    >>> result = delong_roc_test(y, m1, m2)  # pROC: roc.test(roc(y, m1), roc(y, m2))
    >>> print(f"Z = {result.statistic:.4f}, p = {result.pvalue:.4f}")
    Z = 0.9129, p = 0.3613
    >>> print(f"{result.auc_1:.4f} {result.auc_2:.4f}")
    0.9167 0.7500
    """
    if alternative not in _ALTERNATIVES:
        raise ValueError(f"alternative must be one of {_ALTERNATIVES}, got {alternative!r}")
    _check_direction(direction)
    z = float(_check_confidence_level(confidence_level))
    is_case, n_cases, n_controls = _outcome_counts(y_true, pos_label)
    first, second = (
        _placements(_oriented(check_scores(scores, is_case.shape[0], name=name), is_case,
                              direction), is_case, n_cases, n_controls)
        for scores, name in ((y_score_1, "y_score_1"), (y_score_2, "y_score_2")))
    difference = first.auc - second.auc
    variance = _difference_variance(first, second)
    statistic, pvalue = _z_and_pvalue(difference, variance, alternative)
    standard_error = float(np.sqrt(variance))
    return DeLongTestResult(
        statistic=statistic,
        pvalue=pvalue,
        auc_1=first.auc,
        auc_2=second.auc,
        confidence_interval=ConfidenceInterval(
            difference - z * standard_error, difference + z * standard_error
        ),
        difference=difference,
        standard_error=standard_error,
        alternative=alternative,
        confidence_level=confidence_level,
    )


def delong_covariance(y_true, scores, *, pos_label=None, direction="<"):
    """AUCs of several models scored on the same patients and DeLong's covariance matrix.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        Binary outcome.
    scores : mapping, DataFrame or array-like of shape (n_samples, n_models)
        One score vector per model: a mapping of name to scores, a DataFrame with one column per
        model, or a 2-D array with one column per model.
    pos_label : int, float, bool or str, default=None
        The case label; may be omitted for {0, 1}, {-1, 1} and boolean outcomes.
    direction : {"<", ">", "auto"}, default="<"
        pROC's ``direction`` of each model's curve (see :func:`delong_roc_variance`).

    Returns
    -------
    aucs : ndarray of shape (n_models,)
        The AUC of each model, in the order of ``scores``.
    covariance : ndarray of shape (n_models, n_models)
        Diagonal: :func:`delong_roc_variance`; off the diagonal: pROC's ``cov(roc1, roc2)``.

    See Also
    --------
    delong_test_matrix : Pairwise p-values from these AUCs.

    Examples
    --------
    >>> from tacelearn.metrics import delong_covariance
    >>> y = [0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1]
    >>> m1 = [.10, .35, .20, .60, .30, .45, .70, .40, .80, .65, .90, .55]
    >>> m2 = [.30, .20, .50, .40, .10, .60, .35, .70, .45, .80, .25, .75]
    >>> aucs, cov = delong_covariance(y, {"m1": m1, "m2": m2})
    >>> aucs.round(4).tolist()
    [0.9167, 0.75]
    >>> print(f"{cov[0, 1]:.10f}")  # pROC: cov(roc(y, m1), roc(y, m2))
    -0.0018518519
    """
    _check_direction(direction)
    is_case, n_cases, n_controls = _outcome_counts(y_true, pos_label)
    _, matrix = check_named_scores(scores, is_case.shape[0])
    placements = [_placements(_oriented(row, is_case, direction), is_case, n_cases, n_controls)
                  for row in matrix]
    aucs = np.array([p.auc for p in placements])
    case_dev = np.stack([p.case for p in placements]) - aucs[:, None]
    control_dev = np.stack([p.control for p in placements]) - aucs[:, None]
    s10 = case_dev @ case_dev.T / (n_cases - 1)
    s01 = control_dev @ control_dev.T / (n_controls - 1)
    return aucs, s10 / n_cases + s01 / n_controls


def delong_test_matrix(y_true, scores_by_model, *, alternative="two-sided", pos_label=None,
                       direction="<"):
    """Pairwise DeLong p-values between models scored on the same patients.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        Binary outcome.
    scores_by_model : mapping, DataFrame or array-like of shape (n_samples, n_models)
        One score vector per model (see :func:`delong_covariance`).
    alternative : {"two-sided", "greater", "less"}, default="two-sided"
        Cell (row i, column j) tests AUC_i against AUC_j with this alternative.
    pos_label : int, float, bool or str, default=None
        The case label; may be omitted for {0, 1}, {-1, 1} and boolean outcomes.
    direction : {"<", ">", "auto"}, default="<"
        pROC's ``direction`` of each model's curve (see :func:`delong_roc_variance`).

    Returns
    -------
    pvalues : pandas.DataFrame of shape (n_models, n_models)
        Indexed and labelled by model name; the same numbers as :func:`delong_roc_test` for each
        pair, 1 on the diagonal for a two-sided test. No correction for multiple comparisons.

    See Also
    --------
    delong_roc_test : One pair, with the statistic and interval.

    Examples
    --------
    >>> from tacelearn.metrics import delong_test_matrix
    >>> y = [0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1]
    >>> m1 = [.10, .35, .20, .60, .30, .45, .70, .40, .80, .65, .90, .55]
    >>> m2 = [.30, .20, .50, .40, .10, .60, .35, .70, .45, .80, .25, .75]
    >>> m3 = [.20, .10, .30, .50, .40, .60, .90, .70, .60, .80, .50, .95]
    >>> delong_test_matrix(y, {"m1": m1, "m2": m2, "m3": m3}).round(4)  # pROC: roc.test
            m1      m2      m3
    m1  1.0000  0.3613  0.7691
    m2  0.3613  1.0000  0.1064
    m3  0.7691  0.1064  1.0000
    """
    if alternative not in _ALTERNATIVES:
        raise ValueError(f"alternative must be one of {_ALTERNATIVES}, got {alternative!r}")
    _check_direction(direction)
    is_case, n_cases, n_controls = _outcome_counts(y_true, pos_label)
    names, matrix = check_named_scores(scores_by_model, is_case.shape[0])
    placements = [_placements(_oriented(row, is_case, direction), is_case, n_cases, n_controls)
                  for row in matrix]
    pvalues = np.empty((len(names), len(names)))
    for i, first in enumerate(placements):
        for j, second in enumerate(placements):
            difference = first.auc - second.auc
            variance = _difference_variance(first, second)
            pvalues[i, j] = _z_and_pvalue(difference, variance, alternative)[1]
    return pd.DataFrame(pvalues, index=pd.Index(names), columns=pd.Index(names))
