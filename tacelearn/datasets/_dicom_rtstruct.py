"""Reading an RT-STRUCT region of interest as a binary mask on the grid of its image series.

RT-STRUCT stores a region as closed polygons in patient coordinates, one or more per slice.
Each polygon is mapped onto the image's voxel grid and filled slice by slice: a pixel is
inside when its centre lies inside the polygon (matplotlib's ``Path.contains_points``; a
centre exactly on an edge may fall either way). Several polygons on one slice combine by
the even-odd rule, so that a polygon inside another cuts a hole, as treatment planning
systems draw them.
"""

from __future__ import annotations

import numpy as np

from ._dicom_geometry import lps_voxel_coordinates
from ._dicom_references import (
    check_frame_of_reference,
    check_references,
    choose_labelled,
    read_mask_header,
)
from ._dicom_series import open_dicom_series

__all__ = ["read_rtstruct", "rtstruct_mask"]

# A contour vertex must lie within this fraction of a slice from the slice it is drawn on.
SLICE_TOLERANCE = 0.1


def _rois(name, header):
    items = [(int(item.ROINumber), str(item.get("ROIName", "") or ""))
             for item in header.get("StructureSetROISequence", []) if "ROINumber" in item]
    if not items:
        raise ValueError(f"{name}: the RT-STRUCT defines no region of interest")
    return items


def _referenced_series(header):
    return {
        str(series.SeriesInstanceUID)
        for frame in header.get("ReferencedFrameOfReferenceSequence", [])
        for study in frame.get("RTReferencedStudySequence", [])
        for series in study.get("RTReferencedSeriesSequence", [])
        if "SeriesInstanceUID" in series
    }


def _roi_frame_of_reference(header, number):
    for item in header.get("StructureSetROISequence", []):
        if int(item.get("ROINumber", -1)) == number:
            return str(item.get("ReferencedFrameOfReferenceUID", "")) or None
    return None


def _contours(name, header, number, label):
    """The closed planar contours of ROI ``number`` as ``(n_points, 3)`` LPS arrays."""
    for item in header.get("ROIContourSequence", []):
        if int(item.get("ReferencedROINumber", -1)) != number:
            continue
        contours = []
        for position, contour in enumerate(item.get("ContourSequence", []), start=1):
            kind = str(contour.get("ContourGeometricType", ""))
            if kind != "CLOSED_PLANAR":
                raise ValueError(f"{name}: contour {position} of region '{label}' is "
                                 f"{kind or 'of no type'}; only CLOSED_PLANAR contours outline "
                                 "a region")
            points = np.asarray([float(v) for v in contour.get("ContourData", [])])
            if points.size < 9 or points.size % 3:
                raise ValueError(f"{name}: contour {position} of region '{label}' has "
                                 f"{points.size} coordinates; a polygon needs 3 or more points")
            contours.append(points.reshape(-1, 3))
        if contours:
            return contours
    raise ValueError(f"{name}: region '{label}' has no contour")


def _contour_slice(name, label, position, voxels, n_slices):
    k = np.round(voxels[:, 2].mean())
    if np.abs(voxels[:, 2] - k).max() > SLICE_TOLERANCE:
        raise ValueError(f"{name}: contour {position} of region '{label}' does not lie on a "
                         f"slice of the image (slice coordinates {voxels[:, 2].min():.3g} to "
                         f"{voxels[:, 2].max():.3g}); it must be drawn on the image's slices")
    if not 0 <= k < n_slices:
        raise ValueError(f"{name}: contour {position} of region '{label}' lies outside the "
                         f"image's {n_slices} slices (slice {k:g})")
    return int(k)


