"""TumourPatchExtractor on the synthetic cohort, nibabel's test image and broken files."""

from __future__ import annotations

import os
import pickle
import shutil
from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd
import pytest
from joblib import Memory
from nibabel.testing import data_path
from scipy import ndimage
from sklearn.base import clone
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import FunctionTransformer
from sklearn.utils.estimator_checks import parametrize_with_checks

import tacelearn.transformers._patches as patches_module
from tacelearn.datasets import make_tace_cohort
from tacelearn.transformers import TumourPatchExtractor
from tacelearn.utils import ContentStore

PATH_COLUMNS = ["t1c_path", "t2_path", "mask_path"]


# ------------------------------------------------------------------------------- helpers


def cohort_of(rows):
    """A minimal cohort: patient_id and the three path columns."""
    return pd.DataFrame(rows, columns=["patient_id", *PATH_COLUMNS])


def copy_patient(row, folder, suffix="copy", transform=None):
    """Write the patient's three volumes into ``folder``, optionally re-stored by ``transform``.

    ``transform(data, affine) -> (data, affine)`` changes how the voxels are stored.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = {}
    for column in PATH_COLUMNS:
        image = nib.load(row[column])
        data, affine = np.asanyarray(image.dataobj), image.affine
        if transform is not None:
            data, affine = transform(data, affine, column)
        path = folder / f"{row['patient_id']}_{suffix}_{column}.nii.gz"
        nib.save(nib.Nifti1Image(data, affine), path)
        paths[column] = str(path)
    return {"patient_id": f"{row['patient_id']}_{suffix}", **paths}


def ras_mask(path):
    """The mask in RAS+ orientation, by nibabel's own reorientation."""
    image = nib.as_closest_canonical(nib.load(path))
    return image.get_fdata() > 0, image.affine


def brute_force_largest_slice(mask):
    areas = [int(mask[:, :, z].sum()) for z in range(mask.shape[2])]
    centre = sum(z * a for z, a in enumerate(areas)) / sum(areas)
    return min((z for z, a in enumerate(areas) if a == max(areas)),
               key=lambda z: (abs(z - centre), z))


def bounding_box(image, level=0.5):
    rows = np.flatnonzero((image >= level).any(axis=1))
    cols = np.flatnonzero((image >= level).any(axis=0))
    return rows[0], rows[-1], cols[0], cols[-1]


def flatten(patches):
    return patches.reshape(len(patches), -1)


def flattener(n_outputs):
    """Patches -> one row of pixels per patch, with pixel names for pandas output."""
    return FunctionTransformer(
        flatten, feature_names_out=lambda transformer, names: [f"pixel_{i}"
                                                               for i in range(n_outputs)])


@pytest.fixture(scope="module")
def cohort(tmp_path_factory):
    """26 synthetic patients of the three centres (RAS, LPS, LAS storage), 64 x 64 x 16."""
    return make_tace_cohort(tmp_path_factory.mktemp("patch_cohort"), n_per_center=(10, 8, 8),
                            image_shape=(64, 64, 16), random_state=5)


@pytest.fixture(scope="module")
def single_lesion_patients(cohort):
    """Two patients of each centre with exactly one tumour."""
    single = cohort[cohort["tumour_number"] == 1]
    return single.groupby("center").head(2).reset_index(drop=True)


@pytest.fixture
def tiny(tiny_cohort):
    return tiny_cohort.head(6).reset_index(drop=True)


# ------------------------------------------------------------------- output and geometry


