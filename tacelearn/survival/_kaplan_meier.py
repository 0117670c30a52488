"""Kaplan-Meier estimates per group as tidy tables, computed as R's ``survfit`` does.

The product-limit estimate, Greenwood's variance, the three pointwise interval types of
``survfit(conf.type = ...)`` and the median with its interval as ``quantile.survfit`` reads
it off the curves. R is the reference clinicians compare against, down to its conventions:
no interval where the curve reaches 0, and the midpoint where a curve sits exactly at 0.5.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.special import ndtri

from ._validation import check_groups, check_survival, group_levels

__all__ = ["CONF_TYPES", "KaplanMeierResult", "kaplan_meier"]

#: Pointwise interval types, as R's ``survfit(conf.type = ...)``; "log" is R's default.
CONF_TYPES = ("log", "log-log", "plain")
# R's quantile.survfit treats curve values within this distance of a probability as equal.
_QUANTILE_TOLERANCE = float(np.sqrt(np.finfo(float).eps))


@dataclass(frozen=True)
class KaplanMeierResult:
    """Result of :func:`kaplan_meier`.

    Made by :func:`kaplan_meier`; each parameter is kept as an attribute of the same name.

    Parameters
    ----------
    survival : pandas.DataFrame
        Long table, one row per group and time of the step function (0 and every distinct event
        or censoring time): ``group, time, survival, std_err, ci_lower, ci_upper, at_risk,
        events, censored``. ``at_risk`` counts the patients still followed just before
        ``time``; ``std_err`` is Greenwood's standard error of the cumulative hazard (R's
        ``std.err``). The interval is NaN where R's is NA.
    summary : pandas.DataFrame
        One row per group (indexed by group): ``n, events, median, median_ci_lower,
        median_ci_upper``. NaN where R prints NA (a median or bound never reached).
    confidence_level : float
        Level of the pointwise and median confidence intervals.
    conf_type : {"log", "log-log", "plain"}
        Type of the pointwise interval.

    See Also
    --------
    kaplan_meier : Computes it.
    tacelearn.plotting.KaplanMeierDisplay : Draws it.

    Examples
    --------
    >>> from tacelearn.survival import kaplan_meier
    >>> result = kaplan_meier([2, 4, 4, 7, 9], [1, 1, 0, 1, 0])
    >>> result.survival[["time", "survival", "at_risk"]]  # R: summary(survfit(...))
       time  survival  at_risk
    0   0.0       1.0        5
    1   2.0       0.8        5
    2   4.0       0.6        4
    3   7.0       0.3        2
    4   9.0       0.3        1
    >>> result.summary  # R: survfit(Surv(time, event) ~ 1)
           n  events  median  median_ci_lower  median_ci_upper
    group
    all    5       3     7.0              4.0              NaN
    """

    survival: pd.DataFrame
    summary: pd.DataFrame
    confidence_level: float
    conf_type: str


def _product_limit(times, events):
    """Distinct times, at-risk, event and censoring counts, S(t) and Greenwood's std. error."""
    distinct, inverse = np.unique(times, return_inverse=True)
    counts = np.bincount(inverse)
    deaths = np.bincount(inverse, weights=events).astype(np.int64)
    at_risk = counts[::-1].cumsum()[::-1]
    survival = np.cumprod(1.0 - deaths / at_risk)  # a product, as R: 5/6 * 4/5 * 3/4 is 0.5
    with np.errstate(divide="ignore", invalid="ignore"):
        # Where everyone at risk dies the term is infinite, as in R (std.err = Inf).
        terms = np.where(deaths > 0, deaths / (at_risk * (at_risk - deaths)), 0.0)
    std_err = np.sqrt(np.cumsum(terms))
    return distinct, at_risk, deaths, counts - deaths, survival, std_err


