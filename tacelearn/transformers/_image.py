"""Pure image functions of the patch extractor: arrays and affines in, arrays out.

Volumes are indexed ``(x, y, z)`` as NIfTI stores them; after :func:`reorient_to_ras` the axes
point to the patient's Right, Anterior and Superior, so axis 2 runs through the axial slices.
2D slices handed to a model are in the radiological display convention (anterior at the top,
the patient's right on the viewer's left), see :func:`radiological_slices`.
"""

from __future__ import annotations

import os
import zlib
from os import PathLike, fspath

import nibabel as nib
import numpy as np
from nibabel.filebasedimages import ImageFileError
from nibabel.orientations import apply_orientation, inv_ornt_aff, io_orientation
from scipy import ndimage

from ..utils import MAX_VOXELS, SPACING_RANGE_MM, is_nifti_path, split_selector

__all__ = [
    "context_slice_indices",
    "crop_with_padding",
    "label_lesions",
    "largest_area_slice",
    "load_nifti",
    "load_volume",
    "normalize_intensity",
    "otsu_threshold",
    "radiological_slices",
    "reorient_to_ras",
    "resample_in_plane",
    "resize_image",
    "tumour_box",
    "volume_stamp",
    "voxel_spacing",
]

# Errors a damaged file raises while its voxels are decompressed or read.
_READ_ERRORS = (OSError, EOFError, zlib.error, ValueError)


def load_nifti(path):
    """Read a 3D NIfTI volume as float32 together with its voxel-to-world affine.

    Parameters
    ----------
    path : str or path-like
        A ``.nii`` or ``.nii.gz`` file (NIfTI-1 or NIfTI-2). A 4D file whose fourth axis has
        length 1 is read as 3D.

    Returns
    -------
    volume : numpy.ndarray of float32, shape (x, y, z)
        Voxel values with the header's scaling applied.
    affine : numpy.ndarray of float64, shape (4, 4)
        Voxel-to-world (scanner, RAS+ millimetres) affine.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ValueError
        If the file is not NIfTI, is corrupt or truncated, is not 3D, has non-finite voxels
        or a singular affine, has more than :data:`MAX_VOXELS` voxels, or a voxel spacing
        outside :data:`SPACING_RANGE_MM`. Sizes are checked on the header, before the voxels
        are read. Every message names the file.

    See Also
    --------
    reorient_to_ras : Reorder the axes to RAS+.

    Examples
    --------
    >>> import numpy as np
    >>> from nibabel.testing import data_path
    >>> from tacelearn.transformers import load_nifti
    >>> volume, affine = load_nifti(f"{data_path}/anatomical.nii")
    >>> volume.shape, volume.dtype
    ((33, 41, 25), dtype('float32'))
    >>> np.diag(affine)
    array([-2.,  2.,  2.,  1.])
    """
    name = fspath(path) if isinstance(path, (str, PathLike)) else path
    try:
        image = nib.load(name)
    except FileNotFoundError:
        raise FileNotFoundError(f"image file not found: {name}") from None
    except ImageFileError as exc:
        raise ValueError(f"{name} is not a readable NIfTI file ({exc})") from None
    except _READ_ERRORS as exc:
        raise ValueError(f"{name}: the header cannot be read; the file is corrupt "
                         f"({exc})") from None
    if not isinstance(image, nib.Nifti1Pair):
        raise ValueError(f"{name} is a {type(image).__name__}, not a NIfTI file")
    shape = image.shape
    while len(shape) > 3 and shape[-1] == 1:
        shape = shape[:-1]
    if len(shape) < 3:
        raise ValueError(f"{name} is a {len(shape)}D image of shape {image.shape}; "
                         "a 3D volume is needed")
    if len(shape) > 3:
        raise ValueError(f"{name} is a {len(shape)}D image of shape {image.shape}; a 3D volume "
                         "is needed (a 4th axis is accepted only with length 1)")
    _check_header_sizes(name, image, shape)
    try:
        volume = np.asarray(image.dataobj, dtype=np.float32).reshape(shape)
    except _READ_ERRORS as exc:
        raise ValueError(f"{name}: the voxel data cannot be read; the file is corrupt or "
                         f"truncated ({exc})") from None
    finite = np.isfinite(volume)
    if not finite.all():
        raise ValueError(f"{name}: {volume.size - np.count_nonzero(finite)} voxel(s) are NaN "
                         "or infinite")
    affine = np.asarray(image.affine, dtype=np.float64)
    if not np.isfinite(affine).all() or abs(np.linalg.det(affine[:3, :3])) < 1e-12:
        raise ValueError(f"{name}: the affine is singular or not finite:\n{affine}")
    return volume, affine


