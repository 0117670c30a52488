"""Cohort schema and validation, the synthetic multicentre cohort, readers for public tables,
DICOM series / DICOM-SEG / RT-STRUCT readers and the manifest builder.

The DICOM readers and the manifest builder are imported on first use (PEP 562): pydicom takes
most of a second to import, which reading a NIfTI cohort should not pay.
"""

import importlib

from ._cohort import canonical_mrecist, objective_response, read_cohort, validate_cohort
from ._hcc_tace_seg import read_hcc_tace_seg
from ._schema import (
    CLINICAL_COLUMNS,
    CLINICAL_CUTOFFS,
    COHORT_SCHEMA,
    IMAGE_COLUMNS,
    OUTCOME_COLUMNS,
    REQUIRED_COLUMNS,
    ClinicalCutoff,
    Column,
    categorical_columns,
    continuous_columns,
    dichotomise,
)
from ._synthetic import DEFAULT_IMAGE_SHAPE, make_tace_cohort

__all__ = [
    "CLINICAL_COLUMNS",
    "CLINICAL_CUTOFFS",
    "COHORT_SCHEMA",
    "DEFAULT_IMAGE_SHAPE",
    "DEFAULT_SEQUENCE_PATTERNS",
    "IMAGE_COLUMNS",
    "OUTCOME_COLUMNS",
    "REQUIRED_COLUMNS",
    "ClinicalCutoff",
    "Column",
    "ManifestReport",
    "build_manifest",
    "canonical_mrecist",
    "categorical_columns",
    "continuous_columns",
    "dichotomise",
    "make_tace_cohort",
    "objective_response",
    "read_cohort",
    "read_dicom",
    "read_dicom_seg",
    "read_dicom_series",
    "read_hcc_tace_seg",
    "read_rtstruct",
    "validate_cohort",
    "write_dicom_series",
    "write_manifest",
]

_NEEDS_PYDICOM = {
    "read_dicom": "._dicom_dispatch",
    "read_rtstruct": "._dicom_rtstruct",
    "read_dicom_seg": "._dicom_seg",
    "read_dicom_series": "._dicom_series",
    "write_dicom_series": "._dicom_write",
    "DEFAULT_SEQUENCE_PATTERNS": "._manifest",
    "ManifestReport": "._manifest",
    "build_manifest": "._manifest",
    "write_manifest": "._manifest",
}


def __getattr__(name):
    if name in _NEEDS_PYDICOM:
        return getattr(importlib.import_module(_NEEDS_PYDICOM[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))
