"""compare_backbones against out-of-fold probabilities computed here with cross_val_predict."""

import joblib
import numpy as np
import pandas as pd
import pytest
import timm
from safetensors.torch import save_file
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import KFold, StratifiedKFold, cross_val_predict

from tacelearn.estimators import compare_backbones
from tacelearn.metrics import delong_roc_ci, delong_roc_test
from tacelearn.transformers import CNNEncoder, TumourPatchExtractor

BACKBONES = ("resnet18", "test_resnet")
ENCODER_PARAMS = {"max_epochs": 1, "batch_size": 8}
FOLDS = StratifiedKFold(2, shuffle=True, random_state=0)


def _labels(cohort):
    return cohort["objective_response"].astype(int).to_numpy()


@pytest.fixture(scope="module")
def comparison(tiny_cohort):
    return compare_backbones(tiny_cohort, _labels(tiny_cohort), backbones=BACKBONES, cv=FOLDS,
                             patch_size=32, encoder_params=ENCODER_PARAMS, random_state=0,
                             return_scores=True)


@pytest.fixture(scope="module")
def reference(tiny_cohort):
    """Out-of-fold probabilities per backbone: cross_val_predict on patches extracted here."""
    patches = TumourPatchExtractor(size=32).fit_transform(tiny_cohort)
    y = _labels(tiny_cohort)
    return {
        name: cross_val_predict(CNNEncoder(backbone=name, random_state=0, **ENCODER_PARAMS),
                                patches, y, cv=FOLDS, method="predict_proba")[:, 1]
        for name in BACKBONES
    }


def test_table_matches_cross_val_predict(comparison, reference, tiny_cohort):
    table, scores = comparison
    y = _labels(tiny_cohort)
    assert table.index.tolist() == list(BACKBONES)
    assert table.index.name == "backbone"
    folds = [test for _, test in FOLDS.split(np.zeros(len(y)), y)]
    for name, probabilities in reference.items():
        np.testing.assert_allclose(scores[name], probabilities, rtol=1e-5, atol=1e-7)
        row = table.loc[name]
        assert row["auc"] == pytest.approx(roc_auc_score(y, probabilities), abs=1e-12)
        low, high = delong_roc_ci(y, probabilities)
        assert row["auc_ci_low"] == pytest.approx(low, abs=1e-12)
        assert row["auc_ci_high"] == pytest.approx(high, abs=1e-12)
        fold_aucs = [roc_auc_score(y[test], probabilities[test]) for test in folds]
        assert row["fold_auc_mean"] == pytest.approx(np.mean(fold_aucs), abs=1e-12)
        assert row["fold_auc_sd"] == pytest.approx(np.std(fold_aucs, ddof=1), abs=1e-12)
        assert row["training_seconds"] > 0
    assert scores.index.equals(tiny_cohort.index)


def test_pvalue_against_the_best_backbone(comparison, reference, tiny_cohort):
    table, _ = comparison
    y = _labels(tiny_cohort)
    aucs = {name: roc_auc_score(y, p) for name, p in reference.items()}
    best = max(aucs, key=aucs.get)
    assert np.isnan(table.loc[best, "pvalue_vs_best"])
    for name in BACKBONES:
        if name != best:
            expected = delong_roc_test(y, reference[best], reference[name]).pvalue
            assert table.loc[name, "pvalue_vs_best"] == pytest.approx(expected, abs=1e-12)


