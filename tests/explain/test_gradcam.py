"""Grad-CAM against a brute-force computation, on every backbone family, and its errors."""

import numpy as np
import pytest
import torch
from scipy import ndimage
from torch import nn

from tacelearn.explain import default_cam_layer, grad_cam
from tacelearn.transformers import CNNEncoder


def _tiny_classifier(stride):
    """conv -> BatchNorm (the Grad-CAM layer) -> in-place ReLU -> conv -> in-place ReLU -> head."""
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Conv2d(2, 4, 3, stride=stride, padding=1),
        nn.BatchNorm2d(4),
        nn.ReLU(inplace=True),
        nn.Conv2d(4, 3, 1),
        nn.ReLU(inplace=True),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(3, 2),
    )
    with torch.no_grad():
        # Non-trivial running statistics, so that eval mode matters.
        model[1].running_mean.uniform_(-0.2, 0.2)
        model[1].running_var.uniform_(0.5, 1.5)
    return model.eval()


def _brute_force_cam(model, patches, target, step=1e-6):
    """Grad-CAM with the gradient taken by central finite differences, in float64."""
    model = _copy_double(model)
    x = torch.tensor(patches, dtype=torch.float64)
    with torch.no_grad():
        activation = model[1](model[0](x)).numpy()
        head = model[2:]

        def score(values):
            return head(torch.from_numpy(values).clone())[:, target].numpy()

        gradient = np.zeros_like(activation)
        for index in np.ndindex(activation.shape[1:]):
            plus, minus = activation.copy(), activation.copy()
            plus[(slice(None), *index)] += step
            minus[(slice(None), *index)] -= step
            gradient[(slice(None), *index)] = (score(plus) - score(minus)) / (2 * step)
    weights = gradient.mean(axis=(2, 3))
    cam = np.maximum(np.einsum("nk,nkhw->nhw", weights, activation), 0.0)
    return cam


def _copy_double(model):
    copy = _tiny_classifier(model[0].stride[0])
    copy.load_state_dict(model.state_dict())
    return copy.double().eval()


def _unit(maps):
    low = maps.min(axis=(1, 2), keepdims=True)
    span = maps.max(axis=(1, 2), keepdims=True) - low
    return np.where(span > 0, (maps - low) / np.where(span > 0, span, 1.0), 0.0)


@pytest.mark.parametrize("target", [0, 1])
def test_grad_cam_equals_finite_difference_computation(target):
    model = _tiny_classifier(stride=1)
    patches = np.random.default_rng(1).normal(size=(3, 2, 6, 6)).astype(np.float32)
    patches.setflags(write=False)

    heatmaps = grad_cam(model, patches, target=target, layer="1")

    expected = _unit(_brute_force_cam(model, patches, target))
    assert heatmaps.shape == (3, 6, 6)
    np.testing.assert_allclose(heatmaps, expected, atol=2e-4)
    # The model itself is untouched: still in eval mode, no parameter gradients.
    assert not model.training
    assert all(p.grad is None for p in model.parameters())


def test_grad_cam_upsamples_bilinearly_to_the_input():
    model = _tiny_classifier(stride=2)
    patches = np.random.default_rng(2).normal(size=(2, 2, 8, 8)).astype(np.float32)

    heatmaps = grad_cam(model, patches, target=1, layer=model[1])

    coarse = _brute_force_cam(model, patches, 1)
    assert coarse.shape == (2, 4, 4)
    # Half-pixel bilinear upsampling, as scipy writes it (grid_mode, edge values repeated).
    upsampled = np.stack([ndimage.zoom(c, 2, order=1, grid_mode=True, mode="nearest")
                          for c in coarse])
    np.testing.assert_allclose(heatmaps, _unit(upsampled), atol=2e-4)


def test_in_place_relu_after_the_layer_does_not_change_the_map():
    # The same network with out-of-place ReLUs is the reference.
    inplace = _tiny_classifier(stride=1)
    outofplace = _tiny_classifier(stride=1)
    outofplace[2] = nn.ReLU(inplace=False)
    outofplace[4] = nn.ReLU(inplace=False)
    patches = np.random.default_rng(3).normal(size=(4, 2, 6, 6)).astype(np.float32)
    np.testing.assert_array_equal(grad_cam(inplace, patches, layer="1"),
                                  grad_cam(outofplace, patches, layer="1"))


@pytest.fixture(scope="module")
def patches_with_a_spot():
    rng = np.random.default_rng(0)
    y = np.tile([0, 1], 4)
    X = rng.normal(size=(8, 2, 32, 32)).astype(np.float32)
    X[y == 1, :, 4:12, 4:12] += 3.0
    return X, y


