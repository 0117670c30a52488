"""build_manifest / write_manifest: folder trees of NIfTI or DICOM plus a clinical table."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pydicom
import pytest
from test_dicom_writers import dicom_cohort, write_seg

from tacelearn.datasets import (
    build_manifest,
    make_tace_cohort,
    read_cohort,
    read_dicom_series,
    write_dicom_series,
    write_manifest,
)
from tacelearn.transformers import TumourPatchExtractor, load_nifti

IMAGES = ["t1c_path", "t2_path", "mask_path"]


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory):
    folder = tmp_path_factory.mktemp("manifest")
    cohort = make_tace_cohort(folder / "nifti", n_per_center=(5, 2, 2), image_shape=(24, 24, 6),
                              random_state=7)
    clinical = folder / "clinical.csv"
    cohort.drop(columns=IMAGES).to_csv(clinical, index=False)
    return folder, cohort, clinical


@pytest.fixture
def dicom_tree(synthetic, tmp_path):
    """One folder per patient holding t1c/, t2/ and seg.dcm."""
    _, cohort, _ = synthetic
    return tmp_path / "dicom", dicom_cohort(cohort, tmp_path / "dicom")


def test_flat_nifti_layout_rebuilds_the_synthetic_manifest(synthetic, tmp_path):
    folder, cohort, clinical = synthetic
    manifest, report = build_manifest(folder / "nifti" / "images", clinical, layout="flat")
    assert list(manifest.columns[:6]) == ["patient_id", "center", "split", *IMAGES]
    pd.testing.assert_frame_equal(manifest[IMAGES], cohort[IMAGES])
    assert report.matched == cohort["patient_id"].tolist()
    assert str(report) == f"{len(cohort)} patient(s) matched with every image"

    written = write_manifest(manifest, tmp_path / "study" / "cohort.csv")
    stored = pd.read_csv(written)[IMAGES].to_numpy().ravel()
    assert not any(os.path.isabs(p) for p in stored)
    pd.testing.assert_frame_equal(read_cohort(written)[cohort.columns], cohort)


def test_dicom_patient_folders_with_everything_that_can_go_wrong(synthetic, dicom_tree):
    folder, cohort, clinical = synthetic
    root, converted = dicom_tree
    ids = cohort["patient_id"].tolist()
    table = pd.read_csv(clinical, dtype={"patient_id": str})
    # P(1) is not in the clinical table; a patient without images is.
    table = pd.concat([table[table["patient_id"] != ids[1]],
                       table.iloc[[0]].assign(patient_id="P9999")], ignore_index=True)
    table.to_csv(folder / "clinical_edited.csv", index=False)
    # P(2): a second T2 series; P(3): a DWI series nobody asked for; P(4): no mask.
    volume, affine = load_nifti(cohort["t2_path"].iloc[2])
    write_dicom_series(volume, affine, root / ids[2] / "t2_repeat",
                       series_description="T2 axial repeat")
    write_dicom_series(volume, affine, root / ids[3] / "dwi", series_description="DWI b800")
    Path(converted["mask_path"].iloc[4]).unlink()

    manifest, report = build_manifest(root, folder / "clinical_edited.csv")

    assert report.images_without_clinical == [ids[1]]
    assert report.patients_without_images == ["P9999"]
    assert report.incomplete == {ids[2]: ["t2_path"], ids[4]: ["mask_path"]}
    assert len(report.ambiguous) == 1
    assert f"patient {ids[2]}, column 't2_path': 2 candidates" in report.ambiguous[0]
    assert report.unmatched == [f"patient {ids[3]}: {root / ids[3] / 'dwi'} ('DWI b800')"]
    assert report.matched == [p for p in ids if p not in (ids[1], ids[2], ids[4])]
    assert "1 ambiguous" in str(report)

    by_id = manifest.set_index("patient_id")
    by_id_converted = converted.set_index("patient_id")
    for patient in report.matched:
        assert by_id.loc[patient, IMAGES].tolist() == by_id_converted.loc[patient,
                                                                          IMAGES].tolist()
    assert by_id.loc["P9999", IMAGES].isna().all()

    # The complete rows give the NIfTI cohort's patches, through a written manifest.
    complete = manifest[manifest["patient_id"].isin(report.matched)]
    cohort_file = write_manifest(complete, root / "cohort.csv")
    from_dicom = TumourPatchExtractor(size=16).fit_transform(read_cohort(cohort_file))
    from_nifti = TumourPatchExtractor(size=16).fit_transform(
        cohort[cohort["patient_id"].isin(report.matched)])
    np.testing.assert_array_equal(from_dicom, from_nifti)


def test_the_patient_id_tag_layout_finds_the_same_series(synthetic, dicom_tree):
    _, _, clinical = synthetic
    root, _ = dicom_tree
    by_folder, _ = build_manifest(root, clinical)
    by_tag, report = build_manifest(root, clinical, layout="dicom_patient_id")
    pd.testing.assert_frame_equal(by_tag, by_folder)
    assert len(report.matched) == len(by_folder)


def test_series_sharing_a_folder_are_named_by_uid(synthetic, dicom_tree):
    _, cohort, clinical = synthetic
    root, converted = dicom_tree
    patient = root / cohort["patient_id"].iloc[0]
    expected = read_dicom_series(converted["t2_path"].iloc[0])[0]
    for index, path in enumerate(sorted((patient / "t2").glob("*.dcm"))):
        shutil.move(path, patient / "t1c" / f"t2_{index}.dcm")
    (patient / "t2").rmdir()
    manifest, _ = build_manifest(root, clinical)
    t1c, t2 = manifest.loc[0, "t1c_path"], manifest.loc[0, "t2_path"]
    uid = str(pydicom.dcmread(patient / "t1c" / "t2_0.dcm").SeriesInstanceUID)
    assert t2 == f"{patient / 't1c'}#{uid}"
    assert t1c.startswith(f"{patient / 't1c'}#")
    np.testing.assert_array_equal(read_dicom_series(t2)[0], expected)


def test_a_seg_of_several_segments_is_read_by_its_tumour_label(synthetic, dicom_tree):
    _, cohort, clinical = synthetic
    root, converted = dicom_tree
    mask, _ = load_nifti(cohort["mask_path"].iloc[0])
    liver = np.ones_like(mask)
    path = Path(converted["mask_path"].iloc[0])
    write_seg([liver, mask], converted["t1c_path"].iloc[0], path, labels=("Liver", "Mass"))
    manifest, _ = build_manifest(root, clinical)
    assert manifest.loc[0, "mask_path"] == f"{path}#Mass"

    write_seg([liver, mask], converted["t1c_path"].iloc[0], path, labels=("Tumour", "Mass"))
    manifest, report = build_manifest(root, clinical)
    assert manifest.loc[0, "mask_path"] is None
    assert "holds 2 segments (Tumour, Mass) and 2 look like the tumour" in report.ambiguous[0]


def test_a_mask_drawn_on_the_t2_series_is_reported(synthetic, dicom_tree):
    _, cohort, clinical = synthetic
    root, converted = dicom_tree
    mask, _ = load_nifti(cohort["mask_path"].iloc[0])
    write_seg(mask, converted["t2_path"].iloc[0], converted["mask_path"].iloc[0])
    _, report = build_manifest(root, clinical)
    assert report.problems == [f"patient {cohort['patient_id'].iloc[0]}: the mask "
                               f"{converted['mask_path'].iloc[0]} does not reference the T1C "
                               f"series {converted['t1c_path'].iloc[0]}; it is read onto the "
                               "T1C series"]


def test_nifti_patient_folders_with_site_specific_names(synthetic, tmp_path):
    _, cohort, clinical = synthetic
    names = {"t1c_path": "phase_2.nii.gz", "t2_path": "T2W_TSE.nii.gz", "mask_path": "roi.nii.gz"}
    for record in cohort.to_dict("records"):
        (tmp_path / record["patient_id"]).mkdir()
        for column, name in names.items():
            shutil.copy(record[column], tmp_path / record["patient_id"] / name)
    _, report = build_manifest(tmp_path, clinical)
    assert report.incomplete == dict.fromkeys(cohort["patient_id"], ["t1c_path"])
    assert report.unmatched[0].endswith("phase_2.nii.gz ('phase_2.nii.gz')")
    manifest, report = build_manifest(tmp_path, clinical, sequences={"t1c_path": r"phase_2"})
    assert report.matched == cohort["patient_id"].tolist()
    assert manifest["mask_path"].str.endswith("roi.nii.gz").all()


def test_bad_arguments_and_tables_are_refused(synthetic, tmp_path):
    folder, cohort, clinical = synthetic
    images = folder / "nifti" / "images"
    with pytest.raises(ValueError, match=r"layout must be one of"):
        build_manifest(images, clinical, layout="by_date")
    with pytest.raises(FileNotFoundError, match=r"image folder not found: .*nowhere"):
        build_manifest(tmp_path / "nowhere", clinical)
    with pytest.raises(FileNotFoundError, match=r"clinical table not found"):
        build_manifest(images, tmp_path / "none.csv")
    with pytest.raises(ValueError, match=r"needs a group named 'patient_id'"):
        build_manifest(images, clinical, layout="flat", patient_pattern=r"^(\w+)_")
    with pytest.raises(ValueError, match=r"the pattern of 't2_path' \('\('\) is not a regular"):
        build_manifest(images, clinical, sequences={"t2_path": "("})
    with pytest.raises(ValueError, match=r"unknown image column\(s\) \['dwi_path'\]"):
        build_manifest(images, clinical, sequences={"dwi_path": "dwi"})
    with pytest.raises(ValueError, match=r"no column 'record' of patient ids"):
        build_manifest(images, clinical, id_column="record")
    cohort.to_csv(tmp_path / "with_images.csv", index=False)
    with pytest.raises(ValueError, match=r"already has image column\(s\) \['t1c_path'"):
        build_manifest(images, tmp_path / "with_images.csv")
    pd.DataFrame({"patient_id": ["A", "A", None]}).to_csv(tmp_path / "dup.csv", index=False)
    with pytest.raises(ValueError, match=r"ids must be present and unique; found <missing>, A"):
        build_manifest(images, tmp_path / "dup.csv")


def test_write_manifest_refuses_an_invalid_cohort_and_writes_nothing(synthetic, tmp_path):
    _, cohort, _ = synthetic
    broken = cohort.drop(columns=["split"])
    with pytest.raises(ValueError, match=r"missing required column"):
        write_manifest(broken, tmp_path / "cohort.csv")
    gone = cohort.assign(t2_path=str(tmp_path / "gone.nii.gz"))
    with pytest.raises(ValueError, match=r"'t2_path': image file or DICOM folder not found"):
        write_manifest(gone, tmp_path / "cohort.csv")
    assert list(tmp_path.iterdir()) == []
