"""Helpers shared by the Displays: axes, scores of fitted estimators, P-value labels."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from sklearn.utils.validation import check_is_fitted

#: Colours of non-responders and responders in every score plot.
RESPONSE_COLORS = ("#2471a3", "#c0392b")


def get_axes(ax):
    """``ax``, or the axes of a new figure."""
    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots()
    return ax


def positive_scores(estimator, X, *, pos_label=None):
    """Probability of the positive class from a fitted classifier (decision values otherwise).

    The positive class is ``pos_label`` or, by default, the last of ``estimator.classes_``
    (1 for a 0/1 outcome), as in scikit-learn's Displays.
    """
    check_is_fitted(estimator)
    classes = list(getattr(estimator, "classes_", [0, 1]))
    if pos_label is None:
        pos_label = classes[-1]
    elif pos_label not in classes:
        raise ValueError(f"pos_label={pos_label!r} is not one of the classes {classes} of "
                         f"{type(estimator).__name__}")
    if hasattr(estimator, "predict_proba"):
        return np.asarray(estimator.predict_proba(X))[:, classes.index(pos_label)]
    if hasattr(estimator, "decision_function"):
        decision = np.asarray(estimator.decision_function(X), dtype=float)
        return decision if pos_label == classes[-1] else -decision
    raise TypeError(f"{type(estimator).__name__} has neither predict_proba nor "
                    "decision_function")


def scores_of_estimators(estimators, X, *, pos_label=None):
    """``{name: scores}`` from one fitted estimator or a mapping of names to fitted estimators."""
    if isinstance(estimators, Mapping):
        if not estimators:
            raise ValueError("estimators holds no model")
        return {str(name): positive_scores(estimator, X, pos_label=pos_label)
                for name, estimator in estimators.items()}
    return {type(estimators).__name__: positive_scores(estimators, X, pos_label=pos_label)}
