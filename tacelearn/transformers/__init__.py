"""Transformers of the cohort: tumour patches (2D, 2.5D, 3D, per lesion), the CNN encoder,
clinical screening.

``CNNEncoder`` and the other names of the CNN modules are imported on first use (PEP 562): they
pull in torch, timm and torchvision, which clinical-only users and the patch extractor's worker
processes do not need.
"""

import importlib

from ._correlation_filter import CorrelationFilter
from ._cutoffs import ClinicalCutoffEncoder, source_column
from ._image import (
    context_slice_indices,
    crop_with_padding,
    label_lesions,
    largest_area_slice,
    load_nifti,
    load_volume,
    normalize_intensity,
    otsu_threshold,
    radiological_slices,
    reorient_to_ras,
    resample_in_plane,
    resize_image,
    tumour_box,
    voxel_spacing,
)
from ._image_3d import lesion_centre, resample_crop_3d, tumour_cube_side
from ._lesions import is_lesion_bags, make_lesion_bags, unpack_lesion_bags
from ._out_of_fold import OutOfFoldTransformer
from ._patches import TumourPatchExtractor
from ._radiomics import RadiomicsExtractor, default_radiomics_settings
from ._univariate import UnivariateSelector

#: Names of the modules that import torch, loaded by __getattr__ on first use.
_NEEDS_TORCH = {
    "CNNEncoder": "._encoder",
    "resolve_device": "._encoder",
    "PAPER_BACKBONES": "._backbones",
    "check_backbone_name": "._backbones",
    "WEIGHTS_CACHE_NAMESPACE": "._weights_cache",
}

__all__ = [
    "CNNEncoder",
    "PAPER_BACKBONES",
    "WEIGHTS_CACHE_NAMESPACE",
    "ClinicalCutoffEncoder",
    "CorrelationFilter",
    "OutOfFoldTransformer",
    "RadiomicsExtractor",
    "TumourPatchExtractor",
    "UnivariateSelector",
    "context_slice_indices",
    "check_backbone_name",
    "crop_with_padding",
    "default_radiomics_settings",
    "label_lesions",
    "largest_area_slice",
    "is_lesion_bags",
    "lesion_centre",
    "load_nifti",
    "load_volume",
    "make_lesion_bags",
    "normalize_intensity",
    "otsu_threshold",
    "radiological_slices",
    "reorient_to_ras",
    "resample_crop_3d",
    "resample_in_plane",
    "resolve_device",
    "resize_image",
    "source_column",
    "tumour_box",
    "tumour_cube_side",
    "unpack_lesion_bags",
    "voxel_spacing",
]


def __getattr__(name):
    if name in _NEEDS_TORCH:
        return getattr(importlib.import_module(_NEEDS_TORCH[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))
