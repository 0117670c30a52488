"""Metrics at a score threshold (the paper's Table 2) with confidence intervals; Youden's cut."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.special import ndtr, ndtri
from scipy.stats import binomtest
from sklearn.utils import check_random_state

from ..utils import check_binary_outcome, check_scores

__all__ = ["CI_METHODS", "THRESHOLD_METRICS", "binary_metrics", "binary_metrics_ci",
           "youden_threshold"]

#: The proportions :func:`binary_metrics_ci` reports, in Table 2's order.
THRESHOLD_METRICS = ("accuracy", "sensitivity", "specificity", "ppv", "npv")
#: Interval methods of :func:`binary_metrics_ci`; "wilson" is the default.
CI_METHODS = ("wilson", "wilsoncc", "exact", "bootstrap")
_SCIPY_METHODS = {"wilson": "wilson", "wilsoncc": "wilsoncc", "exact": "exact"}


def _confusion_counts(is_case, scores, threshold):
    predicted = scores >= threshold
    tp = int(np.count_nonzero(predicted & is_case))
    fp = int(np.count_nonzero(predicted & ~is_case))
    fn = int(np.count_nonzero(is_case)) - tp
    tn = is_case.shape[0] - tp - fp - fn
    return tp, fp, tn, fn


def _fractions(tp, fp, tn, fn):
    """Numerators and denominators of the metrics, in THRESHOLD_METRICS order (arrays welcome)."""
    numerators = np.array([tp + tn, tp, tn, tp, tn])
    denominators = np.array([tp + fp + tn + fn, tp + fn, tn + fp, tp + fp, tn + fn])
    return numerators, denominators


def _ratio(numerators, denominators):
    """numerator / denominator, NaN where the denominator is 0 (e.g. PPV with no positives)."""
    out = np.full(np.shape(numerators), np.nan)
    np.divide(numerators, denominators, out=out, where=denominators > 0)
    return out


def _check_threshold_inputs(y_true, y_score, threshold, pos_label):
    is_case = check_binary_outcome(y_true, pos_label=pos_label)
    scores = check_scores(y_score, is_case.shape[0])
    if not np.isfinite(threshold):
        raise ValueError(f"threshold must be a finite number, got {threshold!r}")
    return is_case, scores


def binary_metrics(y_true, y_score, threshold=0.5, *, pos_label=None):
    """Accuracy, sensitivity, specificity, PPV, NPV and the confusion counts at a threshold.

    A patient is called positive when ``score >= threshold``.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        Binary outcome.
    y_score : array-like of shape (n_samples,)
        Scores (probabilities or any real values).
    threshold : float, default=0.5
        Patients scored at or above it are called positive.
    pos_label : int, float, bool or str, default=None
        The case label; may be omitted for {0, 1}, {-1, 1} and boolean outcomes.

    Returns
    -------
    metrics : dict
        ``accuracy``, ``sensitivity``, ``specificity``, ``ppv``, ``npv`` (float, NaN where the
        denominator is 0, e.g. PPV when nobody is called positive) and the counts ``tp``,
        ``fp``, ``tn``, ``fn`` (int).

    See Also
    --------
    binary_metrics_ci : The same proportions with confidence intervals.

    Examples
    --------
    >>> from tacelearn.metrics import binary_metrics
    >>> m = binary_metrics([0, 0, 1, 1, 1], [0.1, 0.6, 0.4, 0.7, 0.9], threshold=0.5)
    >>> round(m["sensitivity"], 3), m["specificity"], m["tp"], m["fp"]
    (0.667, 0.5, 2, 1)
    """
    is_case, scores = _check_threshold_inputs(y_true, y_score, threshold, pos_label)
    tp, fp, tn, fn = _confusion_counts(is_case, scores, threshold)
    values = _ratio(*_fractions(tp, fp, tn, fn))
    metrics = {name: float(value) for name, value in zip(THRESHOLD_METRICS, values)}
    metrics.update(tp=tp, fp=fp, tn=tn, fn=fn)
    return metrics


def _proportion_intervals(numerators, denominators, confidence_level, method):
    """Per metric, scipy's interval of the binomial proportion (NaN where undefined)."""
    bounds = np.full((len(numerators), 2), np.nan)
    for row, (successes, trials) in enumerate(zip(numerators, denominators)):
        if trials > 0:
            interval = binomtest(int(successes), int(trials)).proportion_ci(
                confidence_level=confidence_level, method=_SCIPY_METHODS[method])
            bounds[row] = interval.low, interval.high
    return bounds


