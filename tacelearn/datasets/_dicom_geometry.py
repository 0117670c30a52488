"""Geometry of DICOM image planes: from frame positions and orientations to a RAS+ volume grid.

DICOM places every frame (one 2D image plane) in the patient coordinate system, LPS+
millimetres: *Image Orientation (Patient)* gives the direction cosines of a row (towards
increasing column index) and of a column (towards increasing row index), *Image Position
(Patient)* the centre of the first pixel, *Pixel Spacing* the distance between rows and
between columns. A set of frames is a volume when the frames share their size, pixel spacing
and orientation, lie one behind the other along the normal of their plane (no gantry tilt, no
shear), and are evenly spaced without a gap. :func:`stack_frames` checks exactly that, naming
the offending files, and gives the volume's voxel-to-world affine.

Volumes are indexed ``(column, row, slice)``, slices in increasing position along the normal
``row direction x column direction``, and the affine maps that index to RAS+ millimetres, the
convention of :func:`tacelearn.transformers.load_nifti` and of nibabel's DICOM wrappers.

The header guards every image reader applies (:data:`MAX_VOXELS`, :data:`SPACING_RANGE_MM`)
are defined here, the lowest layer that reads images.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..utils import MAX_VOXELS, SPACING_RANGE_MM, describe_names

__all__ = [
    "LPS_TO_RAS",
    "MAX_VOXELS",
    "SPACING_RANGE_MM",
    "FramePlanes",
    "VolumeGrid",
    "check_volume_size",
    "frames_on_grid",
    "lps_voxel_coordinates",
    "stack_frames",
]

#: DICOM's patient coordinates (LPS+) to the RAS+ world of NIfTI: x and y change sign.
LPS_TO_RAS = np.diag([-1.0, -1.0, 1.0, 1.0])

# Direction cosines are written with about 6 decimals; two frames whose cosines differ by
# more than this have different orientations.
ORIENTATION_TOLERANCE = 1e-4
# Pixel spacings and sizes within this relative difference are the same.
PIXEL_SPACING_RTOL = 1e-4
# A frame displaced within its plane by more than this share of a pixel is not stacked
# along the normal (gantry tilt, sheared stack); below it, treating the stack as orthogonal
# moves no voxel by more than a tenth of a pixel.
IN_PLANE_OFFSET_PIXELS = 0.1
# Slice gaps may differ from the median gap by 1% (positions are rounded in the header, and
# highdicom accepts the same); a gap of 1.5 median gaps or more is a missing slice.
SLICE_GAP_RTOL = 0.01
MISSING_SLICE_GAP = 1.5


@dataclass(frozen=True)
class FramePlanes:
    """Where the frames of an image set lie, one row per frame (any order).

    Attributes
    ----------
    positions : numpy.ndarray of float, shape (n, 3)
        *Image Position (Patient)* of each frame, LPS+ mm.
    orientations : numpy.ndarray of float, shape (n, 6)
        *Image Orientation (Patient)*: row cosines, then column cosines.
    pixel_spacings : numpy.ndarray of float, shape (n, 2)
        *Pixel Spacing*: between rows, then between columns (mm).
    sizes : numpy.ndarray of int, shape (n, 2)
        *Rows* and *Columns*.
    labels : tuple of str
        What to call each frame in a message: its file, and the frame number in a
        multi-frame file.
    """

    positions: np.ndarray
    orientations: np.ndarray
    pixel_spacings: np.ndarray
    sizes: np.ndarray
    labels: tuple


@dataclass(frozen=True)
class VolumeGrid:
    """The voxel grid of a checked stack of frames.

    Attributes
    ----------
    shape : tuple of 3 int
        ``(columns, rows, slices)``.
    affine : numpy.ndarray of float64, shape (4, 4)
        Voxel-to-world affine, RAS+ mm.
    order : numpy.ndarray of int, shape (slices,)
        Frame (row of :class:`FramePlanes`) of each slice, in slice order.
    """

    shape: tuple
    affine: np.ndarray
    order: np.ndarray


def _groups(values, labels, same):
    """Labels grouped by value (first-seen order), values compared with ``same``."""
    groups = []
    for value, label in zip(values, labels):
        for group in groups:
            if same(group[0], value):
                group[1].append(label)
                break
        else:
            groups.append((value, [label]))
    return groups


def _describe_groups(groups, show):
    return "; ".join(f"{show(value)} in {describe_names(labels)}" for value, labels in groups)


def _check_uniform(name, planes):
    """Every frame of the same size, pixel spacing and orientation."""
    checks = (
        ("sizes (rows x columns)", planes.sizes, lambda a, b: bool((a == b).all()),
         lambda v: f"{v[0]} x {v[1]}"),
        ("pixel spacings", planes.pixel_spacings,
         lambda a, b: bool(np.allclose(a, b, rtol=PIXEL_SPACING_RTOL, atol=0.0)),
         lambda v: f"{v[0]:g} x {v[1]:g} mm"),
        ("orientations", planes.orientations,
         lambda a, b: bool(np.abs(a - b).max() <= ORIENTATION_TOLERANCE),
         lambda v: "[" + ", ".join(f"{c:.4g}" for c in v) + "]"),
    )
    for what, values, same, show in checks:
        groups = _groups(values, planes.labels, same)
        if len(groups) > 1:
            raise ValueError(f"{name}: the frames have differing {what}: "
                             f"{_describe_groups(groups, show)}; a volume needs one")


def _unit_axes(name, orientation):
    row, column = orientation[:3], orientation[3:]
    norms = np.linalg.norm(row), np.linalg.norm(column)
    if not (np.isfinite(orientation).all() and abs(norms[0] - 1) < 1e-3
            and abs(norms[1] - 1) < 1e-3):
        raise ValueError(f"{name}: ImageOrientationPatient {orientation.tolist()} does not hold "
                         "two unit vectors")
    row, column = row / norms[0], column / norms[1]
    if abs(row @ column) > 1e-3:
        angle = np.degrees(np.arccos(np.clip(row @ column, -1, 1)))
        raise ValueError(f"{name}: the rows and columns of the frames are not orthogonal "
                         f"({angle:.2f} degrees apart in ImageOrientationPatient)")
    return row, column


def _check_in_plane_offsets(name, planes, order, normal, pixel):
    """Refuse a stack whose frames slide within their plane: gantry tilt or a sheared stack."""
    displacement = planes.positions[order] - planes.positions[order[0]]
    along = displacement @ normal
    offsets = np.linalg.norm(displacement - np.outer(along, normal), axis=1)
    worst = int(np.argmax(offsets))
    if offsets[worst] > IN_PLANE_OFFSET_PIXELS * pixel:
        distance = abs(along[worst])
        angle = np.degrees(np.arctan2(offsets[worst], distance)) if distance > 0 else 90.0
        raise ValueError(
            f"{name}: the slices are not stacked along their normal: "
            f"{planes.labels[order[worst]]} lies {offsets[worst]:.3g} mm beside the line "
            f"through {planes.labels[order[0]]} ({angle:.2f} degrees off the normal); gantry "
            "tilt and sheared stacks are not supported: resample the series onto an "
            "orthogonal grid first"
        )


def _check_gaps(name, planes, order, along):
    """Refuse duplicated positions, missing slices and uneven slice spacing."""
    gaps = np.diff(along)
    labels = [planes.labels[i] for i in order]
    median = float(np.median(gaps))
    if median <= 0 or gaps.min() <= max(SLICE_GAP_RTOL * median, 1e-4):
        k = int(np.argmin(gaps))
        raise ValueError(f"{name}: {labels[k]} and {labels[k + 1]} lie at the same position "
                         f"along the slice normal ({along[k]:.4g} mm); a series holding several "
                         "images per position (echoes, phases, b-values, a repeated scan) is "
                         "not one volume")
    missing = np.flatnonzero(gaps >= MISSING_SLICE_GAP * median)
    if missing.size:
        where = ", ".join(f"between {labels[k]} and {labels[k + 1]} ({gaps[k]:.4g} mm)"
                          for k in missing[:3])
        raise ValueError(f"{name}: slice(s) missing: the gap is {where} where the slices are "
                         f"{median:.4g} mm apart elsewhere")
    uneven = np.flatnonzero(np.abs(gaps - median) > SLICE_GAP_RTOL * median)
    if uneven.size:
        k = int(uneven[np.argmax(np.abs(gaps[uneven] - median))])
        raise ValueError(f"{name}: inconsistent slice spacing: {gaps.min():.4g} to "
                         f"{gaps.max():.4g} mm (e.g. {gaps[k]:.4g} mm between {labels[k]} and "
                         f"{labels[k + 1]}, median {median:.4g} mm)")
    return median


def check_volume_size(name, shape, spacing):
    """Refuse, before anything is allocated, a volume too large or of implausible spacing.

    Parameters
    ----------
    name : str
        The file or folder, for the message.
    shape : tuple of int
    spacing : sequence of float
        Voxel sizes (mm) along the axes of ``shape``.

    Raises
    ------
    ValueError
        If the volume has more than :data:`MAX_VOXELS` voxels or a spacing outside
        :data:`SPACING_RANGE_MM`.
    """
    n_voxels = int(np.prod(shape, dtype=np.int64))
    if n_voxels > MAX_VOXELS:
        raise ValueError(f"{name}: the headers declare {' x '.join(map(str, shape))} = "
                         f"{n_voxels:,} voxels, more than the {MAX_VOXELS:,} tacelearn reads; "
                         "the headers are wrong or the volume is not a clinical image")
    spacing = np.asarray(spacing, dtype=np.float64)
    low, high = SPACING_RANGE_MM
    if not (np.isfinite(spacing).all() and ((spacing >= low) & (spacing <= high)).all()):
        shown = tuple(round(float(s), 4) for s in spacing)
        raise ValueError(f"{name}: voxel spacing {shown} mm is outside the plausible range "
                         f"{low}-{high} mm; the headers are wrong")


def stack_frames(name, planes, *, single_slice_spacing=None):
    """Check that frames form one volume and give its grid, slices ordered along the normal.

    Parameters
    ----------
    name : str
        The folder or file, for messages.
    planes : FramePlanes
        The frames, in any order (InstanceNumber plays no part).
    single_slice_spacing : float, optional
        Slice thickness (mm) to use when there is a single frame, whose spacing the geometry
        cannot give (*Spacing Between Slices*, else *Slice Thickness*); default 1 mm.

    Returns
    -------
    grid : VolumeGrid

    Raises
    ------
    ValueError
        Naming ``name`` and the frames at fault, if the frames differ in size, pixel spacing
        or orientation, the orientation is not two orthogonal unit vectors, two frames share
        a position, a slice is missing, the spacing is uneven, the stack is tilted or
        sheared, or the volume fails :func:`check_volume_size`.

    Examples
    --------
    >>> import numpy as np
    >>> from tacelearn.datasets._dicom_geometry import FramePlanes, stack_frames
    >>> planes = FramePlanes(positions=np.array([[0.0, 0, 6], [0.0, 0, 0], [0.0, 0, 3]]),
    ...                      orientations=np.tile([1.0, 0, 0, 0, 1, 0], (3, 1)),
    ...                      pixel_spacings=np.full((3, 2), 0.5), sizes=np.full((3, 2), 4),
    ...                      labels=("a", "b", "c"))
    >>> grid = stack_frames("demo", planes)
    >>> grid.shape, grid.order.tolist()
    ((4, 4, 3), [1, 2, 0])
    >>> np.diag(grid.affine)
    array([-0.5, -0.5,  3. ,  1. ])
    """
    _check_uniform(name, planes)
    row, column = _unit_axes(name, planes.orientations[0])
    normal = np.cross(row, column)
    along = planes.positions @ normal
    order = np.argsort(along, kind="stable")
    row_spacing, column_spacing = (float(s) for s in planes.pixel_spacings[0])
    n_rows, n_columns = (int(s) for s in planes.sizes[0])
    n_slices = len(order)
    if n_slices > 1:
        slice_spacing = _check_gaps(name, planes, order, along[order])
        _check_in_plane_offsets(name, planes, order, normal, min(row_spacing, column_spacing))
        # The mean step: positions are rounded in the headers, the ends are as exact as any.
        slice_spacing = (along[order[-1]] - along[order[0]]) / (n_slices - 1)
    else:
        slice_spacing = 1.0 if single_slice_spacing is None else float(single_slice_spacing)
    shape = (n_columns, n_rows, n_slices)
    check_volume_size(name, shape, (column_spacing, row_spacing, slice_spacing))
    lps = np.eye(4)
    lps[:3, 0] = row * column_spacing
    lps[:3, 1] = column * row_spacing
    lps[:3, 2] = normal * slice_spacing
    lps[:3, 3] = planes.positions[order[0]]
    return VolumeGrid(shape=shape, affine=LPS_TO_RAS @ lps, order=order)


def lps_voxel_coordinates(affine, points):
    """Voxel coordinates ``(n, 3)`` on the grid of the RAS+ ``affine`` of LPS+ points (mm)."""
    lps = LPS_TO_RAS @ np.asarray(affine, dtype=np.float64)
    points = np.asarray(points, dtype=np.float64).reshape(-1, 3)
    return (np.linalg.solve(lps[:3, :3], (points - lps[:3, 3]).T)).T


def frames_on_grid(name, planes, grid):
    """The slice of ``grid`` that each frame covers pixel for pixel.

    Parameters
    ----------
    name : str
        The object the frames belong to (a DICOM-SEG), for messages.
    planes : FramePlanes
    grid : VolumeGrid
        The image's grid.

    Returns
    -------
    slices : numpy.ndarray of int, shape (n_frames,)

    Raises
    ------
    ValueError
        If a frame differs from the image's slices in size, pixel spacing or orientation, or
        does not lie on one of them (within a tenth of a voxel).
    """
    n_columns, n_rows, n_slices = grid.shape
    lps = LPS_TO_RAS @ grid.affine
    spacing = np.linalg.norm(lps[:3, :3], axis=0)
    orientation = np.concatenate([lps[:3, 0] / spacing[0], lps[:3, 1] / spacing[1]])
    expected = (
        ("size", planes.sizes, np.array([n_rows, n_columns]), 0.0),
        ("pixel spacing", planes.pixel_spacings, spacing[[1, 0]], PIXEL_SPACING_RTOL),
        ("orientation", planes.orientations, orientation, ORIENTATION_TOLERANCE),
    )
    for what, values, image_value, tolerance in expected:
        scale = np.abs(image_value) if what == "pixel spacing" else 1.0
        bad = np.flatnonzero((np.abs(values - image_value) > tolerance * scale).any(axis=1))
        if bad.size:
            raise ValueError(f"{name}: {planes.labels[bad[0]]} has {what} "
                             f"{np.round(values[bad[0]], 4).tolist()}, the image's slices "
                             f"{np.round(image_value, 4).tolist()}; the mask must be drawn on "
                             "the image's voxel grid")
    voxels = lps_voxel_coordinates(grid.affine, planes.positions)
    slices = np.round(voxels[:, 2]).astype(np.int64)
    off_grid = (np.abs(voxels[:, :2]) > IN_PLANE_OFFSET_PIXELS).any(axis=1) | (
        np.abs(voxels[:, 2] - slices) > IN_PLANE_OFFSET_PIXELS)
    outside = (slices < 0) | (slices >= n_slices)
    for flags, what in ((off_grid, "does not lie on a slice of the image's grid"),
                        (outside, f"lies outside the image's {n_slices} slices")):
        bad = np.flatnonzero(flags)
        if bad.size:
            raise ValueError(f"{name}: {planes.labels[bad[0]]} {what} (voxel coordinates "
                             f"{np.round(voxels[bad[0]], 3).tolist()}); the mask must be drawn "
                             "on the image's voxel grid")
    return slices