@pytest.mark.parametrize(("backbone", "layer"), [
    ("resnet18", "layer4"),
    ("densenet169", "features.norm5"),
    ("swin_tiny_patch4_window7_224", "layers.3"),
])
def test_default_layer_per_family_and_maps_in_unit_range(patches_with_a_spot, backbone, layer):
    X, y = patches_with_a_spot
    encoder = CNNEncoder(backbone=backbone, max_epochs=1, batch_size=4, augment=False,
                         random_state=0).fit(X, y)
    assert default_cam_layer(encoder.net_.module_.backbone) == layer

    heatmaps = grad_cam(encoder, X[:3])

    assert heatmaps.shape == (3, 32, 32)
    assert heatmaps.dtype == np.float32
    assert heatmaps.min() >= 0.0
    assert heatmaps.max() <= 1.0
    # Each map is either scaled to reach 1 or holds no evidence at all.
    assert all(h.max() == pytest.approx(1.0) or h.max() == 0.0 for h in heatmaps)
    np.testing.assert_array_equal(grad_cam(encoder, X[:3], layer=layer), heatmaps)


def test_grad_cam_with_frozen_layers_before_the_target(patches_with_a_spot):
    X, y = patches_with_a_spot
    encoder = CNNEncoder(backbone="resnet18", max_epochs=1, batch_size=4, freeze="*",
                         random_state=0).fit(X, y)
    heatmaps = grad_cam(encoder, X[:2], layer="layer3")
    assert heatmaps.shape == (2, 32, 32)
    assert np.isfinite(heatmaps).all()


def test_patches_must_match_the_fitted_encoder(patches_with_a_spot):
    X, y = patches_with_a_spot
    encoder = CNNEncoder(backbone="resnet18", max_epochs=1, batch_size=4, random_state=0)
    encoder.fit(X, y)
    with pytest.raises(ValueError, match="fitted on 2 channels of 32 x 32"):
        grad_cam(encoder, X[:, :, :16, :16])
    with pytest.raises(ValueError, match="fitted on 2 channels"):
        grad_cam(encoder, X[:, :1])


def test_errors_name_the_problem(patches_with_a_spot):
    X, _ = patches_with_a_spot
    model = _tiny_classifier(stride=1)
    with pytest.raises(ValueError, match="layer 'nope' is not a submodule"):
        grad_cam(model, X, layer="nope")
    with pytest.raises(ValueError, match="not a timm model"):
        grad_cam(model, X)
    with pytest.raises(ValueError, match=r"target must be a class index in \[0, 1\]"):
        grad_cam(model, X, layer="1", target=2)
    with pytest.raises(ValueError, match="shape"):
        grad_cam(model, X[0], layer="1")
    with pytest.raises(ValueError, match="not part of the model"):
        grad_cam(model, X, layer=nn.ReLU())
    with pytest.raises(TypeError, match="fitted CNNEncoder or a torch.nn.Module"):
        grad_cam("resnet18", X)
    with pytest.raises(ValueError, match="must be a .* feature map"):
        grad_cam(model, X, layer="7")


# --------------------------------------------------------------------------------------- 3D


def _tiny_classifier_3d(stride):
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Conv3d(1, 3, 3, stride=stride, padding=1),
        nn.BatchNorm3d(3),
        nn.ReLU(inplace=True),
        nn.Conv3d(3, 2, 1),
        nn.ReLU(inplace=True),
        nn.AdaptiveAvgPool3d(1),
        nn.Flatten(),
        nn.Linear(2, 2),
    )
    with torch.no_grad():
        model[1].running_mean.uniform_(-0.2, 0.2)
        model[1].running_var.uniform_(0.5, 1.5)
    return model.eval()


def _brute_force_cam_3d(model, patches, target, step=1e-6):
    copy = _tiny_classifier_3d(model[0].stride[0])
    copy.load_state_dict(model.state_dict())
    copy = copy.double().eval()
    x = torch.tensor(patches, dtype=torch.float64)
    with torch.no_grad():
        activation = copy[1](copy[0](x)).numpy()
        head = copy[2:]
        gradient = np.zeros_like(activation)
        for index in np.ndindex(activation.shape[1:]):
            plus, minus = activation.copy(), activation.copy()
            plus[(slice(None), *index)] += step
            minus[(slice(None), *index)] -= step
            gradient[(slice(None), *index)] = (
                head(torch.from_numpy(plus))[:, target].numpy()
                - head(torch.from_numpy(minus))[:, target].numpy()) / (2 * step)
    weights = gradient.mean(axis=(2, 3, 4))
    return np.maximum(np.einsum("nk,nkdhw->ndhw", weights, activation), 0.0)


