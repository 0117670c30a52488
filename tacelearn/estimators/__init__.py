"""The paper's four models as scikit-learn Pipelines over the cohort DataFrame."""

from ._columns import SKEWED_COLUMNS, SchemaColumns, clinical_preprocessor
from ._factories import (
    image_branch,
    make_clinical_model,
    make_dltr,
    make_dltr_lr,
    make_dltr_mlp,
)

__all__ = [
    "SKEWED_COLUMNS",
    "SchemaColumns",
    "clinical_preprocessor",
    "image_branch",
    "make_clinical_model",
    "make_dltr",
    "make_dltr_lr",
    "make_dltr_mlp",
]
