"""Hazard ratios from a Cox proportional-hazards model, through lifelines."""

from __future__ import annotations

import numpy as np
import pandas as pd
from lifelines import CoxPHFitter

from ._validation import check_numbers, check_survival

__all__ = ["cox_hazard_ratio"]

# Internal column names that cannot collide with a covariate's name.
_DURATION, _EVENT = "__tacelearn_time__", "__tacelearn_event__"


def _covariate_frame(covariates):
    if isinstance(covariates, pd.DataFrame):
        frame = covariates
    elif isinstance(covariates, pd.Series):
        frame = covariates.to_frame(name=covariates.name if covariates.name is not None
                                    else "covariate")
    else:
        array = np.asarray(covariates, dtype=object)
        if array.ndim == 1:
            frame = pd.DataFrame({"covariate": array})
        elif array.ndim == 2:
            frame = pd.DataFrame(array, columns=[f"x{i}" for i in range(array.shape[1])])
        else:
            raise ValueError(f"covariates must be 1-D or 2-D, got shape {array.shape}")
    columns = {}
    for name in frame.columns:
        values = frame[name]
        columns[str(name)] = check_numbers(values, f"covariate '{name}'")
        if np.ptp(columns[str(name)]) == 0:
            raise ValueError(f"covariate '{name}' is constant: it has no hazard ratio")
    return pd.DataFrame(columns)


def cox_hazard_ratio(time, event, covariates, *, confidence_level=0.95, penalizer=0.0):
    """Hazard ratios, confidence intervals and Wald P values from a Cox model.

    Fits :class:`lifelines.CoxPHFitter` (Efron's method for tied event times) with every
    covariate at once, so several covariates give a multivariable model whose ratios are
    adjusted for each other.

    Parameters
    ----------
    time : array-like of shape (n_patients,)
        Follow-up times, non-negative.
    event : array-like of shape (n_patients,)
        1 (or True) where the event was observed, 0 where censored.
    covariates : array-like of shape (n_patients,) or (n_patients, n_covariates)
        Numeric covariates; a DataFrame or named Series gives the row names. Code a group as
        0/1, e.g. ``(groups == "high").astype(int)`` for the hazard ratio of high against low.
    confidence_level : float, default=0.95
        Level of the confidence intervals.
    penalizer : float, default=0.0
        Ridge penalty of lifelines' fitter (0: the plain partial likelihood).

    Returns
    -------
    table : pandas.DataFrame
        One row per covariate: ``coef`` (log hazard ratio), ``se``, ``hazard_ratio``,
        ``ci_lower``, ``ci_upper`` (of the hazard ratio), ``statistic`` (Wald z) and ``pvalue``.

    Raises
    ------
    ValueError
        For inputs of different lengths, negative or missing times, events outside {0, 1},
        missing or constant covariates (the patients or covariate are named), or no event.
    TypeError
        For a covariate that holds text.

    See Also
    --------
    logrank_test : The score test of a single binary covariate, without the model.

    Examples
    --------
    >>> from tacelearn.survival import cox_hazard_ratio
    >>> time = [6, 7, 10, 15, 19, 25, 1, 3, 4, 5, 8, 9]
    >>> event = [1, 0, 1, 1, 0, 1, 1, 1, 1, 0, 1, 1]
    >>> low_score = [0] * 6 + [1] * 6
    >>> table = cox_hazard_ratio(time, event, low_score)
    >>> table.round(2)[["hazard_ratio", "ci_lower", "ci_upper", "pvalue"]]
               hazard_ratio  ci_lower  ci_upper  pvalue
    covariate
    covariate         10.14      1.14     90.12    0.04
    """
    if not 0 < confidence_level < 1:
        raise ValueError(f"confidence_level must lie in (0, 1), got {confidence_level!r}")
    times, events = check_survival(time, event, covariates=_first_column(covariates))
    if not events.any():
        raise ValueError("no event was observed: the Cox model cannot be fitted")
    frame = _covariate_frame(covariates)
    names = list(frame.columns)
    frame[_DURATION] = times
    frame[_EVENT] = events.astype(int)
    fitter = CoxPHFitter(alpha=1 - confidence_level, penalizer=penalizer)
    fitter.fit(frame, duration_col=_DURATION, event_col=_EVENT)
    summary = fitter.summary.loc[names]
    bounds = np.exp(fitter.confidence_intervals_.loc[names].to_numpy(dtype=float))
    return pd.DataFrame({
        "coef": summary["coef"].to_numpy(dtype=float),
        "se": summary["se(coef)"].to_numpy(dtype=float),
        "hazard_ratio": summary["exp(coef)"].to_numpy(dtype=float),
        "ci_lower": bounds[:, 0],
        "ci_upper": bounds[:, 1],
        "statistic": summary["z"].to_numpy(dtype=float),
        "pvalue": summary["p"].to_numpy(dtype=float),
    }, index=pd.Index(names, name="covariate"))


def _first_column(covariates):
    """A 1-D view of the covariates, only for the length check."""
    if isinstance(covariates, pd.DataFrame):
        return covariates.iloc[:, 0]
    array = np.asarray(covariates, dtype=object)
    return array if array.ndim == 1 else array[:, 0]
