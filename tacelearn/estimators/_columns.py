"""Column selection and clinical preprocessing shared by the model factories."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin, _fit_context
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler
from sklearn.utils._param_validation import StrOptions
from sklearn.utils.validation import _check_feature_names_in, check_is_fitted, validate_data

from ..datasets import CLINICAL_COLUMNS, COHORT_SCHEMA
from ..utils import MAX_LISTED

__all__ = [
    "MISSING_CATEGORY",
    "SKEWED_COLUMNS",
    "SchemaColumns",
    "TextCategories",
    "UnseenCategoryWarning",
    "clinical_preprocessor",
]

#: The category a missing categorical value becomes.
MISSING_CATEGORY = "missing"

#: Right-skewed laboratory values and ratios: log-transformed before scaling so that a few
#: extreme values (AFP spans 1 to 10^6 ng/mL) do not dominate a linear model.
SKEWED_COLUMNS = ("afp", "cea", "ast", "alt", "bilirubin", "nlr", "plr")


class SchemaColumns:
    """Callable column selector: the listed columns that are present in ``X``, by kind.

    Used as the ``columns`` of a :class:`~sklearn.compose.ColumnTransformer` so that a model
    built for the full schema also fits a cohort that lacks some columns (a public table
    without CEA, say). Unlike a lambda it pickles and compares equal, so pipelines that hold it
    clone, grid-search and save.

    Parameters
    ----------
    columns : sequence of str or "all", optional
        Candidate columns, in output order; default every clinical column of the schema;
        ``"all"`` means every column of ``X``.
    kind : {None, "categorical", "skewed", "numeric"}
        ``None`` keeps every present candidate. ``"categorical"`` keeps text and category
        columns, ``"skewed"`` the numeric columns of :data:`SKEWED_COLUMNS`, ``"numeric"`` the
        other numeric columns (binary 0/1 flags included).
    required : bool, default=False
        Raise a ``ValueError`` naming the missing columns instead of skipping them.

    Examples
    --------
    >>> import pandas as pd
    >>> from tacelearn.estimators import SchemaColumns
    >>> cohort = pd.DataFrame({"patient_id": ["P1"], "alt": [40.0], "bclc": ["B"],
    ...                        "ascites": [1]})
    >>> SchemaColumns()(cohort)
    ['bclc', 'alt', 'ascites']
    >>> SchemaColumns(kind="categorical")(cohort)
    ['bclc']
    """

    def __init__(self, columns=None, *, kind=None, required=False):
        self.columns = columns
        self.kind = kind
        self.required = required

    def __call__(self, X):
        if not isinstance(X, pd.DataFrame):
            raise TypeError(
                f"the cohort must be a pandas DataFrame with named columns, got {type(X).__name__}"
            )
        if isinstance(self.columns, str) and self.columns == "all":
            candidates = list(X.columns)
        else:
            candidates = list(CLINICAL_COLUMNS if self.columns is None else self.columns)
        missing = [c for c in candidates if c not in X.columns]
        if self.required and missing:
            raise ValueError(f"the cohort lacks column(s) {missing}")
        present = [c for c in candidates if c in X.columns]
        if self.kind is None:
            return present
        numeric = {c for c in present if _is_numeric(X[c], c)}
        if self.kind == "categorical":
            return [c for c in present if c not in numeric]
        if self.kind == "skewed":
            return [c for c in present if c in numeric and c in SKEWED_COLUMNS]
        if self.kind == "numeric":
            return [c for c in present if c in numeric and c not in SKEWED_COLUMNS]
        raise ValueError(f"unknown column kind {self.kind!r}")

    def __eq__(self, other):
        return isinstance(other, SchemaColumns) and vars(self) == vars(other)

    def __hash__(self):
        columns = self.columns if isinstance(self.columns, (str, type(None))) else tuple(
            self.columns)
        return hash((columns, self.kind, self.required))

    def __repr__(self):
        columns = self.columns if isinstance(self.columns, (str, type(None))) else list(
            self.columns)
        return f"SchemaColumns(columns={columns!r}, kind={self.kind!r})"


def _is_numeric(values, name):
    if name in COHORT_SCHEMA:
        return COHORT_SCHEMA[name].kind not in ("categorical", "text", "id", "path")
    return pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)


def _as_float(X):
    # Nullable integer columns (binary flags with pd.NA) become floats with NaN for the imputer.
    return X.astype("float64") if isinstance(X, pd.DataFrame) else np.asarray(X, dtype=float)


def _as_text(X):
    # One category per value; a missing value (None or NaN) becomes its own "missing" category.
    frame = pd.DataFrame(X)
    return frame.astype(object).where(frame.notna(), MISSING_CATEGORY).astype(str)


class UnseenCategoryWarning(UserWarning):
    """A categorical value met at prediction was never seen in training.

    Raised by :class:`TextCategories` with ``handle_unknown="warn"`` (the clinical branch of
    every model); the message names the column, the values and the rows. The value is then
    encoded as no category. Turn it into an error with ``handle_unknown="error"`` or
    :func:`warnings.simplefilter`.

    See Also
    --------
    TextCategories : The step that raises it.

    Examples
    --------
    >>> import warnings
    >>> import pandas as pd
    >>> from tacelearn.estimators import TextCategories, UnseenCategoryWarning
    >>> step = TextCategories().fit(pd.DataFrame({"child_pugh": ["A", "B"]}))
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     _ = step.transform(pd.DataFrame({"child_pugh": ["C"]}))
    >>> caught[0].category is UnseenCategoryWarning
    True
    """


class TextCategories(TransformerMixin, BaseEstimator):
    """Categorical columns as text, missing values as their own category, unseen values named.

    The step before the one-hot encoder of :func:`clinical_preprocessor`. A one-hot encoder
    that ignores unknown categories encodes a value never seen in training (BCLC stage "E",
    a typo) as "no category" without a word; this step says so, naming the column, the
    values and the patients' rows, or refuses them.

    Parameters
    ----------
    handle_unknown : {"warn", "error", "ignore"}, default="warn"
        What a value unseen in ``fit`` (other than a missing value) does in ``transform``:
        an :class:`UnseenCategoryWarning`, a ``ValueError``, or nothing. The value is then
        encoded as no category (all zeros) by the one-hot encoder.

    Attributes
    ----------
    categories_ : list of ndarray of str
        The text categories seen in ``fit``, per column.
    n_features_in_ : int
        Number of columns seen in ``fit``.
    feature_names_in_ : ndarray of str
        Column names seen in ``fit`` (DataFrame input).

    Examples
    --------
    >>> import warnings
    >>> import pandas as pd
    >>> from tacelearn.estimators import TextCategories
    >>> step = TextCategories().fit(pd.DataFrame({"bclc": ["A", "B", None]}))
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     step.transform(pd.DataFrame({"bclc": ["A", "E"]}))["bclc"].tolist()
    ['A', 'E']
    >>> print(caught[0].message)
    column 'bclc': value(s) ['E'] not seen in training, at row(s) [1]; encoded as no category
    """

    _parameter_constraints: dict = {"handle_unknown": [StrOptions({"warn", "error", "ignore"})]}

    def __init__(self, *, handle_unknown="warn"):
        self.handle_unknown = handle_unknown

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Record the categories of each column.

        Parameters
        ----------
        X : {DataFrame, array-like} of shape (n_samples, n_features)
            Categorical columns.
        y : None
            Ignored.

        Returns
        -------
        self : TextCategories
            The fitted step.
        """
        validate_data(self, X, dtype=None, ensure_all_finite=False,
                      skip_check_array=isinstance(X, pd.DataFrame))
        text = _as_text(X)
        self.categories_ = [np.unique(text[column].to_numpy(dtype=str))
                            for column in text.columns]
        return self

    def transform(self, X):
        """The columns as text, with unseen values handled as ``handle_unknown`` says.

        Parameters
        ----------
        X : {DataFrame, array-like} of shape (n_samples, n_features_in_)
            Categorical columns.

        Returns
        -------
        X_text : DataFrame of str
            The same index and columns as a DataFrame input.
        """
        check_is_fitted(self)
        validate_data(self, X, dtype=None, ensure_all_finite=False, reset=False,
                      skip_check_array=isinstance(X, pd.DataFrame))
        text = _as_text(X)
        if isinstance(X, pd.DataFrame):
            text.index = X.index
        names = self.get_feature_names_out()
        problems = []
        for position, (column, known) in enumerate(zip(text.columns, self.categories_)):
            values = text[column].to_numpy(dtype=str)
            unseen = ~np.isin(values, known) & (values != MISSING_CATEGORY)
            if unseen.any():
                shown = sorted(set(values[unseen].tolist()))
                rows = np.flatnonzero(unseen)
                problems.append(f"column '{names[position]}': value(s) {shown} not seen in "
                                f"training, at row(s) {rows[:MAX_LISTED].tolist()}")
        if problems and self.handle_unknown == "error":
            raise ValueError("; ".join(problems) + " (handle_unknown='error')")
        if self.handle_unknown == "warn":
            for problem in problems:
                warnings.warn(f"{problem}; encoded as no category", UnseenCategoryWarning,
                              stacklevel=2)
        return text

    def get_feature_names_out(self, input_features=None):
        """The input column names.

        Parameters
        ----------
        input_features : array-like of str, optional
            Must match ``feature_names_in_`` when given.

        Returns
        -------
        names : ndarray of str
            The column names.
        """
        check_is_fitted(self)
        return _check_feature_names_in(self, input_features)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.string = True
        tags.input_tags.allow_nan = True
        tags.input_tags.categorical = True
        return tags


