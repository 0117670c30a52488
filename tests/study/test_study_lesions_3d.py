"""A lesion-level 3D study end to end: MONAI network, attention pooling, the Lesions section."""

import numpy as np
import pandas as pd
import pytest

from tacelearn.datasets import make_tace_cohort
from tacelearn.study import run_study


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    folder = tmp_path_factory.mktemp("study3d")
    cohort = make_tace_cohort(folder / "cohort", n_per_center=(40, 16, 16),
                              image_shape=(48, 48, 12), random_state=0)
    run_study(cohort, out_dir=folder / "report", models=("clinical", "dltr", "dltr_lr"),
              backbone="monai:resnet10", patch_size=16, extractor_params={"mode": "3d"},
              encoder_params={"backbone_params": {"widen_factor": 0.25}}, max_epochs=1,
              batch_size=8, fusion_cv=None, lesion_aggregation="attention", n_bootstraps=0,
              n_resamples=50, gradcam_patients=1, verbose=False)
    return folder


def test_lesion_table_of_a_3d_attention_study(report):
    lesions = pd.read_csv(report / "report" / "tables" / "lesions.csv")
    assert set(lesions["rule"]) == {"attention"}
    # Every lesion of the generator's truth table that the mask holds has a row.
    truth = pd.read_csv(report / "cohort" / "lesions.csv").dropna(subset=["lesion"])
    assert len(lesions) == len(truth)
    # Attention weights: positive, summing to 1 per patient; the patient's log-odds is the
    # weighted sum of its lesions' log-odds (docs/lesions-3d.md).
    assert (lesions["weight"] > 0).all()
    by_patient = lesions.groupby("patient_id")
    np.testing.assert_allclose(by_patient["weight"].sum(), 1.0, rtol=1e-5)
    pooled = by_patient.apply(lambda rows: (rows["weight"] * rows["lesion_log_odds"]).sum(),
                              include_groups=False)
    np.testing.assert_allclose(pooled, by_patient["patient_log_odds"].first(), atol=1e-4)
    # DLTR's written score is the pooled lesion score.
    dltr = pd.read_csv(report / "report" / "tables" / "scores.csv").query("model == 'dltr'")
    patient = by_patient["patient_score"].first()
    np.testing.assert_allclose(patient.loc[dltr["patient_id"]], dltr["score"], rtol=1e-5)


def test_3d_study_draws_grad_cam_and_saves_models(report):
    figures = {p.name for p in (report / "report" / "figures").glob("gradcam_*.png")}
    assert figures == {"gradcam_internal_validation.png", "gradcam_external_1.png",
                       "gradcam_external_2.png"}
    assert (report / "report" / "models" / "dltr" / "config.json").is_file()
