"""Backbone creation and offline pretrained weights, from files the tests write themselves."""

import re
import socket

import numpy as np
import pytest
import timm
import torch
import torchvision
from safetensors.torch import save_file

from tacelearn.transformers import CNNEncoder
from tacelearn.transformers._backbones import create_backbone, read_weights_file


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    """Any attempt to open a connection fails the test."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")

    def refuse(*args, **kwargs):
        raise AssertionError(f"network access attempted: {args!r}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)


def _timm_weights(name, seed=0, **kwargs):
    torch.manual_seed(seed)
    return timm.create_model(name, pretrained=False, **kwargs).state_dict()


def _adapted_first_conv(weight, in_chans):
    """timm's rule for 3 -> in_chans channels: repeat the RGB filters, then rescale by 3/C."""
    repeats = -(-in_chans // 3)
    return weight.repeat(1, repeats, 1, 1)[:, :in_chans] * (3 / in_chans)


@pytest.mark.parametrize("suffix", [".pth", ".safetensors"])
def test_timm_state_dict_loads_with_two_input_channels(tmp_path, suffix):
    weights = _timm_weights("resnet18")
    path = tmp_path / f"resnet18{suffix}"
    if suffix == ".pth":
        torch.save(weights, path)
    else:
        save_file(weights, path)

    model = create_backbone("resnet18", in_chans=2, image_size=(32, 32), pretrained=path)

    loaded = model.state_dict()
    for key in ("layer4.1.conv2.weight", "layer3.0.downsample.1.running_var", "bn1.bias"):
        torch.testing.assert_close(loaded[key], weights[key], rtol=0, atol=0)
    assert loaded["conv1.weight"].shape == (64, 2, 7, 7)
    torch.testing.assert_close(loaded["conv1.weight"],
                               _adapted_first_conv(weights["conv1.weight"], 2))
    # A new two-class head, not the file's 1000 classes.
    assert loaded["fc.weight"].shape == (2, 512)


def test_encoder_with_frozen_backbone_keeps_the_file_weights(tmp_path):
    weights = _timm_weights("resnet18", seed=1)
    path = tmp_path / "resnet18.pth"
    torch.save({"state_dict": weights}, path)
    X = np.random.default_rng(0).normal(size=(6, 2, 32, 32)).astype(np.float32)
    y = np.array([0, 1] * 3)

    encoder = CNNEncoder(backbone="resnet18", pretrained=path, freeze="*", max_epochs=1,
                         batch_size=3, random_state=0).fit(X, y)

    trained = encoder.net_.module_.backbone.state_dict()
    for key in ("layer4.1.conv2.weight", "layer1.0.bn1.running_mean", "layer2.1.bn2.weight"):
        torch.testing.assert_close(trained[key], weights[key], rtol=0, atol=0)
    torch.testing.assert_close(trained["conv1.weight"],
                               _adapted_first_conv(weights["conv1.weight"], 2))


def test_torchvision_resnet_layout(tmp_path):
    torch.manual_seed(2)
    weights = torchvision.models.resnet18(weights=None).state_dict()
    path = tmp_path / "resnet18-torchvision.pth"
    torch.save(weights, path)

    model = create_backbone("resnet18", in_chans=3, image_size=(32, 32), pretrained=path)

    loaded = model.state_dict()
    torch.testing.assert_close(loaded["layer4.1.conv2.weight"], weights["layer4.1.conv2.weight"])
    # Three channels: the first convolution is the file's, unchanged.
    torch.testing.assert_close(loaded["conv1.weight"], weights["conv1.weight"])


@pytest.mark.parametrize("legacy", [False, True])
def test_torchvision_densenet_layout(tmp_path, legacy):
    torch.manual_seed(3)
    weights = torchvision.models.densenet169(weights=None).state_dict()
    saved = weights
    if legacy:
        # torchvision's published DenseNet files predate BatchNorm's num_batches_tracked and
        # name the layers "norm.1", "conv.2", ...
        saved = {re.sub(r"(denselayer\d+\.(?:norm|relu|conv))([12])\.", r"\1.\2.", key): value
                 for key, value in weights.items() if not key.endswith("num_batches_tracked")}
        assert "features.denseblock1.denselayer1.norm.1.weight" in saved
    path = tmp_path / "densenet169-torchvision.pth"
    torch.save(saved, path)

    model = create_backbone("densenet169", in_chans=2, image_size=(32, 32), pretrained=path)

    loaded = model.state_dict()
    key = "features.denseblock4.denselayer32.conv2.weight"
    torch.testing.assert_close(loaded[key], weights[key])
    torch.testing.assert_close(loaded["features.conv0.weight"],
                               _adapted_first_conv(weights["features.conv0.weight"], 2))
    assert model.num_features == 1664


def test_swin_224_weights_load_into_a_small_input_swin(tmp_path):
    name = "swin_tiny_patch4_window7_224"
    weights = _timm_weights(name)
    path = tmp_path / "swin.safetensors"
    save_file(weights, path)

    model = create_backbone(name, in_chans=2, image_size=(32, 32), pretrained=path)

    key = "layers.3.blocks.1.mlp.fc1.weight"
    torch.testing.assert_close(model.state_dict()[key], weights[key])
    assert model(torch.zeros(1, 2, 32, 32)).shape == (1, 2)


def test_mismatched_file_names_file_and_backbone(tmp_path):
    path = tmp_path / "resnet34.pth"
    torch.save(_timm_weights("resnet34"), path)
    with pytest.raises(ValueError, match=r"resnet34\.pth does not fit backbone 'resnet18'"):
        create_backbone("resnet18", in_chans=2, image_size=(32, 32), pretrained=path)


def test_bad_files_are_refused_with_their_name(tmp_path):
    with pytest.raises(FileNotFoundError, match="missing.pth"):
        read_weights_file(tmp_path / "missing.pth")
    text = tmp_path / "weights.txt"
    text.write_text("not weights")
    with pytest.raises(ValueError, match=r"weights\.txt must end with"):
        read_weights_file(text)
    garbage = tmp_path / "garbage.pth"
    garbage.write_bytes(b"\x00\x01 not a checkpoint")
    with pytest.raises(ValueError, match=r"cannot read pretrained weights file .*garbage\.pth"):
        read_weights_file(garbage)
    # An object that needs code to unpickle is refused by weights_only loading.
    pickled = tmp_path / "object.pth"
    torch.save({"model": torch.nn.Linear(2, 2)}, pickled)
    with pytest.raises(ValueError, match=r"object\.pth"):
        read_weights_file(pickled)
    with pytest.raises(TypeError, match="path of a weights file"):
        read_weights_file(3)


@pytest.mark.parametrize(("name", "message"), [
    ("hf-hub:timm/resnet18.a1_in1k", "Hugging Face Hub"),
    ("resnet_does_not_exist", "unknown backbone"),
])
def test_backbone_names_that_would_need_the_network_or_do_not_exist(name, message):
    with pytest.raises(ValueError, match=message):
        create_backbone(name, in_chans=2, image_size=(32, 32))
