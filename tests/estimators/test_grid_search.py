"""Grid search over fusion heads with the CNN caches: trainings counted, folds recorded."""

import joblib
import numpy as np
import pytest
import sklearn
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import (
    GridSearchCV,
    GroupKFold,
    StratifiedGroupKFold,
    StratifiedKFold,
    cross_val_predict,
    cross_validate,
)
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from tacelearn.datasets import make_tace_cohort
from tacelearn.estimators import (
    make_cached_grid_search,
    make_clinical_model,
    make_dltr_lr,
    make_dltr_mlp,
)
from tacelearn.estimators._model_selection import FittedStepMemory
from tacelearn.metrics import delong_auc_scorer, delong_roc_variance
from tacelearn.transformers import CNNEncoder

C_GRID = {"classifier__C": [0.01, 1.0, 100.0]}
#: timm's smallest ResNet: the caches work alike for every backbone, and the suite stays fast.
#: The first test uses ResNet18, the smallest backbone of the paper.
BACKBONE = "test_resnet"


@pytest.fixture(scope="module")
def three_centres(tmp_path_factory):
    """40 patients in three centres (20, 10, 10), both classes in each."""
    return make_tace_cohort(tmp_path_factory.mktemp("three_centres"), n_per_center=(20, 10, 10),
                            image_shape=(32, 32, 8), random_state=0)


def _labels(cohort):
    return cohort["objective_response"].astype(int)


def _tiny(factory, cnn_cache=None, patch_cache=None, *, backbone=BACKBONE, **kwargs):
    """``factory``'s model at test size: a small ResNet, 32 px patches, one epoch."""
    encoder_params = {"max_epochs": 1, "batch_size": 8}
    if cnn_cache is not None:
        encoder_params["memory"] = str(cnn_cache)
    extractor_params = None if patch_cache is None else {"memory": str(patch_cache)}
    return factory(backbone=backbone, patch_size=32, random_state=0,
                   encoder_params=encoder_params, extractor_params=extractor_params, **kwargs)


# The tiny cohort's folds miss a BCLC stage or two: predicting on them rightly warns.
@pytest.mark.filterwarnings("ignore::tacelearn.estimators.UnseenCategoryWarning")
def test_cache_trains_once_per_fold_and_changes_no_score(tiny_cohort, tmp_path, trainings):
    y = _labels(tiny_cohort)
    n_candidates, n_folds = len(C_GRID["classifier__C"]), 3

    cached = GridSearchCV(_tiny(make_dltr_lr, tmp_path / "cnn", tmp_path / "patches", cv=None,
                                screen=False, backbone="resnet18"),
                          C_GRID, cv=n_folds, scoring="roc_auc").fit(tiny_cohort, y)
    assert len(trainings) == n_folds + 1

    trainings.clear()
    naive = GridSearchCV(_tiny(make_dltr_lr, None, tmp_path / "patches", cv=None, screen=False,
                               backbone="resnet18"),
                         C_GRID, cv=n_folds, scoring="roc_auc").fit(tiny_cohort, y)
    assert len(trainings) == n_candidates * n_folds + 1

    # The same seed trains the same CNN: loading it instead changes nothing.
    for name in [f"split{k}_test_score" for k in range(n_folds)]:
        np.testing.assert_allclose(cached.cv_results_[name], naive.cv_results_[name],
                                   rtol=1e-6)
    np.testing.assert_allclose(cached.predict_proba(tiny_cohort),
                               naive.predict_proba(tiny_cohort), rtol=1e-5)


# The tiny cohort's folds miss a BCLC stage or two: predicting on them rightly warns.
@pytest.mark.filterwarnings("ignore::tacelearn.estimators.UnseenCategoryWarning")
def test_out_of_fold_fusion_trains_its_inner_folds_once(tiny_cohort, tmp_path, trainings):
    y = _labels(tiny_cohort)
    n_folds, inner = 3, 2
    # Shuffled outer folds: with unshuffled ones, the inner folds of different outer folds
    # can hold the very same patients, and the cache then rightly trains them only once.
    outer = StratifiedKFold(n_folds, shuffle=True, random_state=0)
    GridSearchCV(_tiny(make_dltr_lr, tmp_path, tmp_path, cv=inner, screen=False), C_GRID,
                 cv=outer, scoring="roc_auc").fit(tiny_cohort, y)
    # Per outer fold: one CNN per inner fold plus the refit on the outer training fold;
    # then the same for the best candidate's refit on everything.
    assert len(trainings) == n_folds * (inner + 1) + (inner + 1)


