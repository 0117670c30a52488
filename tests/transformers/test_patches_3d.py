"""3D tumour patches against brute-force sampling in world coordinates, balls and ramps."""

from __future__ import annotations

import nibabel as nib
import numpy as np
import pandas as pd
import pytest
from scipy import ndimage

from tacelearn.transformers import (
    TumourPatchExtractor,
    largest_area_slice,
    lesion_centre,
    resample_crop_3d,
    tumour_cube_side,
)

# Stored as L-P-S with anisotropic voxels, so that reorientation and spacing both matter.
LPS_AFFINE = np.array([[-1.5, 0.0, 0.0, 40.0],
                       [0.0, -1.2, 0.0, 30.0],
                       [0.0, 0.0, 4.0, -20.0],
                       [0.0, 0.0, 0.0, 1.0]])
SHAPE = (48, 56, 20)
BALL_CENTRE_VOXEL = np.array([20.0, 31.0, 9.0])
BALL_RADIUS_MM = 9.0


def world(affine, ijk):
    return affine[:3, :3] @ np.asarray(ijk, dtype=float) + affine[:3, 3]


def ball_patient(folder, *, name="ball", affine=LPS_AFFINE, radius=BALL_RADIUS_MM):
    """An image whose value is a smooth function of world position, and a ball mask."""
    ijk = np.stack(np.meshgrid(*(np.arange(n) for n in SHAPE), indexing="ij"), axis=-1)
    xyz = ijk @ affine[:3, :3].T + affine[:3, 3]
    centre = world(affine, BALL_CENTRE_VOXEL)
    distance = np.linalg.norm(xyz - centre, axis=-1)
    # Bright in the ball, plus a gentle ramp so that every voxel differs.
    image = (100.0 * (distance <= radius) + 0.3 * xyz[..., 0] - 0.2 * xyz[..., 1]
             + 0.1 * xyz[..., 2] + 50.0).astype(np.float32)
    mask = (distance <= radius).astype(np.uint8)
    paths = {}
    for column, data in (("t1c_path", image), ("mask_path", mask)):
        path = folder / f"{name}_{column}.nii.gz"
        nib.save(nib.Nifti1Image(data, affine), path)
        paths[column] = str(path)
    return {"patient_id": name, **paths}


