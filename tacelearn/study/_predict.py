"""``tacelearn predict``: score a cohort with a saved model."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ..estimators import TextCategories, load_model
from ..utils import as_store, atomic_write_text, describe_rows, reachable_objects

__all__ = ["predict_cohort"]

#: Probability at or above which ``prediction`` is 1 (objective response).
PREDICTION_THRESHOLD = 0.5


def _configure(model, unknown_categories, cache_dir):
    """Set how unseen categories are handled, and the cache the user named (if any)."""
    from ..transformers import TumourPatchExtractor

    store = as_store(cache_dir)
    for value in reachable_objects(model):
        if isinstance(value, TextCategories):
            value.set_params(handle_unknown=unknown_categories)
        elif isinstance(value, TumourPatchExtractor):
            value.set_params(memory=store)


#: What an empty column (every value missing) means to a saved model, by kind of column.
EMPTY_COLUMN_MEANING = (
    "a column may be present but empty: a missing clinical number is imputed with the "
    "training median, a missing category is its own 'missing' category, and image and mask "
    "paths cannot be empty"
)


def _check_columns(model, cohort):
    """Refuse a cohort without a column the model was fitted on, naming all of them."""
    needed = getattr(model, "feature_names_in_", None)
    if needed is None:
        return
    missing = sorted(set(needed) - set(cohort.columns))
    if missing:
        raise ValueError(f"the cohort lacks {len(missing)} column(s) the model reads: "
                         f"{', '.join(missing)}; add them ({EMPTY_COLUMN_MEANING})")


def predict_cohort(model_path, cohort, *, out=None, overwrite=False,
                   unknown_categories="warn", cache_dir=None):
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
    unknown_categories : {"warn", "error", "ignore"}, default="warn"
        What a categorical value never seen in training does (see
        :class:`tacelearn.estimators.TextCategories`).
    cache_dir : path-like, optional
        A cache folder for the patches; none by default (a saved model never carries the
        training machine's cache).

    Returns
    -------
    scores : pandas.DataFrame
        One row per patient: ``patient_id``, ``split`` when present, ``score`` and
        ``prediction``.

    Raises
    ------
    ValueError
        If the cohort lacks a column the model reads (all are listed, sorted, with what an
        empty column means), or a score is not a finite probability (the patients are
        named): nothing is written.

    See Also
    --------
    tacelearn.estimators.load_model : How the model is loaded.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> import numpy as np
    >>> import pandas as pd
    >>> from tacelearn.estimators import make_clinical_model, save_model
    >>> from tacelearn.study import predict_cohort
    >>> rng = np.random.default_rng(0)
    >>> cohort = pd.DataFrame({"patient_id": [f"P{i}" for i in range(40)],
    ...                        "ascites": rng.integers(0, 2, 40), "alt": rng.uniform(10, 90, 40)})
    >>> model = make_clinical_model(screen=False).fit(cohort, 1 - cohort["ascites"])
    >>> folder = save_model(model, Path(tempfile.mkdtemp()) / "clinical")
    >>> predict_cohort(folder, cohort).columns.tolist()
    ['patient_id', 'score', 'prediction']
    """
    if out is not None and Path(out).exists() and not overwrite:
        raise FileExistsError(f"output file already exists: {out} (use --overwrite)")
    model = load_model(model_path)
    _configure(model, unknown_categories, cache_dir)
    _check_columns(model, cohort)
    positive = list(model.classes_).index(1)
    probability = np.asarray(model.predict_proba(cohort)[:, positive], dtype=float)
    bad = ~np.isfinite(probability)
    if bad.any():
        raise ValueError(f"the model gave no valid score (NaN) for {describe_rows(cohort, bad)}; "
                         "nothing was written")
    scores = pd.DataFrame({"patient_id": cohort["patient_id"].to_numpy()})
    if "split" in cohort.columns:
        scores["split"] = cohort["split"].to_numpy()
    scores["score"] = probability
    scores["prediction"] = (probability >= PREDICTION_THRESHOLD).astype(int)
    if out is not None:
        atomic_write_text(out, scores.to_csv(index=False))
    return scores
