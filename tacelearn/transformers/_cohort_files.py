"""The files of a cohort row: their stamps, the columns that name them, their consistency.

Shared by every extractor that reads a patient's images from the cohort DataFrame (tumour
patches, radiomics features): one way to name a patient, stamp a file for a cache key, and
refuse a mask off its image's grid.
"""

from __future__ import annotations

import os

import numpy as np

from ..utils import list_problems
from ._image import volume_stamp

__all__ = ["AFFINE_TOLERANCE_MM", "PATIENT_COLUMN", "check_binary_mask", "check_same_grid",
           "cohort_file_stamps", "column_names", "file_stamp"]

#: The column that names each patient in error messages and output tables.
PATIENT_COLUMN = "patient_id"
#: Tolerance (mm) when comparing the affines of an image and its mask.
AFFINE_TOLERANCE_MM = 1e-3


def column_names(value, parameter):
    """``value`` as a non-empty tuple of distinct column names, or a ValueError naming it."""
    names = tuple(value)
    if not names or not all(isinstance(name, str) for name in names):
        raise ValueError(f"{parameter} must be a non-empty sequence of column names, got "
                         f"{value!r}")
    return names


def file_stamp(patient, column, path, problems):
    """``(absolute path, modification time, size)`` of a patient's file, or None with the
    problem recorded as ``(message, missing)`` (every ``OSError`` named with the patient and
    the column)."""
    if not isinstance(path, (str, os.PathLike)) or not str(path).strip():
        problems.append((f"patient {patient}: no file in column '{column}' (value {path!r})",
                         True))
        return None
    try:
        path = os.path.abspath(os.fspath(path))
        # A DICOM series folder is stamped by its newest file and total size.
        mtime, size = volume_stamp(path)
    except FileNotFoundError:
        problems.append((f"patient {patient}: column '{column}': image file not found: {path}",
                         True))
        return None
    except (OSError, ValueError) as error:  # a loop of links, a name too long, a NUL byte
        reason = getattr(error, "strerror", None) or str(error)
        problems.append((f"patient {patient}: column '{column}': cannot read {path!r}: "
                         f"{reason}", False))
        return None
    return path, mtime, size


def cohort_file_stamps(X, columns):
    """``[stamps, ...]``: per patient (row of ``X``), the :func:`file_stamp` of each column.

    Every missing or unreadable path of every patient is reported at once: a
    FileNotFoundError when all are missing, a ValueError otherwise.
    """
    problems, stamps = [], []
    for patient, *paths in X[[PATIENT_COLUMN, *columns]].itertuples(index=False):
        stamps.append(tuple(file_stamp(patient, column, path, problems)
                            for column, path in zip(columns, paths)))
    if problems:
        error = FileNotFoundError if all(missing for _, missing in problems) else ValueError
        raise error(f"{len(problems)} image file(s) missing or unreadable:\n  "
                    f"{list_problems([text for text, _ in problems])}")
    return stamps


def check_binary_mask(mask, path):
    """Refuse a mask that holds anything but 0 and 1, naming the file and the values."""
    stray = (mask != 0) & (mask != 1)
    if stray.any():
        values = np.unique(mask[stray])[:5]
        raise ValueError(f"{path}: a tumour mask must hold only 0 and 1; found "
                         f"{', '.join(f'{v:g}' for v in values)}")


def check_same_grid(volume, affine, path, mask, mask_affine, mask_path):
    """Refuse an image that is not on its mask's voxel grid (same shape, same affine)."""
    if volume.shape != mask.shape:
        raise ValueError(f"{path} has shape {volume.shape} but its mask {mask_path} has shape "
                         f"{mask.shape}; the mask must be drawn on the image's voxel grid")
    if not np.allclose(affine, mask_affine, rtol=0.0, atol=AFFINE_TOLERANCE_MM):
        raise ValueError(f"{path} and its mask {mask_path} have different affines "
                         f"(largest difference {np.abs(affine - mask_affine).max():.4g} mm); "
                         "the mask must be drawn on the image's voxel grid")
