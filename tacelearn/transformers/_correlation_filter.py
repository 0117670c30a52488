"""Drop redundant features: one of every pair that is highly correlated."""

from __future__ import annotations

from numbers import Real

import numpy as np
from sklearn.base import BaseEstimator, _fit_context
from sklearn.feature_selection import SelectorMixin
from sklearn.utils._param_validation import Interval
from sklearn.utils.validation import check_is_fitted, validate_data

__all__ = ["CorrelationFilter"]


def _absolute_correlations(X):
    """Absolute Pearson correlations between the columns of ``X``, in [0, 1].

    A constant column has no correlation: 0 with every column, itself included.
    """
    centred = X - X.mean(axis=0)
    norms = np.sqrt((centred**2).sum(axis=0))
    # In an exactly constant column the centred values are the mean's rounding noise.
    varies = (np.ptp(X, axis=0) > 0) & (norms > 0)
    scaled = np.divide(centred, norms, out=np.zeros_like(centred),
                       where=varies[np.newaxis, :])
    return np.clip(np.abs(scaled.T @ scaled), 0.0, 1.0)


class CorrelationFilter(SelectorMixin, BaseEstimator):
    """Keep one feature of every group whose absolute Pearson correlation exceeds a threshold.

    The features are visited in column order and a feature is kept unless its absolute
    correlation with a feature already kept is above ``threshold``. No two kept features
    are then correlated above the threshold, and every dropped feature is, with a kept one
    (``correlated_with_``). Unsupervised: ``y`` is not used. Radiomics features come in
    near-duplicate families (a texture statistic per grey-level matrix, the same statistic
    per sequence), which this thins out before a sparse model chooses among them; inside a
    Pipeline the correlations are those of the training patients only.

    Parameters
    ----------
    threshold : float, default=0.9
        Largest absolute correlation allowed between kept features; ``1`` keeps every
        feature.

    Attributes
    ----------
    support_ : numpy.ndarray of bool, shape (n_features_in_,)
        Whether each feature is kept.
    correlated_with_ : numpy.ndarray of int, shape (n_features_in_,)
        For a dropped feature, the index of the first kept feature it is correlated with
        above ``threshold``; -1 for kept features.
    n_features_in_ : int
        Number of features seen in ``fit``.
    feature_names_in_ : numpy.ndarray of str
        Their names (DataFrame input only).

    See Also
    --------
    sklearn.feature_selection.VarianceThreshold : Drops constant features.

    Notes
    -----
    Constant features correlate with nothing and are kept; put a
    :class:`~sklearn.feature_selection.VarianceThreshold` before this filter to drop them.
    Missing values are refused: impute first.

    Examples
    --------
    >>> import numpy as np
    >>> from tacelearn.transformers import CorrelationFilter
    >>> rng = np.random.default_rng(0)
    >>> a, b = rng.standard_normal((2, 50))
    >>> X = np.column_stack([a, 2 * a + 0.01 * b, b])
    >>> selector = CorrelationFilter(threshold=0.9).fit(X)
    >>> selector.get_support().tolist(), selector.correlated_with_.tolist()
    ([True, False, True], [-1, 0, -1])
    """

    _parameter_constraints: dict = {
        "threshold": [Interval(Real, 0, 1, closed="both")],
    }

    def __init__(self, *, threshold=0.9):
        self.threshold = threshold

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Find the features to keep.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training features, without missing values.
        y : None
            Ignored.

        Returns
        -------
        self : CorrelationFilter
            The fitted filter.
        """
        X = validate_data(self, X, dtype=np.float64)
        correlations = _absolute_correlations(X)
        n_features = X.shape[1]
        keep = np.zeros(n_features, dtype=bool)
        partner = np.full(n_features, -1, dtype=np.intp)
        for j in range(n_features):
            kept = np.flatnonzero(keep[:j])
            too_close = kept[correlations[j, kept] > self.threshold]
            if too_close.size:
                partner[j] = too_close[0]
            else:
                keep[j] = True
        self.support_ = keep
        self.correlated_with_ = partner
        return self

    def _get_support_mask(self):
        check_is_fitted(self)
        return self.support_
