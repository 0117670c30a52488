"""read_dicom_seg and read_rtstruct: segments and regions onto their image's grid, and every
refusal (not referencing the series, another frame of reference, frames off the grid).

References: pydicom's own decoding of a real dcmqi DICOM-SEG and brute-force point-in-
rectangle tests of pydicom's real RT-STRUCT; segmentations written by highdicom and contours
traced by contourpy (see test_dicom_writers.py).
"""

from __future__ import annotations

import numpy as np
import pydicom
import pytest
from pydicom.data import get_testdata_file
from pydicom.valuerep import format_number_as_ds
from test_dicom_writers import file_list, mask_contours, rewrite, write_rtstruct, write_seg

from tacelearn.datasets import read_dicom_seg, read_dicom_series, read_rtstruct, write_dicom_series


@pytest.fixture
def image(tmp_path):
    """A 16 x 12 x 6 series, a tumour and a larger organ mask on it."""
    affine = np.diag([-1.5, -1.25, 4.0, 1.0])
    affine[:3, 3] = [10.0, -4.0, -30.0]
    volume = np.arange(16 * 12 * 6, dtype=np.float32).reshape(16, 12, 6)
    write_dicom_series(volume, affine, tmp_path / "series")
    organ = np.zeros(volume.shape, dtype=np.uint8)
    organ[2:14, 1:11, 1:5] = 1
    tumour = np.zeros(volume.shape, dtype=np.uint8)
    tumour[5:9, 3:7, 2:4] = 1
    return tmp_path / "series", affine, organ, tumour


# ---------------------------------------------------------------------------- DICOM-SEG


def test_a_seg_of_several_segments_needs_the_segment_named(image, tmp_path):
    folder, _, organ, tumour = image
    seg = write_seg([organ, tumour], folder, tmp_path / "seg.dcm", labels=("Liver", "Mass"))
    with pytest.raises(ValueError, match=r"seg\.dcm holds 2 segments \(1 'Liver', 2 'Mass'\); "
                                         r"name the one to read .*seg\.dcm#<label>"):
        read_dicom_seg(seg, folder)
    np.testing.assert_array_equal(read_dicom_seg(seg, folder, segment="mass"), tumour)
    np.testing.assert_array_equal(read_dicom_seg(seg, folder, segment=1), organ)
    np.testing.assert_array_equal(read_dicom_seg(f"{seg}#Mass", folder), tumour)
    with pytest.raises(ValueError, match=r"no segment is 'portal vein'; it holds 1 'Liver'"):
        read_dicom_seg(seg, folder, segment="portal vein")


def test_a_fractional_seg_is_inside_from_one_half(image, tmp_path):
    folder, _, _, _ = image
    fractions = np.random.default_rng(0).choice([0.0, 0.2, 0.45, 0.55, 0.8, 1.0],
                                                size=(16, 12, 6))
    seg = write_seg(fractions, folder, tmp_path / "fractional.dcm", kind="FRACTIONAL")
    assert pydicom.dcmread(seg).SegmentationType == "FRACTIONAL"
    np.testing.assert_array_equal(read_dicom_seg(seg, folder), fractions >= 0.5)


