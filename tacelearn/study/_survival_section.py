"""Survival by score group: log-rank tests and Cox hazard ratios of high against low score."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..survival import cox_hazard_ratio, logrank_test
from ._analysis import by_split, score_cut_value

__all__ = ["ENDPOINTS", "IMPLAUSIBLE_HAZARD_RATIO", "survival_table"]

#: Survival endpoints: (name, time column, event column).
ENDPOINTS = (("PFS", "pfs_months", "pfs_event"), ("OS", "os_months", "os_event"))
#: A hazard ratio beyond this (or below its inverse) is flagged: a group without events, or a
#: likelihood that keeps rising (monotone likelihood), not a real effect.
IMPLAUSIBLE_HAZARD_RATIO = 1e3
_MIN_PATIENTS = 4


def _flag(cox):
    """Why a hazard ratio cannot be read as an effect size, or an empty string."""
    hazard_ratio = float(cox["hazard_ratio"])
    bounds = (float(cox["ci_lower"]), float(cox["ci_upper"]))
    if bool(cox.get("infinite", False)):
        return ("monotone likelihood: one group has (almost) no events, the hazard ratio is "
                "unbounded; read the likelihood-ratio P value")
    if not np.isfinite(hazard_ratio) or not all(np.isfinite(bounds)):
        return "the hazard ratio or its interval is not finite"
    if not 1 / IMPLAUSIBLE_HAZARD_RATIO <= hazard_ratio <= IMPLAUSIBLE_HAZARD_RATIO:
        return f"hazard ratio beyond {IMPLAUSIBLE_HAZARD_RATIO:g}: groups too small to estimate"
    return ""


def _endpoint_rows(data, name, time_column, event_column, cut):
    high = (data["score"] >= cut).astype(int)
    row = {"endpoint": name, "cut": cut, "n_high": int(high.sum()),
           "n_low": int((1 - high).sum()), "events": int(data[event_column].sum())}
    if not (row["n_high"] and row["n_low"] and row["events"]):
        row["flag"] = "not tested: a group is empty or no event occurred"
        return row
    groups = np.where(high == 1, "high", "low")
    test = logrank_test(data[time_column], data[event_column], groups)
    cox = cox_hazard_ratio(data[time_column], data[event_column],
                           high.rename("high_vs_low_score")).iloc[0]
    row.update(logrank_statistic=test.statistic, logrank_pvalue=test.pvalue,
               hazard_ratio=float(cox["hazard_ratio"]), hr_ci_lower=float(cox["ci_lower"]),
               hr_ci_upper=float(cox["ci_upper"]), hr_lr_pvalue=float(cox["lr_pvalue"]),
               flag=_flag(cox))
    return row


def survival_table(scores, cohort, settings, models):
    """Log-rank test and Cox hazard ratio (high vs low score), per model, split and endpoint.

    The cut is a statistic of the training split's scores (``settings.score_cut``) applied to
    every split. The hazard ratio compares the high-score group with the low-score group;
    implausible estimates carry a ``flag`` that says why.
    """
    rows = []
    outcomes = cohort.set_index("patient_id")
    for name, time_column, event_column in ENDPOINTS:
        if time_column not in outcomes or event_column not in outcomes:
            continue
        for model in models:
            cut = score_cut_value(scores, model, settings.score_cut, settings.train_split)
            for split, group in by_split(scores[scores["model"] == model]).items():
                data = outcomes.loc[group["patient_id"], [time_column, event_column]].assign(
                    score=group["score"].to_numpy()).dropna()
                if len(data) < _MIN_PATIENTS:
                    continue
                rows.append({"model": model, "split": split,
                             **_endpoint_rows(data, name, time_column, event_column, cut)})
    return pd.DataFrame(rows)