def _fill_polygon(plane, polygon):
    """XOR into ``plane`` (columns, rows) the pixels whose centres lie inside ``polygon``."""
    from matplotlib.path import Path  # matplotlib takes 0.2 s to import: only when needed

    low = np.maximum(np.floor(polygon.min(axis=0)).astype(int), 0)
    high = np.minimum(np.ceil(polygon.max(axis=0)).astype(int), np.array(plane.shape) - 1)
    if (high < low).any():
        return
    columns, rows = np.meshgrid(np.arange(low[0], high[0] + 1), np.arange(low[1], high[1] + 1),
                                indexing="ij")
    centres = np.column_stack([columns.ravel(), rows.ravel()])
    inside = Path(polygon).contains_points(centres).reshape(columns.shape)
    plane[low[0]:high[0] + 1, low[1]:high[1] + 1] ^= inside


def rtstruct_mask(path, series, roi=None):
    """The mask of one region of an RT-STRUCT on the grid of an opened image series.

    Parameters
    ----------
    path : str or path-like
        The RT-STRUCT file, optionally ending in ``#<ROI name or number>``.
    series : DicomSeries
        The image series (see :func:`open_dicom_series`).
    roi : int or str, optional
        Overrides the ``#`` suffix.

    Returns
    -------
    mask : numpy.ndarray of uint8, shape ``series.grid.shape``
    """
    name, header, selector = read_mask_header(path, "RT-STRUCT")
    check_references(name, _referenced_series(header), None, series)
    rois = _rois(name, header)
    number = choose_labelled(name, rois, roi if roi is not None else selector,
                             ("region of interest", "regions of interest"))
    label = dict(rois)[number]
    check_frame_of_reference(name, _roi_frame_of_reference(header, number), series)
    mask = np.zeros(series.grid.shape, dtype=bool)
    for position, points in enumerate(_contours(name, header, number, label), start=1):
        voxels = lps_voxel_coordinates(series.grid.affine, points)
        k = _contour_slice(name, label, position, voxels, series.grid.shape[2])
        _fill_polygon(mask[:, :, k], voxels[:, :2])
    return mask.astype(np.uint8)


def read_rtstruct(path, reference, roi=None):
    """Read one region of an RT-STRUCT as a 0/1 mask on the voxel grid of its image series.

    Each closed planar contour is mapped onto the image's voxel grid and filled on the slice
    it is drawn on: a pixel is inside when its centre lies inside the polygon (on an edge it
    may fall either way); polygons on one slice combine by the even-odd rule (a polygon
    inside another is a hole).

    Parameters
    ----------
    path : str or path-like
        The RT-STRUCT file; a suffix ``#<ROI name or number>`` names the region.
    reference : str or path-like
        The image series the contours were drawn on, as :func:`read_dicom_series` takes it.
        Only its headers are read.
    roi : int or str, optional
        ROI number or name (case-insensitive), overriding the suffix; by default the only
        region the file holds.

    Returns
    -------
    mask : numpy.ndarray of uint8, shape (columns, rows, slices)
        The shape of the volume :func:`read_dicom_series` gives for ``reference``, on the
        same affine.

    Raises
    ------
    FileNotFoundError
        If the file or the reference does not exist.
    ValueError
        Naming the file: not an RT-STRUCT; it does not reference the image series (no
        RT Referenced Series names its SeriesInstanceUID) or the region lies in another
        frame of reference; several regions and none named, or the name matches none; a
        contour that is not CLOSED_PLANAR, has fewer than 3 points, is not drawn on a
        slice of the image or lies outside it; any problem :func:`read_dicom_series` finds
        in the reference's headers.

    See Also
    --------
    read_dicom_seg : The same for DICOM-SEG.

    Examples
    --------
    >>> from pydicom.data import get_testdata_file
    >>> from tacelearn.datasets import read_rtstruct
    >>> contours = get_testdata_file("rtstruct.dcm")    # drawn on another series
    >>> read_rtstruct(contours, get_testdata_file("MR_small.dcm"), roi="patient")
    Traceback (most recent call last):
    ...
    ValueError: ...rtstruct.dcm does not reference the image series ...
    """
    return rtstruct_mask(path, open_dicom_series(reference), roi)
