"""make_radiomics_model: a Pipeline whose feature selection sees only training patients."""

from __future__ import annotations

import os

import joblib
import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV, StratifiedKFold

import tacelearn.transformers._radiomics as radiomics_module
from tacelearn.datasets import make_tace_cohort
from tacelearn.estimators import load_model, make_radiomics_model, save_model
from tacelearn.transformers import RadiomicsExtractor

SETTINGS = {
    "setting": {"normalize": True, "normalizeScale": 100, "binWidth": 25,
                "voxelArrayShift": 300},
    "featureClass": {"shape": [], "firstorder": [], "glcm": ["Contrast", "Correlation",
                                                             "JointEntropy"],
                     "glszm": ["ZoneEntropy", "SmallAreaEmphasis"]},
}


@pytest.fixture(scope="module")
def cohort(tmp_path_factory):
    return make_tace_cohort(tmp_path_factory.mktemp("radiomics_model_cohort"),
                            n_per_center=(12, 6, 6), image_shape=(32, 32, 8))


@pytest.fixture(scope="module")
def cached(tmp_path_factory):
    """Extractor parameters with a cache shared by the tests: each patient extracted once."""
    return {"memory": tmp_path_factory.mktemp("radiomics_model_cache")}


@pytest.fixture
def y(cohort):
    return cohort["objective_response"].astype(int).to_numpy()


@pytest.fixture
def extractions(monkeypatch):
    calls = []
    original = radiomics_module.extract_radiomics

    def counted(image_paths, mask_path, *args):
        calls.append(mask_path)
        return original(image_paths, mask_path, *args)

    monkeypatch.setattr(radiomics_module, "extract_radiomics", counted)
    return calls


def test_steps_and_an_l1_penalty(cohort, y, cached):
    model = make_radiomics_model(settings=SETTINGS, C=0.5, random_state=0,
                                 extractor_params=cached)
    assert list(model.named_steps) == ["radiomics", "impute", "variance", "scale",
                                       "correlation", "classifier"]
    model.fit(cohort, y)
    classifier = model.named_steps["classifier"]
    assert classifier.l1_ratio == 1.0
    assert classifier.coef_.shape == (1, len(model[:-1].get_feature_names_out()))
    # A strong enough L1 penalty zeroes every coefficient (an L2 penalty never does).
    sparse = clone(model).set_params(classifier__C=1e-3).fit(cohort, y)
    assert not sparse.named_steps["classifier"].coef_.any()
    probabilities = model.predict_proba(cohort)
    assert probabilities.shape == (len(cohort), 2)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0)


def test_selection_is_fitted_on_training_patients_only(cohort, y, cached):
    train = (cohort["center"] == "center_1").to_numpy()
    model = make_radiomics_model(settings=SETTINGS, correlation_threshold=0.8, random_state=0,
                                 extractor_params=cached).fit(cohort[train], y[train])
    features = RadiomicsExtractor(settings=SETTINGS, **cached).fit_transform(cohort)
    train_features = features[train]
    # Median imputation and scaling use training statistics only.
    variance = model.named_steps["variance"]
    kept = variance.get_support()
    assert kept.tolist() == (np.nanvar(train_features, axis=0) > 0).tolist()
    train_kept = train_features[:, kept]
    medians = np.nanmedian(train_kept, axis=0)
    train_kept = np.where(np.isnan(train_kept), medians, train_kept)
    np.testing.assert_allclose(model.named_steps["scale"].mean_, train_kept.mean(axis=0))
    # The correlation filter's choice holds on the training patients by numpy's corrcoef.
    survivors = model.named_steps["correlation"].get_support()
    r = np.abs(np.corrcoef(train_kept[:, survivors], rowvar=False))
    assert (r[~np.eye(survivors.sum(), dtype=bool)] <= 0.8 + 1e-12).all()
    # On all patients the choice differs: the test patients were not consulted.
    everyone = make_radiomics_model(settings=SETTINGS, correlation_threshold=0.8,
                                    random_state=0, extractor_params=cached).fit(cohort, y)
    assert not np.array_equal(everyone.named_steps["scale"].mean_,
                              model.named_steps["scale"].mean_)


