"""Fitted models saved with joblib, and shared without pickles through save_model/load_model."""

import hashlib
import json
import re
import shutil
import zipfile

import joblib
import numpy as np
import pandas as pd
import pytest
import skops.io
import torch
from safetensors import safe_open
from safetensors.torch import save_file
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer

import tacelearn
from tacelearn.estimators import (
    load_model,
    make_clinical_model,
    make_dltr,
    make_dltr_lr,
    make_dltr_mlp,
    save_model,
)
from tacelearn.estimators._persistence import TRUSTED_TYPES

MODELS = ("clinical", "dltr", "dltr_lr_cv2", "dltr_lr_in_sample", "dltr_mlp")


def _halve(X):
    return np.asarray(X, dtype=float) / 2.0


def _encoders(name, model):
    """The fitted CNNEncoder of each factory's pipeline, reached by its documented steps."""
    if name == "clinical":
        return []
    if name == "dltr":
        return [model.named_steps["encoder"]]
    encoder = _step(model, ("features", "image", "encoder"))
    return [encoder if name == "dltr_lr_in_sample" else encoder.estimator_]


def _step(model, names):
    """``model.named_steps[a].named_transformers_[b].named_steps[c]``, for ``names=(a, b, c)``."""
    for name in names:
        model = getattr(model, "named_steps", None) or model.named_transformers_
        model = model[name]
    return model


@pytest.fixture(scope="module")
def fitted(tiny_cohort, tmp_path_factory):
    """Each factory fitted once, with its probabilities on the cohort as the reference."""
    # The weights cache makes every image model reuse the DLTR's CNN (and the fold CNNs of the
    # first cross-fitted model): three trainings in all instead of eight.
    memory = tmp_path_factory.mktemp("encoder_weights")
    image = {"backbone": "resnet18", "patch_size": 32, "random_state": 0,
             "encoder_params": {"max_epochs": 1, "batch_size": 8, "memory": memory}}
    models = {
        "clinical": make_clinical_model(),
        "dltr": make_dltr(**image),
        "dltr_lr_cv2": make_dltr_lr(cv=2, **image),
        "dltr_lr_in_sample": make_dltr_lr(cv=None, **image),
        "dltr_mlp": make_dltr_mlp(hidden_layer_sizes=(8,), max_iter=3000, cv=2, **image),
    }
    y = tiny_cohort["objective_response"].astype(int)
    return {name: (model.fit(tiny_cohort, y), model.predict_proba(tiny_cohort))
            for name, model in models.items()}


@pytest.fixture(scope="module")
def saved_dltr(fitted, tmp_path_factory):
    """A DLTR model saved once; tests that damage it work on a copy."""
    return save_model(fitted["dltr"][0], tmp_path_factory.mktemp("saved") / "dltr")


@pytest.fixture
def damaged(saved_dltr, tmp_path):
    return shutil.copytree(saved_dltr, tmp_path / "copy")


def _rewrite_config(folder, change):
    config = json.loads((folder / "config.json").read_text())
    change(config)
    (folder / "config.json").write_text(json.dumps(config))


def _replace_file(folder, name, data, entry):
    """Write ``data`` as ``name`` and record its SHA-256, as a buggy writer might."""
    (folder / name).write_bytes(data)
    _rewrite_config(folder, lambda config: entry(config).update(
        sha256=hashlib.sha256(data).hexdigest()))


# ------------------------------------------------------------------------------------ joblib
@pytest.mark.parametrize("name", MODELS)
def test_joblib_round_trip_gives_identical_probabilities(fitted, tiny_cohort, tmp_path, name):
    model, expected = fitted[name]
    joblib.dump(model, tmp_path / "model.joblib")
    loaded = joblib.load(tmp_path / "model.joblib")
    np.testing.assert_array_equal(loaded.predict_proba(tiny_cohort), expected)


