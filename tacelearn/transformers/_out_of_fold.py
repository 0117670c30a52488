"""Out-of-fold outputs of a supervised transformer, for honest stacking of a fusion head."""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, MetaEstimatorMixin, TransformerMixin, _fit_context, clone
from sklearn.model_selection import check_cv
from sklearn.utils import _safe_indexing
from sklearn.utils._param_validation import HasMethods
from sklearn.utils.validation import check_is_fitted

__all__ = ["OutOfFoldTransformer"]


class OutOfFoldTransformer(TransformerMixin, MetaEstimatorMixin, BaseEstimator):
    """Give a downstream model out-of-fold outputs of a supervised transformer.

    A fusion head trained on the outputs of a CNN fitted to the same patients learns to trust
    in-sample scores, which are better than any score it will see on new patients. Like
    :class:`~sklearn.ensemble.StackingClassifier`, this wrapper makes ``fit_transform`` return,
    for every training sample, the output of a clone fitted without that sample's fold; it then
    refits the transformer on all the data, and ``transform`` (new patients) uses that refit.

    Parameters
    ----------
    estimator : estimator with ``fit`` and ``transform``
        The supervised transformer, e.g. :class:`~tacelearn.transformers.CNNEncoder`.
    cv : int, cross-validation generator or iterable, default=5
        Folds for the out-of-fold outputs; an int means :class:`~sklearn.model_selection.\
StratifiedKFold` without shuffling, so the folds are reproducible.

    Attributes
    ----------
    estimator_ : estimator
        Clone of ``estimator`` fitted on all the data passed to ``fit``/``fit_transform``.
    n_features_in_ : int
        Number of features seen in ``fit``, where the estimator records it.

    See Also
    --------
    sklearn.model_selection.cross_val_predict : Out-of-fold predictions of an estimator.
    sklearn.ensemble.StackingClassifier : Stacking with out-of-fold base predictions.

    Notes
    -----
    ``fit(X, y).transform(X)`` differs from ``fit_transform(X, y)`` by design: the first gives
    in-sample outputs, the second out-of-fold ones. Pipelines call ``fit_transform`` while
    fitting, so the next step is trained on out-of-fold outputs.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
    >>> from tacelearn.transformers import OutOfFoldTransformer
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((40, 3))
    >>> y = (X[:, 0] > 0).astype(int)
    >>> oof = OutOfFoldTransformer(LinearDiscriminantAnalysis(), cv=4)
    >>> oof.fit_transform(X, y).shape
    (40, 1)
    """

    _parameter_constraints: dict = {
        "estimator": [HasMethods(["fit", "transform"])],
        "cv": ["cv_object"],
    }

    def __init__(self, estimator, *, cv=5):
        self.estimator = estimator
        self.cv = cv

    def _record_input(self):
        for name in ("n_features_in_", "feature_names_in_"):
            if hasattr(self.estimator_, name):
                setattr(self, name, getattr(self.estimator_, name))

    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y, **fit_params):
        """Fit the transformer on all the data.

        Parameters
        ----------
        X : array-like of shape (n_samples, ...)
            Input of the wrapped transformer.
        y : array-like of shape (n_samples,)
            Class labels.
        **fit_params : dict
            Passed to the wrapped transformer's ``fit``.

        Returns
        -------
        self : OutOfFoldTransformer
            The fitted wrapper.
        """
        self.estimator_ = clone(self.estimator).fit(X, y, **fit_params)
        self._record_input()
        return self

    @_fit_context(prefer_skip_nested_validation=False)
    def fit_transform(self, X, y, **fit_params):
        """Out-of-fold outputs for ``X``, then fit on all of ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, ...)
            Input of the wrapped transformer.
        y : array-like of shape (n_samples,)
            Class labels (folds are stratified on them).
        **fit_params : dict
            Passed to every ``fit`` of the wrapped transformer.

        Returns
        -------
        X_out : ndarray of shape (n_samples, n_outputs)
            Row ``i`` comes from the clone fitted without the fold holding sample ``i``.
        """
        y = np.asarray(y)
        cv = check_cv(self.cv, y, classifier=True)
        outputs, positions = [], []
        for train, test in cv.split(X, y):
            fold = clone(self.estimator).fit(_safe_indexing(X, train), y[train], **fit_params)
            outputs.append(np.asarray(fold.transform(_safe_indexing(X, test))))
            positions.append(test)
        order = np.concatenate(positions)
        if np.unique(order).size != len(y) or order.size != len(y):
            raise ValueError("cv must put every sample in exactly one test fold")
        stacked = np.concatenate(outputs, axis=0)
        result = np.empty_like(stacked)
        result[order] = stacked
        self.estimator_ = clone(self.estimator).fit(X, y, **fit_params)
        self._record_input()
        return result

    def transform(self, X):
        """Outputs of the transformer fitted on all the training data.

        Parameters
        ----------
        X : array-like of shape (n_samples, ...)
            Input of the wrapped transformer.

        Returns
        -------
        X_out : ndarray of shape (n_samples, n_outputs)
            The refitted transformer's outputs.
        """
        check_is_fitted(self)
        return self.estimator_.transform(X)

    def get_feature_names_out(self, input_features=None):
        """Output names of the wrapped transformer.

        Parameters
        ----------
        input_features : array-like of str, optional
            Passed on to the wrapped transformer.

        Returns
        -------
        feature_names_out : ndarray of str
            The wrapped transformer's output names.
        """
        check_is_fitted(self)
        return self.estimator_.get_feature_names_out(input_features)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        inner = clone(self.estimator).__sklearn_tags__()
        tags.input_tags = inner.input_tags
        tags.target_tags.required = True
        return tags
