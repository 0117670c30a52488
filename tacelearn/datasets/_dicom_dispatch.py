"""One entry for every DICOM input: an image series, or a mask object read onto its series."""

from __future__ import annotations

import os
from os import fspath

import numpy as np

from ..utils import is_nifti_path, split_selector
from ._dicom_files import MASK_SOP_CLASSES, read_header
from ._dicom_rtstruct import rtstruct_mask
from ._dicom_seg import seg_mask
from ._dicom_series import open_dicom_series, read_dicom_series

__all__ = ["read_dicom"]

#: File names read as NIfTI, whatever they hold.
def read_dicom(path, *, reference=None):
    """A DICOM image series, or a DICOM-SEG / RT-STRUCT mask on its reference's grid.

    Parameters
    ----------
    path : str or path-like
        A series folder or file (see :func:`read_dicom_series`), or a DICOM-SEG or
        RT-STRUCT file (with an optional ``#`` selector of the segment or region).
    reference : str or path-like, optional
        The image series a mask was drawn on; needed for masks, not used otherwise.

    Returns
    -------
    volume : numpy.ndarray of float32, shape (columns, rows, slices)
        Rescaled values, or 0/1 for a mask.
    affine : numpy.ndarray of float64, shape (4, 4)
        RAS+ voxel-to-world affine (the reference's, for a mask).

    Examples
    --------
    pydicom's own MR test file (one slice, written by nobody here):

    >>> from pydicom.data import get_testdata_file
    >>> from tacelearn.datasets import read_dicom
    >>> volume, affine = read_dicom(get_testdata_file("MR_small.dcm"))
    >>> volume.shape, affine.shape
    ((64, 64, 1), (4, 4))
    """
    name = fspath(path)
    base, _ = split_selector(name)
    if os.path.isdir(base):
        return read_dicom_series(name)
    header = read_header(base)
    if header is None:
        raise ValueError(f"{name} is neither a NIfTI file (.nii, .nii.gz) nor a DICOM file "
                         "or series folder")
    kind = MASK_SOP_CLASSES.get(str(header.get("SOPClassUID", "")))
    if kind is None:
        return read_dicom_series(name)
    if reference is None:
        raise ValueError(f"{name} is a {kind} mask: it is read onto the image series it was "
                         "drawn on, and none was given")
    if is_nifti_path(split_selector(reference)[0]):
        raise ValueError(f"{name} is a {kind} mask and its image {fspath(reference)} a NIfTI "
                         "file: a DICOM mask is read onto the DICOM series it references")
    series = open_dicom_series(reference)
    read_mask = seg_mask if kind == "DICOM-SEG" else rtstruct_mask
    return read_mask(name, series).astype(np.float32), series.grid.affine
