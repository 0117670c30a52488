"""CNNEncoder(memory=...): trained weights are stored once and reused by identical fits."""

import numpy as np
import pytest

from tacelearn.transformers import CNNEncoder


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    y = np.tile([0, 1], 8)
    X = rng.normal(size=(16, 2, 32, 32)).astype(np.float32)
    X[y == 1, :, 12:20, 12:20] += 2.0
    return X, y


def _encoder(**params):
    settings = {"backbone": "resnet18", "max_epochs": 1, "batch_size": 8, "random_state": 0}
    settings.update(params)
    return CNNEncoder(**settings)


def test_identical_fit_loads_instead_of_training(data, trainings, tmp_path):
    X, y = data
    uncached = _encoder().fit(X, y)
    first = _encoder(memory=tmp_path).fit(X, y)
    # output, verbose and memory do not change the weights, so they share the entry
    second = _encoder(memory=str(tmp_path), output="logit").fit(X, y)
    assert len(trainings) == 2  # the uncached fit and the first cached one
    np.testing.assert_array_equal(first.predict_proba(X), uncached.predict_proba(X))
    np.testing.assert_array_equal(second.predict_proba(X), uncached.predict_proba(X))
    assert len(second.net_.history) == len(uncached.net_.history) == 1
    assert second.net_.history[-1, "train_loss"] == pytest.approx(
        uncached.net_.history[-1, "train_loss"])
    stored = list(tmp_path.iterdir())
    assert len(stored) == 1
    assert sorted(p.name for p in stored[0].iterdir()) == ["meta.json", "weights.safetensors"]


@pytest.mark.parametrize(("change", "value"), [("max_epochs", 2), ("random_state", 1),
                                               ("augment", False)])
def test_training_settings_are_part_of_the_key(data, trainings, tmp_path, change, value):
    X, y = data
    _encoder(memory=tmp_path).fit(X, y)
    _encoder(memory=tmp_path, **{change: value}).fit(X, y)
    assert len(trainings) == 2
    assert len(list(tmp_path.iterdir())) == 2


def test_data_is_part_of_the_key(data, trainings, tmp_path):
    X, y = data
    _encoder(memory=tmp_path).fit(X, y)
    _encoder(memory=tmp_path).fit(X, y[::-1].copy())
    _encoder(memory=tmp_path).fit(X[:, :1].copy(), y)
    assert len(trainings) == 3


def test_joblib_memory_accepted(data, tmp_path):
    from joblib import Memory

    X, y = data
    _encoder(memory=Memory(tmp_path, verbose=0)).fit(X, y)
    assert len([p for p in tmp_path.iterdir() if p.is_dir()]) == 1
    with pytest.raises(TypeError, match="memory"):
        _encoder(memory=3).fit(X, y)
