"""What a DICOM-SEG or RT-STRUCT object refers to: its image series and frame of reference.

Shared by both mask readers: a mask is read onto an image series only if the mask says it
was drawn on that series.
"""

from __future__ import annotations

import os
from os import fspath

from ..utils import split_selector
from ._dicom_files import MASK_SOP_CLASSES, read_header

__all__ = ["check_frame_of_reference", "check_references", "choose_labelled", "read_mask_header"]


def read_mask_header(path, kind):
    """``(name, header, selector)`` of a mask object of ``kind`` ("DICOM-SEG", "RT-STRUCT")."""
    name = fspath(path)
    base, selector = split_selector(name)
    if not os.path.isfile(base):
        raise FileNotFoundError(f"mask file not found: {name}")
    header = read_header(base)
    if header is None:
        raise ValueError(f"{name} is not a DICOM file")
    found = str(header.get("SOPClassUID", ""))
    if MASK_SOP_CLASSES.get(found) != kind:
        what = MASK_SOP_CLASSES.get(found, f"SOP class {found or 'unknown'}")
        raise ValueError(f"{name} is a {what} object, not {kind}")
    return name, header, selector


def check_references(name, referenced_series, frame_of_reference, series):
    """Refuse a mask whose references do not include the image series it is read onto.

    Parameters
    ----------
    name : str
        The mask file, for messages.
    referenced_series : set of str
        SeriesInstanceUIDs the mask refers to.
    frame_of_reference : str or None
        The mask's FrameOfReferenceUID.
    series : DicomSeries
        The image series.
    """
    if series.uid not in referenced_series:
        listed = ", ".join(sorted(referenced_series)) or "no series"
        raise ValueError(f"{name} does not reference the image series {series.name} "
                         f"(SeriesInstanceUID {series.uid}); it references {listed}")
    check_frame_of_reference(name, frame_of_reference, series)


def check_frame_of_reference(name, frame_of_reference, series):
    """Refuse a mask drawn in another frame of reference than the image series'."""
    if (frame_of_reference and series.frame_of_reference_uid
            and frame_of_reference != series.frame_of_reference_uid):
        raise ValueError(f"{name} lies in frame of reference {frame_of_reference}, the image "
                         f"series {series.name} in {series.frame_of_reference_uid}")


def choose_labelled(name, items, wanted, what):
    """The number of the item (segment, region of interest) that ``wanted`` names.

    Parameters
    ----------
    name : str
        The mask file, for messages.
    items : list of (int, str)
        Number and label of every item the file holds.
    wanted : int, str or None
        A number, a label (case and surrounding spaces ignored), or None for the only item.
    what : pair of str
        What an item is called, singular and plural, for messages.
    """
    one, several = what
    listing = ", ".join(f"{number} '{label}'" for number, label in items) or "none"
    if wanted is None:
        if len(items) == 1:
            return items[0][0]
        raise ValueError(f"{name} holds {len(items)} {several} ({listing}); name the one to read "
                         f"(by number or label, or as '{name}#<label>')")
    text = str(wanted).strip()
    if isinstance(wanted, int) or text.isdigit():
        matches = [number for number, _ in items if number == int(text)]
    else:
        matches = [number for number, label in items
                   if label.strip().casefold() == text.casefold()]
    if len(matches) != 1:
        problem = "no" if not matches else "more than one"
        raise ValueError(f"{name}: {problem} {one} is {wanted!r}; it holds {listing}")
    return matches[0]