# The tiny cohort's folds miss a BCLC stage or two: predicting on them rightly warns.
@pytest.mark.filterwarnings("ignore::tacelearn.estimators.UnseenCategoryWarning")
def test_cached_grid_search_helper(tiny_cohort, tmp_path, trainings, monkeypatch):
    encoder_fits, fit = [], CNNEncoder.fit

    def counted_fit(self, *args, **kwargs):
        encoder_fits.append(1)
        return fit(self, *args, **kwargs)

    monkeypatch.setattr(CNNEncoder, "fit", counted_fit)
    model = _tiny(make_dltr_lr, cv=None, screen=False)
    search = make_cached_grid_search(model, {"classifier__C": [0.1, 10.0]}, memory=tmp_path,
                                     cv=2, scoring="roc_auc")
    params = search.estimator.get_params()
    store = params["features__image__encoder__memory"]
    assert store.location == tmp_path
    assert store.memory_bytes > 0  # recent entries kept in memory for the candidates
    assert params["features__image__patches__memory"] is store
    assert params["memory"].max_entries == 2 + 1  # every fold and the refit
    assert model.get_params()["features__image__encoder__memory"] is None  # a clone is cached

    search.fit(tiny_cohort, _labels(tiny_cohort))
    assert isinstance(search, GridSearchCV)
    assert len(trainings) == 2 + 1
    # The second candidate of each fold reuses the fitted feature step: no encoder fit at all.
    assert len(encoder_fits) == 2 + 1

    weights_only = make_cached_grid_search(model, {}, memory=tmp_path, cache_patches=False,
                                           cache_features=False).estimator.get_params()
    assert weights_only["features__image__encoder__memory"].location == tmp_path
    assert weights_only["features__image__patches__memory"] is None
    assert weights_only["memory"] is None

    # Two settings of the feature step: room for both on every fold.
    two_settings = make_cached_grid_search(
        model, [{"classifier__C": [0.1, 1.0]}, {"features__image__scale__with_mean": [False]}],
        memory=tmp_path, cv=StratifiedKFold(4))
    assert two_settings.estimator.memory.max_entries == (4 + 1) * 2
    # Folds given as pairs are counted; a generator is left for the search to consume.
    pairs = list(StratifiedKFold(3).split(tiny_cohort, _labels(tiny_cohort)))
    assert make_cached_grid_search(model, {}, memory=tmp_path,
                                   cv=pairs).estimator.memory.max_entries == 3 + 1
    generator = iter(pairs)
    search = make_cached_grid_search(model, {}, memory=tmp_path, cv=generator)
    assert search.estimator.memory.max_entries is None
    assert next(search.cv) is pairs[0]


class CountingScaler(StandardScaler):
    """StandardScaler that counts its fits in a class attribute."""

    fits = 0

    def fit(self, X, y=None, sample_weight=None):
        type(self).fits += 1
        return super().fit(X, y, sample_weight)


def test_fitted_step_memory_shares_fits_between_candidates(tmp_path):
    X, y = make_classification(n_samples=120, random_state=0)
    grid = {"classifier__C": [0.01, 0.1, 1.0, 10.0]}
    results = {}
    for memory in (None, FittedStepMemory(max_entries=3 + 1)):
        CountingScaler.fits = 0
        model = Pipeline([("scale", CountingScaler()), ("classifier", LogisticRegression())],
                         memory=memory)
        results[memory is None] = GridSearchCV(model, grid, cv=3).fit(X, y)
        expected = 4 * 3 + 1 if memory is None else 3 + 1
        assert CountingScaler.fits == expected
    cached, naive = results[False], results[True]
    np.testing.assert_array_equal(cached.cv_results_["mean_test_score"],
                                  naive.cv_results_["mean_test_score"])

    # Candidates are clones: they share the one cache, which holds the folds and the refit.
    memory = cached.best_estimator_.memory
    assert memory is cached.estimator.memory
    assert len(memory) == 3 + 1
    # A pickled search carries no cached fit and predicts the same.
    joblib.dump(cached, tmp_path / "search.joblib")
    loaded = joblib.load(tmp_path / "search.joblib")
    assert len(loaded.best_estimator_.memory) == 0
    np.testing.assert_array_equal(loaded.predict_proba(X), cached.predict_proba(X))


