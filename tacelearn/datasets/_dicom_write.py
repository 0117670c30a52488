"""Writing a volume as a DICOM MR image series, one classic single-frame file per slice.

It turns the synthetic cohort (or any NIfTI volume) into the DICOM a hospital exports, so that
the DICOM path of tacelearn can be tried, tested and timed without patient data.
"""

from __future__ import annotations

import numpy as np
import pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, MRImageStorage, generate_uid
from pydicom.valuerep import format_number_as_ds

from ..utils import atomic_directory
from ._dicom_geometry import LPS_TO_RAS

__all__ = ["write_dicom_series"]

_INT16 = np.iinfo(np.int16)


def _ds(value):
    """A number as DICOM's decimal string (at most 16 characters), and the float it reads as."""
    text = format_number_as_ds(float(value))
    return text, float(text)


def _quantise(volume):
    """int16 stored values with the Rescale Slope and Intercept (as written) that restore them.

    An integer volume within int16 is stored as it is; any other is mapped linearly onto
    [-32767, 32767], so that the error is at most half a slope.
    """
    low, high = float(volume.min()), float(volume.max())
    integral = bool(np.all(volume == np.round(volume)))
    if integral and _INT16.min <= low and high <= _INT16.max:
        return volume.astype(np.int16), ("1", 1.0), ("0", 0.0)
    slope = _ds((high - low) / (2 * _INT16.max) if high > low else 1.0)
    intercept = _ds(low + _INT16.max * slope[1])
    stored = np.round((volume.astype(np.float64) - intercept[1]) / slope[1])
    return np.clip(stored, _INT16.min, _INT16.max).astype(np.int16), slope, intercept


def _plane_geometry(affine):
    """Row and column cosines, pixel spacing, slice step and origin (LPS+) of an affine."""
    lps = LPS_TO_RAS @ np.asarray(affine, dtype=np.float64)
    axes = lps[:3, :3]
    spacing = np.linalg.norm(axes, axis=0)
    if not (np.isfinite(lps).all() and (spacing > 0).all()):
        raise ValueError(f"the affine is singular or not finite:\n{affine}")
    cosines = axes / spacing
    off_diagonal = np.abs(cosines.T @ cosines - np.eye(3)).max()
    if off_diagonal > 1e-6:
        raise ValueError("the affine's axes are not orthogonal; a DICOM stack of slices "
                         "needs an orthogonal grid")
    return cosines, spacing, lps[:3, 3]


def _common_attributes(shape, cosines, spacing, uids, patient_id, series_description,
                       series_number):
    dataset = Dataset()
    dataset.SOPClassUID = MRImageStorage
    dataset.StudyInstanceUID = uids["study"]
    dataset.SeriesInstanceUID = uids["series"]
    dataset.FrameOfReferenceUID = uids["frame_of_reference"]
    dataset.Modality = "MR"
    dataset.PatientID = patient_id
    # A trailing caret: the id is a family name, not a one-component name of unknown kind.
    dataset.PatientName = f"{patient_id}^"
    dataset.PatientBirthDate = ""
    dataset.PatientSex = ""
    dataset.StudyID = ""
    dataset.StudyDate = ""
    dataset.StudyTime = ""
    dataset.ReferringPhysicianName = ""
    dataset.AccessionNumber = ""
    dataset.Manufacturer = "tacelearn"
    dataset.SeriesDescription = series_description
    dataset.SeriesNumber = int(series_number)
    dataset.PositionReferenceIndicator = ""
    dataset.ImageOrientationPatient = [_ds(c)[0] for c in
                                       np.concatenate([cosines[:, 0], cosines[:, 1]])]
    # Pixel Spacing is (between rows, between columns): rows run along array axis 1.
    dataset.PixelSpacing = [_ds(spacing[1])[0], _ds(spacing[0])[0]]
    dataset.SliceThickness = _ds(spacing[2])[0]
    dataset.Rows, dataset.Columns = int(shape[1]), int(shape[0])
    dataset.SamplesPerPixel = 1
    dataset.PhotometricInterpretation = "MONOCHROME2"
    dataset.BitsAllocated = 16
    dataset.BitsStored = 16
    dataset.HighBit = 15
    dataset.PixelRepresentation = 1
    return dataset


