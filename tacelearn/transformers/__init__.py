"""Transformers of the cohort: tumour patches (2D, 2.5D, 3D, per lesion), the CNN encoder,
clinical screening.

``CNNEncoder`` is imported on first use (PEP 562): it pulls in torch, timm and torchvision,
which clinical-only users and the patch extractor's worker processes do not need.
"""

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
from ._lesions import make_lesion_bags, unpack_lesion_bags
from ._out_of_fold import OutOfFoldTransformer
from ._patches import TumourPatchExtractor
from ._radiomics import RadiomicsExtractor, default_radiomics_settings
from ._univariate import UnivariateSelector

__all__ = [
    "CNNEncoder",
    "ClinicalCutoffEncoder",
    "CorrelationFilter",
    "OutOfFoldTransformer",
    "RadiomicsExtractor",
    "TumourPatchExtractor",
    "UnivariateSelector",
    "context_slice_indices",
    "crop_with_padding",
    "default_radiomics_settings",
    "label_lesions",
    "largest_area_slice",
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
    "resize_image",
    "source_column",
    "tumour_box",
    "tumour_cube_side",
    "unpack_lesion_bags",
    "voxel_spacing",
]


def __getattr__(name):
    if name == "CNNEncoder":
        from ._encoder import CNNEncoder

        return CNNEncoder
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))