def load_volume(path, *, reference=None):
    """Read an image or a mask from NIfTI or DICOM, as float32 with its RAS+ affine.

    The one reader of the patch extractor: it dispatches on what ``path`` is.

    * a ``.nii`` or ``.nii.gz`` file: :func:`load_nifti`;
    * a folder (optionally ``folder#<SeriesInstanceUID>``) or a DICOM image file (one slice,
      or a multi-frame enhanced image): :func:`tacelearn.datasets.read_dicom_series`;
    * a DICOM-SEG or RT-STRUCT file (recognised by its SOP Class UID; optionally
      ``file#<segment or ROI>``): its mask on the grid of ``reference``, the image series it
      was drawn on (:func:`tacelearn.datasets.read_dicom_seg`,
      :func:`tacelearn.datasets.read_rtstruct`), so that it has the image's shape and affine.

    Parameters
    ----------
    path : str or path-like
        What to read, as the cohort's ``t1c_path``, ``t2_path`` or ``mask_path`` holds it.
    reference : str or path-like, optional
        The image a DICOM-SEG or RT-STRUCT mask was drawn on (a DICOM series); not used for
        other inputs.

    Returns
    -------
    volume : numpy.ndarray of float32, shape (x, y, z)
        Voxel values (0/1 for a DICOM mask).
    affine : numpy.ndarray of float64, shape (4, 4)
        Voxel-to-world (RAS+ millimetres) affine.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ValueError
        If the input cannot be read, naming the file or folder (see the readers); if a
        DICOM mask comes without a reference, or with a NIfTI one.

    See Also
    --------
    load_nifti : The NIfTI reader.
    tacelearn.datasets.read_dicom_series : The DICOM series reader.

    Examples
    --------
    >>> from nibabel.testing import data_path
    >>> from pydicom.data import get_testdata_file
    >>> from tacelearn.transformers import load_volume
    >>> load_volume(f"{data_path}/anatomical.nii")[0].shape
    (33, 41, 25)
    >>> load_volume(get_testdata_file("MR_small.dcm"))[0].shape
    (64, 64, 1)
    """
    if not isinstance(path, (str, PathLike)):
        raise TypeError(f"path must be a str or path-like, got {type(path).__name__}")
    if is_nifti_path(path):
        return load_nifti(path)
    base = split_selector(path)[0]
    if not os.path.exists(base):
        raise FileNotFoundError(f"image file not found: {fspath(path)}")
    # pydicom is imported only when a DICOM input is met.
    from ..datasets import read_dicom

    return read_dicom(path, reference=reference)


