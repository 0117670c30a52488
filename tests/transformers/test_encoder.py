"""CNNEncoder on small hand-made patches: API, outputs, training options, persistence, errors."""

import copy
import pickle
import warnings

import joblib
import numpy as np
import pandas as pd
import pytest
import timm
import torch
from scipy.special import expit
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import GridSearchCV

from tacelearn.transformers import CNNEncoder
from tacelearn.transformers._encoder_net import EncoderNet

FAST = {"backbone": "resnet18", "max_epochs": 1, "batch_size": 4, "random_state": 0}


def _patches(n=8, channels=2, size=32, seed=0):
    """Patches where class 1 has a bright square: learnable in a few steps."""
    rng = np.random.default_rng(seed)
    y = np.tile([0, 1], n // 2)
    X = rng.normal(size=(n, channels, size, size)).astype(np.float32)
    X[y == 1, :, size // 4:size // 2, size // 4:size // 2] += 2.0
    return X, y


@pytest.fixture(scope="module")
def data():
    return _patches()


@pytest.fixture(scope="module")
def fitted(data):
    X, y = data
    return CNNEncoder(**FAST).fit(X, y)


@pytest.mark.parametrize(("backbone", "width"), [
    ("resnet18", 512),
    ("resnet50", 2048),
    ("densenet169", 1664),
    ("swin_tiny_patch4_window7_224", 768),
])
def test_paper_backbones_fit_and_predict_on_tiny_input(backbone, width):
    X, y = _patches(n=6)
    encoder = CNNEncoder(backbone=backbone, max_epochs=1, batch_size=3, random_state=0)
    encoder.fit(X, y)

    proba = encoder.predict_proba(X)
    assert proba.shape == (6, 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    embedding = encoder.transform(X)
    # Widths as published for each architecture (1664 for DenseNet169, 512 for ResNet18).
    assert embedding.shape == (6, width)
    assert encoder.n_embedding_features_ == width
    assert np.isfinite(embedding).all()
    assert set(encoder.predict(X)) <= {0, 1}


def test_outputs_agree_with_the_timm_model_run_by_hand(fitted, data):
    X, _ = data
    assert not fitted.net_.module_.training
    backbone = fitted.net_.module_.backbone
    with torch.no_grad():
        features = backbone.forward_features(torch.from_numpy(X))
        logits = backbone(torch.from_numpy(X)).numpy()
    # ResNet's pre-logit embedding is the global average of the last feature map.
    np.testing.assert_allclose(fitted.transform(X), features.mean(dim=(2, 3)).numpy(),
                               rtol=1e-5, atol=1e-5)
    log_odds = logits[:, 1] - logits[:, 0]
    np.testing.assert_allclose(fitted.decision_function(X), log_odds, rtol=1e-5, atol=1e-5)
    softmax = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(fitted.predict_proba(X), softmax, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(fitted.predict(X), fitted.classes_[softmax.argmax(axis=1)])


def test_transform_output_choices_and_feature_names(fitted, data):
    X, _ = data
    encoder = copy.deepcopy(fitted).set_params(output="logit")
    np.testing.assert_array_equal(encoder.transform(X)[:, 0], fitted.decision_function(X))
    assert encoder.get_feature_names_out().tolist() == ["cnn_logit"]

    encoder.set_params(output="proba")
    np.testing.assert_allclose(encoder.transform(X)[:, 0], fitted.predict_proba(X)[:, 1])
    np.testing.assert_allclose(encoder.transform(X)[:, 0], expit(fitted.decision_function(X)))
    assert encoder.get_feature_names_out().tolist() == ["cnn_proba"]

    names = fitted.get_feature_names_out()
    assert names[0] == "cnn_embedding0"
    assert names[-1] == "cnn_embedding511"
    assert len(names) == fitted.transform(X).shape[1]

    encoder.set_output(transform="pandas")
    frame = encoder.transform(X)
    assert isinstance(frame, pd.DataFrame)
    assert frame.columns.tolist() == ["cnn_proba"]


def test_same_random_state_gives_identical_results(data):
    X, y = data
    params = {**FAST, "max_epochs": 2, "early_stopping": 3, "class_weight": "balanced"}
    first = CNNEncoder(**params).fit(X, y)
    again = CNNEncoder(**params).fit(X, y)
    other = CNNEncoder(**{**params, "random_state": 1}).fit(X, y)
    np.testing.assert_array_equal(first.predict_proba(X), again.predict_proba(X))
    np.testing.assert_array_equal(first.net_.history[:, "train_loss"],
                                  again.net_.history[:, "train_loss"])
    assert not np.array_equal(first.predict_proba(X), other.predict_proba(X))


def test_fit_leaves_the_global_torch_random_stream_alone(data):
    X, y = data
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    CNNEncoder(**FAST).fit(X, y)
    torch.testing.assert_close(torch.rand(3), expected)


def test_joblib_round_trip_gives_identical_probabilities(fitted, data, tmp_path):
    X, _ = data
    path = tmp_path / "encoder.joblib"
    joblib.dump(fitted, path)
    loaded = joblib.load(path)
    np.testing.assert_array_equal(loaded.predict_proba(X), fitted.predict_proba(X))
    np.testing.assert_array_equal(loaded.transform(X), fitted.transform(X))
    assert loaded.device_ == "cpu"
    # The weights are stored once (plus Adam's two moments), not once per reference.
    assert loaded.net_.module is loaded.net_.module_
    weight_bytes = sum(p.numel() * 4 for p in fitted.net_.module_.parameters())
    assert path.stat().st_size < 3.3 * weight_bytes


def test_pickled_state_is_taken_from_the_cpu(fitted, monkeypatch):
    # A net on CUDA moves to the CPU for pickling and back after; the state says "cpu".
    net = fitted.net_
    moves = []
    monkeypatch.setattr(EncoderNet, "place", lambda self, device: moves.append(str(device)))
    monkeypatch.setattr(net, "device", "cuda:0")
    state = net.__getstate__()
    assert moves == ["cpu", "cuda:0"]
    assert state["device"] == "cpu"


def test_encoder_asked_for_cuda_loads_on_a_cpu_only_machine(fitted, data, monkeypatch):
    X, _ = data
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(fitted, "device", "cuda")
    payload = pickle.dumps(fitted)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loaded = pickle.loads(payload)
    assert loaded.device_ == "cpu"
    assert loaded.net_.device == "cpu"
    assert all(p.device.type == "cpu" for p in loaded.net_.module_.parameters())
    np.testing.assert_array_equal(loaded.predict_proba(X), fitted.predict_proba(X))


def test_clone_and_grid_search(data):
    X, y = _patches(n=12)
    encoder = CNNEncoder(**FAST)
    copy = clone(encoder)
    assert copy.get_params() == encoder.get_params()
    search = GridSearchCV(encoder, {"lr": [1e-3, 1e-2]}, cv=2, scoring="roc_auc")
    search.fit(X, y)
    assert search.best_params_["lr"] in (1e-3, 1e-2)
    assert search.predict_proba(X).shape == (12, 2)


def test_freeze_patterns_keep_weights_and_batchnorm_statistics(data):
    X, y = data
    encoder = CNNEncoder(**{**FAST, "max_epochs": 2, "lr": 1e-2},
                         freeze=("conv1.*", "bn1.*", "layer1.*")).fit(X, y)
    module = encoder.net_.module_
    backbone = module.backbone
    # BatchNorm starts with mean 0 and variance 1; a frozen one never updates them.
    torch.testing.assert_close(backbone.bn1.running_mean, torch.zeros(64))
    torch.testing.assert_close(backbone.bn1.running_var, torch.ones(64))
    assert backbone.layer1[0].bn1.num_batches_tracked.item() == 0
    assert backbone.layer2[0].bn1.num_batches_tracked.item() > 0
    assert not backbone.layer2[0].bn1.running_mean.eq(0).all()
    module.train()
    assert not backbone.bn1.training
    assert not backbone.layer1[1].bn2.training
    assert backbone.layer2[0].bn1.training
    frozen = {name for name, p in backbone.named_parameters() if not p.requires_grad}
    assert frozen == {name for name in dict(backbone.named_parameters())
                      if name.startswith(("conv1.", "bn1.", "layer1."))}
    optimized = {id(p) for group in encoder.net_.optimizer_.param_groups for p in group["params"]}
    assert optimized == {id(p) for p in module.parameters() if p.requires_grad}


def test_freeze_everything_trains_the_head_alone(data):
    X, y = data
    encoder = CNNEncoder(**FAST, freeze="*").fit(X, y)
    trainable = [n for n, p in encoder.net_.module_.backbone.named_parameters() if p.requires_grad]
    assert trainable == ["fc.weight", "fc.bias"]


def test_class_weights_in_the_loss():
    X, _ = _patches(n=8)
    y = np.array([0, 0, 0, 0, 0, 0, 1, 1])
    encoder = CNNEncoder(**FAST, class_weight="balanced").fit(X, y)
    # n_samples / (n_classes * count): 8 / (2 * 6) and 8 / (2 * 2).
    torch.testing.assert_close(encoder.net_.criterion_.weight, torch.tensor([2 / 3, 2.0]))
    encoder = CNNEncoder(**FAST, class_weight={0: 1.0, 1: 5.0}).fit(X, y)
    torch.testing.assert_close(encoder.net_.criterion_.weight, torch.tensor([1.0, 5.0]))


def test_early_stopping_holds_out_a_stratified_fifth(data):
    X, y = _patches(n=20)
    # Only the head trains, at a negligible rate: the held-out loss cannot improve after the
    # first epoch, so training must stop `patience` epochs later, whatever the arithmetic.
    encoder = CNNEncoder(**{**FAST, "max_epochs": 12, "lr": 1e-12, "augment": False},
                         freeze="*", early_stopping=2).fit(X, y)
    history = encoder.net_.history
    valid_sizes = [b["valid_batch_size"] for b in history[0, "batches"] if "valid_batch_size" in b]
    train_sizes = [b["train_batch_size"] for b in history[0, "batches"] if "train_batch_size" in b]
    assert (sum(train_sizes), sum(valid_sizes)) == (16, 4)
    assert len(history) == 1 + 2


def test_string_labels_and_float64_input(data):
    X, y = data
    labels = np.where(y == 1, "OR", "NOR")
    encoder = CNNEncoder(**FAST).fit(X.astype(np.float64), labels)
    assert encoder.classes_.tolist() == ["NOR", "OR"]
    reference = CNNEncoder(**FAST).fit(X, y)
    np.testing.assert_array_equal(encoder.predict_proba(X), reference.predict_proba(X))
    assert set(encoder.predict(X)) <= {"NOR", "OR"}
    assert encoder.n_features_in_ == 2
    assert encoder.image_size_ == (32, 32)


def test_read_only_and_fortran_input(fitted, data):
    X, y = data
    read_only = X.copy()
    read_only.setflags(write=False)
    fortran = np.asfortranarray(X)
    # torch would warn on a read-only array and copy a Fortran one; neither may change results.
    np.testing.assert_array_equal(fitted.predict_proba(read_only), fitted.predict_proba(X))
    np.testing.assert_array_equal(fitted.transform(fortran), fitted.transform(X))
    refit = CNNEncoder(**FAST).fit(read_only, y)
    np.testing.assert_array_equal(refit.predict_proba(X), fitted.predict_proba(X))


def test_verbose_draws_an_epoch_bar_and_verbose_2_the_epoch_table(data, capsys):
    X, y = data
    CNNEncoder(**FAST).fit(X, y)
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == ""
    # verbose=1: one bar over the epochs on stderr, with the losses and the held-out AUC.
    CNNEncoder(**{**FAST, "max_epochs": 2}, early_stopping=5, verbose=1).fit(X, y)
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "resnet18 training" in captured.err
    assert "2/2" in captured.err
    assert "epoch" in captured.err
    assert "valid AUC=" in captured.err
    assert "loss=" in captured.err
    # verbose=2: skorch's epoch table on stdout and its bar over the batches.
    CNNEncoder(**FAST, verbose=2).fit(X, y)
    captured = capsys.readouterr()
    assert "train_loss" in captured.out
    assert "it/s" in captured.err or "s/it" in captured.err


def test_an_interrupted_training_stops_the_fit_and_caches_nothing(data, tmp_path, monkeypatch):
    # skorch swallows KeyboardInterrupt and returns a half-trained net; Ctrl-C (or the CLI's
    # SIGTERM, a KeyboardInterrupt subclass) must stop the fit, and the half-trained weights
    # must never reach the cache as if they were a full training.
    from tacelearn.transformers._encoder_net import EncoderNet

    X, y = data

    class Stop(KeyboardInterrupt):
        pass

    def interrupted(self, batch, **fit_params):
        raise Stop()

    monkeypatch.setattr(EncoderNet, "train_step", interrupted)
    with pytest.raises(Stop):
        CNNEncoder(**FAST, memory=tmp_path).fit(X, y)
    assert not list(tmp_path.rglob("entry.json"))


# scikit-learn's parameter validation words most messages; tacelearn the rest.
@pytest.mark.parametrize(("params", "message"), [
    ({"output": "scores"}, "'output' parameter of CNNEncoder must be a str among"),
    ({"optimizer": "lbfgs"}, "'optimizer' parameter of CNNEncoder must be"),
    ({"scheduler": "step"}, "'scheduler' parameter of CNNEncoder must be"),
    ({"early_stopping": True}, "early_stopping is a patience in epochs"),
    ({"batch_size": 1}, "'batch_size' parameter of CNNEncoder must be an int in the range"),
    ({"max_epochs": 0}, "'max_epochs' parameter of CNNEncoder must be an int in the range"),
    ({"lr": -1.0}, "'lr' parameter of CNNEncoder must be a float in the range"),
    ({"class_weight": "auto"}, "'class_weight' parameter of CNNEncoder must be"),
    ({"freeze": "nothing.like.this*"}, "freeze pattern 'nothing.like.this\\*' matches no"),
    ({"freeze": [3]}, "freeze must be None"),
    ({"device": "tpu"}, "device must be"),
    ({"backbone": "not_a_model"}, "unknown backbone"),
    ({"optimizer": dict}, "torch.optim.Optimizer class"),
])
def test_bad_parameters_raise_before_training(data, params, message):
    X, y = data
    with pytest.raises(ValueError, match=message):
        CNNEncoder(**{**FAST, **params}).fit(X, y)


def test_cuda_request_without_cuda_is_an_error(data, monkeypatch):
    X, y = data
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ValueError, match="CUDA is not available"):
        CNNEncoder(**FAST, device="cuda").fit(X, y)


def test_bad_input_raises_clear_errors(fitted, data):
    X, y = data
    with pytest.raises(ValueError, match=r"shape \(n_patients, channels, height, width\)"):
        CNNEncoder(**FAST).fit(X.reshape(len(X), -1), y)
    with pytest.raises(ValueError, match="Only binary classification is supported"):
        CNNEncoder(**FAST).fit(X[:6], [0, 1, 2, 0, 1, 2])
    with pytest.raises(ValueError, match="binary classifier; y holds 1"):
        CNNEncoder(**FAST).fit(X, np.zeros(len(X)))
    bad = X.copy()
    bad[0, 0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        CNNEncoder(**FAST).fit(bad, y)
    with pytest.raises(ValueError, match="fitted on 32 x 32"):
        fitted.predict_proba(X[:, :, :16, :16])
    with pytest.raises(ValueError, match="features"):
        fitted.transform(X[:, :1])
    with pytest.raises(NotFittedError):
        CNNEncoder(**FAST).transform(X)


def test_the_paper_defaults():
    params = CNNEncoder().get_params()
    assert params["backbone"] == "densenet169"
    assert (params["lr"], params["weight_decay"], params["batch_size"]) == (5e-4, 5e-4, 32)
    assert (params["max_epochs"], params["optimizer"], params["scheduler"]) == (20, "adam",
                                                                               "cosine")
    assert timm.is_model(params["backbone"])


@pytest.mark.gpu
def test_cuda_training_uses_amp_channels_last_and_pickles_for_the_cpu(data, tmp_path):
    import json
    import os
    import subprocess
    import sys

    from tacelearn.explain import grad_cam

    X, y = data
    encoder = CNNEncoder(**FAST, device="cuda").fit(X, y)
    assert encoder.device_.startswith("cuda")
    conv = encoder.net_.module_.backbone.conv1.weight
    assert conv.is_cuda
    assert conv.is_contiguous(memory_format=torch.channels_last)
    assert conv.dtype == torch.float32
    proba = encoder.predict_proba(X)
    heatmaps = grad_cam(encoder, X)
    assert heatmaps.shape == (len(X), 32, 32)
    assert 0.0 <= heatmaps.min() <= heatmaps.max() <= 1.0

    path = tmp_path / "encoder.joblib"
    joblib.dump(encoder, path)
    # The live net is back on CUDA after pickling, and a reload on this machine uses CUDA.
    assert encoder.net_.module_.backbone.conv1.weight.is_cuda
    reloaded = joblib.load(path)
    assert reloaded.device_.startswith("cuda")
    np.testing.assert_allclose(reloaded.predict_proba(X), proba, atol=1e-4)

    np.save(tmp_path / "X.npy", X)
    script = (
        "import json, joblib, numpy as np, torch;"
        "assert not torch.cuda.is_available();"
        f"e = joblib.load({str(path)!r});"
        "assert e.device_ == 'cpu';"
        f"print(json.dumps(e.predict_proba(np.load({str(tmp_path / 'X.npy')!r})).tolist()))"
    )
    # skorch's DeviceWarning is a UserWarning: loading on a CPU-only machine must not emit one.
    result = subprocess.run([sys.executable, "-W", "error::UserWarning", "-c", script],
                            capture_output=True, text=True, check=True,
                            env={**os.environ, "CUDA_VISIBLE_DEVICES": ""})
    on_cpu = np.array(json.loads(result.stdout.strip().splitlines()[-1]))
    # float16 autocast on the GPU, float32 on the CPU.
    np.testing.assert_allclose(on_cpu, proba, atol=2e-2)
