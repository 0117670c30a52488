"""read_dicom_series: real DICOM files nobody here wrote, and every refusal of a bad series.

References: pydicom's own attributes and decoders (pixel_array, apply_modality_lut), the
DICOM standard's pixel-to-patient equation (PS3.3 C.7.6.2.1.1) written out below, highdicom's
and SimpleITK's volumes, nibabel's test files.
"""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import nibabel
import numpy as np
import pydicom
import pytest
from pydicom.data import get_testdata_file
from pydicom.pixels import apply_modality_lut
from pydicom.valuerep import format_number_as_ds
from test_dicom_writers import file_list, rewrite

from tacelearn.datasets import _dicom_geometry as geometry
from tacelearn.datasets import read_dicom_series, write_dicom_series
from tacelearn.transformers import reorient_to_ras

NIBABEL_DICOM = Path(nibabel.__file__).parent / "nicom" / "tests" / "data"
LPS = np.diag([-1.0, -1.0, 1.0])


def patient_position(dataset, column, row):
    """DICOM PS3.3 C.7.6.2.1.1: P = S + X * dj * column + Y * di * row (LPS mm)."""
    orientation = np.array(dataset.ImageOrientationPatient, dtype=float)
    row_spacing, column_spacing = (float(s) for s in dataset.PixelSpacing)
    return (np.array(dataset.ImagePositionPatient, dtype=float)
            + orientation[:3] * column_spacing * column + orientation[3:] * row_spacing * row)


def world(affine, index):
    return (affine @ np.append(np.asarray(index, dtype=float), 1.0))[:3]


def corners(shape):
    return [(i, j, k) for i in (0, shape[0] - 1) for j in (0, shape[1] - 1)
            for k in (0, shape[2] - 1)]


# ---------------------------------------------------------------- real single-frame files


@pytest.mark.parametrize("name", ["MR_small.dcm", "CT_small.dcm"])
def test_single_file_matches_pydicom_and_the_dicom_equation(name):
    path = get_testdata_file(name)
    dataset = pydicom.dcmread(path)
    volume, affine = read_dicom_series(path)

    # Stored values through the modality LUT (CT: slope 1, intercept -1024), column first.
    expected = apply_modality_lut(dataset.pixel_array, dataset).astype(np.float32)
    assert volume.shape == (dataset.Columns, dataset.Rows, 1)
    assert volume.dtype == np.float32
    np.testing.assert_array_equal(volume[:, :, 0], expected.T)
    # Every corner pixel lies where the standard's equation puts it (RAS = LPS with x, y negated).
    for column, row in [(0, 0), (dataset.Columns - 1, 0), (0, dataset.Rows - 1),
                        (dataset.Columns - 1, dataset.Rows - 1)]:
        np.testing.assert_allclose(world(affine, (column, row, 0)),
                                   LPS @ patient_position(dataset, column, row), atol=1e-9)
    # One slice: its spacing is the slice thickness.
    assert np.linalg.norm(affine[:3, 2]) == pytest.approx(float(dataset.SliceThickness))


def test_ct_values_are_hounsfield_units():
    dataset = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    volume, _ = read_dicom_series(get_testdata_file("CT_small.dcm"))
    assert (dataset.RescaleSlope, dataset.RescaleIntercept) == (1, -1024)
    assert volume.min() == dataset.pixel_array.min() - 1024


@pytest.mark.parametrize("name", ["MR_small_RLE.dcm", "MR_small_bigendian.dcm",
                                  "MR_small_implicit.dcm", "MR_small_expb.dcm",
                                  "MR_small_jpeg_ls_lossless.dcm", "MR_small_jp2klossless.dcm"])
def test_every_transfer_syntax_reads_the_same_volume(name):
    reference = read_dicom_series(get_testdata_file("MR_small.dcm"))
    volume, affine = read_dicom_series(get_testdata_file(name))
    np.testing.assert_array_equal(volume, reference[0])
    np.testing.assert_array_equal(affine, reference[1])


