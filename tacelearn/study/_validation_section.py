"""How optimistic is the internal estimate, and do centres differ?

Harrell's optimism bootstrap of the models named in ``settings.validated_models`` (each
resample refits the whole model, screening and imputation included), leave-one-centre-out
refits of the same models, and random-effects pooling of every model's per-centre
performance on the patients it was not trained on.
"""

from __future__ import annotations

import pandas as pd

from ..validation import (
    bootstrap_validate,
    leave_one_center_out,
    pool_performance,
    subgroup_performance,
)
from ._analysis import LABEL, wide_scores

__all__ = ["centre_heterogeneity", "leave_one_center_out_table", "optimism_table"]

_MIN_CENTRES_FOR_LOCO = 3


def _validated(settings):
    return [m for m in settings.validated_models if m in settings.models]


def optimism_table(models, cohort, settings):
    """Apparent, optimism and optimism-corrected AUC, slope, intercept and Brier (+ .632+).

    The models are refitted from scratch on each of ``settings.n_bootstraps`` resamples of
    the training split (as R's ``rms::validate``). Empty when no model is to be validated.
    """
    names = _validated(settings)
    if settings.n_bootstraps == 0 or not names:
        return pd.DataFrame()
    train = cohort[(cohort["split"] == settings.train_split) & cohort[LABEL].notna()]
    y = train[LABEL].astype(int).to_numpy()
    frames = []
    for name in names:
        result = bootstrap_validate(models[name], train, y, n_bootstraps=settings.n_bootstraps,
                                    random_state=settings.random_state, n_jobs=settings.n_jobs)
        table = result.table.reset_index().assign(model=name,
                                                  n_successful=result.n_successful)
        plus = result.estimates_632plus
        if plus is not None and len(plus):
            table = table.merge(plus.reset_index()[["metric", "estimate"]].rename(
                columns={"estimate": "estimate_632plus"}), on="metric", how="left")
        frames.append(table)
    return pd.concat(frames, ignore_index=True)


def leave_one_center_out_table(models, cohort, settings):
    """Each validated model refitted without each centre and scored on it, then pooled.

    Returns
    -------
    per_centre, pooled : pandas.DataFrame
        Empty when the cohort has fewer than three centres.
    """
    labelled = cohort[cohort[LABEL].notna()]
    names = _validated(settings)
    if labelled["center"].nunique() < _MIN_CENTRES_FOR_LOCO or not names:
        return pd.DataFrame(), pd.DataFrame()
    per_centre, pooled = [], []
    y = labelled[LABEL].astype(int).to_numpy()
    for name in names:
        result = leave_one_center_out(models[name], labelled, y, n_jobs=settings.n_jobs)
        per_centre.append(result.table.assign(model=name))
        pooled.append(result.pooled.reset_index().assign(model=name))
    return pd.concat(per_centre, ignore_index=True), pd.concat(pooled, ignore_index=True)


def centre_heterogeneity(scores, cohort, settings, models):
    """Per-centre performance of the fitted models on the patients they were not trained
    on, and its random-effects pooling (AUC on the logit scale, calibration slope and
    intercept) with tau^2, I^2 and a prediction interval.

    Returns
    -------
    per_centre, pooled : pandas.DataFrame
        Empty with fewer than two centres among the evaluated patients.
    """
    evaluated = scores[scores["split"] != settings.train_split]
    wide_parts, labels = [], []
    for split in evaluated["split"].unique():
        wide, y = wide_scores(evaluated, split, models)
        wide_parts.append(wide)
        labels.append(y)
    if not wide_parts:
        return pd.DataFrame(), pd.DataFrame()
    wide, y = pd.concat(wide_parts), pd.concat(labels)
    centres = cohort.set_index("patient_id").loc[wide.index, "center"].to_numpy()
    if len(set(centres)) < 2 or y.nunique() < 2:
        return pd.DataFrame(), pd.DataFrame()
    per_centre = subgroup_performance(y.to_numpy(), {m: wide[m].to_numpy() for m in wide},
                                      {"center": centres}, overall=False)
    if "model" not in per_centre.columns:  # one model: the table names none
        per_centre.insert(0, "model", wide.columns[0])
    return per_centre, pool_performance(per_centre).reset_index()
