"""The per-patient work of :class:`TumourPatchExtractor`: from NIfTI files to patch arrays.

2D and 2.5D patches are cut from axial slices (:func:`_lesion_patch_2d`); 3D patches are
resampled boxes centred on the same point (:func:`_lesion_patch_3d`).

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
from ._image_3d import lesion_centre, resample_crop_3d, tumour_cube_side

#: Part of every cache key: bump it whenever the patches computed from the same files change.
PATCH_FORMAT_VERSION = 1
#: Tissue (mm) around the lesion whose intensities normalise with ``"zscore_tumour"``; at
#: least ``TUMOUR_RING_PIXELS`` pixels, so that coarse grids still give a ring.
TUMOUR_RING_MM = 10.0
TUMOUR_RING_PIXELS = 2
NORMALIZATIONS = ("zscore", "zscore_tumour", None)
LESION_MODES = ("largest", "all", "bags")
PATCH_MODES = ("2d", "3d")


@dataclass(frozen=True)
class PatchSettings:
    """The parameters that change the patches of a patient (and so key the cache).

    ``size`` is the side in pixels in 2D and ``(x, y, z)`` voxels in 3D; ``spacing`` is
    ``(x, y)`` mm in 2D and ``(x, y, z)`` mm in 3D. ``lesion`` is ``"largest"`` or ``"all"``:
    lesion bags are packed from the ``"all"`` patches, so the two share cache entries.
    """

    size: int | tuple
    context_slices: int
    margin: float
    spacing: tuple | None
    normalization: str | None
    lesion: str
    mode: str = "2d"
    max_lesions: int | None = None

    @property
    def patch_shape(self):
        """Shape of one channel of a patch: ``(size, size)`` or ``(z, y, x)`` voxels."""
        if self.mode == "3d":
            return tuple(int(n) for n in self.size[::-1])
        return (int(self.size), int(self.size))

    def n_lesions(self, found):
        """How many of the ``found`` lesions (largest first) get a patch."""
        if self.lesion == "largest":
            return 1
        return found if self.max_lesions is None else min(found, int(self.max_lesions))


def _reference_intensities(centre_slice, lesion_slice, pixel_spacing, normalization):
    """Intensities of the centre slice whose statistics normalise the patch."""
    if normalization == "zscore":
        # The body: air around it would otherwise weigh with the field of view.
        return centre_slice[centre_slice >= otsu_threshold(centre_slice)]
    distance = ndimage.distance_transform_edt(~lesion_slice, sampling=pixel_spacing)
    ring = max(TUMOUR_RING_MM, TUMOUR_RING_PIXELS * max(pixel_spacing))
    return centre_slice[distance <= ring]


def _normalized(patch, centre_slice, lesion_slice, pixel_spacing, normalization, path):
    """``patch`` normalised with the statistics of the lesion's centre slice (or as it is)."""
    if normalization is None:
        return patch.astype(np.float32, copy=False)
    reference = _reference_intensities(centre_slice, lesion_slice, pixel_spacing, normalization)
    try:
        return normalize_intensity(patch, reference)
    except ValueError as exc:
        raise ValueError(f"{path}: {exc} on the tumour's slice") from None


def _sequence_patch(volume, ras_affine, slices, box, lesion_slice, pixel_spacing, settings,
                    path):
    stack_volume = volume[:, :, slices]
    if settings.spacing is not None:
        stack_volume, _ = resample_in_plane(stack_volume, ras_affine, settings.spacing, order=1)
    stack = radiological_slices(stack_volume, np.arange(len(slices)))
    patch = crop_with_padding(stack, box, fill_value=stack.min())
    patch = resize_image(patch, (settings.size, settings.size), order=1)
    return _normalized(patch, stack[settings.context_slices], lesion_slice, pixel_spacing,
                       settings.normalization, path)