def _resampled_counts(tp, fp, tn, fn, n_resamples, stratified, random_state):
    """Confusion counts of ``n_resamples`` bootstrap resamples of the patients.

    Resampling patients with replacement changes the metrics only through the 2x2 table, whose
    resampled cells are multinomial with the observed proportions (binomial within cases and
    within controls when stratified). Drawing the cells directly is the same bootstrap
    distribution at a cost independent of the number of patients.
    """
    rng = check_random_state(random_state)
    if stratified:
        n_cases, n_controls = tp + fn, fp + tn
        tp_b = rng.binomial(n_cases, tp / n_cases, size=n_resamples)
        fp_b = rng.binomial(n_controls, fp / n_controls, size=n_resamples)
        return tp_b, fp_b, n_controls - fp_b, n_cases - tp_b
    n_total = tp + fp + tn + fn
    cells = rng.multinomial(n_total, np.array([tp, fp, tn, fn]) / n_total, size=n_resamples)
    return cells[:, 0], cells[:, 1], cells[:, 2], cells[:, 3]


def _jackknife_acceleration(counts):
    """BCa acceleration of each metric, from the n leave-one-patient-out estimates.

    Leaving out a patient changes the 2x2 table by one in that patient's cell, so there are
    four distinct jackknife estimates, weighted by the cell counts.
    """
    counts = np.asarray(counts, dtype=float)
    left_out = counts[None, :] - np.eye(4)  # row k: one patient of cell k left out
    values = _ratio(*_fractions(*left_out.T))  # (n_metrics, 4); NaN where undefined
    weights = np.broadcast_to(counts, values.shape) * ~np.isnan(values)
    values = np.nan_to_num(values)
    # NaN (no acceleration) for a metric without any defined jackknife estimate or spread.
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = (weights * values).sum(axis=1) / weights.sum(axis=1)
        deviation = mean[:, None] - values
        spread = (weights * deviation**2).sum(axis=1)
        return (weights * deviation**3).sum(axis=1) / (6.0 * spread**1.5)


def _bca_intervals(resampled, estimates, acceleration, confidence_level):
    """BCa intervals per metric row (Efron 1987), ignoring resamples where it is undefined."""
    alpha = 1.0 - confidence_level
    bounds = np.full((resampled.shape[0], 2), np.nan)
    for row, values in enumerate(resampled):
        defined = values[~np.isnan(values)]
        if defined.size == 0 or np.isnan(estimates[row]):
            continue
        bias = ndtri(np.mean(defined < estimates[row]))
        if not np.isfinite(bias):  # every resample on one side: a boundary estimate
            continue
        z = ndtri(np.array([alpha / 2.0, 1.0 - alpha / 2.0]))
        a = 0.0 if np.isnan(acceleration[row]) else acceleration[row]
        levels = ndtr(bias + (bias + z) / (1.0 - a * (bias + z)))
        if np.isfinite(levels).all():
            bounds[row] = np.percentile(defined, 100.0 * levels)
    return bounds


def _bootstrap(counts, estimates, numerators, denominators, settings):
    """BCa bootstrap intervals, with Wilson's where the estimate is 0 or 1 (see the docs)."""
    resampled = _ratio(*_fractions(*_resampled_counts(
        *counts, settings["n_resamples"], settings["stratified"], settings["random_state"])))
    bounds = _bca_intervals(resampled, estimates, _jackknife_acceleration(counts),
                            settings["confidence_level"])
    # At 0% or 100% every resample equals the estimate: no bootstrap interval has a width.
    boundary = (estimates == 0.0) | (estimates == 1.0) | np.isnan(bounds).any(axis=1)
    boundary &= ~np.isnan(estimates)
    if boundary.any():  # scipy's binomtest also computes a P value: only where needed
        bounds[boundary] = _proportion_intervals(numerators[boundary], denominators[boundary],
                                                 settings["confidence_level"], "wilson")
    methods = np.where(boundary, "wilson", "bootstrap")
    undefined = np.isnan(resampled).sum(axis=1)
    return bounds, methods, undefined


