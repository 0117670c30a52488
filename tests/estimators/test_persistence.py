"""Fitted models saved with joblib, and shared without pickles through save_model/load_model."""

import hashlib
import json
import re
import shutil
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pytest
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


def _replace_file(folder, name, data):
    """Write ``data`` as ``name`` and reseal the config, as a buggy writer might."""
    (folder / name).write_bytes(data)

    def record(config):
        config["files"][name] = hashlib.sha256(data).hexdigest()
        sealed = {k: v for k, v in config.items() if k != "digest"}
        config["digest"] = hashlib.sha256(json.dumps(sealed, sort_keys=True,
                                                     separators=(",", ":")).encode()).hexdigest()

    _rewrite_config(folder, record)


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
        ["config.json", "structure.json", "arrays.safetensors", *weights])
    # Data only: JSON, and safetensors files (a header and raw numbers, nothing to execute).
    structure = json.loads((folder / "structure.json").read_text())
    classes = {record["class"] for record in structure["objects"]}
    assert all(c.startswith(("sklearn.", "tacelearn.")) for c in classes), classes
    assert "tacelearn.transformers._encoder_net.EncoderNet" not in classes
    for file in ["arrays.safetensors", *weights]:
        assert not (folder / file).read_bytes().startswith(b"\x80")  # no pickle protocol
    config = json.loads((folder / "config.json").read_text())
    assert config["format_version"] == 2
    assert config["tacelearn_version"] == tacelearn.__version__
    for file, data_name in config["files"].items():
        assert data_name == hashlib.sha256((folder / file).read_bytes()).hexdigest()
    for entry, file, encoder in zip(config["encoders"], weights, encoders, strict=True):
        assert entry["file"] == file
        assert (entry["backbone"], entry["n_channels"], entry["image_size"]) == (
            "resnet18", encoder.n_features_in_, list(encoder.image_size_))
    for file, encoder in zip(weights, encoders, strict=True):
        reference = encoder.net_.module_.state_dict()
        with safe_open(folder / file, framework="pt") as stored:
            assert sorted(stored.keys()) == sorted(reference)
            for key in reference:
                assert torch.equal(stored.get_tensor(key), reference[key].cpu()), key

    loaded = load_model(folder)
    assert all("net_" in vars(encoder) for encoder in encoders)  # the caller's model is intact
    np.testing.assert_array_equal(loaded.predict_proba(tiny_cohort), expected)
    for encoder, restored in zip(encoders, _encoders(name, loaded), strict=True):
        assert restored.device_ == restored.net_.device == "cpu"
        assert len(restored.net_.history) == len(encoder.net_.history)
        assert not restored.net_.module_.training
    assert loaded.get_params()["memory"] is None


def test_foreign_function_needs_trust_on_both_sides(tmp_path):
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(30, 3)), np.tile([0, 1], 15)
    model = make_pipeline(FunctionTransformer(_halve), LogisticRegression()).fit(X, y)
    name = f"{_halve.__module__}._halve"
    with pytest.raises(TypeError, match=re.escape(f"{name} is not among the functions")):
        save_model(model, tmp_path / "refused")
    assert not (tmp_path / "refused").exists()
    folder = save_model(model, tmp_path / "foreign", trusted=[name])

    with pytest.raises(ValueError, match=re.escape(name)):
        load_model(folder)
    loaded = load_model(folder, trusted=[name])
    np.testing.assert_array_equal(loaded.predict_proba(X), model.predict_proba(X))
    with pytest.raises(TypeError, match="trusted"):
        load_model(folder, trusted=name)


# ------------------------------------------------------------- crafted files (issue 11, 1-2)
def _forge(folder, change):
    """Edit structure.json with ``change`` and reseal every checksum, as an attacker would."""
    structure = json.loads((folder / "structure.json").read_text())
    change(structure)
    data = json.dumps(structure).encode()
    (folder / "structure.json").write_bytes(data)
    config = json.loads((folder / "config.json").read_text())
    config["files"]["structure.json"] = hashlib.sha256(data).hexdigest()
    sealed = {k: v for k, v in config.items() if k != "digest"}
    config["digest"] = hashlib.sha256(json.dumps(sealed, sort_keys=True,
                                                 separators=(",", ":")).encode()).hexdigest()
    (folder / "config.json").write_text(json.dumps(config))


def _records(structure, class_suffix):
    return [r for r in structure["objects"] if r["class"].endswith(class_suffix)]


def test_skorch_net_with_a_pickle_payload_is_refused(damaged, tmp_path):
    # Finding 1: the net's own __setstate__ unpickles its CUDA-dependent attributes. A file
    # naming the skorch net (or any class off the allow-list) is refused before any object
    # is built; nothing in the format can even carry pickle bytes.
    marker = tmp_path / "marker"

    def plant(structure):
        (encoder,) = _records(structure, "CNNEncoder")
        structure["objects"].append({
            "class": "tacelearn.transformers._encoder_net.EncoderNet", "path": "net",
            "params": {"module": None}, "state": {"__cuda_dependent_attributes__": [
                "$payload", str(marker)]}})
        encoder["state"]["net_"] = {"$object": len(structure["objects"]) - 1}

    _forge(damaged, plant)
    with pytest.raises(ValueError, match="EncoderNet, which is not among the classes"):
        load_model(damaged)
    assert not marker.exists()


