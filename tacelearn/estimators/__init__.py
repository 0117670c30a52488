"""The paper's four models as scikit-learn Pipelines over the cohort DataFrame.

The names that need torch (:func:`compare_backbones`, :func:`make_cached_grid_search`) are
imported on first use (PEP 562), so that a clinical-only user of :func:`make_clinical_model`
(who may save and load it too) never imports torch and timm.
"""

import importlib

from ._branch import ImageBranch
from ._columns import (
    SKEWED_COLUMNS,
    SchemaColumns,
    TextCategories,
    UnseenCategoryWarning,
    clinical_preprocessor,
)
from ._factories import (
    image_branch,
    make_clinical_model,
    make_dltr,
    make_dltr_lr,
    make_dltr_mlp,
)
from ._heads import BinaryLogisticRegression, BinaryMLPClassifier, check_binary_target
from ._lesion_table import lesion_table
from ._persistence import load_model, save_model
from ._radiomics_model import make_radiomics_model

_NEEDS_TORCH = {
    "compare_backbones": "._backbone_comparison",
    "make_cached_grid_search": "._model_selection",
}

__all__ = [
    "SKEWED_COLUMNS",
    "BinaryLogisticRegression",
    "BinaryMLPClassifier",
    "ImageBranch",
    "SchemaColumns",
    "TextCategories",
    "UnseenCategoryWarning",
    "check_binary_target",
    "clinical_preprocessor",
    "compare_backbones",
    "image_branch",
    "lesion_table",
    "load_model",
    "make_cached_grid_search",
    "make_clinical_model",
    "make_dltr",
    "make_dltr_lr",
    "make_dltr_mlp",
    "make_radiomics_model",
    "save_model",
]


def __getattr__(name):
    if name in _NEEDS_TORCH:
        return getattr(importlib.import_module(_NEEDS_TORCH[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))