def _unit_3d(maps):
    low = maps.min(axis=(1, 2, 3), keepdims=True)
    span = maps.max(axis=(1, 2, 3), keepdims=True) - low
    return np.where(span > 0, (maps - low) / np.where(span > 0, span, 1.0), 0.0)


def test_3d_grad_cam_equals_finite_differences_and_upsamples_trilinearly():
    patches = np.random.default_rng(4).normal(size=(2, 1, 4, 6, 6)).astype(np.float32)
    same = grad_cam(_tiny_classifier_3d(1), patches, target=1, layer="1")
    assert same.shape == (2, 4, 6, 6)
    np.testing.assert_allclose(same, _unit_3d(_brute_force_cam_3d(_tiny_classifier_3d(1),
                                                                  patches, 1)), atol=2e-4)
    coarse_model = _tiny_classifier_3d(2)
    upsampled = grad_cam(coarse_model, patches, target=1, layer="1")
    coarse = _brute_force_cam_3d(coarse_model, patches, 1)
    assert coarse.shape == (2, 2, 3, 3)
    expected = np.stack([ndimage.zoom(c, 2, order=1, grid_mode=True, mode="nearest")
                         for c in coarse])
    np.testing.assert_allclose(upsampled, _unit_3d(expected), atol=2e-4)


def test_3d_maps_peak_inside_the_planted_blob_more_often_than_chance():
    # Responders hold a bright blob at a random place; a small 3D ResNet learns it, and the
    # map of the response class peaks inside the blob far more often than the blob's share of
    # the volume (the chance rate of a peak landing in it, 3 %).
    rng = np.random.default_rng(0)
    n, shape, half = 32, (8, 16, 16), 2
    y = np.tile([0, 1], n // 2)
    X = rng.normal(size=(n, 1, *shape)).astype(np.float32)
    blobs = {}
    for patient in np.flatnonzero(y == 1):
        centre = [rng.integers(half, s - half) for s in shape]
        region = tuple(slice(c - half, c + half) for c in centre)
        X[patient, 0][region] += 3.0
        blobs[patient] = region
    encoder = CNNEncoder(backbone="monai:resnet10", backbone_params={
        "widen_factor": 0.25, "conv1_t_size": 3, "conv1_t_stride": 1, "no_max_pool": True},
        max_epochs=8, batch_size=8, lr=2e-3, augment=False, random_state=0).fit(X, y)
    responders = np.flatnonzero(y == 1)
    heatmaps = grad_cam(encoder, X[responders], target=1, layer="layer2")
    assert heatmaps.shape == (len(responders), *shape)
    hits = [np.unravel_index(np.argmax(h), shape) for h in heatmaps]
    inside = np.mean([all(s.start <= i < s.stop for i, s in zip(hit, blobs[p]))
                      for hit, p in zip(hits, responders)])
    chance = (2 * half) ** 3 / np.prod(shape)
    assert chance < 0.04
    assert inside >= 0.5


def test_lesion_bags_are_explained_through_their_weightiest_lesion():
    import pandas as pd

    from tacelearn.explain import dominant_lesion_patches
    from tacelearn.transformers import make_lesion_bags

    rng = np.random.default_rng(0)
    patches = rng.normal(size=(12, 2, 16, 16)).astype(np.float32)
    lesions = pd.DataFrame({"lesion": [0, 1, 2] * 4, "volume_ml": [1.0, 9.0, 2.0] * 4})
    lesions.loc[lesions["lesion"] == 0, "volume_ml"] = 10.0
    bags = make_lesion_bags(patches, lesions)
    encoder = CNNEncoder(backbone="resnet18", lesion_aggregation="volume_mean", max_epochs=1,
                         batch_size=2, random_state=0).fit(bags, [0, 1, 0, 1])
    chosen = dominant_lesion_patches(encoder, bags)
    assert chosen.lesion.tolist() == [0, 0, 0, 0]          # 10 mL beats 9 and 2 mL
    np.testing.assert_array_equal(chosen.patches, patches[[0, 3, 6, 9]])
    np.testing.assert_array_equal(grad_cam(encoder, bags, layer="layer3"),
                                  grad_cam(encoder, patches[[0, 3, 6, 9]], layer="layer3"))
    with pytest.raises(TypeError, match="lesion_aggregation set"):
        dominant_lesion_patches(CNNEncoder(), bags)