@pytest.mark.parametrize("name", [
    "tacelearn.estimators._persistence.save_model",  # trusted names were enough to do harm
    "shutil.rmtree",
    "builtins.eval",
])
def test_function_transformer_gadget_is_refused_and_deletes_nothing(fitted, tiny_cohort,
                                                                    tmp_path, name):
    # Finding 2: FunctionTransformer(func=save_model, kw_args={"path": victim,
    # "overwrite": True}) inserted into a saved pipeline deleted the victim at predict.
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "precious.txt").write_text("keep me")
    folder = save_model(fitted["clinical"][0], tmp_path / "model")

    def plant(structure):
        (function_transformer,) = _records(structure, "FunctionTransformer")[:1]
        function_transformer["params"]["func"] = {"$callable": name}
        function_transformer["params"]["kw_args"] = {"$dict": [
            ["path", str(victim)], ["overwrite", True]]}

    _forge(folder, plant)
    with pytest.raises(ValueError, match=re.escape(f"'{name}' is not among the functions")):
        load_model(folder)
    assert (victim / "precious.txt").read_text() == "keep me"


def test_a_saved_model_may_not_name_a_cache_folder(fitted, tmp_path):
    folder = save_model(fitted["dltr"][0], tmp_path / "model")
    _forge(folder, lambda structure: _records(structure, "TumourPatchExtractor")[0][
        "params"].update(memory=str(tmp_path / "elsewhere")))
    with pytest.raises(ValueError, match="memory is set; a saved model never names a place"):
        load_model(folder)
    assert not (tmp_path / "elsewhere").exists()


def test_model_folder_from_the_skops_era_is_refused(damaged):
    _rewrite_config(damaged, lambda config: config.update(format_version=1))
    with pytest.raises(ValueError, match="format version 1"):
        load_model(damaged)


# ------------------------------------------------------------ portability (issue 11, 8)
def test_no_path_of_the_training_machine_is_saved(fitted, tiny_cohort, tmp_path):
    model, expected = fitted["dltr_lr_cv2"]
    cache = model.get_params()["features__image__encoder__estimator__memory"]
    assert cache is not None
    folder = save_model(model, tmp_path / "model")
    for file in folder.iterdir():
        assert str(cache).encode() not in file.read_bytes(), file.name
    config = json.loads((folder / "config.json").read_text())
    assert any(path.endswith(".memory") for path in config["cleared"])
    before = sorted(Path(cache).rglob("*"))
    loaded = load_model(folder)
    np.testing.assert_array_equal(loaded.predict_proba(tiny_cohort), expected)
    assert sorted(Path(cache).rglob("*")) == before  # predicting wrote nothing there


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


@pytest.mark.parametrize("file", ["encoder_0.safetensors", "structure.json",
                                  "arrays.safetensors"])
def test_one_flipped_bit_is_refused_naming_the_file(damaged, file):
    path = damaged / file
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match=re.escape(f"{file} is corrupt")):
        load_model(damaged)


def test_an_added_file_is_refused(damaged):
    (damaged / "model.skops").write_bytes(b"PK\x03\x04")
    with pytest.raises(ValueError, match="model.skops"):
        load_model(damaged)


def test_unreadable_weights_file(damaged):
    _replace_file(damaged, "encoder_0.safetensors", b"not a safetensors file")
    with pytest.raises(ValueError, match="encoder_0.safetensors is not a readable safetensors"):
        load_model(damaged)


def test_weights_of_another_network(damaged, tmp_path):
    with safe_open(damaged / "encoder_0.safetensors", framework="pt") as stored:
        tensors = {key: stored.get_tensor(key) for key in sorted(stored.keys())
                   if not key.startswith("backbone.fc.")}
    save_file(tensors, tmp_path / "partial.safetensors")
    _replace_file(damaged, "encoder_0.safetensors",
                  (tmp_path / "partial.safetensors").read_bytes())
    with pytest.raises(ValueError, match=r"does not fit the resnet18 encoder.*backbone\.fc"):
        load_model(damaged)


def test_structure_that_is_not_json(damaged):
    _replace_file(damaged, "structure.json", b"garbage")
    with pytest.raises(ValueError, match="structure.json is not valid JSON"):
        load_model(damaged)


@pytest.mark.parametrize(("change", "message"), [
    (lambda config: config.update(format="something else"), "does not describe"),
    (lambda config: config["encoders"][0].update(file="../elsewhere.safetensors"), "digest"),
    (lambda config: config["encoders"].clear(), "digest"),
])
def test_config_edits_are_refused(damaged, change, message):
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
    assert sorted(p.name for p in folder.iterdir()) == [
        "arrays.safetensors", "config.json", "structure.json"]
    np.testing.assert_array_equal(load_model(folder).predict_proba(tiny_cohort), expected)

    (tmp_path / "empty").mkdir()
    save_model(model, tmp_path / "empty")
    (tmp_path / "file").write_text("")
    with pytest.raises(FileExistsError, match="is a file"):
        save_model(model, tmp_path / "file", overwrite=True)
    # A folder that is not a saved model is never replaced, even with overwrite=True.
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "cohort.csv").write_text("patient_id\n")
    with pytest.raises(FileExistsError, match="not written by tacelearn"):
        save_model(model, tmp_path / "data", overwrite=True)
    assert (tmp_path / "data" / "cohort.csv").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data", "empty", "file", "taken"]


class _WithFrame(TransformerMixin, BaseEstimator):
    def fit(self, X, y=None):
        self.summary_ = pd.DataFrame({"mean": np.mean(X, axis=0)})
        return self

    def transform(self, X):
        return X


def test_unstorable_attribute_is_named_and_nothing_is_written(tmp_path):
    model = make_pipeline(_WithFrame(), LogisticRegression()).fit(np.eye(4), [0, 1, 0, 1])
    name = f"{_WithFrame.__module__}._WithFrame"
    with pytest.raises(TypeError, match=re.escape(f"{name} is not among the classes")):
        save_model(model, tmp_path / "model")
    with pytest.raises(TypeError, match=re.escape("model.steps[0][1].summary_")):
        save_model(model, tmp_path / "model", trusted=[name])
    assert list(tmp_path.iterdir()) == []


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