def test_decimal_rescale_and_oblique_jpeg2000_files_from_nibabel():
    rescaled = NIBABEL_DICOM / "decimal_rescale.dcm"
    dataset = pydicom.dcmread(rescaled)
    volume, _ = read_dicom_series(rescaled)
    np.testing.assert_array_equal(
        volume[:, :, 0], apply_modality_lut(dataset.pixel_array, dataset).T.astype(np.float32))

    oblique = NIBABEL_DICOM / "slicethickness_empty_string.dcm"   # JPEG 2000, sagittal oblique
    dataset = pydicom.dcmread(oblique)
    volume, affine = read_dicom_series(oblique)
    np.testing.assert_array_equal(volume[:, :, 0], dataset.pixel_array.T.astype(np.float32))
    np.testing.assert_allclose(world(affine, (17, 250, 0)),
                               LPS @ patient_position(dataset, 17, 250), atol=1e-9)
    assert np.linalg.norm(affine[:3, 2]) == 1.0        # no thickness in the header: 1 mm


# -------------------------------------------------------------- a real enhanced MR file


@pytest.fixture(scope="module")
def enhanced_mr(tmp_path_factory):
    """nibabel's Philips enhanced MR (176 frames with per-frame functional groups, oblique,
    Rescale Slope 2.108 per frame) with known stored values in place of its zeroed pixels."""
    folder = tmp_path_factory.mktemp("enhanced")
    with gzip.open(NIBABEL_DICOM / "philips_mprage.dcm.gz") as source:
        dataset = pydicom.dcmread(source)
    stored = np.random.default_rng(0).integers(0, 4096, (176, 256, 256), dtype=np.uint16)
    dataset.PixelData = stored.tobytes()
    dataset.save_as(folder / "mprage.dcm")
    return folder / "mprage.dcm", dataset, stored


def test_enhanced_multiframe_matches_highdicom_and_the_functional_groups(enhanced_mr):
    import highdicom

    path, dataset, stored = enhanced_mr
    volume, affine = read_dicom_series(path)
    reference = highdicom.imread(path).get_volume()
    expected, expected_affine = reorient_to_ras(reference.array.astype(np.float32),
                                                np.diag([-1.0, -1.0, 1.0, 1.0]) @ reference.affine)
    ras, ras_affine = reorient_to_ras(volume, affine)
    np.testing.assert_array_equal(ras, expected)
    np.testing.assert_allclose(ras_affine, expected_affine, atol=1e-4)

    # Straight from the headers: frame f's first pixel lies at its PlanePosition, and holds
    # stored * that frame's RescaleSlope + RescaleIntercept.
    for frame in (0, 75, 175):
        groups = dataset.PerFrameFunctionalGroupsSequence[frame]
        position = np.array(groups.PlanePositionSequence[0].ImagePositionPatient, dtype=float)
        transform = groups.PixelValueTransformationSequence[0]
        index = np.linalg.solve(affine[:3, :3], LPS @ position - affine[:3, 3])
        np.testing.assert_allclose(index[:2], 0.0, atol=1e-4)
        k = int(round(index[2]))
        assert abs(index[2] - k) < 1e-4
        value = np.float32(float(stored[frame, 0, 0]) * float(transform.RescaleSlope)
                           + float(transform.RescaleIntercept))
        assert volume[0, 0, k] == value
        np.testing.assert_array_equal(volume[:, :, k][5, 7], np.float32(
            float(stored[frame, 7, 5]) * float(transform.RescaleSlope)))


# ---------------------------------------------------- series written here, read by others


@pytest.fixture
def series(tmp_path):
    """A 6-slice series (integers, so stored exactly) and its volume and affine."""
    volume = np.random.default_rng(1).integers(-500, 1500, (12, 10, 6)).astype(np.float32)
    affine = np.diag([-0.9, -0.8, 2.5, 1.0])
    affine[:3, 3] = [30.0, -20.0, 10.0]
    write_dicom_series(volume, affine, tmp_path / "series", series_description="T2 axial")
    return tmp_path / "series", volume, affine


def test_slices_are_ordered_by_position_not_by_instance_number_or_name(series):
    folder, volume, affine = series
    files = file_list(folder)
    rng = np.random.default_rng(2)
    for number, path in zip(rng.permutation(len(files)) + 1, files):
        rewrite(path, InstanceNumber=int(number))
        Path(path).rename(folder / f"x{rng.integers(1e9)}_{Path(path).name}")
    read, read_affine = read_dicom_series(folder)
    np.testing.assert_array_equal(read, volume)
    np.testing.assert_allclose(read_affine, affine, atol=1e-9)