def test_same_folds_and_one_extraction_for_every_backbone(tiny_cohort, tmp_path, trainings,
                                                          monkeypatch):
    extractions, training_sets = [], []
    transform, fit = TumourPatchExtractor.fit_transform, CNNEncoder.fit

    def counted_transform(self, *args, **kwargs):
        extractions.append(1)
        return transform(self, *args, **kwargs)

    def recorded_fit(self, X, y):
        training_sets.append((self.backbone, joblib.hash((X, y))))
        return fit(self, X, y)

    monkeypatch.setattr(TumourPatchExtractor, "fit_transform", counted_transform)
    monkeypatch.setattr(CNNEncoder, "fit", recorded_fit)
    pair = ("test_resnet", "test_efficientnet")
    settings = {"backbones": pair, "cv": 3, "patch_size": 32, "random_state": 0,
                "encoder_params": {**ENCODER_PARAMS, "memory": tmp_path}}
    table = compare_backbones(tiny_cohort, _labels(tiny_cohort), **settings)
    assert len(extractions) == 1
    assert len(trainings) == 2 * 3
    first, second = ([key for name, key in training_sets if name == b] for b in pair)
    assert len(set(first)) == 3
    assert first == second

    # A second call on the same folds loads every CNN from the weights cache.
    again = compare_backbones(tiny_cohort, _labels(tiny_cohort), **settings)
    assert len(trainings) == 2 * 3
    np.testing.assert_array_equal(again["auc"], table["auc"])


def test_errors_come_before_any_training(tiny_cohort, trainings):
    y = _labels(tiny_cohort)
    with pytest.raises(ValueError, match="unknown backbone 'resnet_19'"):
        compare_backbones(tiny_cohort, y, backbones=("resnet18", "resnet_19"), patch_size=32)
    with pytest.raises(ValueError, match="binary outcome; y holds 1 class"):
        compare_backbones(tiny_cohort, np.ones(len(y), dtype=int), patch_size=32)
    unlabelled = tiny_cohort["objective_response"].copy()
    unlabelled.iloc[[3, 7]] = pd.NA
    with pytest.raises(ValueError, match=r"y is missing for 2 patient\(s\) \(P0004, P0008\)"):
        compare_backbones(tiny_cohort, unlabelled, patch_size=32)
    with pytest.raises(ValueError, match="y has 23 labels but the cohort has 24"):
        compare_backbones(tiny_cohort, y[:-1], patch_size=32)
    with pytest.raises(ValueError, match="more than once"):
        compare_backbones(tiny_cohort, y, backbones=("resnet18", "resnet18"))
    with pytest.raises(ValueError, match="at least one"):
        compare_backbones(tiny_cohort, y, backbones=())
    with pytest.raises(ValueError, match="pass backbone as an argument"):
        compare_backbones(tiny_cohort, y, backbones=("resnet18",),
                          encoder_params={"backbone": "resnet50"})
    order = np.argsort(y, kind="stable")  # unshuffled halves: the second holds cases only
    with pytest.raises(ValueError, match=r"test fold 2 of 2 holds patients of one class only"):
        compare_backbones(tiny_cohort.iloc[order], y[order], cv=KFold(2), patch_size=32)
    with pytest.raises(TypeError, match="pandas DataFrame"):
        compare_backbones(tiny_cohort.to_numpy(), y)
    with pytest.raises(ValueError, match="'max_epochs' parameter of CNNEncoder must be an int"):
        compare_backbones(tiny_cohort, y, backbones=("test_resnet",), patch_size=32,
                          encoder_params={"max_epochs": 0})
    with pytest.raises(FileNotFoundError, match="backbone 'resnet18' not found: nowhere.pth"):
        compare_backbones(tiny_cohort, y, backbones={"resnet18": "nowhere.pth"})
    with pytest.raises(ValueError, match="do not also pass encoder_params"):
        compare_backbones(tiny_cohort, y, backbones={"resnet18": None},
                          encoder_params={"pretrained": "weights.pth"})
    assert not trainings


