"""Random-effects meta-analysis of per-centre performance (R's ``metafor::rma``)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats
from scipy.special import expit, logit, ndtr

from ..metrics import ConfidenceInterval
from ..utils import describe_entries, one_dimensional
from ._performance import check_confidence_level

__all__ = ["RandomEffectsResult", "pool_random_effects"]

_METHODS = ("DL", "REML")
_TRANSFORMS = (None, "logit")
_REML_MAX_ITER = 1000
_REML_TOLERANCE = 1e-12


@dataclass(frozen=True)
class RandomEffectsResult:
    """Result of :func:`pool_random_effects`, shaped like scipy's test results.

    Made by :func:`pool_random_effects`; each parameter is kept as an attribute of the same
    name.

    Parameters
    ----------
    estimate : float
        The pooled (random-effects) estimate, back-transformed when a ``transform`` was used.
    confidence_interval : ConfidenceInterval
        Wald interval of the pooled estimate (normal quantile, as ``metafor::rma``).
    prediction_interval : ConfidenceInterval
        Where the true value of a new centre is expected to lie: estimate +/- t(k - 2)
        sqrt(tau2 + se^2) (Higgins, Thompson & Spiegelhalter 2009); NaN for fewer than 3
        estimates.
    statistic : float
        The z statistic of the pooled estimate against 0 on the pooling scale (logit 0 is an
        AUC of 0.5).
    pvalue : float
        Two-sided p-value of ``statistic``.
    standard_error : float
        Of the pooled estimate, on the pooling scale.
    tau2 : float
        Between-centre variance, on the pooling scale.
    i2 : float
        Proportion (0-1) of the total variability due to heterogeneity, tau2 / (tau2 + s2)
        with s2 the typical within-centre variance (metafor's definition; for DerSimonian-Laird
        it equals (Q - df) / Q).
    q : float
        Cochran's Q.
    q_pvalue : float
        P-value of the chi-square test of homogeneity (k - 1 degrees of freedom).
    k : int
        Estimates pooled.
    method : {"DL", "REML"}
        Estimator of tau2: DerSimonian-Laird or restricted maximum likelihood.
    transform : str or None
        ``"logit"`` when proportions were pooled on the logit scale.
    confidence_level : float
        Level of the confidence and prediction intervals.

    See Also
    --------
    pool_random_effects : Computes it.

    Examples
    --------
    >>> from tacelearn.validation import pool_random_effects
    >>> aucs = [0.78, 0.81, 0.72, 0.70]
    >>> variances = [0.001, 0.002, 0.0015, 0.002]
    >>> result = pool_random_effects(aucs, variances, transform="logit")
    >>> low, high = result.confidence_interval  # R: predict(rma(...), transf = plogis)
    >>> print(f"AUC {result.estimate:.4f} ({low:.4f}-{high:.4f}), k = {result.k}")
    AUC 0.7496 (0.7009-0.7926), k = 4
    >>> result.method, round(result.i2, 4)
    ('REML', 0.2704)
    """

    estimate: float
    confidence_interval: ConfidenceInterval
    prediction_interval: ConfidenceInterval
    statistic: float
    pvalue: float
    standard_error: float
    tau2: float
    i2: float
    q: float
    q_pvalue: float
    k: int
    method: str
    transform: str | None
    confidence_level: float


def _check_inputs(estimates, variances, transform):
    values = np.asarray(one_dimensional(estimates, "estimates"), dtype=np.float64)
    spreads = np.asarray(one_dimensional(variances, "variances"), dtype=np.float64)
    if values.shape != spreads.shape:
        raise ValueError(f"estimates has {values.size} values but variances has {spreads.size}")
    if values.size < 2:
        raise ValueError(f"pooling needs at least 2 estimates, got {values.size}")
    for name, array, original in (("estimates", values, estimates),
                                  ("variances", spreads, variances)):
        bad = ~np.isfinite(array)
        if bad.any():
            raise ValueError(f"{name} has NaN or infinite values at "
                             f"{describe_entries(original, bad)}")
    if np.any(spreads <= 0.0):
        raise ValueError(f"variances must be positive; not at "
                         f"{describe_entries(variances, spreads <= 0.0)}")
    if transform == "logit":
        outside = (values <= 0.0) | (values >= 1.0)
        if outside.any():
            raise ValueError(
                "transform='logit' needs estimates strictly between 0 and 1 (e.g. AUCs); not at "
                f"{describe_entries(estimates, outside)}"
            )
        # Delta method: var(logit x) = var(x) / (x (1 - x))^2.
        spreads = spreads / (values * (1.0 - values)) ** 2
        values = logit(values)
    return values, spreads


def _dersimonian_laird(values, variances):
    weights = 1.0 / variances
    fixed = np.dot(weights, values) / weights.sum()
    q = float(np.dot(weights, (values - fixed) ** 2))
    scaling = weights.sum() - np.dot(weights, weights) / weights.sum()
    return max(0.0, (q - (values.size - 1)) / scaling), q


def _reml(values, variances, start):
    """REML tau2 by Fisher scoring (Viechtbauer 2005), started at the DerSimonian-Laird value."""
    tau2 = start
    for _ in range(_REML_MAX_ITER):
        weights = 1.0 / (variances + tau2)
        total = weights.sum()
        residual = weights * (values - np.dot(weights, values) / total)
        squares = np.dot(weights, weights)
        trace_p = total - squares / total
        trace_pp = squares - 2.0 * np.sum(weights**3) / total + (squares / total) ** 2
        updated = max(0.0, tau2 + (np.dot(residual, residual) - trace_p) / trace_pp)
        if abs(updated - tau2) <= _REML_TOLERANCE * (1.0 + tau2):
            return updated
        tau2 = updated
    raise RuntimeError(f"REML did not converge in {_REML_MAX_ITER} Fisher scoring steps")


def pool_random_effects(estimates, variances, *, method="REML", confidence_level=0.95,
                        transform=None):
    """Random-effects pooling of per-centre estimates, with tau^2, I^2 and a prediction interval.

    The normal-normal random-effects model of prediction-model meta-analysis (Debray et al.
    2017): each centre's estimate is its true value plus sampling error of known variance, and
    the true values vary between centres with variance tau^2, estimated by DerSimonian & Laird's
    method of moments or by restricted maximum likelihood. The same numbers as R's
    ``metafor::rma(yi, vi, method = method)``; the prediction interval is Higgins, Thompson &
    Spiegelhalter's (t with k - 2 degrees of freedom).

    Parameters
    ----------
    estimates : array-like of shape (k,)
        Per-centre estimates: calibration slopes, or AUCs with ``transform="logit"``.
    variances : array-like of shape (k,)
        Their sampling variances (for AUCs the DeLong variances, on the AUC scale).
    method : {"REML", "DL"}, default="REML"
        Estimator of tau^2 (REML is metafor's default).
    confidence_level : float, default=0.95
        Level of the confidence and prediction intervals.
    transform : {None, "logit"}, default=None
        ``"logit"`` pools proportions (AUCs) on the logit scale, with delta-method variances
        ``v / (x (1 - x))^2``, and back-transforms the estimate and intervals (Debray et al.
        2019); ``tau2``, ``standard_error`` and ``statistic`` stay on the logit scale.

    Returns
    -------
    result : RandomEffectsResult
        The pooled estimate with its intervals, test, heterogeneity statistics (``tau2``,
        ``i2``, ``q``) and the settings used.

    Raises
    ------
    ValueError
        Fewer than 2 estimates, non-finite values or non-positive variances (naming their
        positions), an AUC of 0 or 1 with ``transform="logit"``, an unknown method.

    See Also
    --------
    tacelearn.validation.pool_performance : Pool the AUC, slope and intercept of a per-centre
        table.

    References
    ----------
    DerSimonian R, Laird N. Meta-analysis in clinical trials. Control Clin Trials 1986;7:177-88.

    Higgins JPT, Thompson SG, Spiegelhalter DJ. A re-evaluation of random-effects meta-analysis.
    J R Stat Soc A 2009;172:137-59.

    Debray TPA, Damen JAAG, Snell KIE, et al. A guide to systematic review and meta-analysis of
    prediction model performance. BMJ 2017;356:i6460.

    Examples
    --------
    The BCG vaccine trials (Colditz et al. 1994; metafor's ``dat.bcg``), log risk ratios:

    >>> import numpy as np
    >>> from tacelearn.validation import pool_random_effects
    >>> tpos = np.array([4, 6, 3, 62, 33, 180, 8, 505, 29, 17, 186, 5, 27])
    >>> tneg = np.array([119, 300, 228, 13536, 5036, 1361, 2537, 87886, 7470, 1699, 50448,
    ...                  2493, 16886])
    >>> cpos = np.array([11, 29, 11, 248, 47, 372, 10, 499, 45, 65, 141, 3, 29])
    >>> cneg = np.array([128, 274, 209, 12619, 5761, 1079, 619, 87892, 7232, 1600, 27197,
    ...                  2338, 17825])
    >>> log_rr = np.log(tpos / (tpos + tneg)) - np.log(cpos / (cpos + cneg))
    >>> variance = 1 / tpos - 1 / (tpos + tneg) + 1 / cpos - 1 / (cpos + cneg)
    >>> result = pool_random_effects(log_rr, variance, method="DL")
    >>> print(f"{result.estimate:.4f} ({result.confidence_interval.low:.4f} to "
    ...       f"{result.confidence_interval.high:.4f}), tau2 {result.tau2:.4f}, "
    ...       f"I2 {100 * result.i2:.2f}%")
    -0.7141 (-1.0644 to -0.3638), tau2 0.3088, I2 92.12%
    """
    if method not in _METHODS:
        raise ValueError(f"method must be one of {_METHODS}, got {method!r}")
    if transform not in _TRANSFORMS:
        raise ValueError(f"transform must be one of {_TRANSFORMS}, got {transform!r}")
    z = check_confidence_level(confidence_level)
    values, variances = _check_inputs(estimates, variances, transform)
    k = values.size
    tau2, q = _dersimonian_laird(values, variances)
    if method == "REML":
        tau2 = _reml(values, variances, tau2)
    weights = 1.0 / (variances + tau2)
    pooled = float(np.dot(weights, values) / weights.sum())
    standard_error = float(np.sqrt(1.0 / weights.sum()))
    fixed_weights = 1.0 / variances
    typical_variance = ((k - 1) * fixed_weights.sum()
                        / (fixed_weights.sum() ** 2 - np.dot(fixed_weights, fixed_weights)))
    interval = (pooled - z * standard_error, pooled + z * standard_error)
    prediction = (np.nan, np.nan)
    if k >= 3:
        half_width = (stats.t.ppf(0.5 + confidence_level / 2.0, k - 2)
                      * np.sqrt(tau2 + standard_error**2))
        prediction = (pooled - half_width, pooled + half_width)
    back = expit if transform == "logit" else float
    statistic = pooled / standard_error
    return RandomEffectsResult(
        estimate=float(back(pooled)),
        confidence_interval=ConfidenceInterval(*(float(back(b)) for b in interval)),
        prediction_interval=ConfidenceInterval(*(float(back(b)) for b in prediction)),
        statistic=float(statistic),
        pvalue=float(2.0 * ndtr(-abs(statistic))),
        standard_error=standard_error,
        tau2=float(tau2),
        i2=float(tau2 / (tau2 + typical_variance)),
        q=q,
        q_pvalue=float(stats.chi2.sf(q, k - 1)),
        k=int(k),
        method=method,
        transform=transform,
        confidence_level=confidence_level,
    )
