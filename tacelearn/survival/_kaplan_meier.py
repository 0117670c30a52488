"""Kaplan-Meier estimates per group as tidy tables, through lifelines."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from lifelines import KaplanMeierFitter
from lifelines.utils import median_survival_times

from ._validation import check_groups, check_survival, group_levels

__all__ = ["KaplanMeierResult", "kaplan_meier"]

_DECIMALS = 12


@dataclass(frozen=True)
class KaplanMeierResult:
    """Result of :func:`kaplan_meier`.

    Attributes
    ----------
    survival : pandas.DataFrame
        Long table, one row per group and time of the step function (0 and every distinct event
        or censoring time): ``group, time, survival, ci_lower, ci_upper, at_risk, events,
        censored``. ``at_risk`` counts the patients still followed just before ``time``.
    summary : pandas.DataFrame
        One row per group (indexed by group): ``n, events, median, median_ci_lower,
        median_ci_upper``. A median that is never reached is ``inf``.
    fitters : dict
        The fitted :class:`lifelines.KaplanMeierFitter` of each group, labelled by group, for
        lifelines' own plots and at-risk tables.
    confidence_level : float
        Level of the pointwise and median confidence intervals.
    """

    survival: pd.DataFrame
    summary: pd.DataFrame
    fitters: dict
    confidence_level: float


def kaplan_meier(time, event, groups=None, *, confidence_level=0.95):
    """Kaplan-Meier survival curves with confidence intervals and median survival per group.

    Estimates come from :class:`lifelines.KaplanMeierFitter`: the product-limit estimator, its
    pointwise interval by the exponential Greenwood ("log-log") formula, and the median and its
    interval by :func:`lifelines.utils.median_survival_times`: the first time at which the
    curve (or a bound of its interval) is at or below 0.5. Where a curve stays exactly at 0.5
    over a stretch, that is the start of the stretch; R's ``survival`` prints its midpoint.

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

    Returns
    -------
    result : KaplanMeierResult
        ``survival`` (the curves), ``summary`` (n, events, median and its interval per group)
        and the lifelines ``fitters``.

    Raises
    ------
    ValueError
        For inputs of different lengths, negative or missing times, events outside {0, 1} or
        missing groups (the patients are named), or a confidence level outside (0, 1).

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
    >>> result.summary[["n", "events", "median"]]
           n  events  median
    group
    high   6       4    15.0
    low    6       5     4.0
    >>> result.survival.query("group == 'high'")["survival"].round(3).tolist()
    [1.0, 0.833, 0.833, 0.625, 0.417, 0.417, 0.0]
    >>> result.summary.loc["low", ["median_ci_lower", "median_ci_upper"]].tolist()
    [1.0, 9.0]
    """
    if not 0 < confidence_level < 1:
        raise ValueError(f"confidence_level must lie in (0, 1), got {confidence_level!r}")
    if groups is None:
        times, events = check_survival(time, event)
        labels = np.full(len(times), "all", dtype=object)
        levels = ["all"]
    else:
        times, events = check_survival(time, event, groups=groups)
        labels = check_groups(groups)
        levels = group_levels(groups, labels)

    curves, rows, fitters = [], [], {}
    for level in levels:
        member = labels == level
        fitter = KaplanMeierFitter(alpha=1 - confidence_level, label=str(level))
        fitter.fit(times[member], events[member])
        fitters[level] = fitter
        bounds = fitter.confidence_interval_survival_function_
        table = fitter.event_table
        curves.append(pd.DataFrame({
            "group": level,
            "time": fitter.survival_function_.index.to_numpy(dtype=float),
            "survival": fitter.survival_function_.iloc[:, 0].to_numpy(),
            "ci_lower": bounds.iloc[:, 0].to_numpy(),
            "ci_upper": bounds.iloc[:, 1].to_numpy(),
            "at_risk": table["at_risk"].to_numpy(dtype=int),
            "events": table["observed"].to_numpy(dtype=int),
            "censored": table["censored"].to_numpy(dtype=int),
        }))
        # Products of fractions land a hair above 0.5 (5/6 * 4/5 * 3/4 = 0.5000000000000001):
        # rounding first keeps a curve that reaches 0.5 exactly from missing its median.
        median = median_survival_times(fitter.survival_function_.round(_DECIMALS))
        median_bounds = median_survival_times(bounds.round(_DECIMALS)).to_numpy(dtype=float)
        rows.append({
            "group": level,
            "n": int(member.sum()),
            "events": int(events[member].sum()),
            "median": float(np.asarray(median, dtype=float).ravel()[0]),
            "median_ci_lower": median_bounds.ravel()[0],
            "median_ci_upper": median_bounds.ravel()[1],
        })
    return KaplanMeierResult(
        survival=pd.concat(curves, ignore_index=True),
        summary=pd.DataFrame(rows).set_index("group"),
        fitters=fitters,
        confidence_level=confidence_level,
    )