def test_grid_search_extracts_each_patient_once_with_a_cache(cohort, y, tmp_path, extractions):
    model = make_radiomics_model(settings=SETTINGS, random_state=0,
                                 extractor_params={"memory": tmp_path / "cache"})
    grid = {"classifier__C": [0.05, 1.0], "correlation__threshold": [0.7, 0.95]}
    cv = StratifiedKFold(n_splits=3, shuffle=True, random_state=0)
    search = GridSearchCV(model, grid, cv=cv, scoring="roc_auc").fit(cohort, y)
    assert len(search.cv_results_["params"]) == 4
    assert np.isfinite(search.cv_results_["mean_test_score"]).all()
    # Every candidate and fold after the first reads the features from the cache.
    assert sorted(extractions) == sorted(os.path.abspath(p) for p in cohort["mask_path"])
    best = search.best_estimator_
    assert best.named_steps["correlation"].threshold == search.best_params_[
        "correlation__threshold"]
    assert search.predict_proba(cohort).shape == (len(cohort), 2)


def test_joblib_round_trip_predicts_the_same(cohort, y, tmp_path, cached):
    model = make_radiomics_model(settings=SETTINGS, random_state=0,
                                 extractor_params=cached).fit(cohort, y)
    path = tmp_path / "radiomics.joblib"
    joblib.dump(model, path)
    restored = joblib.load(path)
    np.testing.assert_array_equal(restored.predict_proba(cohort), model.predict_proba(cohort))
    # The fitted state is plain data: numbers, text, arrays and scikit-learn estimators.
    extractor = restored.named_steps["radiomics"]
    assert isinstance(extractor.settings_, dict)
    assert extractor.feature_names_out_.dtype == object
    assert restored.named_steps["correlation"].support_.dtype == bool


def test_save_model_round_trip_without_pickles(cohort, y, tmp_path, cached):
    # Both classes are on the model format's allow-list: no trust to grant.
    model = make_radiomics_model(settings=SETTINGS, include_clinical=True, random_state=0,
                                 extractor_params=cached).fit(cohort, y)
    save_model(model, tmp_path / "model")
    restored = load_model(tmp_path / "model")
    np.testing.assert_array_equal(restored.predict_proba(cohort), model.predict_proba(cohort))
    # The cache folder names a place on the training machine: it is not saved.
    branch = restored.named_steps["features"].named_transformers_["radiomics"]
    assert branch.named_steps["radiomics"].memory is None


def test_fused_with_clinical_columns(cohort, y, cached):
    model = make_radiomics_model(settings=SETTINGS, include_clinical=True,
                                 columns=["age", "alt", "bclc", "ascites"], C=1.0,
                                 random_state=0, extractor_params=cached)
    assert list(model.named_steps) == ["features", "classifier"]
    model.fit(cohort, y)
    names = model[:-1].get_feature_names_out().tolist()
    assert {"age", "alt", "ascites"} <= set(names)
    assert any(name.startswith("bclc_") for name in names)
    assert any(name.startswith("t1c_original_") for name in names)
    assert model.named_steps["classifier"].coef_.shape == (1, len(names))
    search = GridSearchCV(model, {"features__radiomics__correlation__threshold": [0.8, 0.95]},
                          cv=2).fit(cohort, y)
    assert search.predict_proba(cohort).shape == (len(cohort), 2)


def test_pandas_output_keeps_the_cohort_index(cohort, y, cached):
    model = make_radiomics_model(settings=SETTINGS, random_state=0, extractor_params=cached)
    model.set_output(transform="pandas").fit(cohort, y)
    indexed = cohort.set_index("patient_id", drop=False)
    table = model[:-1].transform(indexed)
    assert isinstance(table, pd.DataFrame)
    assert table.index.tolist() == indexed.index.tolist()
    assert table.columns.tolist() == model[:-1].get_feature_names_out().tolist()


def test_settings_go_through_their_own_argument():
    with pytest.raises(ValueError, match="settings"):
        make_radiomics_model(extractor_params={"settings": SETTINGS})
    model = make_radiomics_model(settings=SETTINGS, extractor_params={"n_jobs": 2})
    assert model.named_steps["radiomics"].get_params()["n_jobs"] == 2
    assert model.named_steps["radiomics"].settings is SETTINGS
