"""Reading a DICOM image series (a folder of slices, or one multi-frame file) as a volume."""

from __future__ import annotations

import os
from dataclasses import dataclass
from os import fspath
from pathlib import Path

import numpy as np

from ._dicom_files import (
    MASK_SOP_CLASSES,
    SeriesFiles,
    find_image_series,
    read_header,
    select_series,
    split_selector,
)
from ._dicom_frames import FrameTable, frame_table
from ._dicom_geometry import VolumeGrid, stack_frames

__all__ = ["DECODE_ERRORS", "DicomSeries", "open_dicom_series", "read_dicom_series"]

# What pydicom raises on pixel data it cannot decode: truncated data, a transfer syntax
# without an installed decoder, a dataset without pixels.
DECODE_ERRORS = (ValueError, RuntimeError, NotImplementedError, AttributeError, KeyError,
                  OSError, EOFError, TypeError)


@dataclass(frozen=True)
class DicomSeries:
    """One image series, its headers read and its geometry checked; no pixel decoded yet.

    Attributes
    ----------
    name : str
        The path as given (with its ``#`` selector), for messages.
    uid : str
        SeriesInstanceUID.
    frame_of_reference_uid : str or None
    files : tuple of pathlib.Path
    datasets : tuple of pydicom.Dataset
        The files' datasets, pixel data not yet read (see :func:`read_header`).
    instance_uids : tuple of str
        SOPInstanceUID of each file.
    frames : FrameTable
    grid : VolumeGrid
    """

    name: str
    uid: str
    frame_of_reference_uid: str | None
    files: tuple
    datasets: tuple
    instance_uids: tuple
    frames: FrameTable
    grid: VolumeGrid


def _series_of_file(name, path, selector):
    header = read_header(path)
    if header is None:
        raise ValueError(f"{name} is not a DICOM file")
    kind = MASK_SOP_CLASSES.get(str(header.get("SOPClassUID", "")))
    if kind is not None:
        raise ValueError(f"{name} is a {kind} object, not an image series")
    uid = str(header.get("SeriesInstanceUID", ""))
    if selector is not None and selector != uid:
        raise ValueError(f"{name}: the file belongs to series {uid}, not {selector}")
    return SeriesFiles(uid, [Path(path)], [header])


def _check_instances(name, entry):
    """Refuse a series that holds one instance twice or mixes frames of reference."""
    seen = {}
    for path, header in zip(entry.files, entry.headers):
        uid = str(header.get("SOPInstanceUID", ""))
        if uid and uid in seen:
            raise ValueError(f"{name}: {seen[uid]} and {path} hold the same instance "
                             f"(SOPInstanceUID {uid}); remove the copy")
        seen[uid] = path
    references = {str(h.FrameOfReferenceUID) for h in entry.headers if "FrameOfReferenceUID" in h}
    if len(references) > 1:
        raise ValueError(f"{name}: the files mix {len(references)} frames of reference "
                         f"({', '.join(sorted(references))}); they are not one volume")
    return references.pop() if references else None


def open_dicom_series(path):
    """Find a series, read its headers and check its geometry; the pixels are left unread.

    Parameters
    ----------
    path : str or path-like
        A folder (searched recursively) or a single file, optionally ending in
        ``#<SeriesInstanceUID>``; see :func:`read_dicom_series`.

    Returns
    -------
    series : DicomSeries
    """
    name = fspath(path)
    base, selector = split_selector(name)
    if not os.path.exists(base):
        raise FileNotFoundError(f"DICOM series not found: {name}")
    if os.path.isdir(base):
        entry = select_series(name, find_image_series(base), selector)
        labels = [os.path.relpath(file, base) for file in entry.files]
    else:
        entry = _series_of_file(name, base, selector)
        labels = [name]
    frame_of_reference = _check_instances(name, entry)
    frames = frame_table(entry.headers, labels)
    grid = stack_frames(name, frames.planes, single_slice_spacing=frames.slice_spacing)
    return DicomSeries(name=name, uid=entry.uid, frame_of_reference_uid=frame_of_reference,
                       files=tuple(entry.files), datasets=tuple(entry.headers),
                       instance_uids=tuple(str(h.get("SOPInstanceUID", "")) for h in entry.headers),
                       frames=frames, grid=grid)


