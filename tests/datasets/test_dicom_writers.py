"""Helpers of the DICOM tests (no tests here): masks written by other libraries.

DICOM-SEG objects are written by highdicom, RT-STRUCT contours are traced by contourpy's
marching squares and written with pydicom, so that tacelearn's readers are checked against
files whose geometry it did not compute. Image series come from
``tacelearn.datasets.write_dicom_series``, which ``test_dicom_roundtrip.py`` checks against
SimpleITK.
"""

from __future__ import annotations

from pathlib import Path

import contourpy
import highdicom as hd
import numpy as np
import pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.sr.codedict import codes
from pydicom.uid import ExplicitVRLittleEndian, RTStructureSetStorage, generate_uid
from pydicom.valuerep import format_number_as_ds

from tacelearn.datasets import write_dicom_series
from tacelearn.transformers import load_nifti

LPS = np.diag([-1.0, -1.0, 1.0, 1.0])


def series_datasets(folder):
    """The files of a series written by ``write_dicom_series``, in written (slice) order."""
    return [pydicom.dcmread(path) for path in sorted(Path(folder).glob("slice_*.dcm"))]


def write_seg(masks, series_folder, path, *, labels=("tumour",), kind="BINARY"):
    """A DICOM-SEG written by highdicom: one segment per mask ``(x, y, z)`` in ``masks``.

    ``kind`` is "BINARY" or "FRACTIONAL" (then the masks hold fractions in [0, 1]). Frames
    follow the source series' files, slice k of the volume on file k; highdicom leaves out
    the empty frames.
    """
    sources = series_datasets(series_folder)
    masks = [np.asarray(m) for m in (masks if isinstance(masks, (list, tuple)) else [masks])]
    # highdicom takes (frames, rows, columns, segments): frame k is slice k transposed.
    pixels = np.stack([np.stack([m[:, :, k].T for k in range(m.shape[2])]) for m in masks],
                      axis=-1)
    fractional = kind == "FRACTIONAL"
    descriptions = [
        hd.seg.SegmentDescription(
            segment_number=number, segment_label=label,
            segmented_property_category=codes.SCT.MorphologicallyAbnormalStructure,
            segmented_property_type=codes.SCT.Neoplasm,
            algorithm_type=hd.seg.SegmentAlgorithmTypeValues.MANUAL)
        for number, label in enumerate(labels, start=1)
    ]
    seg = hd.seg.Segmentation(
        source_images=sources,
        pixel_array=pixels.astype(np.float32 if fractional else bool),
        segmentation_type=getattr(hd.seg.SegmentationTypeValues, kind),
        segment_descriptions=descriptions, series_instance_uid=hd.UID(), series_number=100,
        sop_instance_uid=hd.UID(), instance_number=1, manufacturer="tests",
        manufacturer_model_name="tests", software_versions="0", device_serial_number="0",
        series_description="tumour segmentation",
        **({"max_fractional_value": 255} if fractional else {}),
    )
    seg.save_as(path)
    return Path(path)


def _ds(value):
    return format_number_as_ds(float(value))


def mask_contours(mask, affine):
    """Closed contours (LPS mm) of a binary mask, per slice, traced at level 0.5.

    The mask is padded by one voxel so that every contour closes; marching squares put the
    vertices halfway between voxel centres, so no centre lies on an edge.
    """
    contours = []
    for k in range(mask.shape[2]):
        plane = np.pad(mask[:, :, k].astype(np.float64), 1)
        if not plane.any():
            continue
        # contourpy takes z[row, column] with x along columns: x = array axis 0 here.
        generator = contourpy.contour_generator(z=plane.T, line_type="Separate")
        for line in generator.lines(0.5):
            voxels = np.column_stack([line - 1.0, np.full(len(line), k)])[:-1]
            ras = (affine[:3, :3] @ voxels.T).T + affine[:3, 3]
            contours.append(ras * np.diag(LPS)[:3])
    return contours