def _check_ci_arguments(method, confidence_level, n_resamples):
    if method not in CI_METHODS:
        raise ValueError(f"method must be one of {CI_METHODS}, got {method!r}")
    if not 0.0 < confidence_level < 1.0:
        raise ValueError(
            f"confidence_level must lie strictly between 0 and 1, got {confidence_level!r}"
        )
    if method == "bootstrap" and (int(n_resamples) != n_resamples or n_resamples < 1):
        raise ValueError(f"n_resamples must be a positive integer, got {n_resamples!r}")


def binary_metrics_ci(
    y_true,
    y_score,
    *,
    threshold=0.5,
    method="wilson",
    n_resamples=2000,
    stratified=False,
    confidence_level=0.95,
    random_state=None,
    pos_label=None,
):
    """Accuracy, sensitivity, specificity, PPV and NPV at a threshold, with confidence intervals.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        Binary outcome.
    y_score : array-like of shape (n_samples,)
        Scores; a patient is called positive when ``score >= threshold``.
    threshold : float, default=0.5
        The score at or above which a patient is called positive.
    method : {"wilson", "wilsoncc", "exact", "bootstrap"}, default="wilson"
        Interval of each proportion. ``"wilson"``: Wilson's score interval (R's
        ``prop.test(k, n, correct = FALSE)$conf.int``); ``"wilsoncc"``: with continuity
        correction (R's ``prop.test(k, n)$conf.int``, except at k = n / 2 where R drops the
        correction); ``"exact"``: Clopper-Pearson (R's ``binom.test(k, n)$conf.int``); all
        three by :meth:`scipy.stats.binomtest(k, n).proportion_ci
        <scipy.stats._result_classes.BinomTestResult.proportion_ci>`. ``"bootstrap"``: the
        bias-corrected and accelerated (BCa) interval of ``n_resamples`` resamples of the
        patients; where the estimate is 0 or 1 (e.g. 20/20) every resample equals it, so the
        Wilson interval is given instead (see Returns).
    n_resamples : int, default=2000
        Bootstrap resamples (``method="bootstrap"`` only).
    stratified : bool, default=False
        Resample cases and controls separately, keeping their numbers fixed, as pROC's
        ``ci.coords`` does (``method="bootstrap"`` only). That fixes the prevalence, which
        understates the uncertainty of PPV and NPV; the default resamples patients as a whole.
    confidence_level : float, default=0.95
        Level of the intervals.
    random_state : int, RandomState instance or None, default=None
        Seed of the bootstrap.
    pos_label : int, float, bool or str, default=None
        The case label; may be omitted for {0, 1}, {-1, 1} and boolean outcomes.

    Returns
    -------
    table : pandas.DataFrame
        One row per metric (index ``metric``: accuracy, sensitivity, specificity, ppv, npv) with
        columns ``estimate`` (on the data), ``low``, ``high``, ``numerator`` and
        ``denominator`` (the counts behind the estimate, e.g. TP and TP + FN for sensitivity).
        A metric with a zero denominator has NaN estimate and bounds.
        ``table.attrs["ci_methods"]`` names the interval of each metric (``"bootstrap"``, or
        ``"wilson"`` where a bootstrap estimate was 0 or 1). In a bootstrap, resamples where a
        metric is undefined (PPV when no resampled patient is called positive) are left out of
        that metric's interval; ``table.attrs["undefined_resamples"]`` counts them.

    See Also
    --------
    binary_metrics : The point estimates and confusion counts.
    performance_table : These intervals and the AUC for several models and cohorts.

    Examples
    --------
    >>> from tacelearn.metrics import binary_metrics_ci
    >>> y = [0] * 6 + [1] * 4
    >>> score = [0.1, 0.2, 0.3, 0.4, 0.6, 0.7, 0.45, 0.55, 0.8, 0.9]
    >>> binary_metrics_ci(y, score).round(3)  # Wilson, as R's prop.test(correct = FALSE)
                 estimate    low   high  numerator  denominator
    metric
    accuracy        0.700  0.397  0.892          7           10
    sensitivity     0.750  0.301  0.954          3            4
    specificity     0.667  0.300  0.903          4            6
    ppv             0.600  0.231  0.882          3            5
    npv             0.800  0.376  0.964          4            5
    """
    _check_ci_arguments(method, confidence_level, n_resamples)
    is_case, scores = _check_threshold_inputs(y_true, y_score, threshold, pos_label)
    counts = _confusion_counts(is_case, scores, threshold)
    numerators, denominators = _fractions(*counts)
    estimates = _ratio(numerators, denominators)
    attrs = {"method": method, "confidence_level": confidence_level, "threshold": threshold}
    if method == "bootstrap":
        settings = {"n_resamples": int(n_resamples), "stratified": bool(stratified),
                    "random_state": random_state, "confidence_level": confidence_level}
        bounds, methods, undefined = _bootstrap(counts, estimates, numerators, denominators,
                                                settings)
        attrs.update(n_resamples=int(n_resamples), stratified=bool(stratified),
                     undefined_resamples=dict(zip(THRESHOLD_METRICS, undefined.tolist())))
    else:
        bounds = _proportion_intervals(numerators, denominators, confidence_level, method)
        methods = np.full(len(THRESHOLD_METRICS), method)
    bounds[np.isnan(estimates)] = np.nan
    attrs["ci_methods"] = dict(zip(THRESHOLD_METRICS, methods.tolist()))
    table = pd.DataFrame(
        {
            "estimate": estimates,
            "low": bounds[:, 0],
            "high": bounds[:, 1],
            "numerator": numerators.astype(np.int64),
            "denominator": denominators.astype(np.int64),
        },
        index=pd.Index(THRESHOLD_METRICS, name="metric"),
    )
    table.attrs.update(attrs)
    return table