def volume_stamp(path):
    """``(modification time in ns, size in bytes)`` of what :func:`load_volume` reads.

    For a file, its own; for a DICOM folder, the latest modification time and the total size
    of the files under it (a changed, added or removed slice changes the stamp). A ``#``
    selector is left aside.

    Parameters
    ----------
    path : str or path-like
        What :func:`load_volume` would read.

    Returns
    -------
    stamp : tuple of int
        ``(mtime_ns, size)``: part of the patch extractor's cache key.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.

    Examples
    --------
    >>> import tempfile
    >>> from tacelearn.transformers._image import volume_stamp
    >>> volume_stamp(tempfile.mkdtemp())[1]
    0
    """
    base = split_selector(path)[0]
    stat = os.stat(base)
    if not os.path.isdir(base):
        return stat.st_mtime_ns, stat.st_size
    latest, total = stat.st_mtime_ns, 0
    for root, _, names in os.walk(base):
        for file_name in names:
            file_stat = os.stat(os.path.join(root, file_name))
            latest, total = max(latest, file_stat.st_mtime_ns), total + file_stat.st_size
    return latest, total


def _stored_data_size(name, image, n_voxels):
    """Bytes the header says the voxels take, and the bytes the file can hold (or None)."""
    header = image.header
    # The proxy knows where the voxels start in the file (the header copy may say 0).
    offset = getattr(image.dataobj, "offset", header.get_data_offset())
    expected = int(offset) + n_voxels * header.get_data_dtype().itemsize
    if str(name).endswith(".gz"):
        # gzip's last 4 bytes hold the uncompressed size modulo 2**32 (one-member files, as
        # nibabel writes them): enough to catch a header that promises far more than is there.
        with open(name, "rb") as file:
            file.seek(0, 2)
            if file.tell() < 18:
                return expected, 0
            file.seek(-4, 2)
            return expected % 2**32, int.from_bytes(file.read(4), "little")
    return expected, None if not str(name).endswith(".nii") else _file_size(name)


def _file_size(name):
    return os.stat(name).st_size


def _check_header_sizes(name, image, shape):
    """Refuse, before allocating anything, volumes too large, truncated or of absurd spacing."""
    n_voxels = int(np.prod(shape, dtype=np.int64))
    if n_voxels > MAX_VOXELS:
        raise ValueError(f"{name}: the header declares {' x '.join(map(str, shape))} = "
                         f"{n_voxels:,} voxels, more than the {MAX_VOXELS:,} tacelearn reads; "
                         "the header is wrong or the volume is not a clinical image")
    if isinstance(name, (str, PathLike)):
        expected, available = _stored_data_size(fspath(name), image, n_voxels)
        is_gz = fspath(name).endswith(".gz")
        if available is not None and (available != expected if is_gz else available < expected):
            raise ValueError(f"{name}: the header declares {' x '.join(map(str, shape))} voxels "
                             f"but the file does not hold them: it is corrupt or truncated")
    # The spacing the affine gives is the one every later step uses.
    zooms = voxel_spacing(image.affine) if image.affine is not None else np.ones(3)
    low, high = SPACING_RANGE_MM
    if not (np.isfinite(zooms).all() and ((zooms >= low) & (zooms <= high)).all()):
        shown = tuple(round(float(z), 4) for z in zooms)
        raise ValueError(f"{name}: voxel spacing {shown} mm is outside the plausible range "
                         f"{low}-{high} mm; the header is wrong")


def voxel_spacing(affine):
    """Voxel sizes (mm) along the three array axes: the lengths of the affine's columns.

    Parameters
    ----------
    affine : array-like, shape (4, 4)
        Voxel-to-world affine of the volume (a NIfTI ``qform``/``sform``); only its upper
        left 3 x 3 block is used, so rotations and flips do not change the result.

    Returns
    -------
    spacing : numpy.ndarray of float64, shape (3,)
        The Euclidean norm of each of the first three columns of the affine: the spacing
        along array axes 0, 1 and 2, always non-negative.

    Examples
    --------
    >>> import numpy as np
    >>> from tacelearn.transformers import voxel_spacing
    >>> voxel_spacing(np.diag([-2.0, 3.0, 5.0, 1.0]))
    array([2., 3., 5.])
    """
    return np.sqrt((np.asarray(affine, dtype=np.float64)[:3, :3] ** 2).sum(axis=0))