def _lesion_patch_2d(volumes, paths, lesion_mask, affine, ras_affine, settings):
    """Per sequence, the ``(2 * context_slices + 1, size, size)`` stack of a lesion."""
    spacing_xyz = voxel_spacing(affine)
    pixel_spacing = (spacing_xyz[1], spacing_xyz[0])
    fixed_shape = None if settings.spacing is None else (settings.size, settings.size)
    centre = largest_area_slice(lesion_mask)
    slices = context_slice_indices(centre, lesion_mask.shape[2], settings.context_slices)
    lesion_slice = radiological_slices(lesion_mask, centre)[0]
    box = tumour_box(lesion_slice, margin=settings.margin, pixel_spacing=pixel_spacing,
                     shape=fixed_shape)
    return [_sequence_patch(volume, ras_affine, slices, box, lesion_slice, pixel_spacing,
                            settings, path)
            for path, volume in zip(paths, volumes)], centre


def _lesion_patch_3d(volumes, paths, lesion_mask, ras_affine, settings):
    """Per sequence, the ``(1, z, y, x)`` resampled box around a lesion."""
    spacing_xyz = voxel_spacing(ras_affine)
    centre = lesion_centre(lesion_mask)
    if settings.spacing is None:
        side = tumour_cube_side(lesion_mask, centre, spacing_xyz, margin=settings.margin)
        crop_spacing = side / np.asarray(settings.size, dtype=np.float64)
    else:
        crop_spacing = np.asarray(settings.spacing, dtype=np.float64)
    depth = int(centre[2])
    lesion_slice = lesion_mask[:, :, depth]
    per_sequence = []
    for path, volume in zip(paths, volumes):
        crop = resample_crop_3d(volume, ras_affine, centre, settings.size, crop_spacing,
                                order=1, fill_value=float(volume.min()))
        # The statistics of the lesion's largest slice at the acquired resolution, as in 2D.
        per_sequence.append(_normalized(crop, volume[:, :, depth], lesion_slice,
                                        spacing_xyz[:2], settings.normalization, path)[None])
    return per_sequence, depth


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
    patches : numpy.ndarray of float32, shape (n_lesions, C, *settings.patch_shape)
        ``C = len(channels) * (2 * context_slices + 1)``, grouped by sequence (2D), or
        ``len(channels)`` (3D).
    lesions : list of dict
        Per lesion: ``lesion`` (0 = largest), ``voxels``, ``volume_ml`` and ``slice`` (the
        index of its largest axial slice in the RAS+ volume, where its patch is centred).
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
    # A 3D crop samples the acquired grid directly; 2D patches of fixed spacing are cut from
    # in-plane resampled slices, so their lesions are found after resampling.
    if settings.spacing is not None and settings.mode == "2d":
        mask, affine = resample_in_plane(mask, ras_affine, settings.spacing, order=0)
    labels, voxel_counts = label_lesions(mask)
    if voxel_counts.size == 0:
        raise ValueError(f"{mask_path}: the mask is empty (no tumour voxel"
                         f"{' after resampling' if affine is not ras_affine else ''})")

    voxel_ml = abs(np.linalg.det(affine[:3, :3])) / 1000.0
    patches, lesions = [], []
    for lesion in range(settings.n_lesions(voxel_counts.size)):
        lesion_mask = labels == lesion + 1
        if settings.mode == "3d":
            per_sequence, centre = _lesion_patch_3d(volumes, image_paths, lesion_mask,
                                                    ras_affine, settings)
        else:
            per_sequence, centre = _lesion_patch_2d(volumes, image_paths, lesion_mask, affine,
                                                    ras_affine, settings)
        patch = np.concatenate([per_sequence[c] for c in channels])
        if patch.max() == patch.min():
            raise ValueError(f"{mask_path}: the patch of lesion {lesion} is blank (every value "
                             f"{patch.max():g}): the images hold no signal around it")
        patches.append(patch)
        lesions.append({"lesion": lesion, "voxels": int(voxel_counts[lesion]),
                        "volume_ml": float(voxel_counts[lesion] * voxel_ml),
                        "slice": int(centre)})
    return np.stack(patches), lesions
