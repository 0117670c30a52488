"""The pure image functions, against nibabel's own test images, brute force and torch."""

from __future__ import annotations

import gzip
from collections import deque
from itertools import product
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
import torch
from nibabel.testing import data_path

from tacelearn.transformers import (
    context_slice_indices,
    crop_with_padding,
    label_lesions,
    largest_area_slice,
    load_nifti,
    normalize_intensity,
    otsu_threshold,
    radiological_slices,
    reorient_to_ras,
    resample_in_plane,
    resize_image,
    tumour_box,
    voxel_spacing,
)

NIBABEL_DATA = Path(data_path)


def world(affine, ijk):
    return (affine @ np.c_[ijk, np.ones(len(ijk))].T).T[:, :3]


# ---------------------------------------------------------------------------- nibabel's images


def test_load_nifti_reads_nibabel_anatomical_image():
    path = NIBABEL_DATA / "anatomical.nii"
    volume, affine = load_nifti(path)
    reference = nib.load(path)
    assert volume.dtype == np.float32
    np.testing.assert_array_equal(volume, reference.get_fdata())
    np.testing.assert_array_equal(affine, reference.affine)
    assert nib.aff2axcodes(affine) == ("L", "A", "S")


def test_reorient_to_ras_matches_nibabel_and_keeps_world_positions():
    path = NIBABEL_DATA / "anatomical.nii"
    volume, affine = load_nifti(path)
    ras, ras_affine = reorient_to_ras(volume, affine)
    canonical = nib.as_closest_canonical(nib.load(path))
    assert nib.aff2axcodes(ras_affine) == ("R", "A", "S")
    np.testing.assert_array_equal(ras, canonical.get_fdata())
    np.testing.assert_allclose(ras_affine, canonical.affine)
    # LAS -> RAS is a flip of axis 0: voxel (i, j, k) of the result is (n - 1 - i, j, k).
    np.testing.assert_array_equal(ras, volume[::-1])
    rng = np.random.default_rng(0)
    ijk = rng.integers(0, volume.shape, size=(20, 3))
    flipped = ijk.copy()
    flipped[:, 0] = volume.shape[0] - 1 - ijk[:, 0]
    np.testing.assert_allclose(world(ras_affine, ijk), world(affine, flipped))


def test_reorient_to_ras_handles_permuted_axes():
    rng = np.random.default_rng(1)
    volume = rng.random((4, 5, 6))
    affine = np.diag([2.0, 3.0, 4.0, 1.0])
    # Store as (y, x, z) with x and z reversed: the array axes point A, L, I.
    stored = volume.transpose(1, 0, 2)[:, ::-1, ::-1]
    # Voxel (a, b, c) of the stored array is voxel (x, y, z) = (4 - 1 - b, a, 6 - 1 - c).
    to_original = np.array([[0, -1, 0, 3], [1, 0, 0, 0], [0, 0, -1, 5], [0, 0, 0, 1.0]])
    stored_affine = affine @ to_original
    assert nib.aff2axcodes(stored_affine) == ("A", "L", "I")
    ras, ras_affine = reorient_to_ras(stored, stored_affine)
    np.testing.assert_array_equal(ras, volume)
    np.testing.assert_allclose(ras_affine, affine)


def test_load_nifti_refuses_nibabel_4d_example():
    path = NIBABEL_DATA / "example4d.nii.gz"
    assert len(nib.load(path).shape) == 4
    with pytest.raises(ValueError, match=r"example4d\.nii\.gz is a 4D image .*3D volume"):
        load_nifti(path)


def test_load_nifti_accepts_a_singleton_fourth_axis(tmp_path):
    volume = np.arange(60, dtype=np.int16).reshape(3, 4, 5)
    nib.save(nib.Nifti1Image(volume[..., None], np.eye(4)), tmp_path / "single.nii.gz")
    loaded, _ = load_nifti(tmp_path / "single.nii.gz")
    np.testing.assert_array_equal(loaded, volume)


# ------------------------------------------------------------------------------- bad files