def reorient_to_ras(volume, affine):
    """Flip and permute the array axes so that they point Right, Anterior, Superior.

    The axes are matched to the closest world axes (as :func:`nibabel.as_closest_canonical`
    does); no voxel is interpolated, so the result is a view of ``volume``.

    Parameters
    ----------
    volume : numpy.ndarray, shape (x, y, z)
        The image or mask, indexed along its stored array axes.
    affine : numpy.ndarray, shape (4, 4)
        Voxel-to-world affine of ``volume``; it decides which axes are flipped and permuted.

    Returns
    -------
    volume : numpy.ndarray
        The same voxels in RAS+ axis order.
    affine : numpy.ndarray, shape (4, 4)
        The affine of the reoriented array; it maps every voxel to the same world point.

    See Also
    --------
    nibabel.as_closest_canonical : The same operation on a nibabel image.

    Examples
    --------
    >>> import numpy as np
    >>> import nibabel as nib
    >>> from tacelearn.transformers import reorient_to_ras
    >>> volume = np.arange(24.0).reshape(2, 3, 4)
    >>> affine = np.diag([-1.0, -1.0, 1.0, 1.0])          # stored as LPS
    >>> ras, ras_affine = reorient_to_ras(volume, affine)
    >>> nib.aff2axcodes(ras_affine)
    ('R', 'A', 'S')
    >>> bool((ras == volume[::-1, ::-1]).all())
    True
    """
    orientation = io_orientation(affine)
    ras_volume = apply_orientation(volume, orientation)
    ras_affine = np.asarray(affine, dtype=np.float64) @ inv_ornt_aff(orientation, volume.shape)
    return ras_volume, ras_affine


def resample_in_plane(volume, affine, spacing, *, order=1):
    """Resample the axial plane (array axes 0 and 1) to a target voxel spacing.

    The new grid covers the same field of view, its first voxel edge on the old first voxel
    edge; axis 2 (the slices) is kept as it is, so every slice stays an acquired slice.

    Parameters
    ----------
    volume : numpy.ndarray, shape (x, y, z)
        The image or mask to resample; axes 0 and 1 form the axial plane, axis 2 the slices
        (a RAS+ volume, see :func:`reorient_to_ras`).
    affine : numpy.ndarray, shape (4, 4)
        Voxel-to-world affine of ``volume``; its column lengths give the current spacing
        (see :func:`voxel_spacing`).
    spacing : float or pair of float
        Target spacing (mm) along axes 0 and 1.
    order : {0, 1}, default=1
        0 (nearest neighbour) for masks, 1 (linear) for images.

    Returns
    -------
    volume : numpy.ndarray, shape (x', y', z)
        ``x' = round(x * old_spacing / spacing)``, likewise ``y'``; same dtype as ``volume``.
    affine : numpy.ndarray, shape (4, 4)
        The affine of the new grid.

    Examples
    --------
    >>> import numpy as np
    >>> from tacelearn.transformers import resample_in_plane
    >>> volume = np.arange(16.0).reshape(4, 4, 1)
    >>> fine, fine_affine = resample_in_plane(volume, np.eye(4), 0.5)
    >>> fine.shape, np.diag(fine_affine)
    ((8, 8, 1), array([0.5, 0.5, 1. , 1. ]))
    """
    target = np.broadcast_to(np.asarray(spacing, dtype=np.float64), (2,))
    if not (np.isfinite(target).all() and (target > 0).all()):
        raise ValueError(f"spacing must be positive, got {spacing!r}")
    current = voxel_spacing(affine)[:2]
    # Input voxels per output voxel: output voxel j samples input coordinate (j + 1/2) r - 1/2.
    ratio = target / current
    out_shape = tuple(max(1, round(n * c / t)) for n, c, t in zip(volume.shape[:2], current,
                                                                   target))
    scale = np.array([ratio[0], ratio[1], 1.0])
    shift = np.array([ratio[0] / 2 - 0.5, ratio[1] / 2 - 0.5, 0.0])
    resampled = ndimage.affine_transform(volume, scale, offset=shift,
                                         output_shape=out_shape + volume.shape[2:],
                                         order=order, mode="nearest")
    grid = np.eye(4)
    grid[:3, :3] = np.diag(scale)
    grid[:3, 3] = shift
    return resampled, np.asarray(affine, dtype=np.float64) @ grid


