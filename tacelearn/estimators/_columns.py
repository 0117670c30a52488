"""Column selection and clinical preprocessing shared by the model factories."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler

from ..datasets import CLINICAL_COLUMNS, COHORT_SCHEMA

__all__ = ["SKEWED_COLUMNS", "SchemaColumns", "clinical_preprocessor"]

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
    return frame.astype(object).where(frame.notna(), "missing").astype(str)


def clinical_preprocessor():
    """Impute, one-hot encode and scale clinical columns, whichever of them are present.

    Categorical columns are one-hot encoded with missing values as their own category;
    skewed laboratory values (:data:`SKEWED_COLUMNS`) are median-imputed, log-transformed
    (``log1p``) and standardised; other numeric columns, binary flags included, are
    median-imputed and standardised.

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
                ("text", FunctionTransformer(_as_text, feature_names_out="one-to-one")),
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