def _interval(survival, std_err, z, conf_type):
    """R's pointwise interval (survfit's ``survfit_confint``), NaN where R gives NA."""
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        if conf_type == "plain":
            half_width = z * std_err * survival  # 0 * inf is NaN at S = 0, as in R
            return np.maximum(survival - half_width, 0.0), np.minimum(survival + half_width, 1.0)
        if conf_type == "log":
            log_survival = np.log(np.where(survival > 0, survival, np.nan))
            return (np.exp(log_survival - z * std_err),
                    np.minimum(np.exp(log_survival + z * std_err), 1.0))
        defined = np.where((survival > 0) & (survival < 1), survival, np.nan)
        log_minus_log = np.log(-np.log(defined))
        half_width = z * std_err / np.log(defined)
        return (np.exp(-np.exp(log_minus_log - half_width)),
                np.exp(-np.exp(log_minus_log + half_width)))


def _first_at_or_above(values, probability):
    """Position of the smallest non-NaN value >= probability, or None (R's ``approx``).

    ``approx(values, positions, probability, method = "constant", f = 1)`` in R's
    ``findq``: NaN pairs dropped, NA outside the values' range.
    """
    positions = np.flatnonzero(~np.isnan(values))
    if positions.size == 0:
        return None
    order = positions[np.argsort(values[positions], kind="stable")]
    ordered = values[order]
    if probability < ordered[0] or probability > ordered[-1]:
        return None
    return order[np.searchsorted(ordered, probability, side="left")]


def _quantile_time(times, curve, probability=0.5):
    """The time at which ``curve`` reaches ``probability``, as R's ``quantile.survfit``.

    The first time the curve is at or below ``probability``; where it sits exactly there
    (within sqrt(machine epsilon)) over an interval, the midpoint of that interval; where it
    ends exactly there, the midpoint between reaching it and the last time. NaN (R's NA) when
    never reached.
    """
    tol, target = _QUANTILE_TOLERANCE, 1.0 - probability
    x = np.concatenate([[0.0], times])
    y = np.concatenate([[0.0], 1.0 - curve])  # the cumulative distribution, from 0 at time 0
    if np.isnan(y).all() or np.nanmax(y) < target:
        return np.nan
    last_time = x[-1]
    keep = ~pd.Series(y).duplicated().to_numpy()  # each level at the time it is first reached
    x, y = x[keep], y[keep]
    reached = _first_at_or_above(y + tol, target)
    passed = _first_at_or_above(y - tol, target)
    if reached is None:
        return np.nan
    if not np.isnan(y[-1]) and abs(target - y[-1]) < tol:
        return (x[reached] + last_time) / 2.0
    return np.nan if passed is None else (x[reached] + x[passed]) / 2.0


def _group_curve(level, times, events, z, conf_type):
    distinct, at_risk, deaths, censored, survival, std_err = _product_limit(times, events)
    lower, upper = _interval(survival, std_err, z, conf_type)
    curve = pd.DataFrame({"group": level, "time": distinct, "survival": survival,
                          "std_err": std_err, "ci_lower": lower, "ci_upper": upper,
                          "at_risk": at_risk, "events": deaths, "censored": censored})
    if distinct[0] > 0:  # the curve starts at 1 at time 0, everyone at risk
        start = pd.DataFrame({"group": [level], "time": [0.0], "survival": [1.0],
                              "std_err": [0.0], "ci_lower": [1.0], "ci_upper": [1.0],
                              "at_risk": [times.size], "events": [0], "censored": [0]})
        if conf_type == "log-log":
            start[["ci_lower", "ci_upper"]] = np.nan  # R: no log-log interval where S = 1
        curve = pd.concat([start, curve], ignore_index=True)
    summary = {"group": level, "n": int(times.size), "events": int(events.sum()),
               "median": _quantile_time(distinct, survival),
               # The lower band falls to 0.5 first: it gives the lower bound of the median.
               "median_ci_lower": _quantile_time(distinct, lower),
               "median_ci_upper": _quantile_time(distinct, upper)}
    return curve, summary


