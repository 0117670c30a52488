"""The lesion table of a fitted image model: every lesion's own score beside its patient's."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.special import expit
from sklearn.base import clone
from sklearn.compose import ColumnTransformer
from sklearn.pipeline import Pipeline
from sklearn.utils.validation import check_is_fitted

from ..transformers import OutOfFoldTransformer, TumourPatchExtractor, make_lesion_bags

__all__ = ["LESION_TABLE_COLUMNS", "lesion_table"]

#: The columns of :func:`lesion_table`, in order.
LESION_TABLE_COLUMNS = ("patient_id", "lesion", "voxels", "volume_ml", "slice",
                        "lesion_log_odds", "lesion_score", "weight", "patient_log_odds",
                        "patient_score")


def _fitted_encoder(step):
    """The fitted CNNEncoder of a pipeline step (itself, or inside an out-of-fold wrapper)."""
    from ..transformers import CNNEncoder

    if isinstance(step, OutOfFoldTransformer):
        check_is_fitted(step)
        step = step.estimator_
    if isinstance(step, CNNEncoder):
        check_is_fitted(step)
        return step
    return None


def _image_steps(model):
    """``(extractor, encoder)``: a fitted TumourPatchExtractor followed by a CNN, at any depth
    of Pipelines and ColumnTransformers (DLTR, an image branch, a fusion model)."""
    if isinstance(model, Pipeline):
        steps = [step for _, step in model.steps]
        for first, second in zip(steps, steps[1:]):
            if isinstance(first, TumourPatchExtractor) and _fitted_encoder(second) is not None:
                return first, _fitted_encoder(second)
        children = steps
    elif isinstance(model, ColumnTransformer):
        check_is_fitted(model)
        children = [transformer for _, transformer, _ in model.transformers_]
    else:
        return None
    for child in children:
        found = _image_steps(child)
        if found is not None:
            return found
    return None


def _largest_lesion_model_scores(extractor, encoder, X):
    """Every lesion scored by a one-lesion-per-patient CNN; the patient's score is lesion 0's."""
    per_lesion = clone(extractor).set_params(lesion="all").fit(X)
    patches, lesions = per_lesion.extract(X)
    log_odds = encoder.decision_function(patches)
    weights = (lesions["lesion"].to_numpy() == 0).astype(np.float64)
    patient = np.repeat(log_odds[weights == 1], _bag_sizes(lesions))
    return lesions, log_odds, weights, patient


def _bag_sizes(lesions):
    starts = np.flatnonzero(lesions["lesion"].to_numpy() == 0)
    return np.diff(np.append(starts, len(lesions)))


def _lesion_model_scores(extractor, encoder, X):
    """Every lesion's log-odds and weight from a lesion-level CNN, and its patient's score."""
    patches, lesions = extractor.extract(X)
    bags = make_lesion_bags(patches, lesions)
    scores = encoder.score_lesions(bags)
    sizes = _bag_sizes(lesions)
    present = np.arange(scores.log_odds.shape[1]) < sizes[:, None]
    patient = np.repeat(encoder.decision_function(bags), sizes)
    return lesions, scores.log_odds[present], scores.weights[present], patient


def lesion_table(model, X):
    """One row per lesion: its own CNN score, its weight, and its patient's pooled score.

    Parameters
    ----------
    model : estimator
        A fitted image model: :func:`make_dltr`, an :func:`image_branch`, or a fusion model
        (:func:`make_dltr_lr`, :func:`make_dltr_mlp`), of any ``lesion_aggregation``; the
        first TumourPatchExtractor followed by a CNNEncoder (or an out-of-fold wrapper of
        one) is used.
    X : pandas.DataFrame
        The cohort rows to tabulate.

    Returns
    -------
    table : pandas.DataFrame
        One row per lesion found in the masks, patients in the order of ``X`` and lesions
        largest first, with columns

        - ``patient_id``, ``lesion`` (0 = the patient's largest), ``voxels``, ``volume_ml``,
          ``slice``: as :meth:`TumourPatchExtractor.extract` gives them;
        - ``lesion_log_odds``, ``lesion_score``: the CNN's log-odds of response for the lesion
          on its own, and its probability;
        - ``weight``: the lesion's share of its patient's score (rows of a patient sum to 1):
          the attention or volume weight, 1 for the lesion that ``"max"`` picks, and 1 for
          the largest lesion of a ``"largest"`` model (whose other lesions are scored by the
          same CNN for the table, but do not count);
        - ``patient_log_odds``, ``patient_score``: the patient's pooled score, the CNN's
          ``decision_function`` and ``predict_proba[:, 1]`` (for :func:`make_dltr`, its
          prediction; for a fusion model, its image branch's CNN before the head).

    Raises
    ------
    TypeError
        If ``model`` holds no fitted patch extractor followed by a CNN encoder.

    See Also
    --------
    tacelearn.transformers.CNNEncoder.score_lesions : The scores behind the table.

    Examples
    --------
    >>> import tempfile
    >>> from tacelearn.datasets import make_tace_cohort
    >>> from tacelearn.estimators import lesion_table, make_dltr
    >>> cohort = make_tace_cohort(tempfile.mkdtemp(), n_per_center=(8, 4, 4),
    ...                           image_shape=(32, 32, 8))
    >>> model = make_dltr(backbone="test_resnet", patch_size=32, lesion_aggregation="max",
    ...                   random_state=0, encoder_params={"max_epochs": 1, "batch_size": 16})
    >>> model = model.fit(cohort, cohort["objective_response"].astype(int))
    >>> table = lesion_table(model, cohort)
    >>> bool(table.groupby("patient_id")["weight"].sum().eq(1).all())
    True
    >>> table.columns[5:].tolist()
    ['lesion_log_odds', 'lesion_score', 'weight', 'patient_log_odds', 'patient_score']
    """
    steps = _image_steps(model)
    if steps is None:
        raise TypeError(f"{type(model).__name__} holds no fitted TumourPatchExtractor followed "
                        "by a CNNEncoder: lesion_table takes a fitted image model (DLTR, an "
                        "image branch or a fusion model)")
    extractor, encoder = steps
    if encoder.lesion_aggregation is None:
        lesions, log_odds, weights, patient = _largest_lesion_model_scores(extractor, encoder,
                                                                           X)
    else:
        lesions, log_odds, weights, patient = _lesion_model_scores(extractor, encoder, X)
    table = lesions.reset_index(drop=True).assign(
        lesion_log_odds=log_odds, lesion_score=expit(log_odds), weight=weights,
        patient_log_odds=patient, patient_score=expit(patient))
    return pd.DataFrame(table, columns=list(LESION_TABLE_COLUMNS))
