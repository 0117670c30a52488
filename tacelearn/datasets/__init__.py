"""Cohort schema and validation, the synthetic multicentre cohort, readers for public tables,
DICOM series / DICOM-SEG / RT-STRUCT readers and the manifest builder."""

from ._cohort import canonical_mrecist, objective_response, read_cohort, validate_cohort
from ._dicom_rtstruct import read_rtstruct
from ._dicom_seg import read_dicom_seg
from ._dicom_series import read_dicom_series
from ._dicom_write import write_dicom_series
from ._hcc_tace_seg import read_hcc_tace_seg
from ._manifest import DEFAULT_SEQUENCE_PATTERNS, ManifestReport, build_manifest, write_manifest
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
    "read_dicom_seg",
    "read_dicom_series",
    "read_hcc_tace_seg",
    "read_rtstruct",
    "validate_cohort",
    "write_dicom_series",
    "write_manifest",
]