def kaplan_meier(time, event, groups=None, *, confidence_level=0.95, conf_type="log"):
    """Kaplan-Meier survival curves with confidence intervals and median survival per group.

    Everything as R's ``survfit(Surv(time, event) ~ groups, conf.type = conf_type)`` and
    ``quantile(fit, 0.5)`` (or ``print(fit)``) compute it:

    - the product-limit estimate and Greenwood's standard error of the cumulative hazard;
    - the pointwise interval: ``"log"`` (R's default) ``exp(log S +/- z se)``, ``"log-log"``
      ``S^exp(+/- z se / log S)``, ``"plain"`` ``S +/- z se S``, clipped to [0, 1]; NaN where
      R gives NA: where S = 0 (and, for "log-log", where S = 1);
    - the median: the first time the curve is at or below 0.5, or, where the curve sits
      exactly at 0.5 over an interval, the midpoint of that interval; its interval is where
      the lower and upper bounds reach 0.5 by the same rule. NaN (R's NA) when not reached.

    Parameters
    ----------
    time : array-like of shape (n_patients,)
        Follow-up times, non-negative.
    event : array-like of shape (n_patients,)
        1 (or True) where the event was observed, 0 where censored.
    groups : array-like of shape (n_patients,), optional
        Group of each patient; one curve per group, in sorted order (or a categorical's order).
        Default: one curve, ``"all"``.
    confidence_level : float, default=0.95
        Level of the confidence intervals.
    conf_type : {"log", "log-log", "plain"}, default="log"
        Type of the pointwise interval, as R's ``conf.type`` (whose default is ``"log"``;
        lifelines and SAS use ``"log-log"``).

    Returns
    -------
    result : KaplanMeierResult
        ``survival`` (the curves), ``summary`` (n, events, median and its interval per
        group), ``confidence_level`` and ``conf_type``.

    Raises
    ------
    ValueError
        For inputs of different lengths, negative or missing times, events outside {0, 1} or
        missing groups (the patients are named), a confidence level outside (0, 1) or an
        unknown ``conf_type``.

    See Also
    --------
    logrank_test : Test the difference between the curves.
    tacelearn.plotting.KaplanMeierDisplay : Plot them with numbers at risk.

    Examples
    --------
    >>> from tacelearn.survival import kaplan_meier
    >>> time = [6, 7, 10, 15, 19, 25, 1, 3, 4, 5, 8, 9]
    >>> event = [1, 0, 1, 1, 0, 1, 1, 1, 1, 0, 1, 1]
    >>> groups = ["high"] * 6 + ["low"] * 6
    >>> result = kaplan_meier(time, event, groups)
    >>> result.summary  # R: survfit(Surv(time, event) ~ groups)
           n  events  median  median_ci_lower  median_ci_upper
    group
    high   6       4    15.0             10.0              NaN
    low    6       5     6.0              3.0              NaN
    >>> result.survival.query("group == 'high'")["survival"].round(3).tolist()
    [1.0, 0.833, 0.833, 0.625, 0.417, 0.417, 0.0]
    """
    if not 0 < confidence_level < 1:
        raise ValueError(f"confidence_level must lie in (0, 1), got {confidence_level!r}")
    if conf_type not in CONF_TYPES:
        raise ValueError(f"conf_type must be one of {CONF_TYPES}, got {conf_type!r}")
    if groups is None:
        times, events = check_survival(time, event)
        labels = np.full(len(times), "all", dtype=object)
        levels = ["all"]
    else:
        times, events = check_survival(time, event, groups=groups)
        labels = check_groups(groups)
        levels = group_levels(groups, labels)
    z = ndtri(0.5 + confidence_level / 2.0)
    curves, rows = [], []
    for level in levels:
        member = labels == level
        curve, summary = _group_curve(level, times[member], events[member], z, conf_type)
        curves.append(curve)
        rows.append(summary)
    return KaplanMeierResult(
        survival=pd.concat(curves, ignore_index=True),
        summary=pd.DataFrame(rows).set_index("group"),
        confidence_level=confidence_level,
        conf_type=conf_type,
    )
