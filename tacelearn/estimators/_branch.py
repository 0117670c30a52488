"""The image branch of a fusion model: a Pipeline whose table output keeps the cohort's rows."""

from __future__ import annotations

import pandas as pd
from sklearn.pipeline import Pipeline

__all__ = ["ImageBranch"]


def _with_rows_of(output, X):
    """``output`` indexed like the cohort ``X`` when both are pandas tables of the same length."""
    if isinstance(output, pd.DataFrame) and isinstance(X, pd.DataFrame) and len(output) == len(X):
        output.index = X.index
    return output


class ImageBranch(Pipeline):
    """A :class:`~sklearn.pipeline.Pipeline` from the cohort to image features, rows kept.

    Between the cohort and the features sit 4D patches, which have no index: with
    ``set_output(transform="pandas")`` a plain Pipeline would label its output rows 0, 1, ...
    whatever the cohort's index, and a :class:`~sklearn.compose.ColumnTransformer` joining it
    to the clinical branch (which keeps the cohort's index) would pair the wrong patients'
    image and clinical features. This Pipeline gives its table output the index of the cohort
    it was given; everything else is scikit-learn's Pipeline.

    Parameters
    ----------
    steps : list of (str, estimator)
        As in :class:`~sklearn.pipeline.Pipeline`.
    transform_input : list of str, optional
        Names of the metadata parameters of ``fit`` that the steps before the one consuming
        them transform (needs metadata routing), as in :class:`~sklearn.pipeline.Pipeline`.
    memory : str or object with the joblib.Memory interface, optional
        Cache of the fitted transformers (not the last step), as in
        :class:`~sklearn.pipeline.Pipeline`; ``None`` caches nothing.
    verbose : bool, default=False
        Print the time each step takes to fit.

    See Also
    --------
    tacelearn.estimators.image_branch : Builds the branch of the fusion models.

    Examples
    --------
    >>> import pandas as pd
    >>> from sklearn.preprocessing import FunctionTransformer
    >>> from tacelearn.estimators import ImageBranch
    >>> cohort = pd.DataFrame({"x": [1.0, 2.0]}, index=["P7", "P3"])
    >>> as_array = FunctionTransformer(lambda X: X.to_numpy(), feature_names_out="one-to-one")
    >>> branch = ImageBranch([("features", as_array)]).set_output(transform="pandas")
    >>> branch.fit_transform(cohort).index.tolist()
    ['P7', 'P3']
    """

    def fit_transform(self, X, y=None, **params):
        """Fit the steps and transform ``X``; a table output keeps ``X``'s index.

        Parameters
        ----------
        X : pandas.DataFrame
            The cohort.
        y : array-like of shape (n_samples,), optional
            Targets of the supervised steps.
        **params : dict
            As in :meth:`sklearn.pipeline.Pipeline.fit_transform`.

        Returns
        -------
        features : ndarray or DataFrame
            The last step's output.
        """
        return _with_rows_of(super().fit_transform(X, y, **params), X)

    def transform(self, X, **params):
        """Transform ``X``; a table output keeps ``X``'s index.

        Parameters
        ----------
        X : pandas.DataFrame
            The cohort.
        **params : dict
            As in :meth:`sklearn.pipeline.Pipeline.transform`.

        Returns
        -------
        features : ndarray or DataFrame
            The last step's output.
        """
        return _with_rows_of(super().transform(X, **params), X)
