"""Round trips: the synthetic cohort's NIfTI volumes and masks written as DICOM series,
DICOM-SEG (highdicom) and RT-STRUCT (contourpy + pydicom), read back, and the same volumes,
affines and tumour patches as from the NIfTI files.

What "the same" means after the stated conversions: the synthetic volumes are integers within
int16, so they are stored exactly (slope 1); geometry goes through 16-character decimal
strings, so affines agree to 1e-9 mm; DICOM orders slices along row x column, so volumes
are compared after ``reorient_to_ras`` (axis flips only, no interpolation). A non-integer
volume is stored as int16 with Rescale Slope and Intercept and read back as
``stored * slope + intercept``, within half a slope of the original.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pydicom
import pytest
from test_dicom_writers import dicom_cohort, series_datasets, write_seg

from tacelearn.datasets import (
    make_tace_cohort,
    read_cohort,
    read_dicom_seg,
    read_dicom_series,
    read_rtstruct,
    write_dicom_series,
)
from tacelearn.transformers import (
    TumourPatchExtractor,
    load_nifti,
    load_volume,
    reorient_to_ras,
)
from tacelearn.transformers._image import volume_stamp

LPS = np.diag([-1.0, -1.0, 1.0])


@pytest.fixture(scope="module")
def cohorts(tmp_path_factory):
    """The synthetic cohort as NIfTI, as DICOM with SEG masks, as DICOM with RT-STRUCT masks."""
    folder = tmp_path_factory.mktemp("dicom_cohort")
    nifti = make_tace_cohort(folder / "nifti", n_per_center=(5, 2, 2), image_shape=(32, 32, 8),
                             random_state=3)
    return {"nifti": nifti, "seg": dicom_cohort(nifti, folder / "seg"),
            "rtstruct": dicom_cohort(nifti, folder / "rtstruct", rtstruct=True)}


def _ras(volume, affine):
    return reorient_to_ras(volume, affine)


def test_cohort_volumes_affines_and_masks_come_back(cohorts):
    nifti, seg, rtstruct = cohorts["nifti"], cohorts["seg"], cohorts["rtstruct"]
    orders = set()
    for i in range(len(nifti)):
        for column in ("t1c_path", "t2_path"):
            expected, expected_affine = _ras(*load_nifti(nifti[column].iloc[i]))
            volume, affine = read_dicom_series(seg[column].iloc[i])
            orders.add(tuple(np.sign(np.diag(affine))[:3]))
            got, got_affine = _ras(volume, affine)
            np.testing.assert_array_equal(got, expected)
            np.testing.assert_allclose(got_affine, expected_affine, atol=1e-9)
        mask, mask_affine = load_nifti(nifti["mask_path"].iloc[i])
        image_affine = read_dicom_series(seg["t1c_path"].iloc[i])[1]
        for masks, reader in ((seg, read_dicom_seg), (rtstruct, read_rtstruct)):
            read = reader(masks["mask_path"].iloc[i], masks["t1c_path"].iloc[i])
            assert read.dtype == np.uint8
            np.testing.assert_array_equal(_ras(read, image_affine)[0],
                                          _ras(mask, mask_affine)[0])
    # The centres store RAS, LPS and LAS: LAS comes back with its slices reversed.
    assert len(orders) > 1


@pytest.mark.parametrize("settings", [
    {"size": 32},
    {"size": 24, "context_slices": 1, "lesion": "all", "normalization": "zscore_tumour"},
    {"size": 16, "spacing": 9.0, "normalization": None},
])
def test_patches_from_dicom_equal_patches_from_nifti(cohorts, settings):
    extractor = TumourPatchExtractor(**settings)
    expected = extractor.fit_transform(cohorts["nifti"])
    for name in ("seg", "rtstruct"):
        patches = TumourPatchExtractor(**settings).fit_transform(cohorts[name])
        if "spacing" in settings:
            # Resampling weights come from the affine: NIfTI stores it as float32.
            np.testing.assert_allclose(patches, expected, rtol=1e-5, atol=1e-3)
        else:
            np.testing.assert_array_equal(patches, expected)


def test_non_integer_values_are_stored_with_a_rescale_and_read_back_exactly(tmp_path):
    rng = np.random.default_rng(4)
    volume = (rng.normal(300.0, 80.0, (9, 7, 5)) * 0.37 + 12.5).astype(np.float32)
    angle = np.radians(20)
    affine = np.eye(4)          # oblique: rotated 20 degrees about the superior axis
    affine[:3, :3] = np.array([[np.cos(angle), -np.sin(angle), 0], [np.sin(angle),
                               np.cos(angle), 0], [0, 0, 1]]) @ np.diag([0.7, 0.9, 3.0])
    affine[:3, 3] = [-5.0, 12.0, 40.0]
    write_dicom_series(volume, affine, tmp_path / "series")
    read, read_affine = read_dicom_series(tmp_path / "series")

    files = series_datasets(tmp_path / "series")
    slope, intercept = float(files[0].RescaleSlope), float(files[0].RescaleIntercept)
    assert (files[0].PixelRepresentation, files[0].BitsAllocated) == (1, 16)   # int16
    expected = np.stack([f.pixel_array.T.astype(np.float64) * slope + intercept
                         for f in files], axis=-1).astype(np.float32)
    np.testing.assert_array_equal(read, expected)
    assert np.abs(read - volume).max() <= slope / 2 * 1.001
    np.testing.assert_allclose(read_affine, affine, atol=1e-9)


def test_simpleitk_reads_the_written_series_as_written(tmp_path):
    import SimpleITK as sitk

    volume = np.random.default_rng(5).normal(100.0, 30.0, (8, 6, 4)).astype(np.float32)
    affine = np.diag([1.1, -0.6, -2.0, 1.0])            # axes to R, P, I: unusual on purpose
    affine[:3, 3] = [3.0, 4.0, 5.0]
    write_dicom_series(volume, affine, tmp_path / "series")
    reader = sitk.ImageSeriesReader()
    reader.SetFileNames(reader.GetGDCMSeriesFileNames(str(tmp_path / "series")))
    image = reader.Execute()
    direction = np.array(image.GetDirection()).reshape(3, 3)
    sitk_affine = np.eye(4)
    sitk_affine[:3, :3] = LPS @ direction @ np.diag(image.GetSpacing())
    sitk_affine[:3, 3] = LPS @ np.array(image.GetOrigin())
    sitk_volume = sitk.GetArrayFromImage(image).T
    got, got_affine = _ras(sitk_volume, sitk_affine)
    expected, expected_affine = _ras(volume, affine)
    slope = float(series_datasets(tmp_path / "series")[0].RescaleSlope)
    assert np.abs(got - expected).max() <= slope / 2 * 1.001
    np.testing.assert_allclose(got_affine, expected_affine, atol=1e-6)


def test_an_enhanced_multiframe_conversion_reads_as_its_series(cohorts, tmp_path):
    import highdicom

    folder = cohorts["seg"]["t2_path"].iloc[5]
    legacy = series_datasets(folder)
    enhanced = highdicom.legacy.LegacyConvertedEnhancedMRImage(
        legacy, series_instance_uid=highdicom.UID(), series_number=9,
        sop_instance_uid=highdicom.UID(), instance_number=1)
    enhanced.save_as(tmp_path / "enhanced.dcm")
    assert int(pydicom.dcmread(tmp_path / "enhanced.dcm").NumberOfFrames) == len(legacy)
    volume, affine = read_dicom_series(tmp_path / "enhanced.dcm")
    expected, expected_affine = read_dicom_series(folder)
    np.testing.assert_array_equal(volume, expected)
    np.testing.assert_allclose(affine, expected_affine, atol=1e-9)


def test_load_volume_dispatches_on_what_the_path_is(cohorts, tmp_path):
    nifti, seg, rtstruct = (cohorts[k].iloc[0] for k in ("nifti", "seg", "rtstruct"))
    series_folder = Path(seg["t1c_path"])
    np.testing.assert_array_equal(load_volume(nifti["t1c_path"])[0],
                                  load_nifti(nifti["t1c_path"])[0])
    volume, affine = load_volume(series_folder)
    np.testing.assert_array_equal(volume, read_dicom_series(series_folder)[0])
    uid = str(pydicom.dcmread(next(series_folder.glob("*.dcm"))).SeriesInstanceUID)
    np.testing.assert_array_equal(load_volume(f"{series_folder.parent}#{uid}")[0], volume)
    one_file = next(series_folder.glob("*.dcm"))
    assert load_volume(one_file)[0].shape == volume.shape[:2] + (1,)

    for masks in (seg, rtstruct):
        mask, mask_affine = load_volume(masks["mask_path"], reference=masks["t1c_path"])
        assert (mask.dtype, mask.shape) == (np.float32, volume.shape)
        np.testing.assert_array_equal(mask_affine, read_dicom_series(masks["t1c_path"])[1])
        with pytest.raises(ValueError, match=r"mask: it is read onto the image series it was "
                                             r"drawn on, and none was given"):
            load_volume(masks["mask_path"])
        with pytest.raises(ValueError, match=r"its image .*t1c\.nii\.gz a NIfTI file"):
            load_volume(masks["mask_path"], reference=nifti["t1c_path"])
    with pytest.raises(FileNotFoundError, match=r"image file not found: .*nowhere"):
        load_volume(tmp_path / "nowhere")
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(ValueError, match=r"notes\.txt is neither a NIfTI file"):
        load_volume(tmp_path / "notes.txt")
    with pytest.raises(TypeError, match=r"path must be a str or path-like"):
        load_volume(3)


def test_a_seg_of_the_t2_series_is_not_read_onto_the_t1c(cohorts, tmp_path):
    patient = cohorts["seg"].iloc[2]
    mask, _ = load_nifti(cohorts["nifti"]["mask_path"].iloc[2])
    on_t2 = write_seg(mask, patient["t2_path"], tmp_path / "seg_t2.dcm")
    with pytest.raises(ValueError, match=r"seg_t2\.dcm does not reference the image series "
                                         r".*t1c \(SeriesInstanceUID"):
        load_volume(on_t2, reference=patient["t1c_path"])


def test_read_cohort_accepts_dicom_folders_files_and_series_uids(cohorts, tmp_path):
    seg = cohorts["seg"]
    folder = Path(seg["t1c_path"].iloc[0]).parent
    uid = str(pydicom.dcmread(next(Path(seg["t2_path"].iloc[0]).glob("*.dcm")))
              .SeriesInstanceUID)
    manifest = pd.DataFrame({
        "patient_id": ["P1", "P2"], "center": ["A", "A"], "split": ["train", "train"],
        "t1c_path": [os.path.relpath(seg["t1c_path"].iloc[0], tmp_path), "gone/t1c"],
        "t2_path": [os.path.relpath(f"{folder}#{uid}", tmp_path), None],
        "mask_path": [os.path.relpath(seg["mask_path"].iloc[0], tmp_path), None],
    })
    manifest.to_csv(tmp_path / "cohort.csv", index=False)
    with pytest.raises(ValueError, match=r"'t1c_path': image file or DICOM folder not found "
                                         r"at row\(s\) \[1\] \(patient\(s\) P2\)"):
        read_cohort(tmp_path / "cohort.csv")
    manifest.iloc[:1].to_csv(tmp_path / "cohort.csv", index=False)
    cohort = read_cohort(tmp_path / "cohort.csv")
    assert cohort["t2_path"].iloc[0] == f"{folder}#{uid}"


def test_volume_stamp_sees_a_changed_slice(cohorts):
    folder = Path(cohorts["seg"]["t2_path"].iloc[1])
    before = volume_stamp(f"{folder}#1.2.3")
    assert before == volume_stamp(folder)
    first = sorted(folder.glob("*.dcm"))[0]
    with open(first, "ab") as file:
        file.write(b"\0\0")
    assert volume_stamp(folder)[1] == before[1] + 2


def test_the_extractor_reads_a_series_named_by_its_uid(cohorts):
    seg = cohorts["seg"].copy()
    folder = Path(seg["t2_path"].iloc[0])
    uid = str(pydicom.dcmread(next(folder.glob("*.dcm"))).SeriesInstanceUID)
    seg.loc[seg.index[0], "t2_path"] = f"{folder.parent}#{uid}"
    expected = TumourPatchExtractor(size=16).fit_transform(cohorts["nifti"])
    np.testing.assert_array_equal(TumourPatchExtractor(size=16).fit_transform(seg), expected)