# -------------------------------------------------------------------------- save and load
@pytest.mark.parametrize("name", MODELS)
def test_save_load_round_trip_is_exact_and_pickle_free(fitted, tiny_cohort, tmp_path, name):
    model, expected = fitted[name]
    encoders = _encoders(name, model)
    folder = save_model(model, tmp_path / name)

    weights = [f"encoder_{i}.safetensors" for i in range(len(encoders))]
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        ["config.json", "model.skops", *weights])
    # Only tacelearn's own types and the short allow-list need trust in model.skops, and it
    # holds nothing but JSON and plain .npy arrays (which numpy reads without pickle).
    untrusted = skops.io.get_untrusted_types(file=folder / "model.skops")
    assert all(t.startswith("tacelearn.") or t in TRUSTED_TYPES for t in untrusted), untrusted
    with zipfile.ZipFile(folder / "model.skops") as archive:
        for member in archive.namelist():
            assert member == "schema.json" or member.endswith(".npy"), member
            if member.endswith(".npy"):
                with archive.open(member) as array:
                    np.load(array, allow_pickle=False)
    config = json.loads((folder / "config.json").read_text())
    assert config["format_version"] == 1
    assert config["tacelearn_version"] == tacelearn.__version__
    for entry, file, encoder in zip(config["encoders"], weights, encoders, strict=True):
        assert entry["file"] == file
        assert (entry["backbone"], entry["n_channels"], entry["image_size"]) == (
            "resnet18", encoder.n_features_in_, list(encoder.image_size_))
        assert entry["sha256"] == hashlib.sha256((folder / file).read_bytes()).hexdigest()
    for file, encoder in zip(weights, encoders, strict=True):
        reference = encoder.net_.module_.state_dict()
        with safe_open(folder / file, framework="pt") as stored:
            assert sorted(stored.keys()) == sorted(reference)
            for key in reference:
                assert torch.equal(stored.get_tensor(key), reference[key].cpu()), key

    loaded = load_model(folder)
    # The caller's model keeps what was left out of model.skops: the networks, and the
    # extractor's record of the patients it transformed last.
    assert all("net_" in vars(encoder) for encoder in encoders)
    if name != "clinical":
        steps = ("patches",) if name == "dltr" else ("features", "image", "patches")
        extractors = [_step(model, steps), _step(loaded, steps)]
        assert "lesion_index_" in vars(extractors[0])
        assert "lesion_index_" not in vars(extractors[1])
    np.testing.assert_array_equal(loaded.predict_proba(tiny_cohort), expected)
    for encoder, restored in zip(encoders, _encoders(name, loaded), strict=True):
        assert restored.device_ == restored.net_.device == "cpu"
        assert len(restored.net_.history) == len(encoder.net_.history)
        assert not restored.net_.module_.training


def test_foreign_type_is_refused_unless_trusted(tmp_path):
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(30, 3)), np.tile([0, 1], 15)
    model = make_pipeline(FunctionTransformer(_halve), LogisticRegression()).fit(X, y)
    folder = save_model(model, tmp_path / "foreign")
    name = f"{_halve.__module__}._halve"
    assert name in skops.io.get_untrusted_types(file=folder / "model.skops")

    with pytest.raises(ValueError, match=re.escape(name)):
        load_model(folder)
    loaded = load_model(folder, trusted=[name])
    np.testing.assert_array_equal(loaded.predict_proba(X), model.predict_proba(X))
    with pytest.raises(TypeError, match="trusted"):
        load_model(folder, trusted=name)