def brute_force_crop(path, centre_world, size, spacing):
    """Sample the stored volume at the crop's world points, voxel by voxel, trilinearly.

    Crop voxel (d, h, w) is the world point ``centre + (-(w - W//2) sx, -(h - H//2) sy,
    (d - D//2) sz)`` in RAS+ millimetres: columns towards the patient's left (-x), rows
    towards posterior (-y), slices towards superior (+z).
    """
    image = nib.load(path)
    data = np.asarray(image.dataobj, dtype=np.float64)
    inverse = np.linalg.inv(image.affine)
    nx, ny, nz = size
    crop = np.empty((nz, ny, nx))
    for d in range(nz):
        for h in range(ny):
            for w in range(nx):
                point = centre_world + np.array([-(w - nx // 2) * spacing[0],
                                                 -(h - ny // 2) * spacing[1],
                                                 (d - nz // 2) * spacing[2]])
                voxel = inverse[:3, :3] @ point + inverse[:3, 3]
                crop[d, h, w] = ndimage.map_coordinates(data, voxel[:, None], order=1,
                                                        mode="constant", cval=data.min())[0]
    return crop


def ras_centre_world(mask_path):
    """World position of the documented centre: bbox centre on the largest axial slice."""
    image = nib.as_closest_canonical(nib.load(mask_path))
    mask = image.get_fdata() > 0
    z = max(range(mask.shape[2]), key=lambda k: (mask[:, :, k].sum(), -abs(k - 9.0)))
    xs = np.flatnonzero(mask[:, :, z].any(axis=1))
    ys = np.flatnonzero(mask[:, :, z].any(axis=0))
    return world(image.affine, [(xs[0] + xs[-1]) / 2, (ys[0] + ys[-1]) / 2, z])


@pytest.fixture(scope="module")
def ball(tmp_path_factory):
    folder = tmp_path_factory.mktemp("ball")
    return pd.DataFrame([ball_patient(folder)])


def test_crop_equals_brute_force_sampling_in_world_coordinates(ball):
    size, spacing = (9, 11, 5), (2.0, 2.5, 3.0)
    extractor = TumourPatchExtractor(image_columns=("t1c_path",), mode="3d", size=size,
                                     spacing=spacing, normalization=None)
    patch = extractor.fit_transform(ball)
    assert patch.shape == (1, 1, 5, 11, 9)
    assert extractor.patch_shape_ == (5, 11, 9)
    expected = brute_force_crop(ball.loc[0, "t1c_path"], ras_centre_world(ball.loc[0, "mask_path"]),
                                size, spacing)
    np.testing.assert_allclose(patch[0, 0], expected, rtol=0, atol=1e-3)


@pytest.mark.parametrize("spacing", [(1.0, 1.0, 1.0), (2.0, 1.5, 3.0)])
def test_ball_lands_centred_and_spans_its_millimetres(ball, spacing):
    size = (32, 32, 16)
    extractor = TumourPatchExtractor(image_columns=("mask_path",), mode="3d", size=size,
                                     spacing=spacing, normalization=None)
    crop = extractor.fit_transform(ball)[0, 0]
    inside = crop >= 0.5
    centre_of_mass = np.array(ndimage.center_of_mass(inside))
    # Voxel (z // 2, y // 2, x // 2) is the ball's centre (up to the mask's voxelisation).
    middle = np.array([16 // 2, 32 // 2, 32 // 2])
    source = np.abs(np.diag(LPS_AFFINE)[:3])[::-1]           # z, y, x spacing of the file
    tolerance = 0.5 * source / np.array(spacing)[::-1] + 0.5
    assert np.all(np.abs(centre_of_mass - middle) <= tolerance)
    # Along each axis the ball spans 2 R mm, i.e. 2 R / spacing voxels of the crop.
    for axis, step in zip((2, 1, 0), spacing):
        extent = np.ptp(np.flatnonzero(inside.any(axis=tuple(a for a in range(3)
                                                              if a != axis)))) + 1
        source_step = source[axis]
        assert abs(extent * step - 2 * BALL_RADIUS_MM) <= source_step + step


def test_centre_slice_is_the_lesions_largest_slice_and_matches_the_2d_choice(ball):
    three_d = TumourPatchExtractor(mode="3d", image_columns=("t1c_path",), size=(8, 8, 5),
                                   spacing=4.0).fit(ball)
    two_d = TumourPatchExtractor(image_columns=("t1c_path",), size=8).fit(ball)
    lesions_3d, lesions_2d = three_d.extract(ball).lesions, two_d.extract(ball).lesions
    pd.testing.assert_frame_equal(lesions_3d, lesions_2d)
    mask = nib.as_closest_canonical(nib.load(ball.loc[0, "mask_path"])).get_fdata() > 0
    areas = mask.sum(axis=(0, 1))
    assert areas[lesions_3d.loc[0, "slice"]] == areas.max()


def test_adaptive_cube_holds_the_lesion_with_its_margin(ball):
    # Without spacing the crop is a cube in mm of side 2 * reach * (1 + 2 margin).
    size, margin = (20, 20, 10), 0.25
    extractor = TumourPatchExtractor(image_columns=("mask_path",), mode="3d", size=size,
                                     margin=margin, normalization=None)
    crop = extractor.fit_transform(ball)[0, 0] >= 0.5
    image = nib.as_closest_canonical(nib.load(ball.loc[0, "mask_path"]))
    mask = image.get_fdata() > 0
    spacing = np.sqrt((image.affine[:3, :3] ** 2).sum(axis=0))
    # Brute force: farthest voxel face from the centre along each axis, over all voxels.
    centre = lesion_centre(mask)
    ijk = np.argwhere(mask)
    reach = max(float(((np.abs(ijk[:, a] - centre[a]) + 0.5) * spacing[a]).max())
                for a in range(3))
    side = 2 * reach * (1 + 2 * margin)
    assert tumour_cube_side(mask, centre, spacing, margin=margin) == pytest.approx(side)
    for axis, n in zip((2, 1, 0), size):
        extent = np.ptp(np.flatnonzero(crop.any(axis=tuple(a for a in range(3)
                                                            if a != axis)))) + 1
        # The lesion fills about 1 / (1 + 2 margin) of the cube along its widest axis.
        assert extent <= n / (1 + 2 * margin) + 1


def test_ramp_is_sampled_exactly():
    # Trilinear interpolation of a linear function is exact: compare to the formula.
    shape = (12, 10, 8)
    i, j, k = np.meshgrid(*(np.arange(n, dtype=float) for n in shape), indexing="ij")
    volume = 3.0 * i - 2.0 * j + 0.5 * k + 7.0
    affine = np.diag([2.0, 1.0, 3.0, 1.0])
    centre, size, spacing = (5.5, 4.0, 3.0), (4, 3, 3), (1.0, 2.0, 1.5)
    crop = resample_crop_3d(volume, affine, centre, size, spacing)
    for d, h, w in np.ndindex(crop.shape):
        x = centre[0] - (w - size[0] // 2) * spacing[0] / 2.0
        y = centre[1] - (h - size[1] // 2) * spacing[1] / 1.0
        z = centre[2] + (d - size[2] // 2) * spacing[2] / 3.0
        assert crop[d, h, w] == pytest.approx(3.0 * x - 2.0 * y + 0.5 * z + 7.0, abs=1e-9)
    # Outside the volume: the fill value.
    far = resample_crop_3d(volume, affine, (0.0, 0.0, 0.0), (3, 3, 3), (30.0, 30.0, 30.0),
                           fill_value=-1.0)
    assert far[0, 0, 0] == -1.0


def test_lesion_centre_against_brute_force():
    rng = np.random.default_rng(0)
    for _ in range(5):
        mask = ndimage.binary_dilation(rng.random((14, 12, 9)) > 0.97, iterations=2)
        if not mask.any():
            continue
        centre = lesion_centre(mask)
        z = largest_area_slice(mask)
        rows = np.argwhere(mask[:, :, z])
        expected = [(rows[:, 0].min() + rows[:, 0].max()) / 2,
                    (rows[:, 1].min() + rows[:, 1].max()) / 2, z]
        np.testing.assert_array_equal(centre, expected)


def test_cohort_patches_shapes_and_names(tiny_cohort):
    extractor = TumourPatchExtractor(mode="3d", size=(16, 16, 8), spacing=(3.0, 3.0, 4.0))
    patches = extractor.fit_transform(tiny_cohort)
    assert patches.shape == (len(tiny_cohort), 2, 8, 16, 16)
    assert patches.dtype == np.float32
    assert np.isfinite(patches).all()
    assert extractor.get_feature_names_out().tolist() == ["t1c_path", "t2_path"]
    cube = TumourPatchExtractor(mode="3d", size=12, lesion="all").fit(tiny_cohort.head(3))
    assert cube.extract(tiny_cohort.head(3)).patches.shape[1:] == (2, 12, 12, 12)


def test_3d_patches_are_cached(ball, tmp_path, monkeypatch):
    import tacelearn.transformers._patches as patches_module

    calls, real = [], patches_module.extract_patches
    monkeypatch.setattr(patches_module, "extract_patches",
                        lambda *args: calls.append(1) or real(*args))
    extractor = TumourPatchExtractor(image_columns=("t1c_path",), mode="3d", size=(8, 8, 4),
                                     spacing=3.0, memory=tmp_path)
    first = extractor.fit_transform(ball)
    np.testing.assert_array_equal(extractor.transform(ball), first)
    assert len(calls) == 1
    # 2D patches of the same files are other entries.
    extractor.set_params(mode="2d", size=8, spacing=None).fit_transform(ball)
    assert len(calls) == 2


@pytest.mark.parametrize(("params", "message"), [
    ({"mode": "4d"}, "'mode' parameter"),
    ({"mode": "3d", "context_slices": 1}, "context_slices=1 adds neighbouring slices"),
    ({"mode": "3d", "size": (8, 8)}, r"size must be an int or 3 ints \(x, y, z\)"),
    ({"mode": "3d", "size": (8, 8, 0)}, "size must be"),
    ({"mode": "2d", "size": (8, 8, 8)}, "size must be an int >= 1 with mode='2d'"),
    ({"mode": "3d", "spacing": (1.0, 2.0)}, r"3 of them \(x, y, z\)"),
    ({"mode": "2d", "spacing": (1.0, 2.0, 3.0)}, r"2 of them \(x, y\)"),
    ({"max_lesions": 0}, "'max_lesions' parameter"),
])
def test_bad_3d_parameters_are_refused_in_fit(ball, params, message):
    with pytest.raises(ValueError, match=message):
        TumourPatchExtractor(**params).fit(ball)
