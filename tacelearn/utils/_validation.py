"""Input checks shared by every subpackage: arrays, outcomes, scores."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from ._messages import MAX_LISTED, describe_entries

__all__ = ["check_binary_outcome", "check_named_scores", "check_scores", "one_dimensional"]

# Label sets whose case label needs no pos_label: scikit-learn's convention.
_IMPLICIT_CASE_LABEL = ({0, 1}, {-1, 1})



def one_dimensional(values, name, *, allow_column=False, allow_empty=True):
    """``values`` as a 1-D ndarray, or a ValueError naming the argument.

    Parameters
    ----------
    values : array-like
        A list, array or pandas Series (its values; the index is dropped).
    name : str
        How the error message calls the argument.
    allow_column : bool, default=False
        Accept a single column (shape ``(n, 1)``) and flatten it.
    allow_empty : bool, default=True
        Accept zero entries.

    Returns
    -------
    array : numpy.ndarray of shape (n,)
        The values, without copying when they already form a 1-D array.

    Raises
    ------
    ValueError
        If ``values`` is not one-dimensional (nor a single column, when allowed), or is
        empty when ``allow_empty=False``.

    Examples
    --------
    >>> from tacelearn.utils import one_dimensional
    >>> one_dimensional([[1], [2]], "y", allow_column=True)
    array([1, 2])
    """
    array = values.to_numpy() if isinstance(values, pd.Series) else np.asarray(values)
    if allow_column and array.ndim == 2 and array.shape[1] == 1:
        array = array[:, 0]
    if array.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got an array of shape {array.shape}")
    if not allow_empty and len(array) == 0:
        raise ValueError(f"{name} is empty")
    return array


def check_binary_outcome(y_true, *, pos_label=None, name="y_true"):
    """Validate a binary outcome and return a boolean array that is True for the cases.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        Outcome labels, two distinct values, no missing entries. Booleans count True as the event.
    pos_label : int, float, bool or str, default=None
        The case (event) label. ``None`` is allowed when the labels are {0, 1}, {-1, 1} or
        {False, True}; the case is then 1 (True).
    name : str, default="y_true"
        How error messages call the argument.

    Returns
    -------
    is_case : ndarray of bool of shape (n_samples,)
        True where ``y_true`` holds the case label.

    Raises
    ------
    ValueError
        If ``y_true`` has missing entries, not exactly two labels, or labels that need a
        ``pos_label`` to tell which one is the case.

    See Also
    --------
    check_scores : The matching check of the scores.

    Examples
    --------
    >>> from tacelearn.utils import check_binary_outcome
    >>> check_binary_outcome([1, 0, 1])
    array([ True, False,  True])
    >>> check_binary_outcome(["OR", "NOR", "OR"], pos_label="OR")
    array([ True, False,  True])
    """
    labels_in = one_dimensional(y_true, name, allow_column=True)
    missing = np.asarray(pd.isna(labels_in), dtype=bool)
    if missing.any():
        raise ValueError(
            f"{name} has missing values at {describe_entries(y_true, missing)}; "
            "drop those patients first"
        )
    try:
        # Hash-based unique, then a sort of the few distinct labels: O(N), no sort of N values.
        labels = np.sort(pd.unique(labels_in))
    except TypeError:
        raise TypeError(
            f"{name} mixes label types that cannot be compared: "
            f"{sorted({type(v).__name__ for v in labels_in})}"
        ) from None
    if labels.size > 2:
        raise ValueError(
            f"{name} has {labels.size} classes {labels.tolist()[:MAX_LISTED]}; "
            "a binary outcome (cases and controls) is expected"
        )
    if labels.size < 2:
        shown = labels.tolist() if labels.size else []
        raise ValueError(
            f"{name} holds one class only ({shown}); cases and controls are both needed"
        )
    if pos_label is None:
        label_set = set(labels.tolist())
        if labels.dtype == bool or label_set in _IMPLICIT_CASE_LABEL:
            pos_label = True if labels.dtype == bool else 1
        else:
            raise ValueError(
                f"{name} has labels {labels.tolist()}; pass pos_label= to say which one is "
                "the case (event) label"
            )
    elif pos_label not in labels.tolist():
        raise ValueError(f"pos_label={pos_label!r} is not one of the labels {labels.tolist()}")
    return np.asarray(labels_in == pos_label, dtype=bool)


def check_scores(y_score, n_samples, *, name="y_score", probability=False):
    """Validate scores: one finite float64 value per patient, optionally within [0, 1].

    Parameters
    ----------
    y_score : array-like of shape (n_samples,)
        One score per patient; a single column is accepted and flattened.
    n_samples : int
        The number of outcomes the scores must match.
    name : str, default="y_score"
        How error messages call the argument.
    probability : bool, default=False
        Refuse values outside [0, 1].

    Returns
    -------
    scores : ndarray of float64 of shape (n_samples,)
        The scores as floats.

    Raises
    ------
    TypeError
        If the scores are not numbers.
    ValueError
        If their number differs from ``n_samples``, or some are missing, infinite, or
        outside [0, 1] when ``probability=True``.

    See Also
    --------
    check_named_scores : The same for the scores of several models.
    check_binary_outcome : The matching check of the outcome.

    Examples
    --------
    >>> from tacelearn.utils import check_scores
    >>> check_scores([0.2, 0.7, 0.9], 3, probability=True)
    array([0.2, 0.7, 0.9])
    """
    raw = one_dimensional(y_score, name, allow_column=True)
    if not (np.issubdtype(raw.dtype, np.number) or raw.dtype in (bool, object)):
        raise TypeError(f"{name} must hold numbers, got dtype {raw.dtype}")
    if raw.dtype == object:
        missing = np.asarray(pd.isna(raw), dtype=bool)
        if missing.any():
            raise ValueError(f"{name} has missing values at {describe_entries(y_score, missing)}")
    try:
        scores = np.asarray(raw, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(
            f"{name} must hold numbers; some entries cannot be read as floats"
        ) from None
    if scores.shape[0] != n_samples:
        raise ValueError(
            f"{name} has {scores.shape[0]} values but y_true has {n_samples}; "
            "one score per patient is expected"
        )
    not_finite = ~np.isfinite(scores)
    if not_finite.any():
        raise ValueError(
            f"{name} has NaN or infinite values at {describe_entries(y_score, not_finite)}"
        )
    if probability:
        outside = (scores < 0.0) | (scores > 1.0)
        if outside.any():
            raise ValueError(
                f"{name} must be probabilities in [0, 1]; values outside at "
                f"{describe_entries(y_score, outside)} (e.g. {scores[outside][0]!r})"
            )
    return scores


def check_named_scores(scores, n_samples, *, single_name="model", probability=False):
    """Validate several models' scores and return their names and a (n_models, n_samples) array.

    Parameters
    ----------
    scores : array-like, mapping or DataFrame
        A mapping of model name to scores, a DataFrame with one column per model, a 2-D array
        of shape (n_samples, n_models) (models named ``model_0``, ``model_1``, ...) or a single
        1-D array (one model named ``single_name``).
    n_samples : int
        The number of outcomes each model's scores must match.
    single_name : str, default="model"
        The name of the model when ``scores`` is a single 1-D array.
    probability : bool, default=False
        Refuse values outside [0, 1].

    Returns
    -------
    names : list of str
        The model names, in the order of ``scores``.
    matrix : ndarray of float64 of shape (n_models, n_samples)
        One row of checked scores per model (see :func:`check_scores`).

    Raises
    ------
    ValueError
        If ``scores`` holds no model, repeats a name, or any model's scores fail
        :func:`check_scores` (the message names the model).

    See Also
    --------
    check_scores : The check applied to each model's scores.

    Examples
    --------
    >>> from tacelearn.utils import check_named_scores
    >>> names, matrix = check_named_scores({"DLTR": [0.2, 0.8], "clinical": [0.4, 0.6]}, 2)
    >>> names
    ['DLTR', 'clinical']
    >>> matrix
    array([[0.2, 0.8],
           [0.4, 0.6]])
    """
    if isinstance(scores, Mapping):
        items = list(scores.items())
    elif isinstance(scores, pd.DataFrame):
        items = [(column, scores[column]) for column in scores.columns]
    else:
        array = np.asarray(scores)
        if array.ndim == 1:
            items = [(single_name, scores)]
        elif array.ndim == 2:
            items = [(f"model_{j}", array[:, j]) for j in range(array.shape[1])]
        else:
            raise ValueError(f"scores must be 1-D or 2-D, got an array of shape {array.shape}")
    if not items:
        raise ValueError("scores holds no model")
    names = [str(name) for name, _ in items]
    if len(set(names)) != len(names):
        raise ValueError(f"model names must be unique, got {names}")
    matrix = np.empty((len(items), n_samples), dtype=np.float64)
    for row, (name, values) in enumerate(items):
        matrix[row] = check_scores(
            values, n_samples, name=f"scores of model {name!r}", probability=probability
        )
    return names, matrix