def write_dicom_series(volume, affine, folder, *, patient_id="ANONYMOUS", series_description="",
                       series_number=1, study_instance_uid=None, frame_of_reference_uid=None,
                       overwrite=False):
    """Write a 3D volume as a DICOM MR image series, one file per slice along axis 2.

    Intensities are stored as int16 with *Rescale Slope* and *Intercept*: an integer volume
    within the int16 range exactly (slope 1, intercept 0), any other mapped linearly onto
    [-32767, 32767] (the error is at most half the slope). Geometry is written as decimal
    strings of up to 16 characters, so :func:`read_dicom_series` gives back the affine to
    about 1e-10 mm, with the slices in increasing order along ``row x column`` direction.

    Parameters
    ----------
    volume : numpy.ndarray, shape (x, y, z)
        Array axis 0 runs along a row of each slice, axis 1 along a column.
    affine : numpy.ndarray, shape (4, 4)
        Voxel-to-world RAS+ affine (as nibabel gives), with orthogonal axes.
    folder : str or path-like
        The folder to create; it must not exist unless ``overwrite``. It is written under a
        temporary name and moved into place when complete.
    patient_id : str, default="ANONYMOUS"
        PatientID (and PatientName) of every file.
    series_description : str, default=""
        SeriesDescription, which :func:`build_manifest` matches to recognise sequences.
    series_number : int, default=1
        SeriesNumber of every file.
    study_instance_uid, frame_of_reference_uid : str, optional
        Shared by the series of one examination (new ones by default).
    overwrite : bool, default=False
        Whether an existing ``folder`` is replaced (once the new one is complete).

    Returns
    -------
    series_instance_uid : str
        The new series' SeriesInstanceUID, for ``folder#<uid>`` paths.

    Raises
    ------
    ValueError
        If ``volume`` is not 3D or not finite, or the affine is singular or not orthogonal.

    See Also
    --------
    read_dicom_series : Read it back.

    Examples
    --------
    >>> import tempfile, numpy as np
    >>> from tacelearn.datasets import read_dicom_series, write_dicom_series
    >>> volume = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    >>> affine = np.diag([-0.8, -0.8, 2.5, 1.0])   # stored L -> R, P -> A, I -> S
    >>> folder = tempfile.mkdtemp() + "/series"
    >>> _ = write_dicom_series(volume, affine, folder, series_description="T2 axial")
    >>> back, back_affine = read_dicom_series(folder)
    >>> bool((back == volume).all()), bool(np.allclose(back_affine, affine))
    (True, True)
    """
    volume = np.asarray(volume)
    if volume.ndim != 3 or not np.isfinite(volume).all():
        raise ValueError(f"a finite 3D volume is needed, got shape {volume.shape}")
    cosines, spacing, origin = _plane_geometry(affine)
    stored, slope, intercept = _quantise(volume)
    uids = {"study": study_instance_uid or generate_uid(), "series": generate_uid(),
            "frame_of_reference": frame_of_reference_uid or generate_uid()}
    common = _common_attributes(volume.shape, cosines, spacing, uids, patient_id,
                                series_description, series_number)
    common.RescaleSlope, common.RescaleIntercept = slope[0], intercept[0]
    with atomic_directory(folder, overwrite=overwrite) as tmp:
        for k in range(volume.shape[2]):
            dataset = common.copy()
            dataset.SOPInstanceUID = generate_uid()
            dataset.InstanceNumber = k + 1
            dataset.ImagePositionPatient = [_ds(c)[0] for c in origin + k * cosines[:, 2]
                                            * spacing[2]]
            dataset.PixelData = np.ascontiguousarray(stored[:, :, k].T, dtype="<i2").tobytes()
            dataset.file_meta = FileMetaDataset()
            dataset.file_meta.MediaStorageSOPClassUID = MRImageStorage
            dataset.file_meta.MediaStorageSOPInstanceUID = dataset.SOPInstanceUID
            dataset.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
            pydicom.dcmwrite(tmp / f"slice_{k + 1:04d}.dcm", dataset,
                             enforce_file_format=True)
    return uids["series"]

