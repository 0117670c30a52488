"""CNNEncoder with MONAI 3D backbones: against MONAI's own networks, persistence, errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from monai.networks import nets
from safetensors.torch import save_file

from tacelearn.estimators import load_model, save_model
from tacelearn.transformers import CNNEncoder
from tacelearn.transformers._backbones import (
    backbone_spatial_dims,
    backbone_versions,
    check_backbone_name,
    create_backbone,
)

SMALL_RESNET = {"widen_factor": 0.125, "conv1_t_size": 3, "conv1_t_stride": 2}
SMALL_DENSENET = {"init_features": 8, "growth_rate": 8, "block_config": (2, 2, 2, 2)}
FAST = {"backbone": "monai:resnet10", "backbone_params": SMALL_RESNET, "max_epochs": 1,
        "batch_size": 4, "random_state": 0}


def volumes(n=8, channels=2, shape=(12, 16, 16), seed=0):
    """3D patches where class 1 holds a bright cube."""
    rng = np.random.default_rng(seed)
    y = np.tile([0, 1], n // 2)
    X = rng.normal(size=(n, channels, *shape)).astype(np.float32)
    X[y == 1, :, 3:7, 4:9, 4:9] += 2.0
    return X, y


@pytest.fixture(scope="module")
def data():
    return volumes()


@pytest.fixture(scope="module")
def fitted(data):
    X, y = data
    return CNNEncoder(**FAST).fit(X, y)


def test_fit_predict_and_outputs_agree_with_monais_network(fitted, data):
    X, _ = data
    assert fitted.image_size_ == (12, 16, 16)
    assert fitted.n_features_in_ == 2
    proba = fitted.predict_proba(X)
    assert proba.shape == (8, 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    # MONAI's own ResNet with the encoder's weights: the same logits (the adapter keeps
    # MONAI's layer names, so its state dict loads as it is).
    reference = nets.resnet10(spatial_dims=3, n_input_channels=2, num_classes=2,
                              **SMALL_RESNET).eval()
    reference.load_state_dict(fitted.net_.module_.backbone.state_dict())
    with torch.no_grad():
        logits = reference(torch.from_numpy(X)).numpy()
        features = torch.from_numpy(X)
        for layer in ("conv1", "bn1", "act", "maxpool", "layer1", "layer2", "layer3",
                      "layer4"):
            features = getattr(reference, layer)(features)
    np.testing.assert_allclose(fitted.decision_function(X), logits[:, 1] - logits[:, 0],
                               rtol=1e-5, atol=1e-5)
    # The embedding is the global average of the last feature map (64 channels here).
    np.testing.assert_allclose(fitted.transform(X), features.mean(dim=(2, 3, 4)).numpy(),
                               rtol=1e-5, atol=1e-5)
    assert fitted.n_embedding_features_ == 64


def test_densenet_of_monai_with_small_features():
    X, y = volumes(n=6, channels=1, shape=(32, 32, 32))
    encoder = CNNEncoder(backbone="monai:densenet121", backbone_params=SMALL_DENSENET,
                         max_epochs=1, batch_size=3, random_state=0).fit(X, y)
    reference = nets.DenseNet121(spatial_dims=3, in_channels=1, out_channels=2,
                                 **SMALL_DENSENET).eval()
    reference.load_state_dict(encoder.net_.module_.backbone.state_dict())
    with torch.no_grad():
        logits = reference(torch.from_numpy(X)).numpy()
    np.testing.assert_allclose(encoder.decision_function(X), logits[:, 1] - logits[:, 0],
                               rtol=1e-5, atol=1e-5)


def test_save_model_round_trip_is_exact_on_the_cpu(fitted, data, tmp_path):
    X, _ = data
    loaded = load_model(save_model(fitted, tmp_path / "encoder_3d"), device="cpu")
    np.testing.assert_array_equal(loaded.predict_proba(X), fitted.predict_proba(X))
    np.testing.assert_array_equal(loaded.transform(X), fitted.transform(X))
    assert loaded.backbone_params == SMALL_RESNET


def test_same_seed_same_training_and_the_cache(data, tmp_path, trainings):
    X, y = data
    first = CNNEncoder(**FAST, memory=tmp_path).fit(X, y)
    again = CNNEncoder(**FAST, memory=tmp_path).fit(X, y)
    assert len(trainings) == 1
    fresh = CNNEncoder(**FAST).fit(X, y)
    np.testing.assert_array_equal(again.predict_proba(X), first.predict_proba(X))
    np.testing.assert_array_equal(fresh.predict_proba(X), first.predict_proba(X))


def test_freeze_patterns_use_monais_layer_names(data):
    X, y = data
    encoder = CNNEncoder(**{**FAST, "max_epochs": 2}, freeze="conv1.*", augment=False)
    encoder.fit(X, y)
    trained = encoder.net_.module_.backbone
    assert not trained.conv1.weight.requires_grad
    assert trained.layer1[0].conv1.weight.requires_grad
    # Frozen weights still hold their initial values (the same seeded initialisation).
    reference = CNNEncoder(**{**FAST, "max_epochs": 2}, freeze="*", augment=False).fit(X, y)
    np.testing.assert_array_equal(trained.conv1.weight.detach().numpy(),
                                  reference.net_.module_.backbone.conv1.weight.detach().numpy())
    assert not np.array_equal(trained.layer1[0].conv1.weight.detach().numpy(),
                              reference.net_.module_.backbone.layer1[0].conv1.weight.detach()
                              .numpy())


def test_pretrained_monai_weights_with_one_input_channel(data, tmp_path):
    X, y = data
    source = nets.resnet10(spatial_dims=3, n_input_channels=1, num_classes=7, **SMALL_RESNET)
    weights = tmp_path / "medicalnet_like.safetensors"
    save_file({name: tensor.contiguous() for name, tensor in source.state_dict().items()},
              weights)
    model = create_backbone("monai:resnet10", in_chans=2, image_size=(12, 16, 16),
                            pretrained=weights, params=SMALL_RESNET)
    stored = source.state_dict()
    for name, tensor in model.state_dict().items():
        if name == "conv1.weight":
            # As timm adapts 2D stems: the one channel repeated and scaled by 1 / 2.
            np.testing.assert_allclose(tensor.numpy(), np.repeat(stored[name].numpy(), 2,
                                                                 axis=1) / 2)
        elif name.startswith("fc."):
            assert tensor.shape[0] == 2          # a new two-class head
        else:
            np.testing.assert_array_equal(tensor.numpy(), stored[name].numpy())
    encoder = CNNEncoder(**FAST, pretrained=weights).fit(X, y)
    assert encoder.predict_proba(X).shape == (8, 2)
    wrong = tmp_path / "densenet.safetensors"
    save_file(nets.DenseNet121(spatial_dims=3, in_channels=1, out_channels=2,
                               **SMALL_DENSENET).state_dict(), wrong)
    with pytest.raises(ValueError, match="does not fit backbone 'monai:resnet10'"):
        create_backbone("monai:resnet10", in_chans=2, image_size=(12, 16, 16),
                        pretrained=wrong, params=SMALL_RESNET)


def test_names_dimensions_and_versions():
    assert check_backbone_name("monai:densenet169") == "monai:densenet169"
    assert backbone_spatial_dims("monai:resnet18") == 3
    assert backbone_spatial_dims("resnet18") == 2
    assert backbone_versions("monai:resnet18")[0] == "monai"
    assert backbone_versions("resnet18")[0] == "timm"
    with pytest.raises(ValueError, match="MONAI backbones are monai:densenet121"):
        check_backbone_name("monai:unet")


def test_bad_3d_input_and_parameters_are_named(data, fitted):
    X, y = data
    with pytest.raises(ValueError, match=r"is 3D .* takes patches \(n_patients, channels, "
                                         r"depth, height, width\)"):
        CNNEncoder(**FAST).fit(X[:, :, 0], y)
    with pytest.raises(ValueError, match=r"is 2D .* takes patches \(n_patients, channels, "
                                         r"height, width\)"):
        CNNEncoder(backbone="resnet18", max_epochs=1, batch_size=4).fit(X, y)
    with pytest.raises(ValueError, match="too small for backbone 'monai:densenet121'"):
        CNNEncoder(backbone="monai:densenet121", max_epochs=1, batch_size=4).fit(X, y)
    with pytest.raises(ValueError, match=r"backbone_params may not set \['n_input_channels'\]"):
        CNNEncoder(**{**FAST, "backbone_params": {"n_input_channels": 3}}).fit(X, y)
    with pytest.raises(ValueError, match=r"backbone_params may not set \['in_chans'\]"):
        CNNEncoder(backbone="resnet18", backbone_params={"in_chans": 3}).fit(X[:, :, 0], y)
    with pytest.raises(ValueError, match="do not fit monai:resnet10"):
        CNNEncoder(**{**FAST, "backbone_params": {"depth": 3}}).fit(X, y)
    with pytest.raises(ValueError, match="'backbone_params' parameter"):
        CNNEncoder(**{**FAST, "backbone_params": [("widen_factor", 0.5)]}).fit(X, y)
    with pytest.raises(ValueError, match="fitted on 12 x 16 x 16"):
        fitted.predict_proba(X[:, :, :8])


@pytest.mark.gpu
def test_cuda_3d_training_uses_channels_last_3d_and_loads_on_the_cpu(data, tmp_path):
    from tacelearn.explain import grad_cam

    X, y = data
    encoder = CNNEncoder(**FAST, device="cuda").fit(X, y)
    conv = encoder.net_.module_.backbone.conv1.weight
    assert conv.is_cuda
    assert conv.is_contiguous(memory_format=torch.channels_last_3d)
    proba = encoder.predict_proba(X)
    heatmaps = grad_cam(encoder, X)
    assert heatmaps.shape == (len(X), 12, 16, 16)
    loaded = load_model(save_model(encoder, tmp_path / "cuda_3d"), device="cpu")
    # float16 autocast on the GPU, float32 on the CPU: close, not equal.
    np.testing.assert_allclose(loaded.predict_proba(X), proba, atol=2e-2)