def youden_threshold(y_true, y_score, *, pos_label=None):
    """The score threshold that maximises Youden's J = sensitivity + specificity - 1.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        Binary outcome.
    y_score : array-like of shape (n_samples,)
        Scores; a patient is called positive when ``score >= threshold``.
    pos_label : int, float, bool or str, default=None
        The case label; may be omitted for {0, 1}, {-1, 1} and boolean outcomes.

    Returns
    -------
    threshold : float
        One of the observed scores (pROC reports the midpoint to the next lower score instead;
        both split the data the same way). When several thresholds reach the maximum, the
        highest (most specific) one is returned.

    See Also
    --------
    binary_metrics : The metrics at the chosen threshold.

    Examples
    --------
    >>> from tacelearn.metrics import youden_threshold
    >>> youden_threshold([0, 0, 0, 0, 1, 1, 1], [0.1, 0.2, 0.3, 0.6, 0.5, 0.7, 0.9])
    0.5
    """
    is_case = check_binary_outcome(y_true, pos_label=pos_label)
    scores = check_scores(y_score, is_case.shape[0])
    candidates = np.unique(scores)[::-1]
    case_scores = np.sort(scores[is_case])
    control_scores = np.sort(scores[~is_case])
    called_cases = case_scores.shape[0] - np.searchsorted(case_scores, candidates, side="left")
    uncalled_controls = np.searchsorted(control_scores, candidates, side="left")
    # J scaled by n_cases * n_controls: integers, so equal J values tie exactly.
    scaled_youden = (
        called_cases.astype(np.int64) * control_scores.shape[0]
        + uncalled_controls.astype(np.int64) * case_scores.shape[0]
    )
    return float(candidates[np.argmax(scaled_youden)])
