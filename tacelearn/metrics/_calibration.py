"""Calibration of predicted probabilities: calibration-in-the-large and slope, Brier scores and
the loess-based calibration indices of Austin & Steyerberg (2019), with confidence intervals.

Calibration-in-the-large is the intercept ``a`` of ``logit P(y) = a + logit(p)`` (the model's
linear predictor as an offset), the calibration slope the ``b`` of ``logit P(y) = a + b logit(p)``:
R's ``glm(y ~ 1, offset = qlogis(p), family = binomial)`` and ``glm(y ~ qlogis(p), family =
binomial)``, fitted by :func:`tacelearn.stats.fit_logistic_recalibration`. The flexible
calibration curve is R's default ``loess(y ~ p)`` (:func:`tacelearn.stats.loess_smooth`).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import pandas as pd
from sklearn.utils import check_random_state

from ..stats import (
    DEFAULT_LOGIT_EPSILON,
    check_logit_epsilon,
    clipped_logit,
    fit_logistic_recalibration,
    loess_smooth,
)
from ..utils import check_binary_outcome, check_scores
from ._delong import ConfidenceInterval, _check_confidence_level

__all__ = [
    "CALIBRATION_METRICS",
    "BrierScores",
    "CalibrationErrors",
    "CalibrationResult",
    "brier_scores",
    "calibration_metrics",
    "loess_calibration_curve",
    "loess_calibration_errors",
]

#: Metrics of :func:`calibration_metrics`, in the order of its table.
CALIBRATION_METRICS = ("calibration_intercept", "calibration_slope", "brier", "scaled_brier",
                       "ici", "e50", "e90", "emax")
_WALD_METRICS = ("calibration_intercept", "calibration_slope")


class BrierScores(NamedTuple):
    """Result of :func:`brier_scores`, a named tuple.

    Returned by :func:`brier_scores`; each parameter is kept as an attribute of the same name.

    Parameters
    ----------
    brier : float
        Mean squared error of the probabilities.
    scaled_brier : float
        ``1 - brier / (prevalence (1 - prevalence))``: 0 for predicting the prevalence to
        everyone, 1 for perfect predictions.

    See Also
    --------
    brier_scores : Computes them.

    Examples
    --------
    >>> from tacelearn.metrics import brier_scores
    >>> brier, scaled_brier = brier_scores([0, 0, 1, 1], [0.1, 0.4, 0.6, 0.9])
    >>> round(brier, 3)
    0.085
    """

    brier: float
    scaled_brier: float


class CalibrationErrors(NamedTuple):
    """Result of :func:`loess_calibration_errors`, a named tuple.

    Returned by :func:`loess_calibration_errors`; each parameter is kept as an attribute of
    the same name.

    Parameters
    ----------
    ici : float
        Integrated calibration index: the mean of ``|loess(p_i) - p_i|`` over the patients.
    e50, e90, emax : float
        Its median, 90th percentile and maximum.

    See Also
    --------
    loess_calibration_errors : Computes them.

    Examples
    --------
    >>> import numpy as np
    >>> from tacelearn.metrics import loess_calibration_errors
    >>> rng = np.random.default_rng(0)
    >>> p = rng.uniform(0.05, 0.95, 200)
    >>> errors = loess_calibration_errors(rng.random(200) < p, p)
    >>> bool(errors.e50 <= errors.e90 <= errors.emax)
    True
    """

    ici: float
    e50: float
    e90: float
    emax: float


# Unchecked kernels: the bootstrap intervals call them on every resample of checked input.

def _brier_scores(is_case, probabilities):
    outcome = is_case.astype(np.float64)
    brier = float(np.mean((probabilities - outcome) ** 2))
    prevalence = outcome.mean()
    reference = prevalence * (1.0 - prevalence)
    return BrierScores(brier, float(1.0 - brier / reference) if reference > 0.0 else np.nan)


def _loess_errors(is_case, probabilities, span, surface="interpolate"):
    observed = loess_smooth(probabilities, is_case.astype(np.float64), probabilities, span=span,
                            surface=surface)
    errors = np.abs(observed - probabilities)
    return CalibrationErrors(float(errors.mean()), float(np.median(errors)),
                             float(np.quantile(errors, 0.9)), float(errors.max()))


def _loess_errors_or_nan(is_case, probabilities, span):
    """The loess errors, or NaN for each with the reason when no neighbourhood has width
    (tied probabilities, too few patients): ``(errors, reason or None)``."""
    try:
        return _loess_errors(is_case, probabilities, span), None
    except ValueError as error:
        return CalibrationErrors(np.nan, np.nan, np.nan, np.nan), error


def _checked(y_true, y_prob, pos_label):
    is_case = check_binary_outcome(y_true, pos_label=pos_label)
    return is_case, check_scores(y_prob, is_case.shape[0], name="y_prob", probability=True)


def brier_scores(y_true, y_prob, *, pos_label=None):
    """Brier score and scaled Brier score of predicted probabilities.

    The Brier score is the mean of ``(p_i - y_i)^2``; the scaled Brier score compares it with
    the Brier score of predicting the prevalence to everyone, ``1 - brier / (prevalence (1 -
    prevalence))`` (Steyerberg's "scaled Brier", rms's ``val.prob`` reports the Brier score).

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        Binary outcome.
    y_prob : array-like of shape (n_samples,)
        Predicted probabilities of the case (event) label, in [0, 1].
    pos_label : int, float, bool or str, default=None
        The case label; may be omitted for {0, 1}, {-1, 1} and boolean outcomes.

    Returns
    -------
    scores : BrierScores
        ``brier`` and ``scaled_brier``.

    See Also
    --------
    sklearn.metrics.brier_score_loss : The Brier score alone.
    calibration_metrics : Both with bootstrap intervals, and the other calibration measures.

    Examples
    --------
    >>> from tacelearn.metrics import brier_scores
    >>> scores = brier_scores([0, 0, 1, 1], [0.1, 0.4, 0.6, 0.9])
    >>> round(scores.brier, 3), round(scores.scaled_brier, 3)
    (0.085, 0.66)
    """
    return _brier_scores(*_checked(y_true, y_prob, pos_label))


def loess_calibration_errors(y_true, y_prob, *, span=0.75, surface="interpolate",
                             pos_label=None):
    """ICI, E50, E90 and Emax: how far the loess calibration curve lies from the diagonal.

    The mean, median, 90th percentile and maximum of ``|loess(p_i) - p_i|`` over the patients,
    where ``loess`` is R's ``loess(y ~ p)`` (local quadratic, tricube weights;
    :func:`tacelearn.stats.loess_smooth`) fitted to these patients (Austin & Steyerberg 2019).

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        Binary outcome.
    y_prob : array-like of shape (n_samples,)
        Predicted probabilities of the case (event) label, in [0, 1].
    span : float, default=0.75
        Fraction of the patients in each loess neighbourhood (R's default).
    surface : {"interpolate", "direct"}, default="interpolate"
        R's default interpolated k-d tree surface, or an exact local fit at every patient.
    pos_label : int, float, bool or str, default=None
        The case label; may be omitted for {0, 1}, {-1, 1} and boolean outcomes.

    Returns
    -------
    errors : CalibrationErrors
        ``ici``, ``e50``, ``e90`` and ``emax``.

    Raises
    ------
    ValueError
        Bad input (see :func:`calibration_metrics`), fewer than 4 patients in a neighbourhood,
        or a neighbourhood of zero width (more than ``span * n`` patients with one prediction).

    See Also
    --------
    calibration_metrics : These with bootstrap intervals, slope, intercept and Brier scores.
    loess_calibration_curve : The curve itself.

    References
    ----------
    Austin PC, Steyerberg EW. The Integrated Calibration Index (ICI) and related metrics for
    quantifying the calibration of logistic regression models. Stat Med 2019;38:4051-65.

    Examples
    --------
    >>> import numpy as np
    >>> from tacelearn.metrics import loess_calibration_errors
    >>> rng = np.random.default_rng(0)
    >>> p = rng.uniform(0.05, 0.95, 2000)
    >>> errors = loess_calibration_errors(rng.random(2000) < p, p)  # well calibrated
    >>> bool(errors.ici < 0.02)
    True
    """
    is_case, probabilities = _checked(y_true, y_prob, pos_label)
    return _loess_errors(is_case, probabilities, span, surface)


def _resample_indices(is_case, n_resamples, stratified, random_state):
    """Bootstrap resamples of the patients, within cases and within controls when stratified."""
    rng = check_random_state(random_state)
    n_samples = is_case.shape[0]
    if not stratified:
        for _ in range(n_resamples):
            yield rng.randint(0, n_samples, n_samples)
        return
    cases, controls = np.flatnonzero(is_case), np.flatnonzero(~is_case)
    for _ in range(n_resamples):
        yield np.concatenate((cases[rng.randint(0, cases.shape[0], cases.shape[0])],
                              controls[rng.randint(0, controls.shape[0], controls.shape[0])]))


def _percentile_interval(values, confidence_level):
    """Percentile bounds per column, over the finite values; NaN where a column has none."""
    alpha = 1.0 - confidence_level
    values = np.atleast_2d(np.asarray(values, dtype=np.float64))
    bounds = np.full((values.shape[1], 2), np.nan)
    for column in range(values.shape[1]):
        finite = values[:, column][np.isfinite(values[:, column])]
        if finite.size:
            bounds[column] = np.percentile(finite, [50.0 * alpha, 100.0 - 50.0 * alpha])
    return bounds


def _resampled_metrics(is_case, probabilities, indices, span):
    """Brier, scaled Brier, ICI, E50, E90 and Emax on one resample; NaN where undefined."""
    case, prob = is_case[indices], probabilities[indices]
    errors, _ = _loess_errors_or_nan(case, prob, span)
    return (*_brier_scores(case, prob), *errors)


def _check_level(confidence_level):
    return float(_check_confidence_level(confidence_level))


def _check_resamples(n_resamples, minimum):
    if int(n_resamples) != n_resamples or n_resamples < minimum:
        raise ValueError(f"n_resamples must be an integer >= {minimum}, got {n_resamples!r}")
    return int(n_resamples)


@dataclass(frozen=True)
class CalibrationResult:
    """Result of :func:`calibration_metrics`.

    Returned by :func:`calibration_metrics`; each parameter is kept as an attribute of the
    same name.

    Parameters
    ----------
    calibration_intercept : float
        Calibration-in-the-large: ``a`` in ``logit P(y) = a + logit(p)``; 0 when the mean
        prediction matches the event rate, negative when the model over-predicts.
    calibration_slope : float
        ``b`` in ``logit P(y) = a + b logit(p)``; 1 ideally, below 1 when the predictions are
        too extreme (overfitting); +/-inf when the predictions separate cases from controls.
    brier : float
        Mean squared error of the probabilities.
    scaled_brier : float
        ``1 - brier / (prevalence (1 - prevalence))``: 0 for predicting the prevalence to
        everyone, 1 for perfect predictions.
    ici, e50, e90, emax : float
        Mean, median, 90th percentile and maximum absolute difference between the loess
        calibration curve and the predictions, over the patients.
    confidence_intervals : dict of str to ConfidenceInterval
        Wald intervals for the intercept and slope, bootstrap percentile intervals for the others.
    n_samples, n_events : int
        Patients and cases.
    n_clipped : int
        Probabilities moved into ``[epsilon, 1 - epsilon]`` before taking logits.
    confidence_level : float
        Level of the confidence intervals.
    n_resamples : int
        Bootstrap resamples behind the percentile intervals.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per metric (index ``metric``): ``estimate``, ``low``, ``high``,
        ``ci_method`` (``"wald"`` or ``"bootstrap"``).

    See Also
    --------
    calibration_metrics : Computes it.

    Examples
    --------
    >>> import numpy as np
    >>> from tacelearn.metrics import calibration_metrics
    >>> rng = np.random.default_rng(0)
    >>> p = rng.uniform(0.05, 0.95, 200)
    >>> result = calibration_metrics(rng.random(200) < p, p, n_resamples=0)
    >>> result.n_samples, list(result.table.columns)
    (200, ['estimate', 'low', 'high', 'ci_method'])
    >>> low, high = result.confidence_intervals["calibration_slope"]
    >>> bool(low < 1 < high)
    True
    """

    calibration_intercept: float
    calibration_slope: float
    brier: float
    scaled_brier: float
    ici: float
    e50: float
    e90: float
    emax: float
    confidence_intervals: dict
    n_samples: int
    n_events: int
    n_clipped: int
    confidence_level: float
    n_resamples: int

    @property
    def table(self):
        """One row per metric (index ``metric``): ``estimate``, ``low``, ``high``, ``ci_method``
        (``"wald"`` or ``"bootstrap"``)."""
        rows = [(metric, getattr(self, metric), *self.confidence_intervals[metric],
                 "wald" if metric in _WALD_METRICS else "bootstrap")
                for metric in CALIBRATION_METRICS]
        table = pd.DataFrame(rows, columns=["metric", "estimate", "low", "high", "ci_method"])
        return table.set_index("metric")


def _wald_intervals(is_case, linear_predictor, z):
    """Intercept (offset model) and slope with their Wald intervals."""
    intercept_fit = fit_logistic_recalibration(is_case, linear_predictor, slope=False)
    slope_fit = fit_logistic_recalibration(is_case, linear_predictor, slope=True)
    estimates, intervals = [], []
    for fit, index in ((intercept_fit, 0), (slope_fit, 1)):
        estimate = float(fit.coef[index])
        half_width = z * np.sqrt(fit.covariance[index, index])
        estimates.append(estimate)
        intervals.append(ConfidenceInterval(float(estimate - half_width),
                                            float(estimate + half_width)))
    return estimates, intervals


def calibration_metrics(y_true, y_prob, *, confidence_level=0.95, n_resamples=1000,
                        stratified=False, span=0.75, epsilon=DEFAULT_LOGIT_EPSILON,
                        random_state=None, pos_label=None):
    """Calibration-in-the-large, calibration slope, Brier scores and loess calibration errors.

    The external-validation summary of Van Calster et al. (2019) and Austin & Steyerberg (2019)
    in one call, each with a confidence interval:

    - ``calibration_intercept`` (calibration-in-the-large): R's ``glm(y ~ 1, offset =
      qlogis(p), family = binomial)``; ``calibration_slope``: ``glm(y ~ qlogis(p), family =
      binomial)``; both with Wald intervals (R's ``confint.default``);
    - ``brier`` and ``scaled_brier`` (``1 - Brier / (prevalence (1 - prevalence))``);
    - ``ici``, ``e50``, ``e90``, ``emax``: mean, median, 90th percentile and maximum of
      ``|loess(p_i) - p_i|``, where ``loess`` is R's default ``loess(y ~ p)`` (local quadratic,
      span 0.75, interpolated k-d tree surface) fitted to these patients;
    - percentile bootstrap intervals for the Brier scores and the loess errors.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        Binary outcome.
    y_prob : array-like of shape (n_samples,)
        Predicted probabilities of the case (event) label, in [0, 1].
    confidence_level : float, default=0.95
        Level of the confidence intervals.
    n_resamples : int, default=1000
        Bootstrap resamples for the intervals of the Brier scores and loess errors; 0 skips
        them (NaN bounds).
    stratified : bool, default=False
        Resample cases and controls separately, keeping the prevalence fixed. The default
        resamples patients: conditioning on the number of events leaves out the uncertainty
        of the event rate, which the calibration measures depend on.
    span : float, default=0.75
        Fraction of the patients in each loess neighbourhood (R's default).
    epsilon : float or None, default=1e-8
        Probabilities are clipped to ``[epsilon, 1 - epsilon]`` before their logit is taken
        (for the intercept and slope only; ``n_clipped`` counts the values moved). ``None``
        refuses probabilities of exactly 0 or 1 with an error naming them.
    random_state : int, RandomState instance or None, default=None
        Seed of the bootstrap.
    pos_label : int, float, bool or str, default=None
        The case label; may be omitted for {0, 1}, {-1, 1} and boolean outcomes.

    Returns
    -------
    result : CalibrationResult
        The eight estimates as attributes, their intervals in ``confidence_intervals`` and the
        whole as a DataFrame in ``result.table``.

    Raises
    ------
    ValueError
        One class only, probabilities outside [0, 1] or non-finite, a length mismatch,
        or probabilities of exactly 0 or 1 with ``epsilon=None``.

    Warns
    -----
    RuntimeWarning
        When a loess neighbourhood has zero width (at least ``span * n`` patients share one
        prediction, as with a model of a few binary factors): ICI, E50, E90 and Emax are NaN,
        the other metrics are reported.

    See Also
    --------
    loess_calibration_curve : The loess curve itself, with a bootstrap band.
    brier_scores, loess_calibration_errors : The point estimates alone.
    tacelearn.validation.LogisticRecalibrator : Recalibrate a model on a local sample.
    tacelearn.plotting.CalibrationCurveDisplay : The calibration plot.

    Notes
    -----
    rms's ``val.prob`` reports ``Intercept`` and ``Slope`` of the joint fit ``y ~ a + b
    logit(p)``; its intercept is not calibration-in-the-large, which is the intercept of the
    model with the slope fixed at 1 (reported here). Its ``Eavg`` / ``E90`` / ``Emax`` come from
    ``lowess`` (local linear, span 2/3), not ``loess``, so they differ slightly from
    ``ici`` / ``e90`` / ``emax``.

    References
    ----------
    Austin PC, Steyerberg EW. The Integrated Calibration Index (ICI) and related metrics for
    quantifying the calibration of logistic regression models. Stat Med 2019;38:4051-65.

    Van Calster B, McLernon DJ, van Smeden M, et al. Calibration: the Achilles heel of
    predictive analytics. BMC Med 2019;17:230.

    Examples
    --------
    >>> import numpy as np
    >>> from scipy.special import expit, logit
    >>> from tacelearn.metrics import calibration_metrics
    >>> rng = np.random.default_rng(0)
    >>> p = rng.uniform(0.05, 0.95, 400)
    >>> y = rng.random(400) < expit(0.5 * logit(p))   # the model is overconfident
    >>> result = calibration_metrics(y, p, n_resamples=200, random_state=0)
    >>> print(f"slope {result.calibration_slope:.2f}, ICI {result.ici:.3f}")
    slope 0.57, ICI 0.080
    >>> result.table.round(3)
                           estimate    low   high  ci_method
    metric
    calibration_intercept    -0.154 -0.385  0.077       wald
    calibration_slope         0.568  0.402  0.734       wald
    brier                     0.228  0.207  0.255  bootstrap
    scaled_brier              0.088 -0.021  0.166  bootstrap
    ici                       0.080  0.052  0.130  bootstrap
    e50                       0.094  0.037  0.143  bootstrap
    e90                       0.137  0.096  0.229  bootstrap
    emax                      0.156  0.111  0.315  bootstrap
    """
    z = _check_level(confidence_level)
    n_resamples = _check_resamples(n_resamples, 0)
    is_case = check_binary_outcome(y_true, pos_label=pos_label)
    probabilities = check_scores(y_prob, is_case.shape[0], name="y_prob", probability=True)
    epsilon = check_logit_epsilon(epsilon, probabilities, y_prob)
    linear_predictor, n_clipped = clipped_logit(probabilities, epsilon)
    (intercept, slope), (intercept_ci, slope_ci) = _wald_intervals(is_case, linear_predictor, z)
    brier, scaled_brier = _brier_scores(is_case, probabilities)
    (ici, e50, e90, emax), undefined = _loess_errors_or_nan(is_case, probabilities, span)
    if undefined is not None:
        # A model of a few binary factors gives ties; the GLM and Brier quantities still hold.
        warnings.warn(f"ICI, E50, E90 and Emax are undefined ({undefined}); reported as NaN",
                      RuntimeWarning, stacklevel=2)
    resampled = np.array([_resampled_metrics(is_case, probabilities, indices, span)
                          for indices in _resample_indices(is_case, n_resamples, stratified,
                                                           random_state)])
    bounds = (_percentile_interval(resampled, confidence_level) if n_resamples
              else np.full((6, 2), np.nan))
    intervals = {"calibration_intercept": intercept_ci, "calibration_slope": slope_ci}
    for metric, (low, high) in zip(CALIBRATION_METRICS[2:], bounds):
        intervals[metric] = ConfidenceInterval(float(low), float(high))
    return CalibrationResult(
        calibration_intercept=intercept, calibration_slope=slope, brier=brier,
        scaled_brier=scaled_brier, ici=ici, e50=e50, e90=e90, emax=emax,
        confidence_intervals=intervals, n_samples=int(is_case.shape[0]),
        n_events=int(is_case.sum()), n_clipped=n_clipped, confidence_level=confidence_level,
        n_resamples=n_resamples,
    )


def _curve_points(points, probabilities):
    if isinstance(points, (int, np.integer)) and not isinstance(points, bool):
        if points < 2:
            raise ValueError(f"points must be at least 2, got {points!r}")
        return np.linspace(probabilities.min(), probabilities.max(), int(points))
    grid = np.asarray(points, dtype=np.float64)
    if grid.ndim != 1 or grid.size == 0 or not np.all(np.isfinite(grid)):
        raise ValueError("points must be an int or a non-empty 1-D array of finite numbers")
    return grid


def loess_calibration_curve(y_true, y_prob, *, points=101, span=0.75, confidence_level=0.95,
                            n_resamples=200, stratified=False, random_state=None,
                            pos_label=None):
    """The loess calibration curve (observed event rate against prediction) with a bootstrap band.

    The curve is R's ``predict(loess(y ~ p), points)`` (see :func:`calibration_metrics`); the
    band holds the pointwise percentile interval of the curves refitted on ``n_resamples``
    bootstrap resamples of the patients, each evaluated where it is defined (loess does not
    extrapolate beyond a resample's range, so the band may be NaN at the extreme predictions).

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        Binary outcome.
    y_prob : array-like of shape (n_samples,)
        Predicted probabilities of the case label.
    points : int or array-like of float, default=101
        Where to evaluate the curve: that many evenly spaced predictions from the smallest to
        the largest, or the given predictions (NaN outside the observed range).
    span : float, default=0.75
        Fraction of the patients in each loess neighbourhood.
    confidence_level : float, default=0.95
        Level of the pointwise band.
    n_resamples : int, default=200
        Bootstrap resamples of the band; 0 gives no band (NaN bounds).
    stratified : bool, default=False
        Resample cases and controls separately, keeping the prevalence fixed. The default
        resamples patients: with 300 well-calibrated patients its 95% band covered the true
        curve 95-96% of the time, the stratified band only 89-91% (it leaves out the
        uncertainty of the event rate).
    random_state : int, RandomState instance or None, default=None
        Seed of the bootstrap.
    pos_label : int, float, bool or str, default=None
        The case label; may be omitted for {0, 1}, {-1, 1} and boolean outcomes.

    Returns
    -------
    curve : pandas.DataFrame
        Columns ``predicted`` (the points), ``observed`` (the loess estimate of the event rate),
        ``low`` and ``high`` (the band).

    See Also
    --------
    calibration_metrics : ICI, E50, E90 and Emax from this curve, slope and intercept.
    tacelearn.plotting.CalibrationCurveDisplay : The curve drawn with its band.

    Examples
    --------
    >>> import numpy as np
    >>> from tacelearn.metrics import loess_calibration_curve
    >>> rng = np.random.default_rng(0)
    >>> p = rng.uniform(0.05, 0.95, 1000)
    >>> y = rng.random(1000) < p                      # well calibrated
    >>> curve = loess_calibration_curve(y, p, points=[0.2, 0.5, 0.8], n_resamples=100,
    ...                                 random_state=0)
    >>> curve.round(2)
       predicted  observed   low  high
    0        0.2      0.22  0.17  0.26
    1        0.5      0.53  0.48  0.59
    2        0.8      0.81  0.78  0.85
    """
    _check_level(confidence_level)
    n_resamples = _check_resamples(n_resamples, 0)
    is_case = check_binary_outcome(y_true, pos_label=pos_label)
    probabilities = check_scores(y_prob, is_case.shape[0], name="y_prob", probability=True)
    grid = _curve_points(points, probabilities)
    outcome = is_case.astype(np.float64)
    observed = loess_smooth(probabilities, outcome, grid, span=span)
    curves = []
    for indices in _resample_indices(is_case, n_resamples, stratified, random_state):
        try:
            curves.append(loess_smooth(probabilities[indices], outcome[indices], grid, span=span))
        except ValueError:  # a resample whose loess neighbourhood collapses to one value
            continue
    bounds = (_percentile_interval(np.array(curves), confidence_level) if curves
              else np.full((grid.shape[0], 2), np.nan))
    return pd.DataFrame({"predicted": grid, "observed": observed,
                         "low": bounds[:, 0], "high": bounds[:, 1]})