def test_simpleitk_reads_the_same_volume(series):
    import SimpleITK as sitk

    folder, _, _ = series
    reader = sitk.ImageSeriesReader()
    reader.SetFileNames(reader.GetGDCMSeriesFileNames(str(folder)))
    image = reader.Execute()
    # SimpleITK: array (slice, row, column); origin, spacing and direction in LPS.
    expected = sitk.GetArrayFromImage(image).T.astype(np.float32)
    direction = np.array(image.GetDirection()).reshape(3, 3)
    expected_affine = np.eye(4)
    expected_affine[:3, :3] = LPS @ direction @ np.diag(image.GetSpacing())
    expected_affine[:3, 3] = LPS @ np.array(image.GetOrigin())
    volume, affine = read_dicom_series(folder)
    np.testing.assert_array_equal(volume, expected)
    np.testing.assert_allclose(affine, expected_affine, atol=1e-6)


def test_a_folder_of_several_series_needs_the_series_named(series, tmp_path):
    folder, volume, _ = series
    other = np.ones((12, 10, 6), dtype=np.float32)
    uid = write_dicom_series(other, np.diag([-1.0, -1.0, 3.0, 1.0]), tmp_path / "t1c",
                             series_description="T1C arterial")
    Path(tmp_path / "stray.txt").write_text("not DICOM")
    with pytest.raises(ValueError, match=r"holds 2 image series.*#<SeriesInstanceUID>") as error:
        read_dicom_series(tmp_path)
    assert f'{uid} (MR "T1C arterial", 6 files)' in str(error.value)
    assert '(MR "T2 axial", 6 files)' in str(error.value)
    np.testing.assert_array_equal(read_dicom_series(f"{tmp_path}#{uid}")[0], other)
    with pytest.raises(ValueError, match=r"no series with SeriesInstanceUID 1\.2\.3.*T2 axial"):
        read_dicom_series(f"{tmp_path}#1.2.3")


# ---------------------------------------------------------------------------- refusals


def _as_ds(values):
    return [format_number_as_ds(float(v)) for v in values]


def _positions(folder):
    return {p: np.array(pydicom.dcmread(p).ImagePositionPatient, dtype=float)
            for p in file_list(folder)}


def test_a_missing_slice_is_refused(series):
    folder, _, _ = series
    Path(file_list(folder)[3]).unlink()
    with pytest.raises(ValueError, match=r"series: slice\(s\) missing.*slice_0003\.dcm and "
                                         r"slice_0005\.dcm \(5 mm\).*2\.5 mm apart"):
        read_dicom_series(folder)


def test_uneven_spacing_is_refused(series):
    folder, _, _ = series
    path, position = list(_positions(folder).items())[2]
    rewrite(path, ImagePositionPatient=_as_ds(position + [0, 0, 0.6]))
    with pytest.raises(ValueError, match=r"inconsistent slice spacing: 1\.9 to 3\.1 mm"):
        read_dicom_series(folder)


def test_gantry_tilt_is_refused(series):
    folder, _, _ = series
    # A CT-like tilt: each slice shifted along the column direction by tan(15 deg) x 2.5 mm.
    for k, (path, position) in enumerate(_positions(folder).items()):
        rewrite(path, ImagePositionPatient=_as_ds(position
                                                  + [0, np.tan(np.radians(15)) * 2.5 * k, 0]))
    with pytest.raises(ValueError, match=r"not stacked along their normal.*15\.00 degrees.*"
                                         r"gantry tilt"):
        read_dicom_series(folder)


def test_a_sub_pixel_shear_from_rounded_positions_is_accepted(series):
    folder, volume, _ = series
    for k, (path, position) in enumerate(_positions(folder).items()):
        rewrite(path, ImagePositionPatient=_as_ds(position + [0.01 * k, 0, 0]))
    np.testing.assert_array_equal(read_dicom_series(folder)[0], volume)


@pytest.mark.parametrize(("attributes", "message"), [
    ({"ImageOrientationPatient": ["1", "0", "0", "0", "0.9962", "0.0872"]},
     r"differing orientations: \[1, 0, 0, 0, 1, 0\] in slice_0001.*\[1, 0, 0, 0, 0\.9962, "
     r"0\.0872\] in slice_0003\.dcm"),
    ({"PixelSpacing": ["0.8", "0.95"]}, r"differing pixel spacings: 0\.8 x 0\.9 mm in "),
    ({"ImagePositionPatient": None}, r"slice_0003\.dcm: no ImagePositionPatient"),
    ({"SamplesPerPixel": 3}, r"slice_0003\.dcm: a colour image"),
])
def test_a_slice_unlike_the_others_is_refused(series, attributes, message):
    folder, _, _ = series
    path = file_list(folder)[2]
    if attributes.get("ImagePositionPatient", 0) is None:
        dataset = pydicom.dcmread(path)
        del dataset.ImagePositionPatient
        dataset.save_as(path)
    else:
        rewrite(path, **attributes)
    with pytest.raises(ValueError, match=message):
        read_dicom_series(folder)


