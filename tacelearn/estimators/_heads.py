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
from sklearn.utils.validation import assert_all_finite

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
    values = np.asarray(y)
    if values.dtype.kind == "f":
        # scikit-learn's own message for NaN or infinite labels, before type_of_target casts
        # them (which would only warn).
        assert_all_finite(values, input_name="y")
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

    The parameters, attributes and methods are scikit-learn's, unchanged; only ``fit``
    checks the target first. The parameters are summarised below; scikit-learn's
    documentation of :class:`~sklearn.linear_model.LogisticRegression` has the details.

    Parameters
    ----------
    penalty : {"l1", "l2", "elasticnet", None}, default="deprecated"
        Deprecated by scikit-learn 1.8 (removed in 1.10): set ``l1_ratio`` and ``C``
        instead.
    C : float, default=1.0
        Inverse of the regularisation strength; ``numpy.inf`` fits without penalty.
    l1_ratio : float, default=0.0
        Elastic-net mixing, from 0 (pure L2 penalty) to 1 (pure L1).
    dual : bool, default=False
        Solve the dual problem (L2 penalty with the liblinear solver only).
    tol : float, default=1e-4
        Tolerance of the stopping criterion.
    fit_intercept : bool, default=True
        Fit an intercept.
    intercept_scaling : float, default=1
        Value of the synthetic constant feature of the liblinear solver.
    class_weight : dict or "balanced", default=None
        Weights of the classes; ``"balanced"`` weighs them inversely to their frequency.
    random_state : int, RandomState instance or None, default=None
        Seed of the data shuffling of the sag, saga and liblinear solvers.
    solver : {"lbfgs", "liblinear", "newton-cg", "newton-cholesky", "sag", "saga"}, \
            default="lbfgs"
        Optimisation algorithm.
    max_iter : int, default=100
        Largest number of solver iterations.
    verbose : int, default=0
        Verbosity of the liblinear and lbfgs solvers.
    warm_start : bool, default=False
        Start from the previous fit's coefficients.
    n_jobs : int, default=None
        Processes used by scikit-learn where it parallelises; None means 1.

    See Also
    --------
    BinaryMLPClassifier : The same check on scikit-learn's multi-layer perceptron.
    check_binary_target : The check itself.

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

    The parameters, attributes and methods are scikit-learn's, unchanged; only ``fit``
    checks the target first. The parameters are summarised below; scikit-learn's
    documentation of :class:`~sklearn.neural_network.MLPClassifier` has the details.

    Parameters
    ----------
    hidden_layer_sizes : array-like of shape (n_layers - 2,), default=(100,)
        Number of neurons of each hidden layer.
    activation : {"identity", "logistic", "tanh", "relu"}, default="relu"
        Activation function of the hidden layers.
    solver : {"lbfgs", "sgd", "adam"}, default="adam"
        Weight optimiser.
    alpha : float, default=0.0001
        Strength of the L2 penalty on the weights.
    batch_size : int or "auto", default="auto"
        Size of the minibatches of the stochastic solvers; ``"auto"`` is
        ``min(200, n_samples)``.
    learning_rate : {"constant", "invscaling", "adaptive"}, default="constant"
        Schedule of the learning rate (``solver="sgd"`` only).
    learning_rate_init : float, default=0.001
        Initial learning rate (``"sgd"`` and ``"adam"``).
    power_t : float, default=0.5
        Exponent of the inverse scaling schedule (``"sgd"`` only).
    max_iter : int, default=200
        Largest number of epochs (stochastic solvers) or iterations (``"lbfgs"``).
    shuffle : bool, default=True
        Shuffle the samples at each epoch (stochastic solvers).
    random_state : int, RandomState instance or None, default=None
        Seed of the weight initialisation, the shuffling, the batches and the validation
        split.
    tol : float, default=1e-4
        Tolerance of the stopping criterion.
    verbose : bool, default=False
        Print the progress.
    warm_start : bool, default=False
        Start from the previous fit's weights.
    momentum : float, default=0.9
        Momentum of the gradient descent (``"sgd"`` only).
    nesterovs_momentum : bool, default=True
        Use Nesterov's momentum (``"sgd"`` only).
    early_stopping : bool, default=False
        Stop when the score on a held-out validation split stops improving.
    validation_fraction : float, default=0.1
        Share of the training data held out for early stopping.
    beta_1 : float, default=0.9
        Decay rate of the first moment estimates (``"adam"`` only).
    beta_2 : float, default=0.999
        Decay rate of the second moment estimates (``"adam"`` only).
    epsilon : float, default=1e-8
        Numerical stability term (``"adam"`` only).
    n_iter_no_change : int, default=10
        Epochs without an improvement of ``tol`` before stopping (stochastic solvers).
    max_fun : int, default=15000
        Largest number of loss evaluations (``"lbfgs"`` only).

    See Also
    --------
    BinaryLogisticRegression : The same check on scikit-learn's logistic regression.
    check_binary_target : The check itself.

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
