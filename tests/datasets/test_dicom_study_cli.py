"""A folder of DICOM series and DICOM-SEG masks to a report, from the command line only:
``tacelearn manifest`` then ``tacelearn study`` (issue 17's "done when"). The same study on
the cohort's NIfTI files is the reference: the DICOM path must give the same scores."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from test_dicom_writers import dicom_cohort

from tacelearn.datasets import make_tace_cohort
from tacelearn.study._cli import main

IMAGES = ["t1c_path", "t2_path", "mask_path"]
STUDY = ["--models", "clinical,dltr", "--backbone", "resnet18", "--patch-size", "32",
         "--max-epochs", "1", "--batch-size", "16", "--n-bootstraps", "0", "--n-resamples",
         "50", "--gradcam-patients", "1", "--quiet"]


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    folder = tmp_path_factory.mktemp("dicom_study")
    nifti = make_tace_cohort(folder / "nifti", n_per_center=(30, 12, 12),
                             image_shape=(32, 32, 8), random_state=5)
    dicom_cohort(nifti, folder / "dicom")
    nifti.drop(columns=IMAGES).to_csv(folder / "clinical.csv", index=False)
    return folder


def test_manifest_then_study_on_dicom_gives_the_nifti_study(folders, capsys):
    manifest = folders / "dicom" / "cohort.csv"
    assert main(["manifest", str(folders / "dicom"), "--clinical",
                 str(folders / "clinical.csv"), "--out", str(manifest),
                 "--report", str(folders / "matched.json")]) == 0
    matched = json.loads((folders / "matched.json").read_text())
    assert len(matched["matched"]) == 54
    table = pd.read_csv(manifest)
    assert table["t1c_path"].str.endswith("/t1c").all()
    assert table["mask_path"].str.endswith("seg.dcm").all()

    assert main(["study", "--cohort", str(manifest), "--out", str(folders / "from_dicom"),
                 *STUDY]) == 0
    assert main(["study", "--cohort", str(folders / "nifti" / "cohort.csv"), "--out",
                 str(folders / "from_nifti"), *STUDY]) == 0
    capsys.readouterr()

    def scores(report):
        frame = pd.read_csv(folders / report / "tables" / "scores.csv")
        return frame.sort_values(["model", "patient_id"]).reset_index(drop=True)

    # Same patches (the DICOM readers give the NIfTI volumes), same seeds: same scores.
    pd.testing.assert_frame_equal(scores("from_dicom"), scores("from_nifti"), rtol=1e-6)
    summary = json.loads((folders / "from_dicom" / "summary.json").read_text())
    assert summary["patients"] == {"train": 24, "internal_validation": 6, "external_1": 12,
                                   "external_2": 12}