def test_a_localizer_of_another_size_in_the_series_is_refused(series):
    folder, _, _ = series
    dataset = pydicom.dcmread(file_list(folder)[0])
    dataset.SOPInstanceUID = pydicom.uid.generate_uid()
    dataset.Rows, dataset.Columns = 4, 4
    dataset.PixelData = np.zeros((4, 4), dtype="<i2").tobytes()
    dataset.save_as(folder / "localizer.dcm")
    with pytest.raises(ValueError, match=r"differing sizes \(rows x columns\): 4 x 4 in "
                                         r"localizer\.dcm; 10 x 12 in slice_0001\.dcm, "):
        read_dicom_series(folder)


def test_two_images_at_one_position_and_a_copied_file_are_refused(series):
    folder, _, _ = series
    shutil.copy(file_list(folder)[1], folder / "copy.dcm")
    with pytest.raises(ValueError, match=r"copy\.dcm and .*slice_0002\.dcm hold the same "
                                         r"instance"):
        read_dicom_series(folder)
    rewrite(folder / "copy.dcm", SOPInstanceUID=pydicom.uid.generate_uid(), EchoNumbers=2)
    with pytest.raises(ValueError, match=r"lie at the same position along the slice normal.*"
                                         r"echoes, phases"):
        read_dicom_series(folder)


def test_non_orthogonal_orientation_and_mixed_frames_of_reference_are_refused(series):
    folder, _, _ = series
    for path in file_list(folder):
        rewrite(path, ImageOrientationPatient=["1", "0", "0", "0.2588", "0.9659", "0"])
    with pytest.raises(ValueError, match=r"not orthogonal \(75\.00 degrees apart"):
        read_dicom_series(folder)
    rewrite(file_list(folder)[0], FrameOfReferenceUID="1.2.3.4")
    with pytest.raises(ValueError, match=r"mix 2 frames of reference"):
        read_dicom_series(folder)


def test_header_guards_apply_before_any_voxel_is_read(series, monkeypatch):
    folder, _, _ = series
    monkeypatch.setattr(geometry, "MAX_VOXELS", 12 * 10 * 6 - 1)
    with pytest.raises(ValueError, match=r"12 x 10 x 6 = 720 voxels, more than the 719"):
        read_dicom_series(folder)
    monkeypatch.undo()
    for path in file_list(folder):
        rewrite(path, PixelSpacing=["0.01", "0.01"])
    with pytest.raises(ValueError, match=r"voxel spacing \(0\.01, 0\.01, 2\.5\) mm is outside"):
        read_dicom_series(folder)


def test_undecodable_and_unplaceable_files_are_refused(tmp_path):
    truncated = tmp_path / "truncated"
    truncated.mkdir()
    shutil.copy(get_testdata_file("MR_truncated.dcm"), truncated)
    with pytest.raises(ValueError, match=r"MR_truncated\.dcm: the pixel data cannot be read"):
        read_dicom_series(truncated)
    with pytest.raises(ValueError, match=r"rtdose\.dcm: a multi-frame file \(15 frames\) "
                                         r"without functional groups"):
        read_dicom_series(get_testdata_file("rtdose.dcm"))
    with pytest.raises(ValueError, match=r"JPEGLSNearLossless_16\.dcm: no ImagePositionPatient"):
        read_dicom_series(get_testdata_file("JPEGLSNearLossless_16.dcm"))
    with pytest.raises(ValueError, match=r"liver_1frame\.dcm is a DICOM-SEG object"):
        read_dicom_series(get_testdata_file("liver_1frame.dcm"))


def test_missing_empty_and_non_dicom_inputs_are_named(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"DICOM series not found: .*nowhere"):
        read_dicom_series(tmp_path / "nowhere")
    with pytest.raises(ValueError, match=r"no DICOM image series found"):
        read_dicom_series(tmp_path)
    (tmp_path / "notes.dcm").write_text("hello")
    with pytest.raises(ValueError, match=r"notes\.dcm is not a DICOM file"):
        read_dicom_series(tmp_path / "notes.dcm")