def test_name_that_tacelearn_only_imports_is_not_trusted(tmp_path):
    # A crafted file reaching a third-party function (it writes files) through a tacelearn
    # module that imports it: the name starts with "tacelearn." but tacelearn does not
    # define it.
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(30, 3)), np.tile([0, 1], 15)
    model = make_pipeline(FunctionTransformer(_halve), LogisticRegression()).fit(X, y)
    folder = save_model(model, tmp_path / "crafted")
    with zipfile.ZipFile(folder / "model.skops") as archive:
        members = {member: archive.read(member) for member in archive.namelist()}
    forged = "tacelearn.transformers._weights_cache.save_file"
    schema = members["schema.json"].decode()
    schema = schema.replace(f'"{_halve.__module__}"', '"tacelearn.transformers._weights_cache"')
    members["schema.json"] = schema.replace('"_halve"', '"save_file"').encode()
    with zipfile.ZipFile(tmp_path / "forged.skops", "w") as archive:
        for member, data in members.items():
            archive.writestr(member, data)
    assert forged in skops.io.get_untrusted_types(file=tmp_path / "forged.skops")
    _replace_file(folder, "model.skops", (tmp_path / "forged.skops").read_bytes(),
                  lambda config: config["model"])
    with pytest.raises(ValueError, match=re.escape(forged)):
        load_model(folder)


# -------------------------------------------------------------------------------- devices
def test_loads_on_the_cpu_whatever_the_training_device(fitted, tiny_cohort, tmp_path):
    model, expected = fitted["dltr"]
    encoder = model.named_steps["encoder"]
    on_cpu = load_model(save_model(model, tmp_path / "cpu"), device="cpu")
    assert on_cpu.named_steps["encoder"].net_.device == "cpu"
    np.testing.assert_array_equal(on_cpu.predict_proba(tiny_cohort), expected)

    trained_with = encoder.device
    encoder.set_params(device="cuda")
    try:
        folder = save_model(model, tmp_path / "cuda")
    finally:
        encoder.set_params(device=trained_with)
    # pytest turns warnings into errors: the load must not warn either.
    loaded = load_model(folder)
    restored = loaded.named_steps["encoder"]
    assert restored.device == "cuda"  # the hyper-parameter is kept for a later fit
    if torch.cuda.is_available():
        assert restored.device_.startswith("cuda")
        np.testing.assert_allclose(loaded.predict_proba(tiny_cohort), expected, atol=1e-2)
    else:
        assert restored.device_ == restored.net_.device == "cpu"
        np.testing.assert_array_equal(loaded.predict_proba(tiny_cohort), expected)
        with pytest.raises(ValueError, match="CUDA is not available"):
            load_model(folder, device="cuda")


@pytest.mark.gpu
def test_model_trained_on_gpu_loads_on_the_cpu(tiny_cohort, tmp_path):
    y = tiny_cohort["objective_response"].astype(int)
    model = make_dltr(backbone="resnet18", patch_size=32, random_state=0,
                      encoder_params={"max_epochs": 1, "batch_size": 8, "device": "cuda"})
    expected = model.fit(tiny_cohort, y).predict_proba(tiny_cohort)
    folder = save_model(model, tmp_path / "gpu")
    state = model.named_steps["encoder"].net_.module_.state_dict()
    with safe_open(folder / "encoder_0.safetensors", framework="pt") as stored:
        for key in state:
            assert torch.equal(stored.get_tensor(key), state[key].cpu()), key
    loaded = load_model(folder, device="cpu")
    assert loaded.named_steps["encoder"].net_.device == "cpu"
    # float16 autocast on the GPU, float32 on the CPU
    np.testing.assert_allclose(loaded.predict_proba(tiny_cohort), expected, atol=1e-2)
    np.testing.assert_allclose(load_model(folder, device="cuda").predict_proba(tiny_cohort),
                               expected, atol=1e-3)


# --------------------------------------------------------------------------------- errors
def test_missing_folder_or_config(tmp_path):
    with pytest.raises(FileNotFoundError, match="nowhere"):
        load_model(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="config.json"):
        load_model(tmp_path / "empty")


def test_missing_weights_file(damaged):
    (damaged / "encoder_0.safetensors").unlink()
    with pytest.raises(FileNotFoundError, match="encoder_0.safetensors is missing"):
        load_model(damaged)


