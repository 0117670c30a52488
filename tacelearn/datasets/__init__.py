"""Cohort schema and validation, the synthetic multicentre cohort, readers for public tables."""

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
    "IMAGE_COLUMNS",
    "OUTCOME_COLUMNS",
    "REQUIRED_COLUMNS",
    "ClinicalCutoff",
    "Column",
    "canonical_mrecist",
    "categorical_columns",
    "continuous_columns",
    "dichotomise",
    "make_tace_cohort",
    "objective_response",
    "read_cohort",
    "read_hcc_tace_seg",
    "validate_cohort",
]