def clinical_preprocessor(*, unknown_categories="warn"):
    """Impute, one-hot encode and scale clinical columns, whichever of them are present.

    Categorical columns are one-hot encoded with missing values as their own category
    (a value never seen in training is encoded as no category, with a warning naming it:
    :class:`TextCategories`);
    skewed laboratory values (:data:`SKEWED_COLUMNS`) are median-imputed, log-transformed
    (``log1p``) and standardised; other numeric columns, binary flags included, are
    median-imputed and standardised.

    Parameters
    ----------
    unknown_categories : {"warn", "error", "ignore"}, default="warn"
        What a categorical value unseen in training does at prediction.

    Returns
    -------
    preprocessor : sklearn.compose.ColumnTransformer
        Unfitted; its output feature names are the column names (``alt``) or, for categories,
        ``<column>_<category>`` (``bclc_C``).

    Examples
    --------
    >>> import pandas as pd
    >>> from tacelearn.estimators import clinical_preprocessor
    >>> cohort = pd.DataFrame({"alt": [20.0, 80.0, None], "bclc": ["A", "C", None]})
    >>> clinical_preprocessor().fit(cohort).get_feature_names_out().tolist()
    ['bclc_A', 'bclc_C', 'bclc_missing', 'alt']
    """
    to_float = FunctionTransformer(_as_float, feature_names_out="one-to-one")
    return ColumnTransformer(
        [
            ("categorical", Pipeline([
                ("text", TextCategories(handle_unknown=unknown_categories)),
                ("onehot", OneHotEncoder(handle_unknown="ignore", sparse_output=False)),
            ]), SchemaColumns("all", kind="categorical")),
            ("skewed", Pipeline([
                ("float", to_float),
                ("impute", SimpleImputer(strategy="median")),
                ("log", FunctionTransformer(np.log1p, feature_names_out="one-to-one")),
                ("scale", StandardScaler()),
            ]), SchemaColumns("all", kind="skewed")),
            ("numeric", Pipeline([
                ("float", to_float),
                ("impute", SimpleImputer(strategy="median")),
                ("scale", StandardScaler()),
            ]), SchemaColumns("all", kind="numeric")),
        ],
        verbose_feature_names_out=False,
    )