def label_lesions(mask):
    """Label the lesions of a tumour mask: 3D connected components, largest first.

    Voxels that touch by a face, an edge or a corner belong to the same lesion
    (26-connectivity).

    Parameters
    ----------
    mask : numpy.ndarray, shape (x, y, z)
        Non-zero inside a tumour.

    Returns
    -------
    labels : numpy.ndarray of int32, shape (x, y, z)
        0 outside, ``k`` inside the k-th largest lesion (ties keep scan order).
    voxel_counts : numpy.ndarray of int64, shape (n_lesions,)
        Voxels of each lesion, in label order (so non-increasing).

    Examples
    --------
    >>> import numpy as np
    >>> from tacelearn.transformers import label_lesions
    >>> mask = np.zeros((6, 6, 3), dtype=np.uint8)
    >>> mask[0, 0, 0] = 1
    >>> mask[3:6, 3:6, 1] = 1
    >>> labels, counts = label_lesions(mask)
    >>> counts.tolist(), int(labels[0, 0, 0]), int(labels[4, 4, 1])
    ([9, 1], 2, 1)
    """
    inside = np.asarray(mask) != 0
    labels = np.zeros(inside.shape, dtype=np.int32)
    # Tumours fill a small part of the volume: label only their bounding box.
    extent = []
    for axis in range(inside.ndim):
        hits = np.flatnonzero(inside.any(axis=tuple(a for a in range(inside.ndim) if a != axis)))
        if hits.size == 0:
            return labels, np.zeros(0, dtype=np.int64)
        extent.append(slice(hits[0], hits[-1] + 1))
    extent = tuple(extent)
    structure = ndimage.generate_binary_structure(inside.ndim, inside.ndim)
    components, n_lesions = ndimage.label(inside[extent], structure=structure)
    counts = np.bincount(components.ravel(), minlength=n_lesions + 1)[1:]
    by_size = np.argsort(-counts, kind="stable")
    relabel = np.zeros(n_lesions + 1, dtype=np.int32)
    relabel[by_size + 1] = np.arange(1, n_lesions + 1, dtype=np.int32)
    labels[extent] = relabel[components]
    return labels, counts[by_size].astype(np.int64)


def largest_area_slice(mask):
    """Index of the axial slice (axis 2) where the mask covers the most voxels.

    Among slices of equal area the one nearest the mask's centre of mass along axis 2 wins
    (the lower index if two are equally near), so a symmetric tumour gives its middle slice.

    Parameters
    ----------
    mask : numpy.ndarray, shape (x, y, z)
        Non-zero inside the tumour.

    Returns
    -------
    index : int
        The index along axis 2 of the slice with the largest tumour area.

    Raises
    ------
    ValueError
        If the mask is empty.

    Examples
    --------
    >>> import numpy as np
    >>> from tacelearn.transformers import largest_area_slice
    >>> mask = np.zeros((4, 4, 6), dtype=bool)
    >>> mask[:2, :2, 1:5] = True                   # four slices of area 4
    >>> largest_area_slice(mask)
    2
    """
    mask = np.asarray(mask)
    areas = np.count_nonzero(mask.reshape(-1, mask.shape[-1]), axis=0)
    if areas.max(initial=0) == 0:
        raise ValueError("the mask is empty")
    candidates = np.flatnonzero(areas == areas.max())
    centre = (areas * np.arange(areas.size)).sum() / areas.sum()
    return int(candidates[np.argmin(np.abs(candidates - centre))])


