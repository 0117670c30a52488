"""Reading a DICOM-SEG segment as a binary mask on the voxel grid of its image series."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from ._dicom_frames import frame_table
from ._dicom_geometry import check_volume_size, frames_on_grid
from ._dicom_references import check_references, choose_labelled, read_mask_header
from ._dicom_series import DECODE_ERRORS, open_dicom_series

__all__ = ["read_dicom_seg", "seg_mask"]

#: A FRACTIONAL segmentation's pixel counts as inside when its fraction reaches one half.
FRACTION_INSIDE = 0.5


def _segments(name, header):
    items = [(int(item.SegmentNumber), str(item.get("SegmentLabel", "") or ""))
             for item in header.get("SegmentSequence", []) if "SegmentNumber" in item]
    if not items:
        raise ValueError(f"{name}: the DICOM-SEG defines no segment")
    return items


def _referenced_series(header):
    return {str(item.SeriesInstanceUID) for item in header.get("ReferencedSeriesSequence", [])
            if "SeriesInstanceUID" in item}


def _frame_segment_numbers(name, header, n_frames):
    """The segment each frame of a BINARY or FRACTIONAL segmentation belongs to."""
    per_frame = header.get("PerFrameFunctionalGroupsSequence") or [None] * n_frames
    shared = (header.get("SharedFunctionalGroupsSequence") or [None])[0]
    numbers = np.empty(n_frames, dtype=np.int64)
    for frame, groups in enumerate(per_frame):
        for container in (groups, shared):
            items = container.get("SegmentIdentificationSequence") if container else None
            if items:
                numbers[frame] = int(items[0].ReferencedSegmentNumber)
                break
        else:
            raise ValueError(f"{name}: frame {frame + 1} names no segment (no Segment "
                             "Identification Sequence)")
    return numbers


def _inside(name, header, pixels, frame_numbers, number):
    """Per frame, the pixels inside segment ``number``, and which frames can hold it."""
    kind = str(header.get("SegmentationType", "BINARY")).upper()
    if kind == "LABELMAP":
        return pixels == number, np.ones(len(pixels), dtype=bool)
    if kind == "BINARY":
        return pixels != 0, frame_numbers == number
    if kind == "FRACTIONAL":
        maximum = float(header.get("MaximumFractionalValue", 255) or 255)
        return pixels >= FRACTION_INSIDE * maximum, frame_numbers == number
    raise ValueError(f"{name}: unknown SegmentationType {kind!r}")


def seg_mask(path, series, segment=None):
    """The mask of one segment of a DICOM-SEG on the grid of an opened image series.

    Parameters
    ----------
    path : str or path-like
        The DICOM-SEG file, optionally ending in ``#<segment number or label>``.
    series : DicomSeries
        The image series (see :func:`open_dicom_series`).
    segment : int or str, optional
        Overrides the ``#`` suffix.

    Returns
    -------
    mask : numpy.ndarray of uint8, shape ``series.grid.shape``
    """
    name, header, selector = read_mask_header(path, "DICOM-SEG")
    check_references(name, _referenced_series(header),
                     str(header.get("FrameOfReferenceUID", "")) or None, series)
    number = choose_labelled(name, _segments(name, header),
                             segment if segment is not None else selector, ("segment", "segments"))
    frames = frame_table([header], [name])
    n_frames = len(frames.frame_index)
    n_columns, n_rows, n_slices = series.grid.shape
    # The frames are decoded whole: the same budget as an image of that many slices.
    check_volume_size(name, (n_columns, n_rows, n_frames),
                      np.linalg.norm(series.grid.affine[:3, :3], axis=0))
    # Messages start with the file's name: each frame is named by its number alone.
    slices = frames_on_grid(name, replace(frames.planes, labels=tuple(
        f"frame {i + 1}" for i in range(n_frames))), series.grid)
    kind = str(header.get("SegmentationType", "BINARY")).upper()
    frame_numbers = (None if kind == "LABELMAP"
                     else _frame_segment_numbers(name, header, n_frames))
    try:
        pixels = header.pixel_array
    except DECODE_ERRORS as exc:
        raise ValueError(f"{name}: the segmentation frames cannot be read or decoded "
                         f"({exc})") from None
    pixels = pixels.reshape((n_frames,) + pixels.shape[-2:])
    inside, frames_of_segment = _inside(name, header, pixels, frame_numbers, number)
    stack = np.zeros((n_slices, n_rows, n_columns), dtype=np.uint8)
    for frame in np.flatnonzero(frames_of_segment):
        stack[slices[frame]] |= inside[frame]
    return stack.T


def read_dicom_seg(path, reference, *, segment=None):
    """Read one segment of a DICOM-SEG as a 0/1 mask on the voxel grid of its image series.

    Every frame of the segmentation is placed on the slice of the image it lies on, by its
    position and orientation; the mask has the shape of the volume
    :func:`read_dicom_series` gives for ``reference`` and shares its affine.

    Parameters
    ----------
    path : str or path-like
        The DICOM-SEG file (Segmentation Storage, BINARY or FRACTIONAL; or Label Map
        Segmentation Storage). A suffix ``#<segment number or label>`` names the segment.
    reference : str or path-like
        The image series the segmentation was drawn on, as :func:`read_dicom_series` takes it
        (a folder, optionally ``folder#<SeriesInstanceUID>``, or a multi-frame file). Only its
        headers are read.
    segment : int or str, optional
        Segment number or label (case-insensitive), overriding the suffix; by default the
        only segment the file holds.

    Returns
    -------
    mask : numpy.ndarray of uint8, shape (columns, rows, slices)
        1 inside the segment: a BINARY frame's set pixels, a FRACTIONAL frame's pixels at
        or above half the maximum fractional value, a label map's pixels equal to the
        segment number. Slices without a frame are 0.

    Raises
    ------
    FileNotFoundError
        If the file or the reference does not exist.
    ValueError
        Naming the file: not a DICOM-SEG; it does not reference the image series (its
        ReferencedSeriesSequence lacks the series' SeriesInstanceUID) or lies in another
        frame of reference; several segments and none named, or the name matches none; a
        frame that differs from the image's slices in size, pixel spacing or orientation or
        does not lie on one of them; frames that cannot be decoded; any problem
        :func:`read_dicom_series` finds in the reference's headers.

    See Also
    --------
    read_rtstruct : The same for RT-STRUCT contours.
    tacelearn.transformers.load_volume : Any image or mask, by path.

    Examples
    --------
    >>> from pydicom.data import get_testdata_file
    >>> from tacelearn.datasets import read_dicom_seg
    >>> seg = get_testdata_file("liver_1frame.dcm")     # a liver SEG of another CT series
    >>> read_dicom_seg(seg, get_testdata_file("CT_small.dcm"))
    Traceback (most recent call last):
    ...
    ValueError: ...liver_1frame.dcm does not reference the image series ...
    """
    return seg_mask(path, open_dicom_series(reference), segment)