def _write_bad(tmp_path, kind):
    path = tmp_path / f"{kind}.nii.gz"
    good = nib.Nifti1Image(np.arange(1000, dtype=np.int16).reshape(10, 10, 10), np.eye(4))
    if kind == "truncated":
        nib.save(good, path)
        data = path.read_bytes()
        path.write_bytes(data[: len(data) // 2])
    elif kind == "not_gzip":
        path.write_text("patient_id,age\nP1,60\n")
    elif kind == "not_nifti":
        path = tmp_path / "volume.mgz"
        nib.save(nib.MGHImage(np.ones((4, 4, 4), dtype=np.float32), np.eye(4)), path)
    elif kind == "header_only":
        nib.save(good, tmp_path / "full.nii")
        path.write_bytes(gzip.compress((tmp_path / "full.nii").read_bytes()[:348]))
    elif kind == "two_d":
        nib.save(nib.Nifti1Image(np.ones((8, 8), dtype=np.float32), np.eye(4)), path)
    elif kind == "nan":
        volume = np.ones((4, 4, 4), dtype=np.float32)
        volume[1, 2, 3] = np.nan
        volume[0, 0, 0] = np.inf
        nib.save(nib.Nifti1Image(volume, np.eye(4)), path)
    elif kind == "singular":
        # Through the sform: nibabel cannot write a singular affine as a qform.
        image = nib.Nifti1Image(np.ones((4, 4, 4), dtype=np.float32), None)
        image.header.set_sform(np.diag([1.0, 1.0, 0.0, 1.0]), code=1)
        nib.save(image, path)
    return path


@pytest.mark.parametrize(("kind", "message"), [
    ("truncated", "corrupt or truncated"),
    ("not_gzip", "not a readable NIfTI file"),
    ("not_nifti", "MGHImage, not a NIfTI file"),
    ("header_only", "corrupt or truncated"),
    ("two_d", "2D image"),
    ("nan", "2 voxel"),
    ("singular", "singular"),
])
def test_load_nifti_refuses_bad_files_naming_them(tmp_path, kind, message):
    path = _write_bad(tmp_path, kind)
    with pytest.raises(ValueError, match=message) as info:
        load_nifti(path)
    assert str(path) in str(info.value)


def test_load_nifti_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="absent.nii.gz"):
        load_nifti(tmp_path / "absent.nii.gz")


# ------------------------------------------------------------------------------ resampling


def test_resample_in_plane_reproduces_a_linear_field_at_the_new_world_positions():
    # Linear interpolation is exact for a linear function of position: sample one on an
    # oblique-free LPS grid, resample, and compare every interior voxel with the formula.
    shape = (17, 13, 3)
    affine = np.array([[-1.7, 0, 0, 20.0], [0, -2.3, 0, 5.0], [0, 0, 4.0, -3.0], [0, 0, 0, 1]])
    ijk = np.array(list(product(*[range(n) for n in shape])))
    field = lambda xyz: 0.5 * xyz[:, 0] - 1.25 * xyz[:, 1] + 0.1 * xyz[:, 2] + 7.0  # noqa: E731
    volume = field(world(affine, ijk)).reshape(shape)
    resampled, new_affine = resample_in_plane(volume, affine, (0.8, 1.1))
    np.testing.assert_allclose(voxel_spacing(new_affine), [0.8, 1.1, 4.0])
    assert resampled.shape == (round(17 * 1.7 / 0.8), round(13 * 2.3 / 1.1), 3)
    new_ijk = np.array(list(product(*[range(n) for n in resampled.shape])))
    expected = field(world(new_affine, new_ijk)).reshape(resampled.shape)
    # Interior: the world position lies inside the old grid's voxel centres.
    old_index = np.linalg.solve(affine, np.c_[world(new_affine, new_ijk),
                                              np.ones(len(new_ijk))].T).T[:, :3]
    inside = np.all((old_index >= 0) & (old_index <= np.array(shape) - 1), axis=1)
    inside = inside.reshape(resampled.shape)
    assert inside.mean() > 0.8
    np.testing.assert_allclose(resampled[inside], expected[inside], atol=1e-9)


def test_resample_in_plane_nearest_keeps_mask_values():
    mask = np.zeros((10, 10, 2), dtype=np.uint8)
    mask[3:7, 2:5, 1] = 1
    resampled, _ = resample_in_plane(mask, np.diag([2.0, 2.0, 5.0, 1.0]), 0.5, order=0)
    assert resampled.dtype == np.uint8
    assert set(np.unique(resampled)) == {0, 1}
    # Area is preserved in mm^2: 12 voxels of 4 mm^2, pixels of 0.25 mm^2.
    assert resampled[..., 1].sum() == 12 * 16


def test_resample_in_plane_refuses_bad_spacing():
    with pytest.raises(ValueError, match="spacing"):
        resample_in_plane(np.zeros((2, 2, 2)), np.eye(4), 0.0)


# --------------------------------------------------------------------------------- lesions


def flood_fill_components(mask):
    """Brute-force 26-connected components: breadth-first search from every seed."""
    labels = np.zeros(mask.shape, dtype=int)
    steps = [d for d in product((-1, 0, 1), repeat=3) if d != (0, 0, 0)]
    sizes = []
    for seed in zip(*np.nonzero(mask)):
        if labels[seed]:
            continue
        sizes.append(0)
        labels[seed] = len(sizes)
        queue = deque([seed])
        while queue:
            voxel = queue.popleft()
            sizes[-1] += 1
            for step in steps:
                near = tuple(v + s for v, s in zip(voxel, step))
                if all(0 <= n < m for n, m in zip(near, mask.shape)) and mask[near] \
                        and not labels[near]:
                    labels[near] = len(sizes)
                    queue.append(near)
    return labels, sizes


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_label_lesions_matches_brute_force_components(seed):
    mask = np.random.default_rng(seed).random((9, 8, 7)) < 0.12
    labels, counts = label_lesions(mask)
    reference, sizes = flood_fill_components(mask)
    assert sorted(counts.tolist(), reverse=True) == counts.tolist()
    assert sorted(counts.tolist()) == sorted(sizes)
    # Same partition: each reference component maps onto exactly one label, and back.
    pairs = set(zip(reference[mask].tolist(), labels[mask].tolist()))
    assert len(pairs) == len(sizes) == counts.size
    for ref_label, label in pairs:
        assert np.count_nonzero(labels == label) == sizes[ref_label - 1]
    assert (labels[~mask] == 0).all()


def test_label_lesions_joins_corner_neighbours():
    mask = np.zeros((3, 3, 3), dtype=bool)
    mask[0, 0, 0] = mask[1, 1, 1] = True
    assert label_lesions(mask)[1].tolist() == [2]


@pytest.mark.parametrize("seed", range(4))
def test_largest_area_slice_matches_brute_force(seed):
    rng = np.random.default_rng(seed)
    mask = rng.random((6, 5, 12)) < rng.uniform(0.05, 0.5, size=12)
    areas = [int(mask[:, :, z].sum()) for z in range(12)]
    best = max(areas)
    centre = sum(z * a for z, a in enumerate(areas)) / sum(areas)
    expected = min((z for z in range(12) if areas[z] == best), key=lambda z: (abs(z - centre), z))
    assert largest_area_slice(mask) == expected


def test_largest_area_slice_ties_go_to_the_most_central():
    mask = np.zeros((3, 3, 9), dtype=bool)
    mask[:2, :2, [1, 4, 5]] = True          # three slices of area 4
    mask[0, :3, 6:9] = True                 # pulls the centre of mass to 4.9
    assert largest_area_slice(mask) == 5
    with pytest.raises(ValueError, match="empty"):
        largest_area_slice(np.zeros((2, 2, 2)))


@pytest.mark.parametrize(("index", "n_slices", "k"), [(0, 5, 2), (4, 5, 2), (2, 5, 1), (0, 1, 3),
                                                      (3, 8, 0)])
def test_context_slice_indices_repeat_edge_slices(index, n_slices, k):
    expected = [min(max(i, 0), n_slices - 1) for i in range(index - k, index + k + 1)]
    assert context_slice_indices(index, n_slices, k).tolist() == expected


def test_radiological_slices_put_anterior_up_and_patient_right_left():
    # A RAS volume whose voxel encodes its world direction: right and anterior markers.
    volume = np.zeros((5, 4, 2))
    volume[4, 2, 1] = 1.0   # most right
    volume[2, 3, 1] = 2.0   # most anterior
    view = radiological_slices(volume, 1)
    assert view.shape == (1, 4, 5)
    assert view[0, 4 - 1 - 2, 0] == 1.0       # the patient's right edge on column 0
    assert view[0, 0, 5 - 1 - 2] == 2.0       # anterior on row 0


# ------------------------------------------------------------------------- box, crop, resize


@pytest.mark.parametrize(("rows", "cols", "spacing", "margin"), [
    ((8, 12), (5, 9), (1.0, 1.0), 0.5), ((3, 4), (10, 19), (2.0, 1.0), 0.25),
    ((0, 1), (0, 1), (1.0, 1.0), 1.0), ((20, 29), (4, 6), (0.7, 0.9), 0.0)])
def test_tumour_box_is_centred_square_in_mm_with_margin(rows, cols, spacing, margin):
    mask = np.zeros((40, 40), dtype=bool)
    mask[rows[0]:rows[1], cols[0]:cols[1]] = True
    r0, r1, c0, c1 = tumour_box(mask, margin=margin, pixel_spacing=spacing)
    tumour_centre = ((rows[0] + rows[1] - 1) / 2, (cols[0] + cols[1] - 1) / 2)
    assert ((r0 + r1 - 1) / 2, (c0 + c1 - 1) / 2) == tumour_centre
    extent_mm = max((rows[1] - rows[0]) * spacing[0], (cols[1] - cols[0]) * spacing[1])
    wanted = extent_mm * (1 + 2 * margin)
    # Whole pixels on both sides: each side is within one pixel either side of the target, or
    # the tumour plus the one-pixel rim every box keeps.
    assert (abs((r1 - r0) * spacing[0] - wanted) <= spacing[0] + 1e-9
            or r1 - r0 == rows[1] - rows[0] + 2)
    assert (abs((c1 - c0) * spacing[1] - wanted) <= spacing[1] + 1e-9
            or c1 - c0 == cols[1] - cols[0] + 2)
    assert min(rows[0] - r0, cols[0] - c0, r1 - rows[1], c1 - cols[1]) >= 1
    assert r0 <= rows[0]
    assert c0 <= cols[0]
    assert r1 >= rows[1]
    assert c1 >= cols[1]


def test_a_one_pixel_tumour_keeps_a_rim_of_one_pixel():
    mask = np.zeros((9, 9), dtype=bool)
    mask[4, 6] = True
    assert tumour_box(mask, margin=0.5) == (3, 6, 5, 8)


def test_tumour_box_of_fixed_shape():
    mask = np.zeros((30, 30), dtype=bool)
    mask[10:15, 4:8] = True                  # centre (12, 5.5)
    r0, r1, c0, c1 = tumour_box(mask, shape=(9, 10))
    assert (r1 - r0, c1 - c0) == (9, 10)
    assert (r0 + r1 - 1) / 2 == 12
    assert abs((c0 + c1 - 1) / 2 - 5.5) <= 0.5


@pytest.mark.parametrize("box", [(-3, 4, 2, 6), (1, 9, -2, 12), (5, 7, 5, 7), (-4, -1, 0, 3)])
def test_crop_with_padding_matches_padded_slicing(box):
    image = np.arange(2 * 6 * 8, dtype=np.float32).reshape(2, 6, 8)
    pad = 20
    padded = np.pad(image, ((0, 0), (pad, pad), (pad, pad)), constant_values=-5.0)
    expected = padded[:, box[0] + pad:box[1] + pad, box[2] + pad:box[3] + pad]
    np.testing.assert_array_equal(crop_with_padding(image, box, fill_value=-5.0), expected)


@pytest.mark.parametrize(("shape_in", "shape_out"), [((7, 9), (16, 16)), ((40, 33), (12, 20)),
                                                     ((5, 5), (5, 5))])
def test_resize_image_matches_torch_bilinear(shape_in, shape_out):
    image = np.random.default_rng(0).random((3, *shape_in)).astype(np.float32)
    expected = torch.nn.functional.interpolate(torch.from_numpy(image)[None], size=shape_out,
                                               mode="bilinear", align_corners=False)[0].numpy()
    np.testing.assert_allclose(resize_image(image, shape_out), expected, atol=1e-5)


def test_resize_image_nearest_matches_torch_nearest_exact():
    mask = (np.random.default_rng(1).random((7, 11)) > 0.5).astype(np.float32)
    expected = torch.nn.functional.interpolate(torch.from_numpy(mask)[None, None], size=(3, 5),
                                               mode="nearest-exact")[0, 0].numpy()
    np.testing.assert_array_equal(resize_image(mask, (3, 5), order=0), expected)


# ------------------------------------------------------------------------- intensities


def test_otsu_threshold_matches_exhaustive_search():
    rng = np.random.default_rng(3)
    values = np.r_[rng.integers(0, 40, 300), rng.integers(90, 256, 500)].astype(float)
    values = np.r_[values, 0.0, 255.0]

    def between_class_variance(t):
        low, high = values[values <= t], values[values > t]
        return len(low) * len(high) * (low.mean() - high.mean()) ** 2

    # With 255 bins over 0..255 every bin edge falls between two integers.
    candidates = np.arange(0, 255) + 0.5
    best = candidates[np.argmax([between_class_variance(t) for t in candidates])]
    threshold = otsu_threshold(values, bins=255)
    np.testing.assert_array_equal(values >= threshold, values > best)


def test_normalize_intensity_formula_and_scale_invariance():
    rng = np.random.default_rng(4)
    image = rng.gamma(2.0, 50.0, size=(2, 10, 10))
    reference = rng.gamma(2.0, 60.0, size=500)
    lo, hi = np.percentile(reference, [2, 98])
    clipped = np.clip(reference, lo, hi)
    expected = (np.clip(image, lo, hi) - clipped.mean()) / clipped.std()
    result = normalize_intensity(image, reference, percentiles=(2, 98))
    assert result.dtype == np.float32
    np.testing.assert_allclose(result, expected, rtol=1e-5, atol=1e-5)
    rescaled = normalize_intensity(2.5 * image + 120.0, 2.5 * reference + 120.0,
                                   percentiles=(2, 98))
    np.testing.assert_allclose(rescaled, result, atol=1e-4)


def test_normalize_intensity_refuses_constant_reference():
    with pytest.raises(ValueError, match="constant"):
        normalize_intensity(np.ones((3, 3)))