def context_slice_indices(index, n_slices, context_slices):
    """Indices of a slice and its ``context_slices`` neighbours on each side (2.5D input).

    Beyond the first or last slice the edge slice is repeated, so the result always holds
    ``2 * context_slices + 1`` indices.

    Parameters
    ----------
    index : int
        The central slice (for instance the one :func:`largest_area_slice` chose).
    n_slices : int
        Number of slices in the volume; indices are clipped to ``[0, n_slices - 1]``.
    context_slices : int
        Number of neighbouring slices taken on each side of ``index``; 0 gives the central
        slice alone.

    Returns
    -------
    indices : numpy.ndarray of int, shape (2 * context_slices + 1,)
        ``index - context_slices`` to ``index + context_slices`` in increasing order, with
        out-of-range indices replaced by the nearest edge slice.

    Examples
    --------
    >>> from tacelearn.transformers import context_slice_indices
    >>> context_slice_indices(1, 10, 2).tolist()
    [0, 0, 1, 2, 3]
    """
    offsets = np.arange(-context_slices, context_slices + 1)
    return np.clip(index + offsets, 0, n_slices - 1)


def radiological_slices(volume, indices):
    """Axial slices of a RAS+ volume in radiological display orientation.

    Parameters
    ----------
    volume : numpy.ndarray, shape (x, y, z)
        A RAS+ volume (see :func:`reorient_to_ras`).
    indices : int or sequence of int
        Slices along axis 2.

    Returns
    -------
    slices : numpy.ndarray, shape (n, y, x)
        Row 0 is the most anterior row and column 0 the patient's rightmost column, as a
        radiologist views an axial slice; ``pixel spacing = (y spacing, x spacing)``.

    Examples
    --------
    >>> import numpy as np
    >>> from tacelearn.transformers import radiological_slices
    >>> volume = np.zeros((3, 2, 1))
    >>> volume[2, 1, 0] = 1.0                      # most right, most anterior voxel
    >>> radiological_slices(volume, [0])[0]
    array([[1., 0., 0.],
           [0., 0., 0.]])
    """
    stack = np.asarray(volume)[:, :, np.atleast_1d(indices)]
    return np.ascontiguousarray(stack[::-1, ::-1].transpose(2, 1, 0))


def tumour_box(mask_slice, *, margin=0.5, pixel_spacing=(1.0, 1.0), shape=None):
    """Crop box around the tumour on a 2D slice, centred on the tumour's bounding box.

    Parameters
    ----------
    mask_slice : numpy.ndarray, shape (rows, cols)
        Non-zero inside the tumour.
    margin : float, default=0.5
        Without ``shape``: the box is a square in millimetres whose side is the tumour's
        larger extent times ``1 + 2 * margin``, and at least one pixel wider than the tumour
        on every side.
    pixel_spacing : pair of float, default=(1.0, 1.0)
        Pixel size (mm) along rows and columns.
    shape : pair of int, optional
        A fixed box shape in pixels instead; ``margin`` is then not used.

    Returns
    -------
    box : tuple of 4 int
        ``(row_start, row_stop, col_start, col_stop)``, half-open; it may reach beyond the
        slice (see :func:`crop_with_padding`). Its centre is the centre of the tumour's
        bounding box exactly when the box and the tumour have sides of equal parity (always
        so without ``shape``, up to half a pixel otherwise).

    Raises
    ------
    ValueError
        If the mask slice is empty.

    Examples
    --------
    >>> import numpy as np
    >>> from tacelearn.transformers import tumour_box
    >>> mask = np.zeros((20, 20), dtype=bool)
    >>> mask[8:12, 5:9] = True                     # 4 x 4 pixels
    >>> tumour_box(mask, margin=0.5)
    (6, 14, 3, 11)
    """
    rows = np.flatnonzero(np.asarray(mask_slice).any(axis=1))
    cols = np.flatnonzero(np.asarray(mask_slice).any(axis=0))
    if rows.size == 0:
        raise ValueError("the mask slice is empty")
    first = np.array([rows[0], cols[0]])
    extent = np.array([rows[-1], cols[-1]]) - first + 1
    if shape is None:
        spacing = np.asarray(pixel_spacing, dtype=np.float64)
        side_mm = (extent * spacing).max() * (1.0 + 2.0 * margin)
        # Grow each side by a whole number of pixels on both ends: the centre stays exact. At
        # least one pixel, so that a one-pixel lesion's patch shows its surroundings too.
        grow = np.maximum(np.round((side_mm / spacing - extent) / 2.0), 1).astype(int)
        start, sides = first - grow, extent + 2 * grow
    else:
        sides = np.asarray(shape, dtype=int)
        start = np.floor(first + (extent - sides) / 2.0).astype(int)
    return (int(start[0]), int(start[0] + sides[0]), int(start[1]), int(start[1] + sides[1]))


