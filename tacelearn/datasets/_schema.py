"""The cohort schema: one place that names every column, its kind, units and allowed values.

Everything else in tacelearn (validation, the synthetic generator, the model factories, the baseline
table) reads column names, categories and clinical cut-offs from here, so that a change to the
schema is a change in one file.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = [
    "CLINICAL_COLUMNS",
    "CLINICAL_CUTOFFS",
    "COHORT_SCHEMA",
    "IMAGE_COLUMNS",
    "OUTCOME_COLUMNS",
    "REQUIRED_COLUMNS",
    "ClinicalCutoff",
    "Column",
    "categorical_columns",
    "continuous_columns",
    "dichotomise",
]


@dataclass(frozen=True)
class Column:
    """Description of one cohort column.

    Parameters
    ----------
    name : str
        Column name, part of the public API.
    kind : {"id", "text", "path", "continuous", "count", "binary", "categorical", \
            "probability", "score"}
        How the column is stored and modelled. ``binary`` columns hold 0/1 (missing allowed),
        ``categorical`` columns hold one of ``categories``; ``continuous`` and ``count`` values
        are non-negative, ``score`` values may take any sign.
    role : {"id", "design", "image", "clinical", "outcome", "synthetic"}
        Which part of the study uses the column.
    description : str
        Human-readable meaning, used in tables and documentation.
    unit : str or None
        Unit of a measured value (raw units, never dichotomised).
    categories : tuple of str or None
        Allowed values of a categorical column, in display order.

    Attributes
    ----------
    pandas_dtype : str
        The dtype the column has after :func:`~tacelearn.datasets.read_cohort`.

    See Also
    --------
    COHORT_SCHEMA : Every known column by name.

    Examples
    --------
    >>> from tacelearn.datasets import COHORT_SCHEMA
    >>> alt = COHORT_SCHEMA["alt"]
    >>> alt.kind, alt.unit, alt.pandas_dtype
    ('continuous', 'U/L', 'float64')
    >>> COHORT_SCHEMA["bclc"].categories
    ('0', 'A', 'B', 'C', 'D')
    """

    name: str
    kind: str
    role: str
    description: str
    unit: str | None = None
    categories: tuple[str, ...] | None = None

    @property
    def pandas_dtype(self):
        """The dtype the column has after :func:`~tacelearn.datasets.read_cohort`."""
        if self.kind in ("id", "text", "path", "categorical"):
            return "object"
        if self.kind in ("binary", "count"):
            return "Int64"
        return "float64"


def _c(name, kind, role, description, unit=None, categories=None):
    return Column(name, kind, role, description, unit, categories)


_COLUMNS = (
    _c("patient_id", "id", "id", "Patient identifier, unique within the cohort"),
    _c("center", "text", "design", "Hospital that contributed the patient"),
    _c("split", "text", "design",
       "Study split: train, internal_validation, external_1, external_2, ..."),
    _c("t1c_path", "path", "image", "Hepatic arterial phase contrast-enhanced T1 MRI (NIfTI)"),
    _c("t2_path", "path", "image", "T2-weighted MRI (NIfTI)"),
    _c("mask_path", "path", "image", "Tumour mask in the space of the images (NIfTI)"),
    _c("age", "continuous", "clinical", "Age", "years"),
    _c("sex", "categorical", "clinical", "Sex", categories=("male", "female")),
    _c("hypertension", "binary", "clinical", "Hypertension"),
    _c("diabetes", "binary", "clinical", "Diabetes"),
    _c("hbsag", "binary", "clinical", "HBsAg positive"),
    _c("child_pugh", "categorical", "clinical", "Child-Pugh class", categories=("A", "B", "C")),
    _c("bclc", "categorical", "clinical", "BCLC stage", categories=("0", "A", "B", "C", "D")),
    _c("tace_type", "categorical", "clinical", "TACE technique",
       categories=("cTACE", "DEB-TACE")),
    _c("afp", "continuous", "clinical", "Alpha-fetoprotein", "ng/mL"),
    _c("cea", "continuous", "clinical", "Carcinoembryonic antigen", "ng/mL"),
    _c("ast", "continuous", "clinical", "Aspartate aminotransferase", "U/L"),
    _c("alt", "continuous", "clinical", "Alanine aminotransferase", "U/L"),
    _c("albumin", "continuous", "clinical", "Albumin", "g/L"),
    _c("bilirubin", "continuous", "clinical", "Total bilirubin", "umol/L"),
    _c("prothrombin_time", "continuous", "clinical", "Prothrombin time", "s"),
    _c("platelets", "continuous", "clinical", "Platelet count", "10^9/L"),
    _c("nlr", "continuous", "clinical", "Neutrophil-to-lymphocyte ratio"),
    _c("plr", "continuous", "clinical", "Platelet-to-lymphocyte ratio"),
    _c("cirrhosis", "binary", "clinical", "Liver cirrhosis"),
    _c("ascites", "binary", "clinical", "Ascites"),
    _c("tumour_number", "count", "clinical", "Number of tumours", "n"),
    _c("tumour_diameter", "continuous", "clinical", "Largest tumour diameter", "cm"),
    _c("tumour_margin", "categorical", "clinical", "Tumour margin",
       categories=("smooth", "lobulated")),
    _c("portal_vein_invasion", "binary", "clinical", "Portal venous invasion"),
    _c("mrecist", "categorical", "outcome", "mRECIST response after the first TACE",
       categories=("CR", "PR", "SD", "PD")),
    _c("objective_response", "binary", "outcome", "Objective response (CR/PR = 1, SD/PD = 0)"),
    _c("pfs_months", "continuous", "outcome", "Progression-free survival", "months"),
    _c("pfs_event", "binary", "outcome", "Progression or death observed (1) or censored (0)"),
    _c("os_months", "continuous", "outcome", "Overall survival", "months"),
    _c("os_event", "binary", "outcome", "Death observed (1) or censored (0)"),
    _c("tumour_biology", "score", "synthetic",
       "Latent tumour biology of the synthetic generator, shown by the images (any sign)"),
    _c("true_probability", "probability", "synthetic",
       "P(objective response | patient) of the synthetic generator: the ceiling"),
)

#: Every known cohort column by name, in canonical order.
COHORT_SCHEMA: dict[str, Column] = {column.name: column for column in _COLUMNS}

#: Columns every cohort must have.
REQUIRED_COLUMNS = ("patient_id", "center", "split")
#: Image path columns.
IMAGE_COLUMNS = tuple(c.name for c in _COLUMNS if c.role == "image")
#: Clinical factors, in the order of the paper's Table 1.
CLINICAL_COLUMNS = tuple(c.name for c in _COLUMNS if c.role == "clinical")
#: Outcome columns.
OUTCOME_COLUMNS = tuple(c.name for c in _COLUMNS if c.role == "outcome")


def categorical_columns(columns=CLINICAL_COLUMNS):
    """Names among ``columns`` that are modelled as categories (binary or categorical).

    Parameters
    ----------
    columns : iterable of str, default=CLINICAL_COLUMNS
        Names of :data:`COHORT_SCHEMA` columns.

    Returns
    -------
    names : list of str
        The categorical and binary ones, in the order of ``columns``.

    See Also
    --------
    continuous_columns : The others.

    Examples
    --------
    >>> from tacelearn.datasets import categorical_columns
    >>> categorical_columns(["age", "sex", "ascites", "alt"])
    ['sex', 'ascites']
    """
    return [c for c in columns if COHORT_SCHEMA[c].kind in ("binary", "categorical")]


def continuous_columns(columns=CLINICAL_COLUMNS):
    """Names among ``columns`` that are modelled as numbers (continuous or counts).

    Parameters
    ----------
    columns : iterable of str, default=CLINICAL_COLUMNS
        Names of :data:`COHORT_SCHEMA` columns.

    Returns
    -------
    names : list of str
        The continuous and count ones, in the order of ``columns``.

    See Also
    --------
    categorical_columns : The others.

    Examples
    --------
    >>> from tacelearn.datasets import continuous_columns
    >>> continuous_columns(["age", "sex", "ascites", "alt", "tumour_number"])
    ['age', 'alt', 'tumour_number']
    """
    return [c for c in columns if COHORT_SCHEMA[c].kind in ("continuous", "count")]


@dataclass(frozen=True)
class ClinicalCutoff:
    """A clinical threshold that turns a raw laboratory value into an abnormal flag.

    Parameters
    ----------
    column : str
        Cohort column holding the raw value.
    operator : {">", ">=", "<", "<="}
        The value is abnormal when ``value <operator> threshold``.
    threshold : float
        Cut-off in the column's unit.
    label : str
        How tables name the abnormal group, e.g. ``"ALT > 50 U/L"``.

    See Also
    --------
    CLINICAL_CUTOFFS : The cut-offs of the paper's Table 1, by column.
    dichotomise : Apply them to a cohort.

    Examples
    --------
    >>> from tacelearn.datasets import ClinicalCutoff
    >>> cutoff = ClinicalCutoff("alt", ">", 50.0, "ALT > 50 U/L")
    >>> cutoff.apply([30.0, 72.0, None])
    array([ 0.,  1., nan])
    """

    column: str
    operator: str
    threshold: float
    label: str

    def apply(self, values):
        """Return 1.0 where abnormal, 0.0 where normal and NaN where the value is missing.

        Parameters
        ----------
        values : array-like of shape (n_samples,)
            Raw values in the column's unit; entries that are not numbers count as missing.

        Returns
        -------
        flags : numpy.ndarray of float of shape (n_samples,)
            The abnormal flags.
        """
        values = pd.to_numeric(pd.Series(values), errors="coerce").to_numpy(dtype=float)
        compare = {
            ">": np.greater,
            ">=": np.greater_equal,
            "<": np.less,
            "<=": np.less_equal,
        }[self.operator]
        with np.errstate(invalid="ignore"):
            flags = compare(values, self.threshold).astype(float)
        flags[np.isnan(values)] = np.nan
        return flags


#: Clinical cut-offs used for dichotomised laboratory values (the paper's Table 1).
CLINICAL_CUTOFFS: dict[str, ClinicalCutoff] = {
    cutoff.column: cutoff
    for cutoff in (
        ClinicalCutoff("alt", ">", 50.0, "ALT > 50 U/L"),
        ClinicalCutoff("ast", ">", 40.0, "AST > 40 U/L"),
        ClinicalCutoff("afp", ">", 400.0, "AFP > 400 ng/mL"),
        ClinicalCutoff("cea", ">", 5.0, "CEA > 5 ng/mL"),
        ClinicalCutoff("albumin", "<=", 40.0, "Albumin <= 40 g/L"),
        ClinicalCutoff("bilirubin", ">", 17.1, "Total bilirubin > 17.1 umol/L"),
        ClinicalCutoff("prothrombin_time", ">", 13.0, "Prothrombin time > 13 s"),
        ClinicalCutoff("platelets", "<", 125.0, "Platelets < 125 x10^9/L"),
    )
}


def dichotomise(cohort, columns=None):
    """Return the cohort's laboratory values as abnormal flags by the schema's cut-offs.

    Parameters
    ----------
    cohort : pandas.DataFrame
        Cohort with raw laboratory values.
    columns : sequence of str, optional
        Laboratory columns to dichotomise; default every column of :data:`CLINICAL_CUTOFFS`
        present in ``cohort``.

    Returns
    -------
    flags : pandas.DataFrame
        One 0/1 column per laboratory value (missing stays missing), named ``<column>_abnormal``.

    Examples
    --------
    >>> import pandas as pd
    >>> from tacelearn.datasets import dichotomise
    >>> dichotomise(pd.DataFrame({"alt": [30.0, 51.0], "platelets": [100.0, 200.0]}))
       alt_abnormal  platelets_abnormal
    0             0                   1
    1             1                   0
    """
    if columns is None:
        columns = [c for c in CLINICAL_CUTOFFS if c in cohort.columns]
    unknown = [c for c in columns if c not in CLINICAL_CUTOFFS]
    if unknown:
        raise ValueError(f"no clinical cut-off is defined for column(s) {unknown}")
    flags = {
        f"{c}_abnormal": pd.array(CLINICAL_CUTOFFS[c].apply(cohort[c]), dtype="Int64")
        for c in columns
    }
    return pd.DataFrame(flags, index=cohort.index)