def write_rtstruct(mask, series_folder, path, *, roi_name="tumour", extra_rois=()):
    """An RT-STRUCT with the mask's contours as ROI 1, on the series of ``series_folder``.

    ``extra_rois`` adds ``(name, contours)`` pairs (LPS point arrays) as further regions.
    """
    sources = series_datasets(series_folder)
    first = sources[0]
    affine = _series_affine(series_folder)
    dataset = Dataset()
    dataset.SOPClassUID = RTStructureSetStorage
    dataset.SOPInstanceUID = generate_uid()
    dataset.StudyInstanceUID = first.StudyInstanceUID
    dataset.SeriesInstanceUID = generate_uid()
    dataset.Modality = "RTSTRUCT"
    dataset.PatientID = first.PatientID
    dataset.PatientName = first.PatientName
    dataset.SeriesDescription = "tumour contours"
    dataset.StructureSetLabel = "tumour"
    series_item = Dataset()
    series_item.SeriesInstanceUID = first.SeriesInstanceUID
    study_item = Dataset()
    study_item.ReferencedSOPClassUID = "1.2.840.10008.3.1.2.3.1"
    study_item.ReferencedSOPInstanceUID = first.StudyInstanceUID
    study_item.RTReferencedSeriesSequence = Sequence([series_item])
    frame_item = Dataset()
    frame_item.FrameOfReferenceUID = first.FrameOfReferenceUID
    frame_item.RTReferencedStudySequence = Sequence([study_item])
    dataset.ReferencedFrameOfReferenceSequence = Sequence([frame_item])
    rois = [(roi_name, mask_contours(mask, affine)), *extra_rois]
    dataset.StructureSetROISequence = Sequence()
    dataset.ROIContourSequence = Sequence()
    for number, (name, contours) in enumerate(rois, start=1):
        roi = Dataset()
        roi.ROINumber = number
        roi.ReferencedFrameOfReferenceUID = first.FrameOfReferenceUID
        roi.ROIName = name
        roi.ROIGenerationAlgorithm = "AUTOMATIC"
        dataset.StructureSetROISequence.append(roi)
        item = Dataset()
        item.ReferencedROINumber = number
        item.ContourSequence = Sequence()
        for points in contours:
            contour = Dataset()
            contour.ContourGeometricType = "CLOSED_PLANAR"
            contour.NumberOfContourPoints = len(points)
            contour.ContourData = [_ds(v) for v in np.asarray(points).ravel()]
            item.ContourSequence.append(contour)
        dataset.ROIContourSequence.append(item)
    dataset.file_meta = FileMetaDataset()
    dataset.file_meta.MediaStorageSOPClassUID = RTStructureSetStorage
    dataset.file_meta.MediaStorageSOPInstanceUID = dataset.SOPInstanceUID
    dataset.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    pydicom.dcmwrite(path, dataset, enforce_file_format=True)
    return Path(path)


def _series_affine(folder):
    """RAS+ affine of a written series from its first two files, by DICOM's equations."""
    first, second = series_datasets(folder)[:2]
    row, column = (np.array(first.ImageOrientationPatient[i:i + 3], dtype=float)
                   for i in (0, 3))
    lps = np.eye(4)
    lps[:3, 0] = row * float(first.PixelSpacing[1])
    lps[:3, 1] = column * float(first.PixelSpacing[0])
    lps[:3, 2] = (np.array(second.ImagePositionPatient, dtype=float)
                  - np.array(first.ImagePositionPatient, dtype=float))
    lps[:3, 3] = np.array(first.ImagePositionPatient, dtype=float)
    return LPS @ lps


def dicom_cohort(cohort, folder, *, rtstruct=False):
    """The cohort's NIfTI volumes as DICOM: per patient a folder with T1C and T2 series (one
    study, one frame of reference) and the mask as DICOM-SEG (or RT-STRUCT) on the T1C."""
    rows = []
    for record in cohort.to_dict("records"):
        patient = Path(folder) / record["patient_id"]
        study, frame = generate_uid(), generate_uid()
        paths = {}
        for column, description in (("t1c_path", "T1C arterial"), ("t2_path", "T2 axial")):
            volume, affine = load_nifti(record[column])
            paths[column] = str(patient / column.removesuffix("_path"))
            write_dicom_series(volume, affine, paths[column], patient_id=record["patient_id"],
                               series_description=description, study_instance_uid=study,
                               frame_of_reference_uid=frame)
        mask, _ = load_nifti(record["mask_path"])
        writer = write_rtstruct if rtstruct else write_seg
        paths["mask_path"] = str(writer(mask, paths["t1c_path"],
                                        patient / ("rtstruct.dcm" if rtstruct else "seg.dcm")))
        rows.append(paths)
    converted = cohort.copy()
    for column in ("t1c_path", "t2_path", "mask_path"):
        converted[column] = [row[column] for row in rows]
    return converted


def rewrite(path, **attributes):
    """Set attributes of a DICOM file in place (a new file would change the series)."""
    dataset = pydicom.dcmread(path)
    for keyword, value in attributes.items():
        setattr(dataset, keyword, value)
    dataset.save_as(path)


def file_list(folder):
    return sorted(str(p) for p in Path(folder).glob("*.dcm"))