def test_shape_dtype_channels_and_fitted_attributes(tiny_cohort):
    extractor = TumourPatchExtractor(size=24, context_slices=2)
    patches = extractor.fit_transform(tiny_cohort)
    assert patches.shape == (len(tiny_cohort), 2 * 5, 24, 24)
    assert patches.dtype == np.float32
    assert np.isfinite(patches).all()
    assert extractor.n_channels_ == 10
    assert extractor.n_features_in_ == tiny_cohort.shape[1]
    assert extractor.feature_names_in_.tolist() == tiny_cohort.columns.tolist()
    lesions = extractor.extract(tiny_cohort).lesions
    assert lesions["patient_id"].tolist() == tiny_cohort["patient_id"].tolist()
    assert not hasattr(extractor, "lesion_index_")  # transform leaves the estimator as it was
    names = extractor.get_feature_names_out().tolist()
    assert names[:5] == [f"t1c_path[z{k:+d}]" for k in range(-2, 3)]
    assert names[5:] == [f"t2_path[z{k:+d}]" for k in range(-2, 3)]
    assert extractor.transform(tiny_cohort.iloc[:0]).shape == (0, 10, 24, 24)


def test_channel_order_repeats_sequences_and_context_keeps_the_centre(tiny):
    plain = TumourPatchExtractor(size=24).fit_transform(tiny)
    original = TumourPatchExtractor(size=24, channel_order=("t1c_path", "t1c_path", "t2_path"))
    stacked = original.fit_transform(tiny)
    assert stacked.shape[1] == 3
    np.testing.assert_array_equal(stacked[:, 0], plain[:, 0])
    np.testing.assert_array_equal(stacked[:, 1], plain[:, 0])
    np.testing.assert_array_equal(stacked[:, 2], plain[:, 1])
    assert original.get_feature_names_out().tolist() == ["t1c_path", "t1c_path", "t2_path"]
    # The 2.5D stack's centre channels are the 2D patches: neighbours share its statistics.
    context = TumourPatchExtractor(size=24, context_slices=1).fit_transform(tiny)
    np.testing.assert_array_equal(context[:, [1, 4]], plain)


def test_context_slices_are_the_neighbours_with_edges_repeated(tmp_path):
    # Voxel value = 10 * slice index: each channel of the 2.5D patch is one flat slice.
    volume = np.broadcast_to(10.0 * np.arange(6), (20, 20, 6)).astype(np.float32)
    mask = np.zeros((20, 20, 6), dtype=np.uint8)
    mask[8:11, 8:11, 1] = 1                     # area 9 on slice 1
    mask[9:11, 9:11, 2] = 1                     # area 4 on slice 2
    affine = np.diag([1.5, 1.5, 4.0, 1.0])
    for name, data in (("image", volume), ("mask", mask)):
        nib.save(nib.Nifti1Image(data, affine), tmp_path / f"{name}.nii.gz")
    cohort = pd.DataFrame({"patient_id": ["ramp"], "t1c_path": [str(tmp_path / "image.nii.gz")],
                           "mask_path": [str(tmp_path / "mask.nii.gz")]})
    extractor = TumourPatchExtractor(image_columns=("t1c_path",), size=8, context_slices=2,
                                     normalization=None)
    patches = extractor.fit_transform(cohort)
    expected = [10.0 * min(max(z, 0), 5) for z in range(1 - 2, 1 + 3)]
    np.testing.assert_allclose(patches[0].reshape(5, -1).min(axis=1), expected)
    np.testing.assert_allclose(patches[0].reshape(5, -1).max(axis=1), expected)
    assert extractor.extract(cohort).lesions["slice"].tolist() == [1]
    with pytest.raises(ValueError, match="constant .* on the tumour's slice"):
        TumourPatchExtractor(image_columns=("t1c_path",), size=8).fit_transform(cohort)


def test_chosen_slice_is_the_largest_area_slice(single_lesion_patients):
    extractor = TumourPatchExtractor(size=16).fit(single_lesion_patients)
    index = extractor.extract(single_lesion_patients).lesions
    for row, chosen in zip(single_lesion_patients.itertuples(), index.itertuples()):
        mask, affine = ras_mask(row.mask_path)
        assert chosen.slice == brute_force_largest_slice(mask)
        assert chosen.voxels == mask.sum()
        assert chosen.volume_ml == pytest.approx(mask.sum() * abs(np.linalg.det(affine)) / 1000)


