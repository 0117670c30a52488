"""Logistic recalibration of predicted probabilities: ``logit P(y) = a + b logit(p)``.

Calibration-in-the-large is the intercept ``a`` with the slope fixed at 1 (the model's linear
predictor as an offset), the calibration slope the ``b`` of the two-parameter fit: R's
``glm(y ~ 1, offset = qlogis(p), family = binomial)`` and ``glm(y ~ qlogis(p), family =
binomial)``. Both are fitted here by Newton-Raphson on one or two parameters rather than through
a GLM library, because :func:`tacelearn.validation.bootstrap_validate` evaluates them on every
bootstrap resample and a GLM's set-up costs more than the fit; the tests check them against
statsmodels' GLM.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from scipy.special import expit, log_expit, logit

from ..utils import describe_entries, one_dimensional

__all__ = ["DEFAULT_LOGIT_EPSILON", "LogisticFit", "check_logit_epsilon", "clipped_logit",
           "fit_logistic_recalibration"]

#: Probabilities are clipped to ``[DEFAULT_LOGIT_EPSILON, 1 - DEFAULT_LOGIT_EPSILON]`` before
#: their logit is taken (logit -18.4 to 18.4), so that a model that outputs exactly 0 or 1
#: keeps a finite linear predictor.
DEFAULT_LOGIT_EPSILON = 1e-8

_NEWTON_MAX_ITER = 100
_NEWTON_TOLERANCE = 1e-10


class LogisticFit(NamedTuple):
    """Maximum-likelihood logistic recalibration: coefficients and their covariance.

    Made by :func:`fit_logistic_recalibration`, a named tuple; each parameter is kept as an
    attribute of the same name.

    Parameters
    ----------
    coef : numpy.ndarray of shape (1,) or (2,)
        ``[intercept]`` or ``[intercept, slope]``.
    covariance : numpy.ndarray of shape (1, 1) or (2, 2)
        The inverse Fisher information (Wald variances on the diagonal).

    Notes
    -----
    When the maximum-likelihood estimate does not exist (cases and controls separated by the
    linear predictor) the slope is +/-inf and everything else NaN; NaN throughout when the fit
    fails otherwise (one class only, a constant linear predictor).

    Examples
    --------
    >>> import numpy as np
    >>> from tacelearn.stats import clipped_logit, fit_logistic_recalibration
    >>> p = np.array([0.1, 0.2, 0.3, 0.4, 0.6, 0.7, 0.8, 0.9])
    >>> y = np.array([0, 0, 1, 0, 1, 0, 1, 1], dtype=bool)
    >>> coef, covariance = fit_logistic_recalibration(y, clipped_logit(p)[0], slope=True)
    >>> coef.shape, covariance.shape
    ((2,), (2, 2))
    """

    coef: np.ndarray
    covariance: np.ndarray


def _log_likelihood(y, eta):
    return float(np.dot(y, log_expit(eta)) + np.dot(1.0 - y, log_expit(-eta)))


def _separated_slope(is_case, linear_predictor):
    """+inf / -inf when a threshold separates cases from controls (no MLE), NaN when the
    linear predictor is constant or a class is missing, None when the two-parameter fit
    exists."""
    cases, controls = linear_predictor[is_case], linear_predictor[~is_case]
    if np.ptp(linear_predictor) == 0.0 or cases.size == 0 or controls.size == 0:
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


def _check_inputs(is_case, linear_predictor):
    cases = one_dimensional(is_case, "is_case")
    if cases.dtype != bool:
        if not np.isin(cases, (0, 1)).all():
            raise ValueError("is_case must hold booleans (or 0 and 1)")
        cases = cases.astype(bool)
    predictor = np.asarray(one_dimensional(linear_predictor, "linear_predictor"),
                           dtype=np.float64)
    if predictor.shape != cases.shape:
        raise ValueError(f"linear_predictor has {predictor.shape[0]} values but is_case has "
                         f"{cases.shape[0]}")
    not_finite = ~np.isfinite(predictor)
    if not_finite.any():
        raise ValueError("linear_predictor has NaN or infinite values at "
                         f"{describe_entries(linear_predictor, not_finite)}; clip the "
                         "probabilities first (clipped_logit)")
    return cases, predictor


def fit_logistic_recalibration(is_case, linear_predictor, *, slope):
    """Fit ``logit P(case) = a + linear_predictor`` (``slope=False``) or ``a + b linear_predictor``.

    The maximum-likelihood fit of R's ``glm(y ~ 1, offset = lp, family = binomial)``
    (calibration-in-the-large) or ``glm(y ~ lp, family = binomial)`` (calibration slope), by
    Newton-Raphson with step halving, with the covariance of the coefficients (the inverse
    Fisher information; R's ``vcov``).

    Parameters
    ----------
    is_case : array-like of bool of shape (n_samples,)
        The outcome, True (or 1) for the cases; both classes are needed for a finite fit.
    linear_predictor : array-like of float of shape (n_samples,)
        Finite logits of the predicted probabilities (see :func:`clipped_logit`).
    slope : bool
        Fit the slope too.

    Returns
    -------
    fit : LogisticFit
        ``coef`` (``[a]`` or ``[a, b]``) and ``covariance``. A slope whose maximum-likelihood
        estimate does not exist (the linear predictor separates cases from controls) is
        +/-inf with NaN elsewhere; NaN throughout when the fit is undefined (one class only, a
        constant linear predictor).

    See Also
    --------
    tacelearn.metrics.calibration_metrics : Intercept and slope with intervals, and more.
    tacelearn.validation.LogisticRecalibrator : Recalibrate a fitted model.

    Examples
    --------
    >>> import numpy as np
    >>> from tacelearn.stats import clipped_logit, fit_logistic_recalibration
    >>> p = np.array([0.1, 0.2, 0.3, 0.4, 0.6, 0.7, 0.8, 0.9])
    >>> y = np.array([0, 0, 1, 0, 1, 0, 1, 1], dtype=bool)
    >>> lp, _ = clipped_logit(p)
    >>> fit = fit_logistic_recalibration(y, lp, slope=True)
    >>> slope, slope_se = fit.coef[1], np.sqrt(fit.covariance[1, 1])
    >>> print(f"slope {slope:.4f} (SE {slope_se:.4f})")  # R: glm(y ~ qlogis(p), binomial)
    slope 1.0739 (SE 0.7645)
    """
    is_case, linear_predictor = _check_inputs(is_case, linear_predictor)
    y = is_case.astype(np.float64)
    if not slope:
        return _newton_raphson(y, np.ones((y.shape[0], 1)), linear_predictor, np.zeros(1))
    separated = _separated_slope(is_case, linear_predictor)
    if separated is not None:
        return LogisticFit(np.array([np.nan, separated]), np.full((2, 2), np.nan))
    design = np.column_stack((np.ones_like(linear_predictor), linear_predictor))
    # Start at perfect calibration, the usual neighbourhood of the answer.
    return _newton_raphson(y, design, 0.0, np.array([0.0, 1.0]))


def clipped_logit(probabilities, epsilon=DEFAULT_LOGIT_EPSILON):
    """``logit(clip(p, epsilon, 1 - epsilon))`` and how many values the clip moved.

    Parameters
    ----------
    probabilities : array-like of float
        Probabilities in [0, 1].
    epsilon : float, default=1e-8
        The clip: a model that outputs exactly 0 or 1 keeps a finite logit (+/-18.4 with the
        default). 0 clips nothing (see :func:`check_logit_epsilon`).

    Returns
    -------
    logits : numpy.ndarray of float
        The logits of the clipped probabilities, in the shape of ``probabilities``.
    n_clipped : int
        Values the clip moved.

    Examples
    --------
    >>> from tacelearn.stats import clipped_logit
    >>> logits, n_clipped = clipped_logit([0.0, 0.5, 0.9])
    >>> logits.round(2).tolist(), n_clipped
    ([-18.42, 0.0, 2.2], 1)
    """
    probabilities = np.asarray(probabilities, dtype=np.float64)
    clipped = np.clip(probabilities, epsilon, 1.0 - epsilon)
    return logit(clipped), int(np.count_nonzero(clipped != probabilities))


def check_logit_epsilon(epsilon, probabilities=None, y_prob=None):
    """Validate the ``epsilon`` of :func:`clipped_logit` (``None``: refuse 0 and 1).

    With ``epsilon=None`` nothing is clipped, so probabilities of exactly 0 or 1, whose logits
    are infinite, are refused with an error that names them.

    Parameters
    ----------
    epsilon : float or None
        In [0, 0.5); ``None`` asks not to clip, and to refuse probabilities whose logit is
        infinite.
    probabilities : numpy.ndarray of float, optional
        The probabilities to check against ``epsilon=None``; only the value of ``epsilon`` is
        checked without them.
    y_prob : array-like, optional
        The user's input the probabilities came from (a Series names its index labels in the
        error message); default ``probabilities``.

    Returns
    -------
    epsilon : float
        The clip to apply: ``epsilon``, or 0 for ``None``.

    Raises
    ------
    ValueError
        ``epsilon`` outside [0, 0.5), or probabilities of exactly 0 or 1 with ``None``, named.

    Examples
    --------
    >>> import numpy as np
    >>> from tacelearn.stats import check_logit_epsilon
    >>> check_logit_epsilon(None, np.array([0.2, 0.7]))
    0.0
    >>> check_logit_epsilon(None, np.array([0.2, 1.0]))
    Traceback (most recent call last):
    ...
    ValueError: y_prob is exactly 0 or 1 at position(s) [1]: ...
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