def test_a_real_dcmqi_seg_lands_on_its_ct_slice(tmp_path):
    """pydicom's liver_1frame.dcm (dcmqi, 1-bit packed) on a CT series with its geometry."""
    source = pydicom.dcmread(get_testdata_file("liver_1frame.dcm"))
    referenced = source.ReferencedSeriesSequence[0].SeriesInstanceUID
    spacing = float(source.SharedFunctionalGroupsSequence[0].PixelMeasuresSequence[0]
                    .PixelSpacing[0])
    first = np.array(source.PerFrameFunctionalGroupsSequence[0].PlanePositionSequence[0]
                     .ImagePositionPatient, dtype=float)
    affine = np.diag([-spacing, -spacing, 1.0, 1.0])    # LPS identity orientation, 1 mm slices
    affine[:3, 3] = first * [-1, -1, 1] - [0, 0, 1.0]   # slice 1 is the segmented one
    write_dicom_series(np.zeros((512, 512, 4), dtype=np.int16), affine, tmp_path / "ct",
                       frame_of_reference_uid=source.FrameOfReferenceUID)
    for path in file_list(tmp_path / "ct"):
        rewrite(path, SeriesInstanceUID=referenced)

    with pytest.raises(ValueError, match=r"liver_1frame\.dcm: the Per-frame Functional Groups "
                                         r"Sequence has 3 items for 1 frame\(s\)"):
        read_dicom_seg(get_testdata_file("liver_1frame.dcm"), tmp_path / "ct")
    # Its one frame is the first of the three per-frame items: keep that item only.
    del source.PerFrameFunctionalGroupsSequence[1:]
    source.save_as(tmp_path / "liver.dcm")
    mask = read_dicom_seg(tmp_path / "liver.dcm", tmp_path / "ct")
    expected = np.zeros((512, 512, 4), dtype=np.uint8)
    expected[:, :, 1] = source.pixel_array.T
    np.testing.assert_array_equal(mask, expected)
    assert mask.sum() == 36233


def test_a_seg_not_referencing_the_series_or_in_another_frame_is_refused(image, tmp_path):
    folder, affine, _, tumour = image
    with pytest.raises(ValueError, match=r"liver_1frame\.dcm does not reference the image "
                                         r"series .*series \(SeriesInstanceUID .*\); it "
                                         r"references 1\.2\.392\.200103"):
        read_dicom_seg(get_testdata_file("liver_1frame.dcm"), folder)
    seg = write_seg(tumour, folder, tmp_path / "seg.dcm")
    rewrite(seg, FrameOfReferenceUID="1.2.3.4")
    with pytest.raises(ValueError, match=r"seg\.dcm lies in frame of reference 1\.2\.3\.4, the "
                                         r"image series .* in "):
        read_dicom_seg(seg, folder)
    with pytest.raises(ValueError, match=r"seg\.dcm is a DICOM-SEG object, not RT-STRUCT"):
        read_rtstruct(seg, folder)
    with pytest.raises(FileNotFoundError, match=r"mask file not found: .*nothing\.dcm"):
        read_dicom_seg(tmp_path / "nothing.dcm", folder)


@pytest.mark.parametrize(("change", "message"), [
    ("half_slice", r"frame 1 does not lie on a slice of the image's grid"),
    ("outside", r"frame 1 lies outside the image's 6 slices"),
    ("spacing", r"frame 1 has pixel spacing \[1\.0, 1\.0\], the image's slices "
                r"\[1\.25, 1\.5\]"),
])
def test_seg_frames_off_the_image_grid_are_refused(image, tmp_path, change, message):
    folder, _, _, tumour = image
    seg = write_seg(tumour, folder, tmp_path / "seg.dcm")
    dataset = pydicom.dcmread(seg)
    position = dataset.PerFrameFunctionalGroupsSequence[0].PlanePositionSequence[0]
    shift = {"half_slice": [0, 0, 2.0], "outside": [0, 0, 40.0]}.get(change)
    if shift is not None:
        moved = np.array(position.ImagePositionPatient, dtype=float) + shift
        position.ImagePositionPatient = [format_number_as_ds(float(v)) for v in moved]
    else:
        dataset.SharedFunctionalGroupsSequence[0].PixelMeasuresSequence[0].PixelSpacing = \
            ["1.0", "1.0"]
    dataset.save_as(seg)
    with pytest.raises(ValueError, match=message):
        read_dicom_seg(seg, folder)


# ---------------------------------------------------------------------------- RT-STRUCT