def test_each_backbone_its_own_pretrained_weights(tiny_cohort, tmp_path, monkeypatch):
    weights = tmp_path / "test_resnet.safetensors"
    save_file(timm.create_model("test_resnet", num_classes=10).state_dict(), weights)
    used, fit = [], CNNEncoder.fit

    def recorded_fit(self, X, y):
        used.append((self.backbone, self.pretrained))
        return fit(self, X, y)

    monkeypatch.setattr(CNNEncoder, "fit", recorded_fit)
    table = compare_backbones(tiny_cohort, _labels(tiny_cohort),
                              backbones={"test_resnet": weights, "test_efficientnet": None},
                              cv=2, patch_size=32, encoder_params=ENCODER_PARAMS,
                              random_state=0)
    assert used == [("test_resnet", weights)] * 2 + [("test_efficientnet", None)] * 2
    assert table.index.tolist() == ["test_resnet", "test_efficientnet"]


SMALL_3D = {"widen_factor": 0.125, "conv1_t_size": 3, "conv1_t_stride": 2}
GEOMETRIES = {
    "2D": {"backbone": "test_resnet"},
    "2.5D": {"backbone": "test_resnet", "extractor_params": {"context_slices": 1}},
    "3D": {"backbone": "monai:resnet10", "patch_size": (16, 16, 8),
           "extractor_params": {"mode": "3d", "spacing": 4.0},
           "encoder_params": {"backbone_params": SMALL_3D}},
    "bags": {"backbone": "test_resnet", "lesion_aggregation": "max"},
}


def test_candidates_with_their_own_patches_match_cross_val_predict(tiny_cohort, monkeypatch):
    extractions, transform = [], TumourPatchExtractor.fit_transform

    def counted_transform(self, *args, **kwargs):
        extractions.append(1)
        return transform(self, *args, **kwargs)

    monkeypatch.setattr(TumourPatchExtractor, "fit_transform", counted_transform)
    y = _labels(tiny_cohort)
    candidates = {**GEOMETRIES, "2D again": {"backbone": "test_efficientnet"}}
    table, scores = compare_backbones(tiny_cohort, y, backbones=candidates, cv=FOLDS,
                                      patch_size=32, encoder_params=ENCODER_PARAMS,
                                      random_state=0, return_scores=True)
    # One extraction per distinct patch setting: "2D again" reuses the 2D patches.
    assert len(extractions) == 4
    assert table.index.tolist() == list(candidates)
    monkeypatch.setattr(TumourPatchExtractor, "fit_transform", transform)
    references = {
        "2D": (TumourPatchExtractor(size=32), {"backbone": "test_resnet"}),
        "2.5D": (TumourPatchExtractor(size=32, context_slices=1), {"backbone": "test_resnet"}),
        "3D": (TumourPatchExtractor(size=(16, 16, 8), mode="3d", spacing=4.0),
               {"backbone": "monai:resnet10", "backbone_params": SMALL_3D}),
        "bags": (TumourPatchExtractor(size=32, lesion="bags"),
                 {"backbone": "test_resnet", "lesion_aggregation": "max"}),
    }
    for name, (extractor, params) in references.items():
        inputs = extractor.fit_transform(tiny_cohort)
        expected = cross_val_predict(CNNEncoder(random_state=0, **ENCODER_PARAMS, **params),
                                     inputs, y, cv=FOLDS, method="predict_proba")[:, 1]
        np.testing.assert_allclose(scores[name], expected, rtol=1e-5, atol=1e-7)
        assert table.loc[name, "auc"] == pytest.approx(roc_auc_score(y, expected), abs=1e-12)


def test_bad_candidates_are_refused_before_training(tiny_cohort, trainings):
    y = _labels(tiny_cohort)
    with pytest.raises(ValueError, match=r"candidate '3D' sets \['mode'\]"):
        compare_backbones(tiny_cohort, y, backbones={"3D": {"mode": "3d"}})
    with pytest.raises(ValueError, match="unknown backbone 'densenet-3d'"):
        compare_backbones(tiny_cohort, y, backbones={"densenet-3d": {}})
    with pytest.raises(ValueError, match="context_slices=1 adds neighbouring slices"):
        compare_backbones(tiny_cohort, y, backbones={"3D": {
            "backbone": "monai:resnet10", "extractor_params": {"mode": "3d",
                                                               "context_slices": 1}}})
    assert not trainings
