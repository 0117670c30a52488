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
