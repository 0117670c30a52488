"""``tacelearn predict``: score a cohort with a saved model."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ..estimators import load_model
from ..utils import atomic_write_text

__all__ = ["predict_cohort"]


def predict_cohort(model_path, cohort, *, out=None, overwrite=False):
    """Score every patient of ``cohort`` with the model saved at ``model_path``.

    Parameters
    ----------
    model_path : path-like
        A folder written by :func:`tacelearn.estimators.save_model` (the study writes one per
        model under ``models/``).
    cohort : pandas.DataFrame
        Validated cohort with the columns the model reads.
    out : path-like, optional
        CSV file to write (atomically): ``patient_id``, ``split`` when present, ``score``
        (probability of objective response) and ``prediction`` (1 when ``score >= 0.5``).
    overwrite : bool, default=False
        Replace an existing ``out``.

    Returns
    -------
    scores : pandas.DataFrame
    """
    if out is not None and Path(out).exists() and not overwrite:
        raise FileExistsError(f"output file already exists: {out} (use --overwrite)")
    model = load_model(model_path)
    positive = list(model.classes_).index(1)
    probability = model.predict_proba(cohort)[:, positive]
    scores = pd.DataFrame({"patient_id": cohort["patient_id"].to_numpy()})
    if "split" in cohort.columns:
        scores["split"] = cohort["split"].to_numpy()
    scores["score"] = probability
    scores["prediction"] = (probability >= 0.5).astype(int)
    if out is not None:
        atomic_write_text(out, scores.to_csv(index=False))
    return scores
