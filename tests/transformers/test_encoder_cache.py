"""CNNEncoder(memory=...): trained weights are stored once, reused by identical fits, and a
damaged entry is discarded with a warning and trained again (never a wrong answer)."""

import json

import numpy as np
import pytest
from safetensors.numpy import load_file, save_file

from tacelearn.transformers import CNNEncoder
from tacelearn.utils import CacheWarning


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


def _entries(folder):
    """The weight entries of a cache folder (one sub-folder with entry.json each)."""
    return sorted(p.parent for p in (folder / "cnn-weights").rglob("entry.json"))


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
    (entry,) = _entries(tmp_path)
    assert sorted(p.name for p in entry.iterdir()) == ["arrays.safetensors", "entry.json"]
    # The stored tensors are the trained network's, bit for bit.
    stored = load_file(entry / "arrays.safetensors")
    for name, tensor in uncached.net_.module_.state_dict().items():
        np.testing.assert_array_equal(stored[name], tensor.numpy(), err_msg=name)


@pytest.mark.parametrize(("change", "value"), [("max_epochs", 2), ("random_state", 1),
                                               ("augment", False)])
def test_training_settings_are_part_of_the_key(data, trainings, tmp_path, change, value):
    X, y = data
    _encoder(memory=tmp_path).fit(X, y)
    _encoder(memory=tmp_path, **{change: value}).fit(X, y)
    assert len(trainings) == 2
    assert len(_entries(tmp_path)) == 2


def test_data_is_part_of_the_key(data, trainings, tmp_path):
    X, y = data
    _encoder(memory=tmp_path).fit(X, y)
    _encoder(memory=tmp_path).fit(X, y[::-1].copy())
    _encoder(memory=tmp_path).fit(X[:, :1].copy(), y)
    assert len(trainings) == 3


def test_joblib_memory_names_the_folder_and_other_values_are_refused(data, tmp_path):
    from joblib import Memory

    X, y = data
    _encoder(memory=Memory(tmp_path, verbose=0)).fit(X, y)
    assert len(_entries(tmp_path)) == 1
    assert not list(tmp_path.rglob("*.pkl"))  # joblib's pickle cache is never used
    with pytest.raises(ValueError, match="memory"):
        _encoder(memory=3).fit(X, y)


# --------------------------------------------------------------- damaged entries (issue 11.5)
def _truncate(entry):
    file = entry / "arrays.safetensors"
    file.write_bytes(file.read_bytes()[:1000])


def _garbage_meta(entry):
    (entry / "entry.json").write_text("{not json")


def _missing_key(entry):
    record = json.loads((entry / "entry.json").read_text())
    del record["meta"]
    (entry / "entry.json").write_text(json.dumps(record))


def _flip_one_bit(entry):
    file = entry / "arrays.safetensors"
    data = bytearray(file.read_bytes())
    data[len(data) // 2] ^= 0x01  # inside the tensor data: still a readable file
    file.write_bytes(bytes(data))


def _nan_weights(entry):
    # A consistent entry (checksum rewritten) whose weights are NaN, as a diverged training
    # stored by an older version would be.
    file = entry / "arrays.safetensors"
    tensors = load_file(file)
    name = next(k for k, v in tensors.items() if v.dtype.kind == "f")
    tensors[name] = np.full_like(tensors[name], np.nan)
    save_file(tensors, file)
    import hashlib

    record = json.loads((entry / "entry.json").read_text())
    record["sha256"] = hashlib.sha256(file.read_bytes()).hexdigest()
    (entry / "entry.json").write_text(json.dumps(record))


@pytest.mark.parametrize("damage", [_truncate, _garbage_meta, _missing_key, _flip_one_bit,
                                    _nan_weights])
def test_damaged_entry_is_named_discarded_and_trained_again(data, trainings, tmp_path, damage):
    X, y = data
    expected = _encoder(memory=tmp_path).fit(X, y).predict_proba(X)
    (entry,) = _entries(tmp_path)
    damage(entry)
    with pytest.warns(CacheWarning, match=str(entry)):
        refit = _encoder(memory=tmp_path).fit(X, y)
    assert len(trainings) == 2  # trained again, not loaded
    np.testing.assert_array_equal(refit.predict_proba(X), expected)
    # The healed entry serves the next fit without a warning.
    _encoder(memory=tmp_path).fit(X, y)
    assert len(trainings) == 2


def test_diverged_training_is_refused_and_not_cached(data, tmp_path):
    X, y = data
    X = X.copy()
    X[0, 0, 0, 0] = 3e38  # overflows float32 arithmetic in the first convolution
    with pytest.raises(ValueError, match="diverged"):
        _encoder(memory=tmp_path, lr=1e6, augment=False).fit(X, y)
    assert _entries(tmp_path) == []
