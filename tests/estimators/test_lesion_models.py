"""Lesion-level models in the factories' pipelines: rows, grid search, saving, lesion table."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from scipy.special import expit
from sklearn.model_selection import GridSearchCV, GroupKFold

from tacelearn.estimators import (
    image_branch,
    lesion_table,
    load_model,
    make_clinical_model,
    make_dltr,
    make_dltr_lr,
    make_dltr_mlp,
    save_model,
)
from tacelearn.transformers import TumourPatchExtractor

RULES = ("max", "volume_mean", "attention")


def _image(memory, **overrides):
    settings = {"backbone": "resnet18", "patch_size": 32, "random_state": 0,
                "extractor_params": {"memory": memory / "patches"},
                "encoder_params": {"max_epochs": 1, "batch_size": 8, "memory": memory / "cnn"}}
    return {**settings, **overrides}


def _labels(cohort):
    return cohort["objective_response"].astype(int)


@pytest.fixture(scope="module")
def memory(tmp_path_factory):
    return tmp_path_factory.mktemp("lesion_cnn")


@pytest.fixture(scope="module")
def dltr(tiny_cohort, memory):
    """DLTR under every rule, fitted once, with its probabilities."""
    models = {}
    for rule in ("largest", *RULES):
        model = make_dltr(lesion_aggregation=rule, **_image(memory))
        models[rule] = model.fit(tiny_cohort, _labels(tiny_cohort))
    return models


@pytest.fixture(scope="module")
def fusion(tiny_cohort, memory):
    """DLTR_LR with attention pooling and out-of-fold CNN scores."""
    model = make_dltr_lr(cv=2, lesion_aggregation="attention", **_image(memory))
    return model.fit(tiny_cohort, _labels(tiny_cohort))


@pytest.fixture(scope="module")
def fusion_mlp(tiny_cohort, memory, dltr):
    """DLTR_MLP on in-sample CNN scores: its CNN is DLTR's (volume_mean), from the cache."""
    model = make_dltr_mlp(cv=None, hidden_layer_sizes=(8,), max_iter=3000,
                          lesion_aggregation="volume_mean", **_image(memory))
    return model.fit(tiny_cohort, _labels(tiny_cohort))


def test_the_cohort_is_multifocal(tiny_cohort):
    lesions = TumourPatchExtractor(size=8, lesion="all").fit(tiny_cohort).extract(
        tiny_cohort).lesions
    assert lesions.groupby("patient_id").size().max() >= 2


@pytest.mark.parametrize("rule", RULES)
def test_lesion_dltr_predicts_one_row_per_patient(dltr, tiny_cohort, rule):
    model = dltr[rule]
    assert model.named_steps["patches"].lesion == "bags"
    assert model.named_steps["encoder"].lesion_aggregation == rule
    probabilities = model.predict_proba(tiny_cohort)
    assert probabilities.shape == (len(tiny_cohort), 2)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0)
    # Patients predicted alone get what they get in company: no leakage across rows.
    np.testing.assert_allclose(model.predict_proba(tiny_cohort.iloc[[5]])[0],
                               probabilities[5], rtol=1e-5, atol=1e-6)


def test_fusion_models_with_lesion_branches_keep_patient_rows(tiny_cohort, memory, fusion,
                                                             fusion_mlp):
    shuffled = tiny_cohort.sample(frac=1.0, random_state=0)
    shuffled.index = [f"row{i}" for i in range(len(shuffled))]
    branch = image_branch(cv=None, lesion_aggregation="max", **_image(memory))
    features = branch.set_output(transform="pandas").fit_transform(shuffled,
                                                                   _labels(shuffled))
    assert features.index.tolist() == shuffled.index.tolist()
    assert features.shape == (len(shuffled), 1)
    for model in (fusion, fusion_mlp):
        assert model.predict_proba(tiny_cohort).shape == (len(tiny_cohort), 2)


def test_grid_search_over_the_rule_splits_by_patient(tiny_cohort, memory):
    y = _labels(tiny_cohort)
    model = make_dltr(lesion_aggregation="max", **_image(memory))
    search = GridSearchCV(model, {"encoder__lesion_aggregation": ["max", "volume_mean"]},
                          cv=GroupKFold(2), scoring="roc_auc", error_score="raise")
    search.fit(tiny_cohort, y, groups=tiny_cohort["patient_id"])
    assert search.best_params_["encoder__lesion_aggregation"] in ("max", "volume_mean")
    assert np.isfinite(search.cv_results_["mean_test_score"]).all()
    assert search.predict_proba(tiny_cohort).shape == (len(tiny_cohort), 2)


@pytest.mark.parametrize("name", ["dltr_max", "dltr_lr_attention", "dltr_mlp_volume_mean"])
def test_save_model_round_trip_is_exact(tiny_cohort, tmp_path, name, dltr, fusion,
                                        fusion_mlp):
    model = {"dltr_max": dltr["max"], "dltr_lr_attention": fusion,
             "dltr_mlp_volume_mean": fusion_mlp}[name]
    loaded = load_model(save_model(model, tmp_path / name), device="cpu")
    np.testing.assert_array_equal(loaded.predict_proba(tiny_cohort),
                                  model.predict_proba(tiny_cohort))


