"""What a path in a cohort manifest names: a NIfTI file, a DICOM file or folder, a selector.

Kept free of pydicom and nibabel so that validating a manifest imports neither.
"""

from __future__ import annotations

import os
from os import fspath

__all__ = ["MAX_VOXELS", "NIFTI_SUFFIXES", "SPACING_RANGE_MM", "is_nifti_path", "split_selector"]

#: File name endings read as NIfTI.
NIFTI_SUFFIXES = (".nii", ".nii.gz")
#: Largest volume read (voxels): 512 Mi voxels, 2 GiB as float32, far above any clinical MRI
#: (a 512 x 512 x 400 CT has 105 Mi). Headers are checked before anything is allocated.
MAX_VOXELS = 512 * 2**20
#: Plausible voxel spacing (mm) of a clinical MR or CT volume; outside, a header is wrong.
SPACING_RANGE_MM = (0.05, 50.0)


def is_nifti_path(path):
    """Whether ``path`` names a NIfTI file (by its suffix).

    Parameters
    ----------
    path : object
        A manifest entry; anything but a str or path-like is not a NIfTI path.

    Returns
    -------
    is_nifti : bool
        Whether the name ends in one of :data:`NIFTI_SUFFIXES` (case-insensitive).

    Examples
    --------
    >>> from tacelearn.utils import is_nifti_path
    >>> is_nifti_path("P001_t1c.nii.gz"), is_nifti_path("P001/T1C")
    (True, False)
    """
    return isinstance(path, (str, os.PathLike)) and fspath(path).lower().endswith(NIFTI_SUFFIXES)


def split_selector(path):
    """``(path, selector)`` of a path that may end in ``#<selector>``; selector None if not.

    A DICOM folder holding several series is named ``folder#<SeriesInstanceUID>``, a segment
    of a DICOM-SEG ``seg.dcm#<label>``. A path that exists as written (a file whose name
    holds a ``#``) is never split.

    Parameters
    ----------
    path : str or path-like
        A manifest entry, optionally ending in ``#<selector>``.

    Returns
    -------
    base : str
        The path without its selector (the whole path when it was not split).
    selector : str or None
        The text after the last ``#``, stripped; ``None`` when there is none, or when the
        path before it does not exist.

    Examples
    --------
    >>> import tempfile
    >>> from tacelearn.utils import split_selector
    >>> split_selector("no/such/folder#1.2.3")
    ('no/such/folder#1.2.3', None)
    >>> folder = tempfile.mkdtemp()
    >>> split_selector(folder + "#1.2.3") == (folder, "1.2.3")
    True
    """
    text = fspath(path)
    if "#" not in text or os.path.exists(text):
        return text, None
    base, selector = text.rsplit("#", 1)
    if not base or not os.path.exists(base):
        return text, None
    return base, selector.strip()
