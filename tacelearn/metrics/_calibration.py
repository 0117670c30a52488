"""Calibration of predicted probabilities: logistic recalibration, Brier scores and the
loess-based calibration indices of Austin & Steyerberg (2019), with confidence intervals.

Calibration-in-the-large is the intercept ``a`` of ``logit P(y) = a + logit(p)`` (the model's
linear predictor as an offset), the calibration slope the ``b`` of ``logit P(y) = a + b logit(p)``:
R's ``glm(y ~ 1, offset = qlogis(p), family = binomial)`` and ``glm(y ~ qlogis(p), family =
binomial)``. Both are fitted here by Newton-Raphson on one or two parameters rather than through a
GLM library, because :func:`tacelearn.validation.bootstrap_validate` evaluates them on every
bootstrap resample; the test suite checks them against statsmodels' GLM.

The flexible calibration curve is R's default ``loess(y ~ p)``: local quadratic regression on the
``floor(span * n)`` nearest predictions with tricube weights (span 0.75), computed exactly at the
vertices of loess's k-d tree and blended between them by cubic Hermite interpolation
(``surface = "interpolate"``, Cleveland & Grosse 1991), or exactly at every point
(``surface = "direct"``). In one dimension the k-d tree is a set of cut points: a cell of more than
``floor(n * span * cell)`` points (cell 0.2) is cut at its median, moved to the nearest change of
value when the median sits in a run of ties.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import pandas as pd
from scipy.special import expit, log_expit, logit, ndtri
from sklearn.utils import check_random_state

from ..utils import check_binary_outcome, check_scores, describe_entries
from ._delong import ConfidenceInterval

__all__ = [
    "CALIBRATION_METRICS",
    "DEFAULT_EPSILON",
    "CalibrationResult",
    "calibration_metrics",
    "loess_calibration_curve",
]

#: Metrics of :func:`calibration_metrics`, in the order of its table.
CALIBRATION_METRICS = ("calibration_intercept", "calibration_slope", "brier", "scaled_brier",
                       "ici", "e50", "e90", "emax")
#: Probabilities are clipped to ``[DEFAULT_EPSILON, 1 - DEFAULT_EPSILON]`` before their logit is
#: taken (logit -18.4 to 18.4), so that a model that outputs exactly 0 or 1 keeps a finite
#: linear predictor.
DEFAULT_EPSILON = 1e-8

_WALD_METRICS = ("calibration_intercept", "calibration_slope")
_SURFACES = ("interpolate", "direct")
# R's loess.control(cell = 0.2): a k-d tree cell holds at most floor(n * span * cell) points.
_LOESS_CELL = 0.2
# Singular values below this fraction of the largest are dropped, as loess's ehg127 does.
_LOESS_RCOND = 100.0 * np.finfo(float).eps
# Design matrices of the direct surface are built in blocks of at most this many entries.
_DIRECT_BLOCK = 2_000_000
_NEWTON_MAX_ITER = 100
_NEWTON_TOLERANCE = 1e-10


# --- logistic recalibration -------------------------------------------------------------------

class LogisticFit(NamedTuple):
    """Maximum-likelihood logistic recalibration: coefficients and their covariance.

    ``coef`` is ``[intercept]`` or ``[intercept, slope]``; ``covariance`` the inverse Fisher
    information. When the maximum-likelihood estimate does not exist (cases and controls
    separated by the linear predictor) the slope is +/-inf and everything else NaN.
    """

    coef: np.ndarray
    covariance: np.ndarray


def _log_likelihood(y, eta):
    return float(np.dot(y, log_expit(eta)) + np.dot(1.0 - y, log_expit(-eta)))


def _separated_slope(is_case, linear_predictor):
    """+inf / -inf when a threshold separates cases from controls (no MLE), NaN when the
    linear predictor is constant, None when the two-parameter fit exists."""
    cases, controls = linear_predictor[is_case], linear_predictor[~is_case]
    if np.ptp(linear_predictor) == 0.0:
        return np.nan
    if controls.max() <= cases.min():
        return np.inf
    if cases.max() <= controls.min():
        return -np.inf
    return None


def _information(design, eta):
    fitted = expit(eta)
    return fitted, design.T @ (design * (fitted * (1.0 - fitted))[:, None])


def _newton_raphson(y, design, offset, coef):
    """Maximum-likelihood coefficients of ``logit P(y) = offset + design @ coef`` and their
    covariance, from the start ``coef``; NaN when the information matrix is singular."""
    eta = offset + design @ coef
    log_likelihood = _log_likelihood(y, eta)
    for _ in range(_NEWTON_MAX_ITER):
        fitted, information = _information(design, eta)
        try:
            step = np.linalg.solve(information, design.T @ (y - fitted))
        except np.linalg.LinAlgError:  # every fitted probability rounded to 0 or 1
            break
        # Step halving keeps every iterate an ascent of the (concave) log-likelihood: a full
        # Newton step from a far start can overshoot when the predictions are extreme.
        scale = 1.0
        while True:
            candidate = coef + scale * step
            candidate_eta = offset + design @ candidate
            candidate_log_likelihood = _log_likelihood(y, candidate_eta)
            if candidate_log_likelihood >= log_likelihood or scale < 1e-10:
                break
            scale /= 2.0
        change = np.max(np.abs(candidate - coef))
        coef, eta, log_likelihood = candidate, candidate_eta, candidate_log_likelihood
        if change <= _NEWTON_TOLERANCE * (1.0 + np.max(np.abs(coef))):
            try:
                return LogisticFit(coef, np.linalg.inv(_information(design, eta)[1]))
            except np.linalg.LinAlgError:
                break
    n_params = design.shape[1]
    return LogisticFit(np.full(n_params, np.nan), np.full((n_params, n_params), np.nan))


def fit_logistic_recalibration(is_case, linear_predictor, *, slope):
    """Fit ``logit P(case) = a + linear_predictor`` (``slope=False``) or ``a + b linear_predictor``.

    Parameters
    ----------
    is_case : ndarray of bool of shape (n_samples,)
        Both classes present.
    linear_predictor : ndarray of float of shape (n_samples,)
        Finite logits of the predicted probabilities.
    slope : bool
        Fit the slope too.

    Returns
    -------
    fit : LogisticFit
    """
    y = is_case.astype(np.float64)
    if not slope:
        return _newton_raphson(y, np.ones((y.shape[0], 1)), linear_predictor, np.zeros(1))
    separated = _separated_slope(is_case, linear_predictor)
    if separated is not None:
        return LogisticFit(np.array([np.nan, separated]), np.full((2, 2), np.nan))
    design = np.column_stack((np.ones_like(linear_predictor), linear_predictor))
    # Start at perfect calibration, the usual neighbourhood of the answer.
    return _newton_raphson(y, design, 0.0, np.array([0.0, 1.0]))


def clipped_logit(probabilities, epsilon):
    """``logit(clip(p, epsilon, 1 - epsilon))`` and how many values the clip moved."""
    clipped = np.clip(probabilities, epsilon, 1.0 - epsilon)
    return logit(clipped), int(np.count_nonzero(clipped != probabilities))


def check_epsilon(epsilon, probabilities=None, y_prob=None):
    """Validate ``epsilon``; with ``None``, refuse probabilities of exactly 0 or 1.

    Returns the clip to apply (0 for ``None``). Without ``probabilities`` only the value is
    checked; ``y_prob`` (the user's input, default ``probabilities``) names the offenders.
    """
    if epsilon is None:
        if probabilities is not None:
            certain = (probabilities == 0.0) | (probabilities == 1.0)
            if certain.any():
                where = describe_entries(probabilities if y_prob is None else y_prob, certain)
                raise ValueError(
                    f"y_prob is exactly 0 or 1 at {where}: their logit is infinite; pass "
                    "epsilon= (e.g. 1e-8) to clip the probabilities instead"
                )
        return 0.0
    if not 0.0 <= epsilon < 0.5:
        raise ValueError(f"epsilon must lie in [0, 0.5) or be None, got {epsilon!r}")
    return float(epsilon)


# --- loess ------------------------------------------------------------------------------------

def _neighbourhood_size(n_samples, span):
    if not 0.0 < span <= 1.0:
        raise ValueError(f"span must lie in (0, 1], got {span!r}")
    n_near = min(n_samples, int(np.floor(n_samples * span)))
    # Three local coefficients need at least four neighbours (loess's error 104).
    if n_near < 4:
        raise ValueError(
            f"span={span} of {n_samples} predictions leaves {n_near} neighbours; a local "
            "quadratic fit needs at least 4: increase span or use more patients"
        )
    return n_near


def _local_quadratic(x, y, centres, n_near):
    """Value and slope at each centre of the tricube-weighted local quadratic fit on the
    ``n_near`` nearest values of ``x`` (loess's ehg127: equilibrated columns, pseudo-inverse)."""
    offsets = x[None, :] - centres[:, None]
    squared = offsets * offsets
    radius = np.partition(squared, n_near - 1, axis=1)[:, n_near - 1]
    if np.any(radius <= 0.0):
        raise ValueError(
            f"at least {n_near} predictions share one value, so the loess neighbourhood has "
            "zero width (R's loess stops with 'span too small'); increase span"
        )
    ratio = np.sqrt(squared / radius[:, None])
    root_weights = np.sqrt(np.where(ratio < 1.0, (1.0 - ratio**3) ** 3, 0.0))
    design = root_weights[..., None] * np.stack((np.ones_like(offsets), offsets, squared),
                                                axis=-1)
    norms = np.sqrt(np.einsum("mnk,mnk->mk", design, design))
    norms[norms == 0.0] = 1.0
    pseudo_inverse = np.linalg.pinv(design / norms[:, None, :], rcond=_LOESS_RCOND)
    coef = np.einsum("mkn,mn->mk", pseudo_inverse, root_weights * y[None, :]) / norms
    return coef[:, 0], coef[:, 1]


def _split_position(sorted_x, first, last):
    """1-based position of the cut of cell ``first..last``: the median, or the nearest position
    (trying +1, -1, +2, -2, ...) after which the value changes."""
    middle = (first + last) // 2
    offset = 0
    while first <= middle + offset < last:
        if sorted_x[middle + offset - 1] != sorted_x[middle + offset]:
            return middle + offset
        offset = -offset
        if offset >= 0:
            offset += 1
    return middle


def _kd_vertices(sorted_x, span):
    """Vertices of loess's k-d tree over one predictor, in increasing order."""
    n_samples = sorted_x.shape[0]
    max_points = int(np.floor(n_samples * span * _LOESS_CELL))
    low, high = float(sorted_x[0]), float(sorted_x[-1])
    margin = 0.005 * max(high - low, 1e-10 * max(abs(low), abs(high)) + 1e-30)
    vertices = [low - margin, high + margin]
    capacity = max(200, n_samples)  # loess's nvmax: vertices (and cells) it has room for
    n_cells = 1
    cells = deque([(1, n_samples, low - margin, high + margin)])
    while cells:
        first, last, lower, upper = cells.popleft()
        if (last - first + 1 <= max_points or upper - lower <= 0.0
                or n_cells + 2 > capacity or len(vertices) + 1 > capacity):
            continue
        cut = _split_position(sorted_x, first, last)
        value = float(sorted_x[cut - 1])
        if value in (lower, upper):
            continue
        vertices.append(value)
        n_cells += 2
        cells.append((first, cut, lower, value))
        cells.append((cut + 1, last, value, upper))
    return np.sort(np.asarray(vertices))


def _hermite(vertices, values, slopes, points):
    """Cubic Hermite interpolation between the vertices enclosing each point (loess's ehg128)."""
    right = np.clip(np.searchsorted(vertices, points, side="left"), 1, vertices.shape[0] - 1)
    left = right - 1
    width = vertices[right] - vertices[left]
    h = (points - vertices[left]) / width
    return ((1.0 - h) ** 2 * (1.0 + 2.0 * h) * values[left]
            + h**2 * (3.0 - 2.0 * h) * values[right]
            + (h * (1.0 - h) ** 2 * slopes[left] + h**2 * (h - 1.0) * slopes[right]) * width)


def loess_smooth(x, y, points, *, span=0.75, surface="interpolate"):
    """R's ``predict(loess(y ~ x, span = span, degree = 2, surface = surface), points)``.

    Points outside the range of ``x`` give NaN (loess does not extrapolate).
    """
    if surface not in _SURFACES:
        raise ValueError(f"surface must be one of {_SURFACES}, got {surface!r}")
    n_near = _neighbourhood_size(x.shape[0], span)
    points = np.asarray(points, dtype=np.float64)
    smoothed = np.full(points.shape, np.nan)
    inside = (points >= x.min()) & (points <= x.max())
    if surface == "interpolate":
        vertices = _kd_vertices(np.sort(x), span)
        values, slopes = _local_quadratic(x, y, vertices, n_near)
        smoothed[inside] = _hermite(vertices, values, slopes, points[inside])
        return smoothed
    targets = np.flatnonzero(inside)
    block = max(1, _DIRECT_BLOCK // x.shape[0])
    for start in range(0, targets.shape[0], block):
        chosen = targets[start:start + block]
        smoothed[chosen] = _local_quadratic(x, y, points[chosen], n_near)[0]
    return smoothed


# --- the metrics ------------------------------------------------------------------------------

def brier_scores(is_case, probabilities):
    """Brier score and scaled Brier score (1 - Brier / Brier of predicting the prevalence)."""
    outcome = is_case.astype(np.float64)
    brier = float(np.mean((probabilities - outcome) ** 2))
    prevalence = outcome.mean()
    reference = prevalence * (1.0 - prevalence)
    return brier, (1.0 - brier / reference if reference > 0.0 else np.nan)


def loess_errors(is_case, probabilities, *, span=0.75, surface="interpolate"):
    """ICI, E50, E90 and Emax: the mean, median, 90th percentile and maximum of
    ``|loess(p_i) - p_i|`` over the patients (Austin & Steyerberg 2019)."""
    observed = loess_smooth(probabilities, is_case.astype(np.float64), probabilities, span=span,
                            surface=surface)
    errors = np.abs(observed - probabilities)
    return (float(errors.mean()), float(np.median(errors)), float(np.quantile(errors, 0.9)),
            float(errors.max()))


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


def percentile_interval(values, confidence_level):
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
    try:
        errors = loess_errors(case, prob, span=span)
    except ValueError:  # a resample whose loess neighbourhood collapses to one value
        errors = (np.nan,) * 4
    return (*brier_scores(case, prob), *errors)


def _check_level(confidence_level):
    if not 0.0 < confidence_level < 1.0:
        raise ValueError(
            f"confidence_level must lie strictly between 0 and 1, got {confidence_level!r}"
        )
    return float(ndtri(0.5 + confidence_level / 2.0))


def _check_resamples(n_resamples, minimum):
    if int(n_resamples) != n_resamples or n_resamples < minimum:
        raise ValueError(f"n_resamples must be an integer >= {minimum}, got {n_resamples!r}")
    return int(n_resamples)


@dataclass(frozen=True)
class CalibrationResult:
    """Result of :func:`calibration_metrics`.

    Attributes
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
    n_resamples : int
        Bootstrap resamples behind the percentile intervals.
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
                        stratified=False, span=0.75, epsilon=DEFAULT_EPSILON, random_state=None,
                        pos_label=None):
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
        probabilities of exactly 0 or 1 with ``epsilon=None``, or a loess neighbourhood of
        zero width (more than ``span * n`` patients with one prediction).

    See Also
    --------
    loess_calibration_curve : The loess curve itself, with a bootstrap band.
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
    epsilon = check_epsilon(epsilon, probabilities, y_prob)
    linear_predictor, n_clipped = clipped_logit(probabilities, epsilon)
    (intercept, slope), (intercept_ci, slope_ci) = _wald_intervals(is_case, linear_predictor, z)
    brier, scaled_brier = brier_scores(is_case, probabilities)
    ici, e50, e90, emax = loess_errors(is_case, probabilities, span=span)
    resampled = np.array([_resampled_metrics(is_case, probabilities, indices, span)
                          for indices in _resample_indices(is_case, n_resamples, stratified,
                                                           random_state)])
    bounds = (percentile_interval(resampled, confidence_level) if n_resamples
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
    bounds = (percentile_interval(np.array(curves), confidence_level) if curves
              else np.full((grid.shape[0], 2), np.nan))
    return pd.DataFrame({"predicted": grid, "observed": observed,
                         "low": bounds[:, 0], "high": bounds[:, 1]})