@pytest.mark.parametrize("rule", RULES)
def test_lesion_table_holds_the_pooling_of_the_model(dltr, tiny_cohort, rule):
    model = dltr[rule]
    table = lesion_table(model, tiny_cohort)
    lesions = model.named_steps["patches"].extract(tiny_cohort).lesions
    pd.testing.assert_frame_equal(table[list(lesions.columns)], lesions)
    by_patient = table.groupby("patient_id", sort=False)
    np.testing.assert_allclose(by_patient["weight"].sum(), 1.0, atol=1e-6)
    # The patient's score is the weighted mean of its lesions' log-odds ...
    pooled = (table["weight"] * table["lesion_log_odds"]).groupby(table["patient_id"],
                                                                  sort=False).sum()
    np.testing.assert_allclose(pooled, by_patient["patient_log_odds"].first(), atol=1e-4)
    # ... and the model's prediction.
    np.testing.assert_allclose(by_patient["patient_score"].first(),
                               model.predict_proba(tiny_cohort)[:, 1], rtol=1e-6)
    np.testing.assert_allclose(table["lesion_score"], expit(table["lesion_log_odds"]))
    if rule == "volume_mean":
        share = table["volume_ml"] / table.groupby("patient_id")["volume_ml"].transform("sum")
        np.testing.assert_allclose(table["weight"], share, atol=1e-6)
    if rule == "max":
        top = table.groupby("patient_id", sort=False)["lesion_log_odds"].transform("max")
        np.testing.assert_array_equal(table["weight"] == 1.0, table["lesion_log_odds"] == top)


def test_lesion_table_of_a_largest_lesion_model(dltr, tiny_cohort):
    model = dltr["largest"]
    table = lesion_table(model, tiny_cohort)
    largest = table[table["lesion"] == 0]
    assert (table["weight"] == (table["lesion"] == 0)).all()
    np.testing.assert_allclose(largest["patient_score"], model.predict_proba(tiny_cohort)[:, 1],
                               rtol=1e-6)
    np.testing.assert_allclose(largest["lesion_score"], largest["patient_score"], rtol=1e-6)
    assert len(table) > len(tiny_cohort)      # the satellites are scored too


def test_lesion_table_of_a_fusion_model_and_refusals(tiny_cohort, fusion):
    y = _labels(tiny_cohort)
    table = lesion_table(fusion, tiny_cohort)
    branch = fusion.named_steps["features"].named_transformers_["image"]
    encoder = branch.named_steps["encoder"].estimator_
    bags = branch.named_steps["patches"].transform(tiny_cohort)
    np.testing.assert_allclose(table.groupby("patient_id", sort=False)["patient_log_odds"]
                               .first(), encoder.decision_function(bags), rtol=1e-6)
    with pytest.raises(TypeError, match="holds no fitted TumourPatchExtractor"):
        lesion_table(make_clinical_model().fit(tiny_cohort, y), tiny_cohort)


def _truth(cohort):
    """The generator's lesion table beside cohort.csv, or a skip until it writes one."""
    folder = Path(cohort["mask_path"].iloc[0]).parents[1]
    path = folder / "lesions.csv"
    if not path.is_file():
        pytest.skip(f"{path} is absent: this synthetic cohort has no lesion truth table")
    return pd.read_csv(path)


def test_lesion_rows_are_the_generators_lesions(dltr, tiny_cohort):
    truth = _truth(tiny_cohort)
    drawn = truth[truth["lesion"].notna()].astype({"lesion": int})
    table = lesion_table(dltr["volume_mean"], tiny_cohort)
    merged = table.merge(drawn, on=["patient_id", "lesion"], how="outer", indicator=True,
                         validate="1:1")
    assert (merged["_merge"] == "both").all()
    np.testing.assert_array_equal(merged["voxels"], merged["mask_voxels"])


@pytest.mark.slow
def test_lesion_scores_track_lesion_biology(synthetic_cohort, tmp_path):
    # The generator gives every lesion its own biology, which raises the response rate; a
    # lesion-level DLTR trained on the patients' responses scores lesions of higher biology
    # higher, on patients it never saw.
    truth = _truth(synthetic_cohort)
    train = synthetic_cohort["split"].isin(["train", "internal_validation"])
    model = make_dltr(backbone="resnet18", patch_size=48, random_state=0,
                      lesion_aggregation="volume_mean",
                      extractor_params={"memory": str(tmp_path / "patches")},
                      encoder_params={"max_epochs": 6, "batch_size": 32})
    model.fit(synthetic_cohort[train], _labels(synthetic_cohort[train]))
    table = lesion_table(model, synthetic_cohort[~train])
    merged = table.merge(truth.dropna(subset=["lesion"]).astype({"lesion": int}),
                         on=["patient_id", "lesion"], validate="1:1")
    rho, pvalue = stats.spearmanr(merged["lesion_log_odds"], merged["biology"])
    assert rho > 0.15
    assert pvalue < 0.01
