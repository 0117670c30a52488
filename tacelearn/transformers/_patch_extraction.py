"""The per-patient work of :class:`TumourPatchExtractor`: from NIfTI files to patch arrays.

Everything here runs in joblib workers (local or on a Dask cluster), so it takes and returns
only plain, picklable values and knows nothing of DataFrames or caches.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from ._cohort_files import check_binary_mask, check_same_grid
from ._image import (
    context_slice_indices,
    crop_with_padding,
    label_lesions,
    largest_area_slice,
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

#: Part of every cache key: bump it whenever the patches computed from the same files change.
PATCH_FORMAT_VERSION = 1
#: Tissue (mm) around the lesion whose intensities normalise with ``"zscore_tumour"``; at
#: least ``TUMOUR_RING_PIXELS`` pixels, so that coarse grids still give a ring.
TUMOUR_RING_MM = 10.0
TUMOUR_RING_PIXELS = 2
NORMALIZATIONS = ("zscore", "zscore_tumour", None)
LESION_MODES = ("largest", "all")


@dataclass(frozen=True)
class PatchSettings:
    """The parameters that change the patches of a patient (and so key the cache)."""

    size: int
    context_slices: int
    margin: float
    spacing: tuple | None
    normalization: str | None
    lesion: str


def _reference_intensities(centre_slice, lesion_slice, pixel_spacing, normalization):
    """Intensities of the centre slice whose statistics normalise the patch."""
    if normalization == "zscore":
        # The body: air around it would otherwise weigh with the field of view.
        return centre_slice[centre_slice >= otsu_threshold(centre_slice)]
    distance = ndimage.distance_transform_edt(~lesion_slice, sampling=pixel_spacing)
    ring = max(TUMOUR_RING_MM, TUMOUR_RING_PIXELS * max(pixel_spacing))
    return centre_slice[distance <= ring]


def _sequence_patch(volume, ras_affine, slices, box, lesion_slice, pixel_spacing, settings,
                    path):
    stack_volume = volume[:, :, slices]
    if settings.spacing is not None:
        stack_volume, _ = resample_in_plane(stack_volume, ras_affine, settings.spacing, order=1)
    stack = radiological_slices(stack_volume, np.arange(len(slices)))
    patch = crop_with_padding(stack, box, fill_value=stack.min())
    patch = resize_image(patch, (settings.size, settings.size), order=1)
    if settings.normalization is None:
        return patch.astype(np.float32, copy=False)
    reference = _reference_intensities(stack[settings.context_slices], lesion_slice,
                                       pixel_spacing, settings.normalization)
    try:
        return normalize_intensity(patch, reference)
    except ValueError as exc:
        raise ValueError(f"{path}: {exc} on the tumour's slice") from None


def extract_patches(image_paths, mask_path, channels, settings):
    """Patches of one patient's lesions.

    Parameters
    ----------
    image_paths : tuple of str
        One file per sequence, each on the mask's voxel grid.
    mask_path : str
        Binary tumour mask.
    channels : tuple of int
        Indices into ``image_paths`` in channel order (a sequence may repeat).
    settings : PatchSettings

    Returns
    -------
    patches : numpy.ndarray of float32, shape (n_lesions, C, size, size)
        ``C = len(channels) * (2 * context_slices + 1)``, grouped by sequence.
    lesions : list of dict
        Per lesion: ``lesion`` (0 = largest), ``voxels``, ``volume_ml`` and ``slice`` (the
        axial slice index in the RAS+ volume).
    """
    # A DICOM-SEG or RT-STRUCT mask is read onto the grid of the first sequence it was drawn on.
    mask, mask_affine = load_volume(mask_path, reference=image_paths[0])
    check_binary_mask(mask, mask_path)
    volumes = []
    for path in image_paths:
        volume, affine = load_volume(path)
        check_same_grid(volume, affine, path, mask, mask_affine, mask_path)
        if volume.min() == volume.max():
            raise ValueError(f"{path}: the image is constant (every voxel is {volume.min():g})")
        volumes.append(reorient_to_ras(volume, affine)[0])
    mask, ras_affine = reorient_to_ras(mask, mask_affine)
    affine = ras_affine
    if settings.spacing is not None:
        mask, affine = resample_in_plane(mask, ras_affine, settings.spacing, order=0)
    labels, voxel_counts = label_lesions(mask)
    if voxel_counts.size == 0:
        raise ValueError(f"{mask_path}: the mask is empty (no tumour voxel"
                         f"{' after resampling' if settings.spacing is not None else ''})")

    spacing_xyz = voxel_spacing(affine)
    pixel_spacing = (spacing_xyz[1], spacing_xyz[0])
    voxel_ml = abs(np.linalg.det(affine[:3, :3])) / 1000.0
    fixed_shape = None if settings.spacing is None else (settings.size, settings.size)
    n_lesions = 1 if settings.lesion == "largest" else voxel_counts.size
    patches, lesions = [], []
    for lesion in range(n_lesions):
        lesion_mask = labels == lesion + 1
        centre = largest_area_slice(lesion_mask)
        slices = context_slice_indices(centre, mask.shape[2], settings.context_slices)
        lesion_slice = radiological_slices(lesion_mask, centre)[0]
        box = tumour_box(lesion_slice, margin=settings.margin, pixel_spacing=pixel_spacing,
                         shape=fixed_shape)
        per_sequence = [
            _sequence_patch(volume, ras_affine, slices, box, lesion_slice, pixel_spacing,
                            settings, path)
            for path, volume in zip(image_paths, volumes)
        ]
        patch = np.concatenate([per_sequence[c] for c in channels])
        if patch.max() == patch.min():
            raise ValueError(f"{mask_path}: the patch of lesion {lesion} is blank (every value "
                             f"{patch.max():g}): the images hold no signal around it")
        patches.append(patch)
        lesions.append({"lesion": lesion, "voxels": int(voxel_counts[lesion]),
                        "volume_ml": float(voxel_counts[lesion] * voxel_ml),
                        "slice": int(centre)})
    return np.stack(patches), lesions