@pytest.mark.parametrize("margin", [0.25, 1.0])
def test_tumour_centre_lands_on_the_patch_centre(single_lesion_patients, margin):
    # The mask itself as the only image: the resized mask shows where the tumour went.
    size = 64
    extractor = TumourPatchExtractor(image_columns=("mask_path",), size=size, margin=margin,
                                     normalization=None)
    patches = extractor.fit_transform(single_lesion_patients)[:, 0]
    for patch in patches:
        r0, r1, c0, c1 = bounding_box(patch)
        assert abs((r0 + r1) / 2 - (size - 1) / 2) <= 1.0
        assert abs((c0 + c1) / 2 - (size - 1) / 2) <= 1.0
        # The tumour's larger side spans about 1 / (1 + 2 margin) of the patch.
        share = max(r1 - r0 + 1, c1 - c0 + 1) / size
        assert share == pytest.approx(1 / (1 + 2 * margin), abs=0.12)


def test_fixed_spacing_keeps_millimetres(single_lesion_patients):
    spacing, size = 2.0, 48
    extractor = TumourPatchExtractor(image_columns=("mask_path",), size=size, spacing=spacing,
                                     normalization=None)
    patches = extractor.fit_transform(single_lesion_patients)[:, 0]
    for row, patch, z in zip(single_lesion_patients.itertuples(), patches,
                             extractor.extract(single_lesion_patients).lesions["slice"]):
        mask, affine = ras_mask(row.mask_path)
        pixel = np.sqrt((affine[:3, :3] ** 2).sum(axis=0))
        on_slice = mask[:, :, z]
        extent_y = np.ptp(np.flatnonzero(on_slice.any(axis=0))) + 1
        extent_x = np.ptp(np.flatnonzero(on_slice.any(axis=1))) + 1
        r0, r1, c0, c1 = bounding_box(patch)
        # Rows run along y, columns along x; one source pixel of tolerance either way.
        assert abs((r1 - r0 + 1) * spacing - extent_y * pixel[1]) <= pixel[1] + spacing
        assert abs((c1 - c0 + 1) * spacing - extent_x * pixel[0]) <= pixel[0] + spacing
        assert abs((r0 + r1) / 2 - (size - 1) / 2) <= 1.0
        assert abs((c0 + c1) / 2 - (size - 1) / 2) <= 1.0


def permute_and_flip(data, affine, column):
    """Store (x, y, z) as (y, x, z) with the new first and last axes reversed."""
    stored = data.transpose(1, 0, 2)[::-1, :, ::-1]
    n_y, n_z = data.shape[1], data.shape[2]
    # New voxel (a, b, c) is old voxel (b, n_y - 1 - a, n_z - 1 - c).
    new_to_old = np.array([[0, 1, 0, 0], [-1, 0, 0, n_y - 1], [0, 0, -1, n_z - 1],
                           [0, 0, 0, 1.0]])
    return np.ascontiguousarray(stored), affine @ new_to_old


@pytest.mark.parametrize("options", [{}, {"spacing": 2.5, "context_slices": 1},
                                     {"normalization": "zscore_tumour"}])
def test_another_storage_orientation_gives_the_same_patch(single_lesion_patients, tmp_path,
                                                          options):
    originals = single_lesion_patients.head(4)   # RAS and LPS storage
    copies = cohort_of([copy_patient(row, tmp_path, transform=permute_and_flip)
                        for _, row in originals.iterrows()])
    codes = {nib.aff2axcodes(nib.load(p).affine) for p in copies["t1c_path"]}
    assert codes <= {("A", "L", "I"), ("P", "R", "I")}
    extractor = TumourPatchExtractor(size=32, **options)
    np.testing.assert_allclose(extractor.fit_transform(copies),
                               extractor.fit_transform(originals), rtol=0, atol=1e-5)