@pytest.fixture
def planning_ct(tmp_path):
    """A series under pydicom's rtstruct.dcm: its series and frame of reference, 15 mm pixels
    whose centres (LPS -232.5 + 15 i) never fall on the rectangles' edges, 10 mm slices."""
    contours = pydicom.dcmread(get_testdata_file("rtstruct.dcm"), force=True)
    frame = contours.ReferencedFrameOfReferenceSequence[0]
    series_uid = (frame.RTReferencedStudySequence[0].RTReferencedSeriesSequence[0]
                  .SeriesInstanceUID)
    affine = np.diag([-15.0, -15.0, 10.0, 1.0])
    affine[:3, 3] = [232.5, 232.5, -210.0]
    write_dicom_series(np.zeros((32, 32, 5), dtype=np.int16), affine, tmp_path / "ct",
                       frame_of_reference_uid=frame.FrameOfReferenceUID)
    for path in file_list(tmp_path / "ct"):
        rewrite(path, SeriesInstanceUID=series_uid)
    return tmp_path / "ct", affine


def test_pydicoms_rtstruct_fills_the_pixel_centres_inside_its_rectangles(planning_ct):
    folder, affine = planning_ct
    mask = read_rtstruct(get_testdata_file("rtstruct.dcm"), folder, roi="Patient")
    # Brute force: the 'patient' contours are the rectangle |x| < 200, |y| < 150 (LPS mm) on
    # the slices at z = -200, -190 and -180.
    i, j, k = np.meshgrid(*(np.arange(n) for n in mask.shape), indexing="ij")
    lps_x, lps_y, z = -232.5 + 15 * i, -232.5 + 15 * j, -210 + 10 * k
    expected = (np.abs(lps_x) < 200) & (np.abs(lps_y) < 150) & np.isin(z, [-200, -190, -180])
    np.testing.assert_array_equal(mask, expected)
    assert read_dicom_series(folder)[1] == pytest.approx(affine)


def test_rtstruct_regions_must_be_named_and_closed(planning_ct):
    folder, _ = planning_ct
    path = get_testdata_file("rtstruct.dcm")
    with pytest.raises(ValueError, match=r"holds 3 regions of interest \(1 'patient', 2 "
                                         r"'Isocenter 1', 3 'Isocenter 2'\)"):
        read_rtstruct(path, folder)
    with pytest.raises(ValueError, match=r"contour 1 of region 'Isocenter 1' is POINT"):
        read_rtstruct(f"{path}#Isocenter 1", folder)
    with pytest.raises(ValueError, match=r"no region of interest is 'liver'"):
        read_rtstruct(path, folder, roi="liver")


def test_rtstruct_contours_off_the_slices_or_of_another_series_are_refused(planning_ct,
                                                                          tmp_path):
    folder, affine = planning_ct
    path = get_testdata_file("rtstruct.dcm")
    for shift, message in ((5.0, r"contour 1 of region 'patient' does not lie on a slice of "
                                 r"the image \(slice coordinates 0\.5 to 0\.5\)"),
                           (-105.0, r"contour 1 of region 'patient' lies outside the image's "
                                    r"5 slices \(slice 11\)")):
        for file in file_list(folder):
            position = np.array(pydicom.dcmread(file).ImagePositionPatient, dtype=float)
            rewrite(file, ImagePositionPatient=[format_number_as_ds(float(v)) for v in
                                                position + [0, 0, shift]])
        with pytest.raises(ValueError, match=message):
            read_rtstruct(path, folder, roi="patient")
    write_dicom_series(np.zeros((4, 4, 3)), affine, tmp_path / "other")
    with pytest.raises(ValueError, match=r"rtstruct\.dcm does not reference the image series "
                                         r".*other.*it references 1\.2\.826\.0\.1\.3680043\.8"
                                         r"\.498\.2010020400001\.2\.1\.1"):
        read_rtstruct(path, tmp_path / "other", roi="patient")


def test_a_contour_inside_another_cuts_a_hole(image, tmp_path):
    folder, affine, _, _ = image
    ring = np.zeros((16, 12, 6), dtype=np.uint8)
    ring[3:13, 2:10, 2] = 1
    ring[6:10, 5:7, 2] = 0                                   # the hole
    ring[0:3, 0:2, 4] = 1                                    # an island at the image's edge
    assert len(mask_contours(ring, affine)) == 3             # outer, inner, island
    rtstruct = write_rtstruct(ring, folder, tmp_path / "ring.dcm")
    np.testing.assert_array_equal(read_rtstruct(rtstruct, folder), ring)