def test_fitted_step_memory_drops_the_least_recently_used():
    calls = []
    memory = FittedStepMemory(max_entries=2)
    square = memory.cache(lambda value, noise=None: calls.append(value) or value ** 2,
                          ignore=["noise"])
    assert [square(2), square(3), square(2, noise=object())] == [4, 9, 4]
    assert calls == [2, 3]
    square(4)  # evicts 3, the least recently used
    square(2)
    square(3)
    assert calls == [2, 3, 4, 3]
    memory.clear()
    assert len(memory) == 0


def test_cached_grid_search_errors(tmp_path):
    with pytest.raises(ValueError, match="memory must name the cache folder"):
        make_cached_grid_search(_tiny(make_dltr_lr), {}, memory=None)
    with pytest.raises(ValueError, match="holds no CNNEncoder"):
        make_cached_grid_search(make_clinical_model(), {}, memory=tmp_path)


class _RecordingSplits:
    """Keeps the groups a splitter received and the folds it gave."""

    def split(self, X, y=None, groups=None):
        self.groups_seen = groups
        self.folds = list(super().split(X, y, groups))
        yield from self.folds


class RecordingGroupKFold(_RecordingSplits, GroupKFold):
    pass


class RecordingStratifiedGroupKFold(_RecordingSplits, StratifiedGroupKFold):
    pass


@pytest.fixture(scope="module")
def grouped_cache(tmp_path_factory):
    # Both splitters hold out one centre per fold, so their folds share trainings.
    return tmp_path_factory.mktemp("grouped_cache")


@pytest.mark.parametrize("splitter", [RecordingGroupKFold, RecordingStratifiedGroupKFold])
@pytest.mark.parametrize("routing", [False, True])
def test_grouped_search_holds_out_whole_centres(three_centres, grouped_cache, splitter, routing):
    y, centres = _labels(three_centres), three_centres["center"].to_numpy()
    cv = splitter(n_splits=3)
    search = GridSearchCV(_tiny(make_dltr_lr, grouped_cache, grouped_cache, cv=None, screen=False),
                          {"classifier__C": [0.1, 10.0]}, cv=cv, scoring="roc_auc", refit=False)
    with sklearn.config_context(enable_metadata_routing=routing):
        search.fit(three_centres, y, groups=three_centres["center"])

    np.testing.assert_array_equal(np.asarray(cv.groups_seen), centres)
    assert len(cv.folds) == 3
    held_out = []
    for train, test in cv.folds:
        assert len(set(centres[test])) == 1
        assert centres[test][0] not in set(centres[train])
        held_out.append(centres[test][0])
    assert sorted(held_out) == sorted(set(centres))
    tested = np.sort(np.concatenate([test for _, test in cv.folds]))
    np.testing.assert_array_equal(tested, np.arange(len(three_centres)))
    assert np.isfinite(search.cv_results_["mean_test_score"]).all()


# A 8-unit MLP on 20 patients per fold may stop at max_iter; the test is about the scorer.
@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_cross_validate_fusion_with_delong_scorer(three_centres, tmp_path, trainings):
    y = _labels(three_centres)
    folds = StratifiedKFold(2, shuffle=True, random_state=0)
    model = _tiny(make_dltr_mlp, tmp_path, tmp_path, cv=2, hidden_layer_sizes=(8,))
    scores = cross_validate(model, three_centres, y, cv=folds, scoring=delong_auc_scorer)
    assert len(trainings) == 2 * (2 + 1)

    # Reference: per-fold AUCs of out-of-fold probabilities computed here (the fits load the
    # CNNs trained above, so nothing trains again).
    probabilities = cross_val_predict(model, three_centres, y, cv=folds,
                                      method="predict_proba")[:, 1]
    assert len(trainings) == 2 * (2 + 1)
    expected = [roc_auc_score(y.iloc[test], probabilities[test])
                for _, test in folds.split(three_centres, y)]
    np.testing.assert_allclose(scores["test_score"], expected, rtol=1e-10)
    np.testing.assert_allclose(
        [delong_roc_variance(y.iloc[test], probabilities[test])[0]
         for _, test in folds.split(three_centres, y)], expected, rtol=1e-12)