@pytest.mark.parametrize("normalization", ["zscore", "zscore_tumour"])
def test_normalisation_undoes_a_scanner_scale_and_offset(tiny, tmp_path, normalization):
    def rescale(data, affine, column):
        if column == "mask_path":
            return data, affine
        return (2.5 * data + 100.0).astype(np.float32), affine

    copies = cohort_of([copy_patient(row, tmp_path, transform=rescale)
                        for _, row in tiny.iterrows()])
    extractor = TumourPatchExtractor(size=24, normalization=normalization)
    np.testing.assert_allclose(extractor.fit_transform(copies), extractor.fit_transform(tiny),
                               atol=2e-4)
    # Without normalisation crop and resize are linear: the stored intensities come through.
    raw = TumourPatchExtractor(size=24, normalization=None)
    np.testing.assert_allclose(raw.fit_transform(copies), 2.5 * raw.fit_transform(tiny) + 100,
                               rtol=1e-5)


def test_real_las_image_from_nibabel_matches_its_canonical_copy(tmp_path):
    # nibabel's anatomical.nii (LAS) with a ball-shaped "tumour" drawn by this test, and a RAS
    # copy made by nibabel's as_closest_canonical: both rows must give the same patch.
    image = nib.load(Path(data_path) / "anatomical.nii")
    ijk = np.indices(image.shape).reshape(3, -1).T
    xyz = nib.affines.apply_affine(image.affine, ijk)
    centre = nib.affines.apply_affine(image.affine, [12, 22, 12])
    ball = (np.linalg.norm(xyz - centre, axis=1) <= 7.0).reshape(image.shape).astype(np.uint8)
    mask = nib.Nifti1Image(ball, image.affine)
    rows = []
    for name, (img, msk) in {"las": (image, mask),
                             "ras": (nib.as_closest_canonical(image),
                                     nib.as_closest_canonical(mask))}.items():
        nib.save(img, tmp_path / f"{name}_t1c.nii.gz")
        nib.save(msk, tmp_path / f"{name}_mask.nii.gz")
        rows.append({"patient_id": name, "t1c_path": str(tmp_path / f"{name}_t1c.nii.gz"),
                     "mask_path": str(tmp_path / f"{name}_mask.nii.gz")})
    extractor = TumourPatchExtractor(image_columns=("t1c_path",), size=32, context_slices=1)
    patches = extractor.fit_transform(pd.DataFrame(rows))
    np.testing.assert_allclose(patches[0], patches[1], atol=1e-6)
    assert patches.std() > 0.5
    # The ball's largest slice is its centre slice (z = 12 of 25; z is not flipped in LAS).
    assert extractor.extract(pd.DataFrame(rows)).lesions["slice"].tolist() == [12, 12]


def test_all_lesions_one_patch_each(cohort):
    several = cohort[cohort["tumour_number"] >= 2].head(5)
    extractor = TumourPatchExtractor(size=24, lesion="all")
    patches, index = extractor.fit(several).extract(several)
    assert len(patches) == len(index)
    structure = np.ones((3, 3, 3), dtype=bool)
    for row in several.itertuples():
        mask, _ = ras_mask(row.mask_path)
        labels, count = ndimage.label(mask, structure=structure)
        sizes = sorted(np.bincount(labels.ravel())[1:].tolist(), reverse=True)
        mine = index[index["patient_id"] == row.patient_id]
        assert mine["lesion"].tolist() == list(range(count))
        assert mine["voxels"].tolist() == sizes
    largest = TumourPatchExtractor(size=24).fit_transform(several)
    np.testing.assert_array_equal(patches[index["lesion"].to_numpy() == 0], largest)


# ------------------------------------------------------------------ cache and parallelism


def test_n_jobs_two_equals_n_jobs_one(tiny_cohort, tmp_path):
    one = TumourPatchExtractor(size=24, context_slices=1, lesion="all", n_jobs=1)
    expected = one.fit_transform(tiny_cohort)
    two = clone(one).set_params(n_jobs=2)
    np.testing.assert_array_equal(two.fit_transform(tiny_cohort), expected)
    pd.testing.assert_frame_equal(two.extract(tiny_cohort).lesions,
                                  one.extract(tiny_cohort).lesions)
    # Workers fill the cache, the calling process reads it back.
    cached = clone(two).set_params(memory=tmp_path)
    np.testing.assert_array_equal(cached.fit_transform(tiny_cohort), expected)
    np.testing.assert_array_equal(cached.transform(tiny_cohort), expected)


