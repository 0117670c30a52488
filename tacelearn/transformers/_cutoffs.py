"""Laboratory values turned into abnormal flags by the schema's clinical cut-offs."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin, _fit_context
from sklearn.utils.validation import check_is_fitted, validate_data

from ..datasets import CLINICAL_CUTOFFS

__all__ = ["ClinicalCutoffEncoder", "source_column"]

_SUFFIX = "_abnormal"


def source_column(feature_name):
    """The cohort column behind a feature name: ``"alt_abnormal"`` -> ``"alt"``.

    Parameters
    ----------
    feature_name : str
        An output name of :class:`ClinicalCutoffEncoder` (or any other column name).

    Returns
    -------
    column : str
        The laboratory column a ``<column>_abnormal`` flag was made from; any other name
        unchanged.

    See Also
    --------
    ClinicalCutoffEncoder : Makes the ``_abnormal`` features.

    Examples
    --------
    >>> from tacelearn.transformers import source_column
    >>> source_column("alt_abnormal"), source_column("ascites")
    ('alt', 'ascites')
    """
    stem = feature_name.removesuffix(_SUFFIX)
    return stem if stem != feature_name and stem in CLINICAL_CUTOFFS else feature_name


class ClinicalCutoffEncoder(TransformerMixin, BaseEstimator):
    """Replace raw laboratory values by 0/1 flags at the schema's clinical cut-offs.

    Clinical prediction studies, the paper's among them, screen and model laboratory values as
    abnormal or not (ALT > 50 U/L, AFP > 400 ng/mL, albumin <= 40 g/L, ...): a step effect at
    a clinical threshold is what a chi-square test detects best and what clinicians read. Each
    column that has a cut-off in :data:`tacelearn.datasets.CLINICAL_CUTOFFS` becomes
    ``<column>_abnormal`` (nullable 0/1, missing stays missing); the other columns pass
    through unchanged, in place.

    Parameters
    ----------
    columns : sequence of str, optional
        Laboratory columns to dichotomise; default every column with a cut-off.

    Attributes
    ----------
    dichotomised_ : list of str
        Columns that were replaced by flags.
    n_features_in_ : int
        Number of columns seen in ``fit``.
    feature_names_in_ : ndarray of str
        Column names seen in ``fit``.

    See Also
    --------
    tacelearn.datasets.dichotomise : The same flags as a function.

    Examples
    --------
    >>> import pandas as pd
    >>> from tacelearn.transformers import ClinicalCutoffEncoder
    >>> X = pd.DataFrame({"alt": [30.0, 75.0, None], "ascites": [0, 1, 0]})
    >>> ClinicalCutoffEncoder().fit_transform(X)
       alt_abnormal  ascites
    0             0        0
    1             1        1
    2          <NA>        0
    """

    _parameter_constraints: dict = {"columns": [list, tuple, None]}

    def __init__(self, *, columns=None):
        self.columns = columns

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Record the columns to dichotomise.

        Parameters
        ----------
        X : {DataFrame, array-like} of shape (n_samples, n_features)
            Clinical columns; only named DataFrame columns can match a cut-off.
        y : None
            Ignored.

        Returns
        -------
        self : ClinicalCutoffEncoder
            The fitted encoder.
        """
        validate_data(self, X, dtype=None, ensure_all_finite="allow-nan",
                      skip_check_array=isinstance(X, pd.DataFrame))
        names = list(getattr(self, "feature_names_in_", []))
        wanted = list(CLINICAL_CUTOFFS) if self.columns is None else list(self.columns)
        unknown = [c for c in wanted if c not in CLINICAL_CUTOFFS]
        if unknown:
            raise ValueError(f"no clinical cut-off is defined for column(s) {unknown}; "
                             f"cut-offs exist for {list(CLINICAL_CUTOFFS)}")
        self.dichotomised_ = [c for c in names if c in wanted]
        return self

    def transform(self, X):
        """Flags for the laboratory columns, the other columns unchanged.

        Parameters
        ----------
        X : {DataFrame, array-like} of shape (n_samples, n_features_in_)

        Returns
        -------
        X_out : DataFrame or ndarray
            A DataFrame for DataFrame input; other input passes through unchanged.
        """
        check_is_fitted(self)
        if not isinstance(X, pd.DataFrame):
            return validate_data(self, X, dtype=None, ensure_all_finite="allow-nan",
                                 reset=False)
        validate_data(self, X, reset=False, skip_check_array=True)
        out = X.copy()
        for column in self.dichotomised_:
            flags = CLINICAL_CUTOFFS[column].apply(X[column])
            out[column] = pd.array(flags, dtype="Int64")
        return out.rename(columns={c: f"{c}{_SUFFIX}" for c in self.dichotomised_})

    def get_feature_names_out(self, input_features=None):
        """Input names, with ``_abnormal`` appended to the dichotomised columns.

        Parameters
        ----------
        input_features : array-like of str, optional
            Defaults to ``feature_names_in_`` (or ``x0, x1, ...``).

        Returns
        -------
        feature_names_out : ndarray of str
            One name per input column, in order.
        """
        check_is_fitted(self)
        if input_features is None:
            input_features = getattr(self, "feature_names_in_",
                                     [f"x{i}" for i in range(self.n_features_in_)])
        return np.asarray([f"{c}{_SUFFIX}" if c in self.dichotomised_ else str(c)
                           for c in input_features], dtype=object)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        tags.input_tags.string = True
        tags.requires_fit = True
        return tags