def crop_with_padding(image, box, *, fill_value=0.0):
    """Cut a box out of the last two axes, filling whatever lies outside the image.

    Parameters
    ----------
    image : numpy.ndarray, shape (..., rows, cols)
        The image (or a stack of images along the leading axes) to crop.
    box : tuple of 4 int
        ``(row_start, row_stop, col_start, col_stop)``, half-open, possibly out of bounds.
    fill_value : float, default=0.0
        Value given to the pixels of the box that lie outside ``image``; it is cast to
        ``image``'s dtype.

    Returns
    -------
    crop : numpy.ndarray, shape (..., row_stop - row_start, col_stop - col_start)
        A new array of ``image``'s dtype: the pixels of ``image`` inside the box, and
        ``fill_value`` where the box reaches beyond it.

    Raises
    ------
    ValueError
        If the box is empty (``row_stop <= row_start`` or ``col_stop <= col_start``).

    Examples
    --------
    >>> import numpy as np
    >>> from tacelearn.transformers import crop_with_padding
    >>> crop_with_padding(np.arange(4.0).reshape(2, 2), (-1, 2, 1, 3), fill_value=-1)
    array([[-1., -1.],
           [ 1., -1.],
           [ 3., -1.]])
    """
    image = np.asarray(image)
    r0, r1, c0, c1 = (int(b) for b in box)
    if r1 <= r0 or c1 <= c0:
        raise ValueError(f"the box {box} is empty")
    crop = np.full(image.shape[:-2] + (r1 - r0, c1 - c0), fill_value, dtype=image.dtype)
    rows, cols = image.shape[-2:]
    src_r = slice(max(r0, 0), min(r1, rows))
    src_c = slice(max(c0, 0), min(c1, cols))
    if src_r.start < src_r.stop and src_c.start < src_c.stop:
        dst_r = slice(src_r.start - r0, src_r.stop - r0)
        dst_c = slice(src_c.start - c0, src_c.stop - c0)
        crop[..., dst_r, dst_c] = image[..., src_r, src_c]
    return crop


def resize_image(image, shape, *, order=1):
    """Resize the last two axes; pixel edges map onto pixel edges (no corner alignment).

    Parameters
    ----------
    image : numpy.ndarray, shape (..., rows, cols)
        The image (or a stack of images along the leading axes, which are left as they are)
        to resize.
    shape : pair of int
        Output ``(rows, cols)``.
    order : {0, 1}, default=1
        1 (bilinear) for images, 0 (nearest neighbour) for masks.

    Returns
    -------
    resized : numpy.ndarray, shape (..., shape[0], shape[1])
        Same dtype as ``image``; the centre of the input lands on the centre of the output.

    Examples
    --------
    >>> import numpy as np
    >>> from tacelearn.transformers import resize_image
    >>> resize_image(np.array([[0.0, 1.0]]), (1, 4))
    array([[0.  , 0.25, 0.75, 1.  ]])
    """
    image = np.asarray(image)
    rows, cols = (int(s) for s in shape)
    if image.shape[-2:] == (rows, cols):
        return image.copy()
    lead = image.ndim - 2
    ratio = np.array([image.shape[-2] / rows, image.shape[-1] / cols])
    scale = np.concatenate([np.ones(lead), ratio])
    shift = np.concatenate([np.zeros(lead), ratio / 2 - 0.5])
    return ndimage.affine_transform(image, scale, offset=shift,
                                    output_shape=image.shape[:-2] + (rows, cols), order=order,
                                    mode="nearest")


