"""Finding DICOM files, reading their headers, and picking one image series out of a folder.

A path may end in ``#<selector>`` (for instance ``patient7/dicom#1.2.840.113619.2.5...``):
the part before ``#`` is the file or folder, the selector picks what is read from it, a
series by its SeriesInstanceUID in a folder, a segment or region of interest in a DICOM-SEG
or RT-STRUCT file. The suffix is recognised only when the whole path does not exist and the
part before ``#`` does, so file names holding ``#`` keep working.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import pydicom
from pydicom.errors import InvalidDicomError

from ..utils import describe_names, split_selector

__all__ = [
    "MASK_SOP_CLASSES",
    "RTSTRUCT_SOP_CLASS",
    "SEG_SOP_CLASSES",
    "SeriesFiles",
    "find_image_series",
    "read_header",
    "select_series",
    "split_selector",
]

#: SOP Class UIDs of the objects read as masks rather than images: Segmentation Storage and
#: Label Map Segmentation Storage (DICOM-SEG), RT Structure Set Storage (RT-STRUCT).
SEG_SOP_CLASSES = ("1.2.840.10008.5.1.4.1.1.66.4", "1.2.840.10008.5.1.4.1.1.66.7")
RTSTRUCT_SOP_CLASS = "1.2.840.10008.5.1.4.1.1.481.3"
MASK_SOP_CLASSES = {**dict.fromkeys(SEG_SOP_CLASSES, "DICOM-SEG"),
                    RTSTRUCT_SOP_CLASS: "RT-STRUCT"}
#: Values of more bytes than this are read from the file only when used (see read_header).
DEFERRED_BYTES = 4096
# Files never tried as DICOM when a folder is scanned (a forced read of them is wasted time).
_NOT_DICOM_SUFFIXES = (".nii", ".nii.gz", ".gz", ".csv", ".tsv", ".txt", ".json", ".xml",
                       ".png", ".jpg", ".jpeg", ".pdf", ".md", ".html", ".zip", ".py")


def read_header(path):
    """The dataset of a DICOM file, or None if it is not DICOM.

    Values larger than :data:`DEFERRED_BYTES` (the pixel data, above all) are not read: pydicom
    reads them from the file when they are first used, so a folder is scanned at the cost of
    its headers and a series' pixels are read once, when decoded. Files without the 128-byte
    preamble and ``DICM`` marker (older exports) are read too when they parse as a dataset
    with a SOP Class UID.
    """
    try:
        return pydicom.dcmread(path, defer_size=DEFERRED_BYTES)
    except InvalidDicomError:
        pass
    except (OSError, EOFError, ValueError, KeyError, TypeError, AttributeError):
        return None
    try:
        dataset = pydicom.dcmread(path, defer_size=DEFERRED_BYTES, force=True)
        return dataset if "SOPClassUID" in dataset and "SOPInstanceUID" in dataset else None
    except Exception:  # a forced read of a file that is not DICOM fails in many ways
        return None


def _candidate_files(folder):
    """Files under ``folder`` (recursively, sorted), hidden files and known non-DICOM aside."""
    files = []
    for root, dirs, names in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for file_name in sorted(names):
            lowered = file_name.lower()
            if file_name.startswith(".") or lowered.endswith(_NOT_DICOM_SUFFIXES):
                continue
            if lowered == "dicomdir":
                continue
            files.append(Path(root) / file_name)
    return files


@dataclass
class SeriesFiles:
    """The files of one DICOM series found in a folder, with their headers."""

    uid: str
    files: list = field(default_factory=list)
    headers: list = field(default_factory=list)

    @property
    def description(self):
        """'MR "T1 arterial", 88 files': what to show of the series in a message."""
        first = self.headers[0]
        text = str(first.get("Modality", "?"))
        if first.get("SeriesDescription"):
            text += f' "{first.SeriesDescription}"'
        count = len(self.files)
        return f"{text}, {count} file{'s' if count != 1 else ''}"


def find_image_series(folder, *, include_masks=False):
    """Image series under ``folder`` (recursively), keyed by SeriesInstanceUID, in file order.

    DICOM-SEG and RT-STRUCT objects are left out unless ``include_masks``; so are files that
    are not DICOM, DICOMDIR files and datasets without pixel rows (reports, plans).
    """
    series = {}
    for path in _candidate_files(folder):
        header = read_header(path)
        if header is None or "SeriesInstanceUID" not in header:
            continue
        is_mask = str(header.get("SOPClassUID", "")) in MASK_SOP_CLASSES
        if is_mask and not include_masks:
            continue
        if not is_mask and "Rows" not in header:
            continue
        uid = str(header.SeriesInstanceUID)
        entry = series.setdefault(uid, SeriesFiles(uid))
        entry.files.append(path)
        entry.headers.append(header)
    return series


def select_series(name, series, selector):
    """The one series ``selector`` (a SeriesInstanceUID) names, or the only one there is.

    Raises
    ------
    ValueError
        If the folder holds no image series, if the selector names none of them, or if it
        holds several and no selector says which; the message lists the series found.
    """
    listing = [f"{uid} ({entry.description})" for uid, entry in series.items()]
    if not series:
        raise ValueError(f"{name}: no DICOM image series found in the folder")
    if selector is not None:
        if selector not in series:
            raise ValueError(f"{name}: no series with SeriesInstanceUID {selector}; the folder "
                             f"holds {describe_names(listing)}")
        return series[selector]
    if len(series) > 1:
        raise ValueError(f"{name}: the folder holds {len(series)} image series; name the one "
                         f"to read as '{name}#<SeriesInstanceUID>': {describe_names(listing)}")
    return next(iter(series.values()))