def _decoded_frames(path, dataset, n_frames):
    """Stored values of a file as ``(frames, rows, columns)``."""
    try:
        pixels = dataset.pixel_array
    except DECODE_ERRORS as exc:
        raise ValueError(f"{path}: the pixel data cannot be read or decoded ({exc})") from None
    return pixels.reshape((n_frames,) + pixels.shape[-2:])


def _read_pixels(series):
    """The rescaled volume: filled slice by slice as ``(slices, rows, columns)``, returned as
    its transpose, indexed ``(column, row, slice)`` (Fortran-ordered, as nibabel's arrays)."""
    frames = series.frames
    n_columns, n_rows, n_slices = series.grid.shape
    stack = np.empty((n_slices, n_rows, n_columns), dtype=np.float32)
    slices = np.empty(n_slices, dtype=np.int64)
    slices[series.grid.order] = np.arange(n_slices)
    for number, (path, dataset) in enumerate(zip(series.files, series.datasets)):
        mine = np.flatnonzero(frames.dataset_index == number)
        stored = _decoded_frames(path, dataset, len(mine))
        for frame in mine:
            values = stored[frames.frame_index[frame]].astype(np.float64)
            stack[slices[frame]] = values * frames.slopes[frame] + frames.intercepts[frame]
    return stack.T


def read_dicom_series(path):
    """Read a DICOM image series as a float32 volume with its RAS+ voxel-to-world affine.

    The same convention as :func:`tacelearn.transformers.load_nifti` (and nibabel): the
    volume is indexed ``(column, row, slice)`` and the affine maps that index to RAS+
    millimetres (DICOM's LPS+ patient coordinates with x and y negated). Slices are ordered
    by their position along the normal of the image plane (never by InstanceNumber); the
    slice spacing comes from the positions; stored values are rescaled with each frame's
    *Rescale Slope* and *Rescale Intercept*.

    Parameters
    ----------
    path : str or path-like
        A folder holding the series (files in subfolders are found too), or one file: a
        single-frame image, or a multi-frame (enhanced) image whose per-frame functional
        groups place each frame. A folder holding several image series needs the one to
        read named by a suffix: ``folder#<SeriesInstanceUID>``. Files that are not DICOM,
        DICOMDIR files, DICOM-SEG and RT-STRUCT objects in the folder are ignored.

    Returns
    -------
    volume : numpy.ndarray of float32, shape (columns, rows, slices)
        Rescaled values.
    affine : numpy.ndarray of float64, shape (4, 4)
        Voxel-to-world (RAS+ mm) affine.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ValueError
        Naming the folder or file and the files at fault: no image series, several series
        and no selector (the message lists them), a selector that names none; files of
        differing size, pixel spacing or orientation; non-orthogonal orientation; two
        frames at one position (echoes, phases); a missing slice (a gap in the positions);
        uneven slice spacing; a tilted or sheared stack (gantry tilt); a colour image; a
        frame without position; pixel data that cannot be decoded; more than
        :data:`~tacelearn.datasets._dicom_geometry.MAX_VOXELS` voxels or a spacing outside
        :data:`~tacelearn.datasets._dicom_geometry.SPACING_RANGE_MM` (checked on the
        headers, before any voxel is allocated).

    See Also
    --------
    read_dicom_seg : A DICOM-SEG mask on the grid of its image series.
    read_rtstruct : An RT-STRUCT region of interest on the grid of its image series.
    tacelearn.transformers.load_volume : NIfTI or DICOM, by path.

    Notes
    -----
    A single-slice series takes its slice spacing from *Spacing Between Slices*, else *Slice
    Thickness*, else 1 mm. Real-world value maps and vendors' private scale factors are not
    applied: the values are the modality values of *Rescale Slope* and *Intercept*.

    Examples
    --------
    >>> import numpy as np
    >>> from pydicom.data import get_testdata_file
    >>> from tacelearn.datasets import read_dicom_series
    >>> volume, affine = read_dicom_series(get_testdata_file("CT_small.dcm"))
    >>> volume.shape, volume.dtype
    ((128, 128, 1), dtype('float32'))
    >>> np.round(affine[:3, 3], 2)          # the first pixel, LPS (-158.14, -179.04) -> RAS
    array([158.14, 179.04, -75.7 ])
    """
    series = open_dicom_series(path)
    return _read_pixels(series), series.grid.affine
