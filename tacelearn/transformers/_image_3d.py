"""Pure 3D image functions of the patch extractor: a lesion's centre and a resampled 3D crop.

The 3D crop is the volumetric counterpart of the 2D patch: it is centred on the same point
(the lesion's bounding-box centre on its largest axial slice) and laid out in the same
radiological display orientation, with the slices as a leading axis, so that ``crop[d]`` is an
axial slice shown as :func:`~tacelearn.transformers.radiological_slices` shows it.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from ._image import largest_area_slice, voxel_spacing

__all__ = ["lesion_centre", "resample_crop_3d", "tumour_cube_side"]


def lesion_centre(lesion_mask):
    """Centre of a lesion in voxel coordinates of its (RAS+) volume, as the 2D patch uses it.

    Parameters
    ----------
    lesion_mask : numpy.ndarray, shape (x, y, z)
        Non-zero inside the lesion.

    Returns
    -------
    centre : numpy.ndarray of float64, shape (3,)
        ``(x, y, z)``: the centre of the lesion's bounding box on its largest axial slice
        (:func:`~tacelearn.transformers.largest_area_slice`), and that slice. ``x`` and ``y``
        are half-integers where the box has an even side.

    Raises
    ------
    ValueError
        If the mask is empty.

    See Also
    --------
    resample_crop_3d : Crops around this point.

    Examples
    --------
    >>> import numpy as np
    >>> from tacelearn.transformers import lesion_centre
    >>> mask = np.zeros((10, 10, 6), dtype=bool)
    >>> mask[2:6, 3:6, 1:4] = True
    >>> lesion_centre(mask)
    array([3.5, 4. , 2. ])
    """
    mask = np.asarray(lesion_mask) != 0
    depth = largest_area_slice(mask)
    plane = mask[:, :, depth]
    xs = np.flatnonzero(plane.any(axis=1))
    ys = np.flatnonzero(plane.any(axis=0))
    return np.array([(xs[0] + xs[-1]) / 2.0, (ys[0] + ys[-1]) / 2.0, float(depth)])


def tumour_cube_side(lesion_mask, centre, spacing, *, margin=0.5):
    """Side (mm) of a cube around ``centre`` that holds the lesion with a margin.

    The 3D counterpart of :func:`~tacelearn.transformers.tumour_box` without a fixed shape:
    ``side = 2 * reach * (1 + 2 * margin)``, where ``reach`` is the largest distance (mm),
    along any axis, from ``centre`` to the outer face of the lesion's bounding box. For a
    lesion centred in its box, ``2 * reach`` is its largest extent, as in 2D.

    Parameters
    ----------
    lesion_mask : numpy.ndarray, shape (x, y, z)
        Non-zero inside the lesion.
    centre : array-like of 3 float
        Voxel coordinates, e.g. :func:`lesion_centre`.
    spacing : array-like of 3 float
        Voxel spacing (mm) along x, y and z.
    margin : float, default=0.5
        Share of the extent added on each side.

    Returns
    -------
    side : float
        The cube's side in mm.

    Examples
    --------
    >>> import numpy as np
    >>> from tacelearn.transformers import tumour_cube_side
    >>> mask = np.zeros((10, 10, 6), dtype=bool)
    >>> mask[2:6, 3:6, 1:4] = True                  # 4 x 3 x 3 voxels
    >>> tumour_cube_side(mask, (3.5, 4.0, 2.0), (1.0, 1.0, 2.0), margin=0.5)
    12.0
    """
    mask = np.asarray(lesion_mask) != 0
    centre = np.asarray(centre, dtype=np.float64)
    spacing = np.asarray(spacing, dtype=np.float64)
    reach = 0.0
    for axis in range(3):
        hits = np.flatnonzero(mask.any(axis=tuple(a for a in range(3) if a != axis)))
        if hits.size == 0:
            raise ValueError("the mask is empty")
        # Voxel k covers [k - 1/2, k + 1/2]: the box's outer faces lie half a voxel out.
        faces = np.array([hits[0] - 0.5, hits[-1] + 0.5])
        reach = max(reach, float(np.abs(faces - centre[axis]).max() * spacing[axis]))
    return 2.0 * reach * (1.0 + 2.0 * margin)


def resample_crop_3d(volume, affine, centre, size, spacing, *, order=1, fill_value=0.0):
    """A box of ``size`` voxels at ``spacing`` mm around ``centre``, in display orientation.

    Parameters
    ----------
    volume : numpy.ndarray, shape (x, y, z)
        A RAS+ volume (see :func:`~tacelearn.transformers.reorient_to_ras`).
    affine : numpy.ndarray, shape (4, 4)
        Its affine; only its voxel spacing is used.
    centre : array-like of 3 float
        Voxel coordinates ``(x, y, z)`` in ``volume`` that the crop centres on.
    size : tuple of 3 int
        Voxels of the crop along x, y and z.
    spacing : array-like of 3 float
        Voxel spacing (mm) of the crop along x, y and z.
    order : {0, 1}, default=1
        1 (trilinear) for images, 0 (nearest neighbour) for masks.
    fill_value : float, default=0.0
        Value of the crop outside the volume.

    Returns
    -------
    crop : numpy.ndarray, shape (size[2], size[1], size[0])
        Axes ``(slices, rows, columns)``: axis 0 runs from inferior to superior, and each
        ``crop[d]`` is an axial slice in radiological orientation (row 0 most anterior,
        column 0 the patient's rightmost). Voxel ``(size[2] // 2, size[1] // 2, size[0] // 2)``
        lies exactly on ``centre``; neighbours are ``spacing`` mm apart. Same dtype as
        ``volume``.

    See Also
    --------
    lesion_centre : The centre the patch extractor uses.
    radiological_slices : The 2D display orientation.

    Examples
    --------
    >>> import numpy as np
    >>> from tacelearn.transformers import resample_crop_3d
    >>> volume = np.zeros((9, 9, 9))
    >>> volume[4, 4, 4] = 1.0
    >>> crop = resample_crop_3d(volume, np.eye(4), (4, 4, 4), (5, 5, 3), (0.5, 0.5, 2.0))
    >>> crop.shape, float(crop[1, 2, 2])
    ((3, 5, 5), 1.0)
    """
    volume = np.asarray(volume)
    size = tuple(int(n) for n in size)
    target = np.asarray(spacing, dtype=np.float64)
    if len(size) != 3 or min(size) < 1:
        raise ValueError(f"size must be 3 positive ints (x, y, z), got {size}")
    if target.shape != (3,) or not (np.isfinite(target).all() and (target > 0).all()):
        raise ValueError(f"spacing must be 3 positive numbers (mm), got {spacing!r}")
    ratio = target / voxel_spacing(affine)
    centre = np.asarray(centre, dtype=np.float64)
    middle = np.array(size) // 2
    # Crop index (d, h, w) samples volume voxel
    #   x = cx - (w - middle_x) r_x,  y = cy - (h - middle_y) r_y,  z = cz + (d - middle_z) r_z:
    # columns run towards the patient's left and rows towards posterior, as on the display.
    matrix = np.array([[0.0, 0.0, -ratio[0]],
                       [0.0, -ratio[1], 0.0],
                       [ratio[2], 0.0, 0.0]])
    offset = np.array([centre[0] + middle[0] * ratio[0],
                       centre[1] + middle[1] * ratio[1],
                       centre[2] - middle[2] * ratio[2]])
    return ndimage.affine_transform(volume, matrix, offset=offset, output_shape=size[::-1],
                                    order=order, mode="constant", cval=fill_value)