def otsu_threshold(values, *, bins=256):
    """Otsu's threshold: the histogram split that maximises the between-class variance.

    Parameters
    ----------
    values : array-like
        Intensities (any shape).
    bins : int, default=256
        Number of equal-width histogram bins between the minimum and maximum of ``values``;
        the threshold is one of the bin edges.

    Returns
    -------
    threshold : float
        Values at or above it form the bright class (the body on an MRI slice).

    Examples
    --------
    >>> import numpy as np
    >>> from tacelearn.transformers import otsu_threshold
    >>> values = np.r_[np.full(50, 10.0), np.full(50, 200.0)]
    >>> bool(10.0 < otsu_threshold(values) < 200.0)
    True
    """
    values = np.asarray(values, dtype=np.float64).ravel()
    counts, edges = np.histogram(values, bins=bins)
    centres = (edges[:-1] + edges[1:]) / 2.0
    weight_low = np.cumsum(counts)[:-1]
    weight_high = values.size - weight_low
    sum_low = np.cumsum(counts * centres)[:-1]
    total = (counts * centres).sum()
    with np.errstate(divide="ignore", invalid="ignore"):
        mean_low = sum_low / weight_low
        mean_high = (total - sum_low) / weight_high
        between = weight_low * weight_high * (mean_low - mean_high) ** 2
    between = np.nan_to_num(between, nan=-1.0)
    # The split lies between bin k and bin k + 1, at their shared edge.
    return float(edges[np.argmax(between) + 1])


def normalize_intensity(image, reference=None, *, percentiles=(0.5, 99.5)):
    """Clip to percentiles and z-score, with statistics taken from reference intensities.

    Parameters
    ----------
    image : numpy.ndarray
        Intensities to normalise (a patch, or a stack of them).
    reference : array-like, optional
        Intensities the statistics come from (for instance the body on the whole axial
        slice); default ``image`` itself.
    percentiles : pair of float, default=(0.5, 99.5)
        Lower and upper clipping percentiles of ``reference``.

    Returns
    -------
    normalized : numpy.ndarray of float32
        ``(clip(image, lo, hi) - mean) / std``, where ``lo, hi`` are the reference's
        percentiles and ``mean, std`` those of the clipped reference. Invariant to any
        positive rescaling and shift of the intensities.

    Raises
    ------
    ValueError
        If the reference is empty or constant after clipping.

    Examples
    --------
    >>> import numpy as np
    >>> from tacelearn.transformers import normalize_intensity
    >>> normalize_intensity(np.array([1.0, 2.0, 3.0]), percentiles=(0, 100))
    array([-1.2247449,  0.       ,  1.2247449], dtype=float32)
    """
    image = np.asarray(image)
    reference = image if reference is None else np.asarray(reference)
    reference = reference.astype(np.float64, copy=False).ravel()
    if reference.size == 0:
        raise ValueError("the normalisation region is empty")
    low, high = np.percentile(reference, percentiles)
    clipped = np.clip(reference, low, high)
    mean, std = clipped.mean(), clipped.std()
    if not std > 0:
        raise ValueError(f"the intensities are constant ({mean:g}) within the normalisation "
                         "region")
    return ((np.clip(image, low, high) - mean) / std).astype(np.float32)
