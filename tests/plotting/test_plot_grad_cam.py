"""Grad-CAM display: each panel holds the chosen channel and its patient's heatmap."""

import matplotlib.pyplot as plt
import numpy as np
import pytest

from tacelearn.plotting import GradCamDisplay


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def patches_and_heatmaps():
    rng = np.random.default_rng(0)
    patches = rng.normal(size=(3, 3, 12, 12))
    heatmaps = rng.random((3, 12, 12))
    return patches, heatmaps


def test_paper_channels_show_t1c_and_t2(patches_and_heatmaps):
    patches, heatmaps = patches_and_heatmaps
    display = GradCamDisplay(patches=patches, heatmaps=heatmaps,
                             patient_labels=["P1", "P2", "P3"]).plot(alpha=0.5)
    assert display.channels_ == [0, 2]  # [T1C, T1C, T2]: the first T1C and the T2
    assert display.axes_.shape == (3, 2)
    assert [ax.get_title() for ax in display.axes_[0]] == ["T1C", "T2"]
    assert [ax.get_ylabel() for ax in display.axes_[:, 0]] == ["P1", "P2", "P3"]
    for row in range(3):
        for column, channel in enumerate((0, 2)):
            np.testing.assert_array_equal(display.images_[row, column].get_array(),
                                          patches[row, channel])
            overlay = display.overlays_[row, column]
            np.testing.assert_array_equal(overlay.get_array(), heatmaps[row])
            assert overlay.get_alpha() == 0.5
            assert overlay.get_clim() == (0.0, 1.0)


def test_named_channels_on_given_axes(patches_and_heatmaps):
    patches, heatmaps = patches_and_heatmaps
    names = ["t1c_path", "t2_path", "adc_path"]
    fig, axes = plt.subplots(3, 1)
    display = GradCamDisplay(patches=patches, heatmaps=heatmaps,
                             channel_names=names).plot(ax=axes, channels=["adc_path"])
    assert display.channels_ == [2]
    assert display.figure_ is fig
    np.testing.assert_array_equal(display.images_[1, 0].get_array(), patches[1, 2])


@pytest.mark.parametrize(
    ("kwargs", "plot_kwargs", "message"),
    [
        ({"heatmaps": np.zeros((3, 10, 12))}, {}, r"heatmaps must have shape \(n, H, W\)"),
        ({"channel_names": ["T1C", "T2"]}, {}, "2 names for 3 channels"),
        ({}, {"channels": ["DWI"]}, "'DWI' is not one of the channel names"),
        ({}, {"channels": [5]}, "index 5 is out of range"),
        ({"patient_labels": ["P1"]}, {}, "1 labels for 3 patches"),
    ],
)
def test_bad_input_is_refused(patches_and_heatmaps, kwargs, plot_kwargs, message):
    patches, heatmaps = patches_and_heatmaps
    arguments = {"patches": patches, "heatmaps": heatmaps, **kwargs}
    with pytest.raises(ValueError, match=message):
        GradCamDisplay(**arguments).plot(**plot_kwargs)


def test_nan_heatmap_names_the_patch(patches_and_heatmaps):
    patches, heatmaps = patches_and_heatmaps
    broken = heatmaps.copy()
    broken[1, 0, 0] = np.nan
    with pytest.raises(ValueError, match=r"heatmaps hold NaN .* patch\(es\) \[1\]"):
        GradCamDisplay(patches=patches, heatmaps=broken).plot()


def test_from_estimator_draws_analytic_grad_cam():
    torch = pytest.importorskip("torch")
    from torch import nn

    # Class-1 logit = mean over pixels of ReLU(sum of channels); with the 1x1 convolution as
    # the layer, Grad-CAM is ReLU(channel sum) scaled to [0, 1]: known without running it.
    conv = nn.Conv2d(2, 1, kernel_size=1, bias=False)
    head = nn.Linear(1, 2, bias=False)
    with torch.no_grad():
        conv.weight.fill_(1.0)
        head.weight.copy_(torch.tensor([[-1.0], [1.0]]))
    model = nn.Sequential(conv, nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), head)
    rng = np.random.default_rng(0)
    patches = rng.normal(size=(2, 2, 8, 8)).astype(np.float32)
    display = GradCamDisplay.from_estimator(model, patches, layer="0",
                                            patient_labels=["P1", "P2"])
    assert [ax.get_title() for ax in display.axes_[0]] == ["T1C", "T2"]
    for row in range(2):
        evidence = np.maximum(patches[row].sum(axis=0), 0.0)
        expected = (evidence - evidence.min()) / (evidence.max() - evidence.min())
        for column in range(2):
            np.testing.assert_allclose(display.overlays_[row, column].get_array(), expected,
                                       atol=1e-6)
            np.testing.assert_array_equal(display.images_[row, column].get_array(),
                                          patches[row, column])


def test_3d_patches_show_their_middle_slice_or_the_one_asked_for():
    rng = np.random.default_rng(1)
    patches = rng.normal(size=(2, 2, 5, 8, 8))
    heatmaps = rng.random((2, 5, 8, 8))
    display = GradCamDisplay(patches=patches, heatmaps=heatmaps).plot()
    for row in range(2):
        for column in range(2):
            # The middle slice (5 // 2 = 2): the lesion's largest axial slice.
            np.testing.assert_array_equal(display.images_[row, column].get_array(),
                                          patches[row, column, 2])
            np.testing.assert_array_equal(display.overlays_[row, column].get_array(),
                                          heatmaps[row, 2])
    chosen = GradCamDisplay(patches=patches, heatmaps=heatmaps).plot(axial_slice=4)
    np.testing.assert_array_equal(chosen.images_[1, 1].get_array(), patches[1, 1, 4])
    with pytest.raises(ValueError, match=r"axial_slice must be an int in \[0, 4\]"):
        GradCamDisplay(patches=patches, heatmaps=heatmaps).plot(axial_slice=5)
    with pytest.raises(ValueError, match=r"heatmaps must have shape \(n, D, H, W\)"):
        GradCamDisplay(patches=patches, heatmaps=heatmaps[:, 0]).plot()


def test_from_estimator_draws_analytic_3d_grad_cam():
    torch = pytest.importorskip("torch")
    from torch import nn

    # As in 2D: with a 1x1x1 convolution summing the channels as the layer, Grad-CAM is
    # ReLU(channel sum) scaled to [0, 1] over the whole volume; the display shows slice 1.
    conv = nn.Conv3d(2, 1, kernel_size=1, bias=False)
    head = nn.Linear(1, 2, bias=False)
    with torch.no_grad():
        conv.weight.fill_(1.0)
        head.weight.copy_(torch.tensor([[-1.0], [1.0]]))
    model = nn.Sequential(conv, nn.ReLU(), nn.AdaptiveAvgPool3d(1), nn.Flatten(), head)
    patches = np.random.default_rng(0).normal(size=(2, 2, 3, 6, 6)).astype(np.float32)
    display = GradCamDisplay.from_estimator(model, patches, layer="0")
    for row in range(2):
        evidence = np.maximum(patches[row].sum(axis=0), 0.0)
        expected = (evidence - evidence.min()) / (evidence.max() - evidence.min())
        np.testing.assert_allclose(display.overlays_[row, 0].get_array(), expected[1],
                                   atol=1e-6)
