"""The classifier heads of tacelearn's models: scikit-learn's, refusing anything but a binary
target.

A logistic regression or an MLP fits a three-class target without a word, and a model of
objective response fitted on mRECIST's four categories, or on a response column with a stray
value, would then predict something else than what every analysis of tacelearn assumes. The
heads below are scikit-learn's estimators with one more check in ``fit``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.neural_network import MLPClassifier
from sklearn.utils.multiclass import type_of_target

from ..utils import MAX_LISTED, describe_names

__all__ = ["BinaryLogisticRegression", "BinaryMLPClassifier", "check_binary_target"]


def check_binary_target(y, estimator_name):
    """Raise a ValueError unless ``y`` holds exactly two classes.

    Parameters
    ----------
    y : array-like of shape (n_samples,)
        The target.
    estimator_name : str
        How the message calls the model.

    Examples
    --------
    >>> from tacelearn.estimators import check_binary_target
    >>> check_binary_target([0, 1, 1], "model")
    >>> check_binary_target([0, 1, 2], "model")
    Traceback (most recent call last):
    ...
    ValueError: model predicts objective response (two classes); y holds 3: [0, 1, 2] ...
    """
    kind = type_of_target(y, input_name="y")
    if kind == "binary":
        return
    labels = sorted(pd.unique(pd.Series(np.ravel(np.asarray(y, dtype=object))).dropna()),
                    key=str)
    raise ValueError(
        f"{estimator_name} predicts objective response (two classes); y holds "
        f"{len(labels)}: {describe_names(labels) if len(labels) > MAX_LISTED else labels} "
        f"(target type {kind!r}). Map mRECIST to objective response first (CR/PR -> 1, "
        "SD/PD -> 0: tacelearn.datasets.objective_response)"
    )


class BinaryLogisticRegression(LogisticRegression):
    """:class:`~sklearn.linear_model.LogisticRegression` that refuses a non-binary target.

    Parameters and attributes are those of scikit-learn's class.

    Examples
    --------
    >>> import numpy as np
    >>> from tacelearn.estimators import BinaryLogisticRegression
    >>> X = np.arange(12.0).reshape(6, 2)
    >>> BinaryLogisticRegression().fit(X, [0, 0, 0, 1, 1, 1]).classes_
    array([0, 1])
    """

    def fit(self, X, y, sample_weight=None):
        """Check that ``y`` is binary, then fit as scikit-learn does.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data.
        y : array-like of shape (n_samples,)
            Two classes.
        sample_weight : array-like of shape (n_samples,), optional
            Weights of the samples.

        Returns
        -------
        self : BinaryLogisticRegression
            The fitted model.
        """
        check_binary_target(y, type(self).__name__)
        return super().fit(X, y, sample_weight=sample_weight)


class BinaryMLPClassifier(MLPClassifier):
    """:class:`~sklearn.neural_network.MLPClassifier` that refuses a non-binary target.

    Parameters and attributes are those of scikit-learn's class.

    Examples
    --------
    >>> import numpy as np
    >>> from tacelearn.estimators import BinaryMLPClassifier
    >>> X = np.arange(12.0).reshape(6, 2)
    >>> BinaryMLPClassifier(hidden_layer_sizes=(3,), max_iter=2000, random_state=0).fit(
    ...     X, [0, 0, 0, 1, 1, 1]).classes_
    array([0, 1])
    """

    def fit(self, X, y, sample_weight=None):
        """Check that ``y`` is binary, then fit as scikit-learn does.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data.
        y : array-like of shape (n_samples,)
            Two classes.
        sample_weight : array-like of shape (n_samples,), optional
            Weights of the samples.

        Returns
        -------
        self : BinaryMLPClassifier
            The fitted model.
        """
        check_binary_target(y, type(self).__name__)
        return super().fit(X, y, sample_weight=sample_weight)
