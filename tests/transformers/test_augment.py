"""Patient-consistent augmentation against numpy flips and scipy rotations."""

import numpy as np
import pytest
import torch
from scipy import ndimage

from tacelearn.transformers._augment import (
    PatchAugmentation,
    spatial_transform,
    spatial_transform_3d,
)


def _patches(n=6, channels=2, height=24, width=24, seed=0):
    rng = np.random.default_rng(seed)
    smooth = ndimage.gaussian_filter(rng.normal(size=(n, channels, height, width)),
                                     sigma=(0, 0, 2, 2))
    return torch.from_numpy(smooth.astype(np.float32))


def test_flips_alone_are_exact_numpy_flips_shared_by_all_channels():
    patches = _patches()
    augment = PatchAugmentation(0, max_rotation=0.0, intensity=0.0)
    out = augment(patches).numpy()
    source = patches.numpy()
    for patient in range(len(source)):
        candidates = {
            (rows, cols): np.flip(source[patient], axis=tuple(
                axis for axis, flip in ((1, rows), (2, cols)) if flip))
            for rows in (False, True) for cols in (False, True)
        }
        matches = [key for key, flipped in candidates.items()
                   if np.allclose(out[patient], flipped, atol=1e-6)]
        # Both channels match the same one of the four flip combinations.
        assert len(matches) == 1, patient


@pytest.mark.parametrize("angle", [-12.0, 7.5])
@pytest.mark.parametrize("shape", [(24, 24), (20, 32)])
def test_rotation_matches_scipy_inside_the_patch(angle, shape):
    patches = _patches(n=1, channels=2, height=shape[0], width=shape[1])
    no = torch.zeros(1, dtype=torch.bool)
    out = spatial_transform(patches, torch.tensor([angle]), no, no).numpy()[0]
    for channel in range(2):
        expected = ndimage.rotate(patches.numpy()[0, channel], angle, reshape=False, order=1)
        # Away from the border, where padding conventions differ.
        inner = (slice(shape[0] // 4, -shape[0] // 4), slice(shape[1] // 4, -shape[1] // 4))
        np.testing.assert_allclose(out[channel][inner], expected[inner], atol=1e-4)


def test_every_channel_of_a_patient_gets_the_same_spatial_transform():
    single = _patches(n=8, channels=1)
    patches = single.repeat(1, 3, 1, 1)
    out = PatchAugmentation(3, intensity=0.0)(patches).numpy()
    np.testing.assert_array_equal(out[:, 0], out[:, 1])
    np.testing.assert_array_equal(out[:, 0], out[:, 2])
    # ... and it is not the identity.
    assert any(not np.allclose(out[k, 0], single.numpy()[k, 0], atol=1e-3) for k in range(8))


def test_intensity_jitter_is_a_gain_and_offset_per_channel_within_bounds():
    patches = torch.ones((200, 2, 4, 4))
    out = PatchAugmentation(1, max_rotation=0.0, flips=False, intensity=0.1)(patches).numpy()
    values = out[:, :, 0, 0]
    # gain in [0.9, 1.1] plus offset in [-0.1, 0.1]: a constant image stays constant.
    assert np.allclose(out, values[:, :, None, None])
    assert values.min() >= 0.8 - 1e-6
    assert values.max() <= 1.2 + 1e-6
    assert abs(values.mean() - 1.0) < 0.02
    # Channels draw their own gain and offset (sequences differ in scanner gain).
    assert not np.allclose(values[:, 0], values[:, 1])


def test_same_seed_same_transforms_other_seed_other_transforms():
    patches = _patches()
    first = PatchAugmentation(5)(patches)
    again = PatchAugmentation(5)(patches)
    other = PatchAugmentation(6)(patches)
    assert torch.equal(first, again)
    assert not torch.equal(first, other)
    assert first.shape == patches.shape
    assert first.dtype == patches.dtype


def _volumes(n=4, channels=2, shape=(6, 20, 24), seed=0):
    rng = np.random.default_rng(seed)
    smooth = ndimage.gaussian_filter(rng.normal(size=(n, channels, *shape)),
                                     sigma=(0, 0, 1, 2, 2))
    return torch.from_numpy(smooth.astype(np.float32))


def test_3d_flips_alone_are_exact_numpy_flips_shared_by_all_channels():
    volumes = _volumes()
    out = PatchAugmentation(2, max_rotation=0.0, intensity=0.0)(volumes).numpy()
    source = volumes.numpy()
    seen = set()
    for patient in range(len(source)):
        candidates = {
            flips: np.flip(source[patient], axis=tuple(axis for axis, flip in zip((1, 2, 3),
                                                                                 flips) if flip))
            for flips in np.ndindex(2, 2, 2)
        }
        matches = [key for key, flipped in candidates.items()
                   if np.allclose(out[patient], flipped, atol=1e-5)]
        assert len(matches) == 1, patient
        seen.add(matches[0])
    assert len(seen) > 1


@pytest.mark.parametrize("angle", [-10.0, 6.0])
def test_3d_rotation_is_scipys_in_plane_rotation_of_every_slice(angle):
    volumes = _volumes(n=1)
    no = torch.zeros(1, dtype=torch.bool)
    out = spatial_transform_3d(volumes, torch.tensor([angle]), no, no, no).numpy()[0]
    inner = (slice(None), slice(5, -5), slice(6, -6))
    for channel in range(2):
        expected = ndimage.rotate(volumes.numpy()[0, channel], angle, axes=(2, 1),
                                  reshape=False, order=1)
        np.testing.assert_allclose(out[channel][inner], expected[inner], atol=1e-4)


def test_every_channel_of_a_3d_patch_moves_together():
    single = _volumes(n=6, channels=1)
    out = PatchAugmentation(4, intensity=0.0)(single.repeat(1, 2, 1, 1, 1)).numpy()
    np.testing.assert_array_equal(out[:, 0], out[:, 1])
    assert out.shape == (6, 2, 6, 20, 24)
