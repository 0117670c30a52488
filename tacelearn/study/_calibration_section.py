"""Can the probabilities be believed? Calibration of every model on every evaluation split."""

from __future__ import annotations

import pandas as pd

from ..metrics import calibration_metrics
from ..validation import LogisticRecalibrator
from ._analysis import LABEL, wide_scores

__all__ = ["calibration_table", "recalibrated_scores"]


def calibration_table(scores, splits, settings, models):
    """Calibration-in-the-large, slope, Brier, scaled Brier, ICI, E50, E90, Emax with CIs.

    One row per model, split and metric (see :func:`tacelearn.metrics.calibration_metrics`):
    the GLM quantities with Wald intervals, the others with percentile bootstrap intervals of
    ``settings.n_resamples`` resamples (at most 1000: a calibration bootstrap refits loess on
    every resample).
    """
    frames = []
    for split in splits:
        wide, y = wide_scores(scores, split, models)
        if y.nunique() < 2:
            continue
        for model in wide.columns:
            result = calibration_metrics(y.to_numpy(), wide[model].to_numpy(),
                                         n_resamples=min(settings.n_resamples, 1000),
                                         random_state=settings.random_state)
            frames.append(result.table.reset_index().assign(model=model, split=split))
    if not frames:
        return pd.DataFrame(columns=["model", "split", "metric", "estimate", "low", "high",
                                     "ci_method"])
    table = pd.concat(frames, ignore_index=True)
    return table[["model", "split", "metric", "estimate", "low", "high", "ci_method"]]


def recalibrated_scores(fitted, cohort, settings):
    """Every model recalibrated (intercept and slope) on ``settings.recalibrate_on``.

    Returns
    -------
    scores : pandas.DataFrame
        Long scores (``patient_id, split, model, score, objective_response``) of the other
        evaluation splits after recalibration, or an empty frame when no split is named.
    """
    split = settings.recalibrate_on
    if split is None:
        return pd.DataFrame()
    rows = cohort["split"] == split
    local = cohort[rows & cohort[LABEL].notna()]
    others = cohort[~rows & (cohort["split"] != settings.train_split)]
    frames = []
    for name, model in fitted.items():
        recalibrator = LogisticRecalibrator(model, prefit=True).fit(
            local, local[LABEL].astype(int))
        frames.append(pd.DataFrame({
            "patient_id": others["patient_id"].to_numpy(), "split": others["split"].to_numpy(),
            "model": name, "score": recalibrator.predict_proba(others)[:, 1],
            LABEL: others[LABEL].to_numpy(dtype=float, na_value=float("nan"))}))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
