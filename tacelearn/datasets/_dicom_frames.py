"""Per-frame attributes of DICOM datasets: plane, pixel size and rescale of every frame.

A classic single-frame image (MR Image Storage, CT Image Storage) holds them at the top level.
An enhanced multi-frame image (Enhanced MR, Legacy Converted Enhanced, DICOM-SEG) holds them
in functional groups: per frame (*Per-frame Functional Groups Sequence*, one item per frame),
or once for all frames (*Shared Functional Groups Sequence*). Both come out the same here.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._dicom_geometry import FramePlanes

__all__ = ["FrameTable", "frame_table"]


@dataclass(frozen=True)
class FrameTable:
    """Every frame of a set of datasets: where it lies and how its values are rescaled.

    Attributes
    ----------
    planes : FramePlanes
    slopes, intercepts : numpy.ndarray of float, shape (n,)
        Rescale Slope and Intercept of each frame (1 and 0 where absent).
    dataset_index, frame_index : numpy.ndarray of int, shape (n,)
        The dataset each frame comes from and its 0-based frame number there.
    slice_spacing : float or None
        *Spacing Between Slices*, else *Slice Thickness*, of the first frame: the slice
        spacing of a one-frame volume.
    """

    planes: FramePlanes
    slopes: np.ndarray
    intercepts: np.ndarray
    dataset_index: np.ndarray
    frame_index: np.ndarray
    slice_spacing: float | None


def _first_item(container, keyword):
    sequence = container.get(keyword) if container is not None else None
    return sequence[0] if sequence else None


def _group_item(dataset, frame, keyword):
    """The item of functional group ``keyword`` for ``frame``: per-frame first, then shared."""
    per_frame = dataset.get("PerFrameFunctionalGroupsSequence")
    item = _first_item(per_frame[frame], keyword) if per_frame else None
    if item is None:
        item = _first_item(_first_item(dataset, "SharedFunctionalGroupsSequence"), keyword)
    return item


def _required(source, keyword, label, where=""):
    value = source.get(keyword) if source is not None else None
    if value is None or (hasattr(value, "__len__") and len(value) == 0):
        raise ValueError(f"{label}: no {keyword}{where}; the frame cannot be placed in the "
                         "patient (a localizer, secondary capture or non-spatial image?)")
    return value


def _number_of_frames(dataset, label):
    try:
        n_frames = int(dataset.get("NumberOfFrames") or 1)
    except (TypeError, ValueError):
        raise ValueError(f"{label}: NumberOfFrames {dataset.NumberOfFrames!r} is not a "
                         "number") from None
    if n_frames < 1:
        raise ValueError(f"{label}: NumberOfFrames is {n_frames}")
    return n_frames


def _spacing_of(*sources):
    for source in sources:
        for keyword in ("SpacingBetweenSlices", "SliceThickness"):
            value = source.get(keyword) if source is not None else None
            if value not in (None, "") and float(value) > 0:
                return float(value)
    return None


def _enhanced_frames(dataset, label, n_frames):
    """Rows ``(position, orientation, spacing, slope, intercept)`` of a functional-group image."""
    per_frame = dataset.get("PerFrameFunctionalGroupsSequence")
    if per_frame is not None and len(per_frame) != n_frames:
        raise ValueError(f"{label}: the Per-frame Functional Groups Sequence has "
                         f"{len(per_frame)} items for {n_frames} frame(s); the file is "
                         "inconsistent")
    rows = []
    for frame in range(n_frames):
        where = f" in the functional groups of frame {frame + 1}"
        position = _group_item(dataset, frame, "PlanePositionSequence")
        orientation = _group_item(dataset, frame, "PlaneOrientationSequence")
        measures = _group_item(dataset, frame, "PixelMeasuresSequence")
        rescale = _group_item(dataset, frame, "PixelValueTransformationSequence")
        rows.append((
            _required(position, "ImagePositionPatient", label, where),
            _required(orientation, "ImageOrientationPatient", label, where),
            _required(measures, "PixelSpacing", label, where),
            1.0 if rescale is None else float(rescale.get("RescaleSlope", 1.0) or 1.0),
            0.0 if rescale is None else float(rescale.get("RescaleIntercept", 0.0) or 0.0),
        ))
    spacing = _spacing_of(_group_item(dataset, 0, "PixelMeasuresSequence"), dataset)
    return rows, spacing


def _classic_frame(dataset, label, n_frames):
    if n_frames > 1:
        raise ValueError(f"{label}: a multi-frame file ({n_frames} frames) without functional "
                         "groups: the position of each frame is unknown")
    if "ModalityLUTSequence" in dataset:
        raise ValueError(f"{label}: a Modality LUT Sequence maps the stored values; only "
                         "Rescale Slope and Intercept are supported")
    row = (
        _required(dataset, "ImagePositionPatient", label),
        _required(dataset, "ImageOrientationPatient", label),
        _required(dataset, "PixelSpacing", label),
        float(dataset.get("RescaleSlope", 1.0) or 1.0),
        float(dataset.get("RescaleIntercept", 0.0) or 0.0),
    )
    return [row], _spacing_of(dataset)


def _as_vectors(values, length, keyword, labels):
    try:
        array = np.array([[float(v) for v in value] for value in values], dtype=np.float64)
    except (TypeError, ValueError):
        array = None
    if array is None or array.shape != (len(labels), length) or not np.isfinite(array).all():
        bad = next((label for value, label in zip(values, labels)
                    if len(value) != length), labels[0])
        raise ValueError(f"{bad}: {keyword} must hold {length} finite numbers")
    return array


def frame_table(datasets, labels):
    """Every frame of ``datasets`` (headers read without pixels), with its plane and rescale.

    Parameters
    ----------
    datasets : sequence of pydicom.Dataset
    labels : sequence of str
        What to call each dataset in a message (its file name).

    Returns
    -------
    table : FrameTable
    """
    rows, frame_labels, dataset_index, frame_index, sizes = [], [], [], [], []
    slice_spacing = None
    for number, (dataset, label) in enumerate(zip(datasets, labels)):
        if int(dataset.get("SamplesPerPixel", 1) or 1) != 1:
            raise ValueError(f"{label}: a colour image ({dataset.SamplesPerPixel} samples per "
                             "pixel); a greyscale volume is needed")
        size = (int(_required(dataset, "Rows", label)), int(_required(dataset, "Columns", label)))
        n_frames = _number_of_frames(dataset, label)
        enhanced = ("PerFrameFunctionalGroupsSequence" in dataset
                    or "SharedFunctionalGroupsSequence" in dataset)
        frames, spacing = (_enhanced_frames if enhanced else _classic_frame)(dataset, label,
                                                                            n_frames)
        slice_spacing = spacing if slice_spacing is None else slice_spacing
        rows.extend(frames)
        sizes.extend([size] * n_frames)
        dataset_index.extend([number] * n_frames)
        frame_index.extend(range(n_frames))
        frame_labels.extend([label] if n_frames == 1 else
                            [f"{label} frame {f + 1}" for f in range(n_frames)])
    frame_labels = tuple(frame_labels)
    positions, orientations, spacings, slopes, intercepts = zip(*rows)
    planes = FramePlanes(
        positions=_as_vectors(positions, 3, "ImagePositionPatient", frame_labels),
        orientations=_as_vectors(orientations, 6, "ImageOrientationPatient", frame_labels),
        pixel_spacings=_as_vectors(spacings, 2, "PixelSpacing", frame_labels),
        sizes=np.array(sizes, dtype=np.int64),
        labels=frame_labels,
    )
    return FrameTable(planes=planes, slopes=np.array(slopes, dtype=np.float64),
                      intercepts=np.array(intercepts, dtype=np.float64),
                      dataset_index=np.array(dataset_index, dtype=np.int64),
                      frame_index=np.array(frame_index, dtype=np.int64),
                      slice_spacing=slice_spacing)
