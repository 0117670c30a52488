"""The paper's four models as scikit-learn Pipelines over the cohort DataFrame."""

from ._backbone_comparison import compare_backbones
from ._columns import SKEWED_COLUMNS, SchemaColumns, clinical_preprocessor
from ._factories import (
    image_branch,
    make_clinical_model,
    make_dltr,
    make_dltr_lr,
    make_dltr_mlp,
)
from ._model_selection import make_cached_grid_search
from ._persistence import load_model, save_model

__all__ = [
    "SKEWED_COLUMNS",
    "SchemaColumns",
    "clinical_preprocessor",
    "compare_backbones",
    "image_branch",
    "load_model",
    "make_cached_grid_search",
    "make_clinical_model",
    "make_dltr",
    "make_dltr_lr",
    "make_dltr_mlp",
    "save_model",
]