def test_corrupt_weights_file(damaged):
    file = damaged / "encoder_0.safetensors"
    data = bytearray(file.read_bytes())
    data[-1] ^= 0xFF
    file.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="encoder_0.safetensors is corrupt"):
        load_model(damaged)


def test_unreadable_weights_file(damaged):
    _replace_file(damaged, "encoder_0.safetensors", b"not a safetensors file",
                  lambda config: config["encoders"][0])
    with pytest.raises(ValueError, match="encoder_0.safetensors is not a readable safetensors"):
        load_model(damaged)


def test_weights_of_another_network(damaged, tmp_path):
    with safe_open(damaged / "encoder_0.safetensors", framework="pt") as stored:
        tensors = {key: stored.get_tensor(key) for key in sorted(stored.keys())
                   if not key.startswith("backbone.fc.")}
    save_file(tensors, tmp_path / "partial.safetensors")
    _replace_file(damaged, "encoder_0.safetensors", (tmp_path / "partial.safetensors")
                  .read_bytes(), lambda config: config["encoders"][0])
    with pytest.raises(ValueError, match=r"does not fit the resnet18 encoder.*backbone\.fc"):
        load_model(damaged)


def test_corrupt_structure_file(damaged):
    (damaged / "model.skops").write_bytes(b"garbage")
    with pytest.raises(ValueError, match="model.skops is corrupt"):
        load_model(damaged)
    _replace_file(damaged, "model.skops", b"garbage", lambda config: config["model"])
    with pytest.raises(ValueError, match="model.skops is not a readable skops file"):
        load_model(damaged)


@pytest.mark.parametrize(("change", "message"), [
    (lambda config: config.update(format_version=2), "format version 2"),
    (lambda config: config.update(format="something else"), "does not describe"),
    (lambda config: config["encoders"][0].update(file="../elsewhere.safetensors"), "malformed"),
    (lambda config: config["encoders"].clear(), "disagree on the fitted encoders"),
])
def test_config_mismatch(damaged, change, message):
    _rewrite_config(damaged, change)
    with pytest.raises(ValueError, match=message):
        load_model(damaged)


def test_config_not_json(damaged):
    (damaged / "config.json").write_text("{")
    with pytest.raises(ValueError, match="config.json is not valid JSON"):
        load_model(damaged)


def test_existing_target_folder(fitted, tiny_cohort, saved_dltr, tmp_path):
    model, expected = fitted["clinical"]
    folder = shutil.copytree(saved_dltr, tmp_path / "taken")
    with pytest.raises(FileExistsError, match="overwrite=True"):
        save_model(model, folder)
    assert (folder / "encoder_0.safetensors").is_file()  # left as it was

    save_model(model, folder, overwrite=True)
    assert sorted(p.name for p in folder.iterdir()) == ["config.json", "model.skops"]
    np.testing.assert_array_equal(load_model(folder).predict_proba(tiny_cohort), expected)

    (tmp_path / "empty").mkdir()
    save_model(model, tmp_path / "empty")
    (tmp_path / "file").write_text("")
    with pytest.raises(FileExistsError, match="is a file"):
        save_model(model, tmp_path / "file", overwrite=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty", "file", "taken"]


class _WithFrame(TransformerMixin, BaseEstimator):
    def fit(self, X, y=None):
        self.summary_ = pd.DataFrame({"mean": np.mean(X, axis=0)})
        return self

    def transform(self, X):
        return X


def test_unstorable_attribute_is_named_and_nothing_is_written(tmp_path):
    model = make_pipeline(_WithFrame(), LogisticRegression()).fit(np.eye(4), [0, 1, 0, 1])
    with pytest.raises(TypeError, match=re.escape("model.steps[0][1].summary_")):
        save_model(model, tmp_path / "model")
    assert list(tmp_path.iterdir()) == []