def test_cache_second_pass_reads_no_image_and_a_changed_file_is_reread(tiny, tmp_path,
                                                                        monkeypatch):
    cohort = cohort_of([copy_patient(row, tmp_path / "images") for _, row in tiny.iterrows()])
    calls = []
    real_extract = patches_module.extract_patches

    def counting_extract(*args, **kwargs):
        calls.append(args[1])
        return real_extract(*args, **kwargs)

    monkeypatch.setattr(patches_module, "extract_patches", counting_extract)
    extractor = TumourPatchExtractor(size=24, memory=tmp_path / "cache")
    first = extractor.fit_transform(cohort)
    assert len(calls) == len(cohort)
    second = extractor.transform(cohort)
    assert len(calls) == len(cohort)
    np.testing.assert_array_equal(second, first)
    # Other parameters are other entries.
    extractor.set_params(size=16).transform(cohort)
    assert len(calls) == 2 * len(cohort)
    extractor.set_params(size=24)

    # Rewrite one T2 with different voxels: only that patient is read again, and it changes.
    t2 = cohort.loc[2, "t2_path"]
    image = nib.load(t2)
    data = np.asanyarray(image.dataobj)
    nib.save(nib.Nifti1Image(data[::-1].copy(), image.affine), t2)
    stat = os.stat(t2)
    os.utime(t2, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    third = extractor.transform(cohort)
    assert calls[2 * len(cohort):] == [cohort.loc[2, "mask_path"]]
    changed = ~np.all(third == first, axis=(1, 2, 3))
    assert changed.tolist() == [i == 2 for i in range(len(cohort))]


@pytest.mark.parametrize("memory", [lambda folder: Memory(folder, verbose=0),
                                    lambda folder: ContentStore(folder, memory_bytes=2**20)])
def test_memory_object_clone_and_pickle(tiny, tmp_path, memory):
    extractor = TumourPatchExtractor(size=16, memory=memory(tmp_path))
    copy = clone(extractor)
    assert copy.get_params()["size"] == 16
    assert copy.get_params()["memory"].location == extractor.memory.location
    expected = extractor.fit_transform(tiny)
    restored = pickle.loads(pickle.dumps(extractor))
    np.testing.assert_array_equal(restored.transform(tiny), expected)


# --------------------------------------------------------------- scikit-learn composition


def test_inside_a_pandas_output_pipeline(tiny_cohort):
    pipeline = make_pipeline(TumourPatchExtractor(size=8), flattener(2 * 8 * 8),
                             LogisticRegression(max_iter=200))
    pipeline.set_output(transform="pandas")
    y = tiny_cohort["objective_response"].astype(int)
    pipeline.fit(tiny_cohort, y)
    assert pipeline.predict_proba(tiny_cohort).shape == (len(tiny_cohort), 2)
    features = pipeline[:-1].transform(tiny_cohort)
    assert isinstance(features, pd.DataFrame)
    np.testing.assert_array_equal(features.to_numpy(),
                                  flatten(TumourPatchExtractor(size=8).fit_transform(tiny_cohort)))
    # A cohort without outcome columns is transformed by the fitted pipeline too.
    assert pipeline[:-1].transform(tiny_cohort[["patient_id", *PATH_COLUMNS]]).shape[0] == 24


def test_as_a_column_transformer_branch(tiny_cohort):
    image_branch = Pipeline([("patches", TumourPatchExtractor(size=8)),
                             ("flatten", flattener(2 * 8 * 8))])
    columns = ColumnTransformer([("image", image_branch, ["patient_id", *PATH_COLUMNS]),
                                 ("clinical", "passthrough", ["age"])])
    table = columns.set_output(transform="pandas").fit_transform(tiny_cohort)
    assert isinstance(table, pd.DataFrame)
    assert table.shape == (24, 2 * 8 * 8 + 1)
    assert table.columns[-1] == "clinical__age"
    np.testing.assert_array_equal(table["clinical__age"], tiny_cohort["age"])


@pytest.mark.parametrize(("params", "error", "message"), [
    ({"size": 0}, ValueError, "size"),
    ({"context_slices": -1}, ValueError, "context_slices"),
    ({"margin": -0.1}, ValueError, "margin"),
    ({"spacing": (1.0, 0.0)}, ValueError, "spacing"),
    ({"spacing": "fine"}, ValueError, "spacing"),
    ({"normalization": "minmax"}, ValueError, "normalization"),
    ({"lesion": "first"}, ValueError, "lesion"),
    ({"image_columns": "t1c_path"}, ValueError, "image_columns"),
    ({"image_columns": 3}, ValueError, "image_columns"),
    ({"image_columns": [3]}, ValueError, "image_columns"),
    ({"channel_order": ()}, ValueError, "channel_order"),
    ({"memory": 3}, ValueError, "memory"),
    ({"image_columns": ("t1c_path", "t1c_path")}, ValueError, "twice"),
    ({"channel_order": ("t1c_path", "adc_path")}, ValueError, "adc_path"),
    ({"mask_column": "tumour_mask"}, ValueError, "tumour_mask"),
])
def test_bad_parameters_are_refused_in_fit(tiny, params, error, message):
    with pytest.raises(error, match=message):
        TumourPatchExtractor(**params).fit(tiny)


def test_verbose_shows_a_progress_bar(tiny, capsys):
    TumourPatchExtractor(size=8, verbose=1).fit_transform(tiny)
    err = capsys.readouterr().err
    assert "tumour patches: 100%" in err
    assert f"{len(tiny)}/{len(tiny)}" in err


def test_bad_containers_are_refused(tiny):
    with pytest.raises(TypeError, match="DataFrame"):
        TumourPatchExtractor().fit(tiny[PATH_COLUMNS].to_numpy())
    with pytest.raises(ValueError, match="patient_id"):
        TumourPatchExtractor().fit(tiny[PATH_COLUMNS])
    with pytest.raises(ValueError, match="transform must be one of"):
        TumourPatchExtractor().set_output(transform="arrow")


# The common checks feed numeric arrays; the extractor takes a cohort DataFrame of NIfTI paths
# and refuses anything else with a TypeError, so every check that fits on such data fails.
_TAKES_COHORT_PATHS = ("X is a cohort DataFrame of NIfTI file paths; numeric arrays are "
                       "refused with a TypeError")
_DATA_CHECKS = [
    "check_complex_data", "check_dict_unchanged", "check_dont_overwrite_parameters",
    "check_dtype_object", "check_estimator_sparse_array", "check_estimator_sparse_matrix",
    "check_estimator_sparse_tag", "check_estimators_dtypes", "check_estimators_empty_data_messages",
    "check_estimators_fit_returns_self", "check_estimators_nan_inf",
    "check_estimators_overwrite_params", "check_estimators_pickle",
    "check_f_contiguous_array_estimator", "check_fit1d", "check_fit2d_1feature",
    "check_fit2d_1sample", "check_fit2d_predict1d", "check_fit_check_is_fitted",
    "check_fit_idempotent", "check_fit_score_takes_y", "check_methods_sample_order_invariance",
    "check_methods_subset_invariance", "check_n_features_in", "check_n_features_in_after_fitting",
    "check_pipeline_consistency", "check_positive_only_tag_during_fit",
    "check_readonly_memmap_input", "check_transformer_data_not_an_array",
    "check_transformer_general",
]


@parametrize_with_checks([TumourPatchExtractor()], expected_failed_checks=lambda estimator: {
    name: _TAKES_COHORT_PATHS for name in _DATA_CHECKS})
def test_sklearn_api_checks(estimator, check):
    check(estimator)


# ----------------------------------------------------------------------------- bad input


# One independent branch per kind of broken file, read as a table of the cases: splitting it
# would scatter the cases without making any of them simpler.
def _break(kind, good, folder):  # noqa: C901
    """Paths of a patient whose files are broken in one way; returns (row, offending file)."""
    row = dict(good)
    row["patient_id"] = f"BAD_{kind}"
    t1c = nib.load(good["t1c_path"])
    mask = nib.load(good["mask_path"])
    data, affine = np.asanyarray(t1c.dataobj), t1c.affine
    target = folder / f"{kind}.nii.gz"
    column = "t1c_path"
    if kind == "missing":
        pass
    elif kind == "truncated":
        raw = Path(good["t1c_path"]).read_bytes()
        target.write_bytes(raw[: len(raw) // 2])
    elif kind == "not_nifti":
        target.write_text("patient_id,age\nP1,60\n")
    elif kind == "two_d":
        nib.save(nib.Nifti1Image(data[:, :, 3], affine), target)
    elif kind == "four_d":
        nib.save(nib.Nifti1Image(np.stack([data, data], axis=-1), affine), target)
    elif kind == "nibabel_4d":
        target = Path(data_path) / "example4d.nii.gz"
    elif kind == "nan":
        values = data.astype(np.float32)
        values[2, 3, 4] = np.nan
        nib.save(nib.Nifti1Image(values, affine), target)
    elif kind == "constant":
        nib.save(nib.Nifti1Image(np.full_like(data, 300), affine), target)
    elif kind in ("shape", "affine", "empty", "labels"):
        column = "mask_path"
        mask_data = np.asanyarray(mask.dataobj)
        mask_affine = mask.affine
        if kind == "shape":
            mask_data = mask_data[:, :, :-1]
        elif kind == "affine":
            mask_affine = mask_affine.copy()
            mask_affine[0, 3] += 2.0
        elif kind == "empty":
            mask_data = np.zeros_like(mask_data)
        else:
            mask_data = mask_data * 2
        nib.save(nib.Nifti1Image(mask_data, mask_affine), target)
    row[column] = str(target)
    return row, str(target)


@pytest.mark.parametrize(("kind", "error", "message"), [
    ("missing", FileNotFoundError, "not found"),
    ("truncated", ValueError, "corrupt or truncated"),
    ("not_nifti", ValueError, "not a readable NIfTI file"),
    ("two_d", ValueError, "2D image"),
    ("four_d", ValueError, "4D image"),
    ("nibabel_4d", ValueError, "4D image"),
    ("nan", ValueError, "NaN"),
    ("constant", ValueError, "constant"),
    ("shape", ValueError, "shape"),
    ("affine", ValueError, "different affines"),
    ("empty", ValueError, "mask is empty"),
    ("labels", ValueError, "only 0 and 1"),
])
def test_bad_input_names_patient_and_file(tiny, tmp_path, kind, error, message):
    good = tiny.iloc[0][["patient_id", *PATH_COLUMNS]].to_dict()
    bad, offending = _break(kind, good, tmp_path)
    extractor = TumourPatchExtractor(size=16, memory=tmp_path / "cache").fit(tiny)
    with pytest.raises(error, match=message) as info:
        extractor.transform(cohort_of([good, bad]))
    text = str(info.value)
    assert f"patient {bad['patient_id']}" in text
    assert offending in text
    assert f"patient {good['patient_id']}" not in text
    # The cache holds complete patches of the valid patient only.
    assert len(list((tmp_path / "cache").rglob("entry.json"))) == (kind != "missing")


def test_every_bad_patient_is_reported_at_once(tiny, tmp_path):
    rows = [tiny.iloc[i][["patient_id", *PATH_COLUMNS]].to_dict() for i in range(3)]
    rows[0], _ = _break("constant", rows[0], tmp_path)
    rows[2], _ = _break("empty", rows[2], tmp_path)
    with pytest.raises(ValueError, match="2 patient") as info:
        TumourPatchExtractor(size=16).fit_transform(cohort_of(rows))
    assert "BAD_constant" in str(info.value)
    assert "BAD_empty" in str(info.value)


def test_blank_path_names_patient_and_column(tiny):
    cohort = tiny[["patient_id", *PATH_COLUMNS]].copy()
    cohort.loc[1, "t2_path"] = np.nan
    with pytest.raises(FileNotFoundError, match=rf"patient {cohort.loc[1, 'patient_id']}: no "
                                                r"file in column 't2_path'"):
        TumourPatchExtractor(size=16).fit_transform(cohort)


def test_singleton_fourth_axis_gives_the_same_patch(tiny, tmp_path):
    row = tiny.iloc[0]
    copy = copy_patient(row, tmp_path, transform=lambda d, a, c: (
        d[..., None] if c == "t1c_path" else d, a))
    assert nib.load(copy["t1c_path"]).ndim == 4
    extractor = TumourPatchExtractor(size=16)
    np.testing.assert_array_equal(extractor.fit_transform(cohort_of([copy])),
                                  extractor.fit_transform(tiny.iloc[[0]]))


def test_moved_files_are_found_by_the_cache_key_only_if_unchanged(tiny, tmp_path):
    # The key holds the path: the same bytes under another name are computed again.
    row = tiny.iloc[0]
    first = copy_patient(row, tmp_path / "a")
    shutil.copytree(tmp_path / "a", tmp_path / "b")
    second = {k: v.replace(str(tmp_path / "a"), str(tmp_path / "b")) for k, v in first.items()}
    extractor = TumourPatchExtractor(size=16, memory=tmp_path / "cache")
    np.testing.assert_array_equal(extractor.fit_transform(cohort_of([first])),
                                  extractor.fit_transform(cohort_of([second])))
    entries = list((tmp_path / "cache" / "patches").rglob("entry.json"))
    assert len(entries) == 2


def test_repeated_passes_skip_the_disk_and_follow_rewritten_files(tiny, tmp_path, monkeypatch):
    rows = [copy_patient(row, tmp_path / f"patient{i}") for i, row in tiny.head(3).iterrows()]
    cohort = cohort_of(rows)
    expected = TumourPatchExtractor(size=16).fit_transform(cohort)  # no cache at all
    store = ContentStore(tmp_path / "cache", memory_bytes=2**20)
    extractor = TumourPatchExtractor(size=16, memory=store)
    np.testing.assert_array_equal(extractor.fit_transform(cohort), expected)

    # Every later pass in this process is served from memory: neither the images nor the
    # disk entries are read.
    computed, read = [], []
    monkeypatch.setattr(patches_module, "_extract_or_report",
                        lambda job, original=patches_module._extract_or_report:
                        computed.append(job["mask_path"]) or original(job))
    monkeypatch.setattr(ContentStore, "_read", lambda self, folder, namespace, key,
                        original=ContentStore._read: read.append(key)
                        or original(self, folder, namespace, key))
    np.testing.assert_array_equal(clone(extractor).fit_transform(cohort), expected)
    assert computed == []
    assert read == []

    # A rewritten file changes the key: that patient is read again, and only that one.
    image = nib.load(rows[1]["t1c_path"])
    data = np.sqrt(np.abs(np.asarray(image.dataobj, dtype=float)))  # not undone by z-scoring
    nib.save(nib.Nifti1Image(data, image.affine), rows[1]["t1c_path"])
    os.utime(rows[1]["t1c_path"], ns=(1, 10**18))
    changed = extractor.transform(cohort)
    assert computed == [os.path.abspath(rows[1]["mask_path"])]
    assert not np.array_equal(changed[1], expected[1])
    np.testing.assert_array_equal(changed, TumourPatchExtractor(size=16).fit_transform(cohort))
    # A pickled copy (a joblib worker) shares no memory but finds the disk entries.
    restored = pickle.loads(pickle.dumps(extractor))
    np.testing.assert_array_equal(restored.transform(cohort), changed)
    assert len(read) == len(cohort)
