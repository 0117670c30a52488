"""RadiomicsExtractor against PyRadiomics itself, numpy's formulas and broken masks."""

from __future__ import annotations

import json
import logging
import os
import pickle
import subprocess
import sys
from pathlib import Path

import joblib
import nibabel as nib
import numpy as np
import pandas as pd
import pytest
import SimpleITK as sitk
from joblib import parallel_config
from nibabel.testing import data_path
from radiomics import getFeatureClasses
from radiomics.featureextractor import RadiomicsFeatureExtractor
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.utils.estimator_checks import parametrize_with_checks

import tacelearn.transformers._radiomics as radiomics_module
from tacelearn.datasets import make_tace_cohort
from tacelearn.transformers import RadiomicsExtractor, default_radiomics_settings
from tacelearn.utils import ContentStore

PATH_COLUMNS = ["t1c_path", "t2_path", "mask_path"]
SHAPE_CLASSES = ("shape", "shape2D")
#: Small and fast: no resampling, coarse bins, a few features of every kind.
FAST_SETTINGS = {
    "setting": {"normalize": True, "normalizeScale": 100, "binWidth": 25,
                "voxelArrayShift": 300, "label": 1},
    "imageType": {"Original": {}},
    "featureClass": {"shape": ["VoxelVolume", "Sphericity"], "firstorder": [],
                     "glcm": ["Contrast", "Correlation"], "glrlm": ["RunEntropy"],
                     "glszm": ["ZoneEntropy"], "gldm": ["DependenceEntropy"],
                     "ngtdm": ["Coarseness"]},
}


# ------------------------------------------------------------------------------- helpers


def cohort_of(rows):
    return pd.DataFrame(rows, columns=["patient_id", *PATH_COLUMNS])


def save(data, affine, path):
    nib.save(nib.Nifti1Image(data, affine), path)
    return str(path)


@pytest.fixture(scope="module")
def cohort(tmp_path_factory):
    """9 synthetic patients of the three centres (RAS, LPS and LAS storage)."""
    return make_tace_cohort(tmp_path_factory.mktemp("radiomics_cohort"),
                            n_per_center=(5, 2, 2), image_shape=(32, 32, 8), random_state=3)


@pytest.fixture(scope="module")
def fast_features(cohort):
    extractor = RadiomicsExtractor(settings=FAST_SETTINGS)
    return extractor, extractor.fit_transform(cohort)


@pytest.fixture
def extractions(monkeypatch):
    """Mask paths of the patients extracted so far (in this process: n_jobs=1)."""
    calls = []
    original = radiomics_module.extract_radiomics

    def counted(image_paths, mask_path, *args):
        calls.append(mask_path)
        return original(image_paths, mask_path, *args)

    monkeypatch.setattr(radiomics_module, "extract_radiomics", counted)
    return calls


def pyradiomics_direct(settings, image_path, mask_path):
    """PyRadiomics on the files themselves, as its users call it."""
    result = RadiomicsFeatureExtractor(settings).execute(image_path, mask_path)
    return {name: float(value) for name, value in result.items()
            if not name.startswith("diagnostics_")}


# --------------------------------------------------------------- the features themselves


@pytest.mark.parametrize("settings", [None, FAST_SETTINGS], ids=["default", "fast"])
def test_features_are_pyradiomics_own_on_the_same_files(cohort, settings):
    # One patient stored RAS (centre 1) and one LAS (centre 3).
    patients = cohort.groupby("center").head(1).iloc[[0, 2]]
    extractor = RadiomicsExtractor(settings=settings).set_output(transform="pandas")
    ours = extractor.fit_transform(patients)
    reference_settings = default_radiomics_settings() if settings is None else settings
    for position, row in enumerate(patients.itertuples()):
        expected = {}
        for prefix, column in (("t1c", "t1c_path"), ("t2", "t2_path")):
            direct = pyradiomics_direct(reference_settings, getattr(row, column),
                                        row.mask_path)
            for name, value in direct.items():
                is_shape = name.split("_")[1] in SHAPE_CLASSES
                owner = "mask" if is_shape else prefix
                if is_shape and f"{owner}_{name}" in expected:
                    # Shape from either sequence's run: the mask is the same.
                    assert expected[f"{owner}_{name}"] == value
                expected[f"{owner}_{name}"] = value
        assert sorted(ours.columns) == sorted(expected)
        got = ours.iloc[position]
        np.testing.assert_array_equal(got[list(expected)].to_numpy(dtype=float),
                                      np.array(list(expected.values())))
    assert extractor.get_feature_names_out().tolist() == ours.columns.tolist()


def test_default_settings_are_pyradiomics_mri_example_with_all_texture_classes():
    settings = default_radiomics_settings()
    assert settings["setting"]["normalize"] is True
    assert settings["setting"]["resampledPixelSpacing"] == [2.0, 2.0, 2.0]
    assert set(settings["featureClass"]) == {"shape", "firstorder", "glcm", "glrlm", "glszm",
                                             "gldm", "ngtdm"}
    # Every GLCM feature but Sum Average and MCC, by PyRadiomics' own list.
    available = getFeatureClasses()["glcm"].getFeatureNames()
    enabled = {name for name, deprecated in available.items() if not deprecated}
    assert set(settings["featureClass"]["glcm"]) == enabled - {"SumAverage", "MCC"}
    settings["setting"]["binWidth"] = 1.0   # a fresh copy each call
    assert default_radiomics_settings()["setting"]["binWidth"] == 5.0


def first_order_by_numpy(values, bin_counts, voxel_volume):
    """PyRadiomics' first-order definitions (pyradiomics.readthedocs.io, 'First Order
    Features'), written out with numpy for the voxels of the region, no shift."""
    x = values.astype(np.float64)
    mean = x.mean()
    p10, p25, p75, p90 = np.percentile(x, [10, 25, 75, 90])
    robust = x[(x >= p10) & (x <= p90)]
    central = x - mean
    p = bin_counts / bin_counts.sum()
    return {
        "Mean": mean, "Median": np.median(x), "Minimum": x.min(), "Maximum": x.max(),
        "Range": np.ptp(x), "10Percentile": p10, "90Percentile": p90,
        "InterquartileRange": p75 - p25, "Variance": (central**2).mean(),
        "MeanAbsoluteDeviation": np.abs(central).mean(),
        "RobustMeanAbsoluteDeviation": np.abs(robust - robust.mean()).mean(),
        "RootMeanSquared": np.sqrt((x**2).mean()), "Energy": (x**2).sum(),
        "TotalEnergy": (x**2).sum() * voxel_volume,
        "Skewness": (central**3).mean() / (central**2).mean() ** 1.5,
        "Kurtosis": (central**4).mean() / (central**2).mean() ** 2,
        "Entropy": -(p * np.log2(p)).sum(), "Uniformity": (p**2).sum(),
    }


def test_first_order_features_match_numpy_formulas_on_a_tiny_volume(tmp_path):
    rng = np.random.default_rng(7)
    volume = rng.integers(0, 40, size=(12, 10, 6)).astype(np.int16)
    mask = np.zeros(volume.shape, dtype=np.uint8)
    mask[3:9, 2:8, 1:5] = 1
    mask[3, 2, 1] = 0
    # Stored with flipped x and y axes and unequal spacing: only the voxel size matters.
    affine = np.diag([-0.8, -0.9, 2.5, 1.0])
    affine[:3, 3] = [10.0, 20.0, -5.0]
    row = {"patient_id": "tiny", "t1c_path": save(volume, affine, tmp_path / "t1c.nii.gz"),
           "mask_path": save(mask, affine, tmp_path / "mask.nii.gz")}
    settings = {"setting": {"binWidth": 1, "voxelArrayShift": 0},
                "featureClass": {"firstorder": [], "shape": ["VoxelVolume"]}}
    extractor = RadiomicsExtractor(image_columns=["t1c_path"], settings=settings)
    extractor.set_output(transform="pandas")
    features = extractor.fit_transform(pd.DataFrame([row])).iloc[0]
    values = volume[mask == 1]
    # The voxel size as stored (float32 in the header), as any reader sees it.
    voxel_volume = float(np.prod(nib.load(row["mask_path"]).header.get_zooms(),
                                 dtype=np.float64))
    # Integer intensities and a bin width of 1: one grey level per value.
    _, counts = np.unique(values, return_counts=True)
    expected = first_order_by_numpy(values, counts, voxel_volume)
    assert {f"t1c_original_firstorder_{n}" for n in expected} == {
        n for n in features.index if "firstorder" in n}
    for name, value in expected.items():
        assert features[f"t1c_original_firstorder_{name}"] == pytest.approx(value, rel=1e-9), name
    assert features["mask_original_shape_VoxelVolume"] == pytest.approx(
        values.size * voxel_volume, rel=1e-12)


def test_simpleitk_image_has_the_geometry_itk_reads_from_the_file():
    # nibabel's anatomical.nii (LAS storage), read by SimpleITK's own NIfTI reader.
    path = str(Path(data_path) / "anatomical.nii")
    image = nib.load(path)
    ours = radiomics_module._as_simpleitk(np.asarray(image.dataobj, dtype=np.float32),
                                          image.affine)
    itk = sitk.ReadImage(path)
    np.testing.assert_allclose(ours.GetSpacing(), itk.GetSpacing(), atol=1e-6)
    np.testing.assert_allclose(ours.GetOrigin(), itk.GetOrigin(), atol=1e-5)
    np.testing.assert_allclose(ours.GetDirection(), itk.GetDirection(), atol=1e-6)
    np.testing.assert_array_equal(sitk.GetArrayFromImage(ours),
                                  sitk.GetArrayFromImage(itk).astype(np.float32))


def test_output_names_index_and_pandas_output(cohort, fast_features):
    extractor, features = fast_features
    names = extractor.get_feature_names_out()
    assert features.dtype == np.float64
    assert features.shape == (len(cohort), len(names))
    assert {n for n in names if "_shape_" in n} == {"mask_original_shape_Sphericity",
                                                    "mask_original_shape_VoxelVolume"}
    assert sum(n.startswith("t1c_original_") for n in names) == sum(
        n.startswith("t2_original_") for n in names) == 18 + 6
    # Pandas output keeps the input's index, whatever it is.
    shuffled = cohort.iloc[::-1].set_index(cohort["patient_id"].iloc[::-1].to_numpy())
    table = clone(extractor).set_output(transform="pandas").fit(cohort).transform(shuffled)
    assert isinstance(table, pd.DataFrame)
    assert table.index.tolist() == shuffled.index.tolist()
    assert table.columns.tolist() == names.tolist()
    np.testing.assert_array_equal(table.to_numpy(), features[::-1])
    # Outcome columns are not needed after fitting; an empty cohort gives no rows.
    assert extractor.transform(cohort[["patient_id", *PATH_COLUMNS]]).shape == features.shape
    assert extractor.transform(cohort.iloc[:0]).shape == (0, len(names))


def test_fit_then_transform_equals_fit_transform_and_transform_changes_nothing(cohort,
                                                                               fast_features):
    extractor, features = fast_features
    before = joblib.hash(vars(extractor))
    np.testing.assert_array_equal(extractor.transform(cohort), features)
    assert joblib.hash(vars(extractor)) == before
    fitted = RadiomicsExtractor(settings=FAST_SETTINGS).fit(cohort)
    np.testing.assert_array_equal(fitted.transform(cohort), features)
    assert fitted.n_features_in_ == cohort.shape[1]
    assert fitted.feature_names_in_.tolist() == cohort.columns.tolist()
    json.dumps(fitted.settings_)  # plain data, as a saved model needs


# ----------------------------------------------------------------------------- settings


def test_yaml_file_dict_and_pyradiomics_defaults(cohort, tmp_path):
    yaml = pytest.importorskip("yaml")
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(FAST_SETTINGS))
    patients = cohort.head(2)
    assert list(yaml.safe_load(path.read_text())["featureClass"]) != list(
        FAST_SETTINGS["featureClass"])  # PyYAML sorts the keys: the same settings reordered
    from_file = RadiomicsExtractor(settings=path).fit(patients)
    from_dict = RadiomicsExtractor(settings=FAST_SETTINGS).fit(patients)
    assert from_file.settings_ == from_dict.settings_
    np.testing.assert_array_equal(from_file.get_feature_names_out(),
                                  from_dict.get_feature_names_out())
    np.testing.assert_array_equal(from_file.transform(patients), from_dict.transform(patients))
    # Empty sections mean what they mean to PyRadiomics: the original image, every class
    # (shape2D only in a forced 2D extraction).
    bare = RadiomicsExtractor(settings={"setting": {"binWidth": 25}}).fit(patients.head(1))
    assert bare.settings_["imageType"] == {"Original": {}}
    assert set(bare.settings_["featureClass"]) == set(getFeatureClasses()) - {"shape2D"}
    assert bare.settings_["setting"]["additionalInfo"] is False


@pytest.mark.parametrize(("settings", "error", "message"), [
    ({"setting": {"binWidth": -1}}, ValueError, "binWidth"),
    ({"settings": {"binWidth": 25}}, ValueError, "settings"),
    ({"featureClass": {"texture": []}}, ValueError, "texture"),
    ({"featureClass": {"glcm": ["Contrastt"]}}, ValueError, "Contrastt"),
    ({"imageType": {"Gabor": {}}}, ValueError, "Gabor"),
    ({"setting": {"label": 2}}, ValueError, "label must be 1"),
    ("no/such/params.yaml", FileNotFoundError, "no/such/params.yaml"),
])
def test_bad_settings_are_refused_in_fit_by_name(cohort, settings, error, message):
    with pytest.raises(error, match=message):
        RadiomicsExtractor(settings=settings).fit(cohort.head(1))


def test_settings_file_that_is_not_a_mapping(cohort, tmp_path):
    path = tmp_path / "list.yaml"
    path.write_text("- binWidth\n- 25\n")
    with pytest.raises(ValueError, match=f"{path}.*mapping"):
        RadiomicsExtractor(settings=str(path)).fit(cohort.head(1))


def test_pyradiomics_log_is_quiet_during_extraction_and_restored_after(cohort, caplog):
    logger = logging.getLogger("radiomics")
    level = logger.level
    root_level = logging.getLogger().level
    with caplog.at_level(logging.DEBUG):   # the user asks for everything on the root logger
        logger.setLevel(logging.INFO)      # as PyRadiomics leaves itself when imported
        RadiomicsExtractor(settings=FAST_SETTINGS, n_jobs=1).fit_transform(cohort.head(2))
        assert logger.level == logging.INFO
        radiomics_records = [r for r in caplog.records if r.name.startswith("radiomics")]
        assert all(r.levelno >= logging.WARNING for r in radiomics_records)
        # Without the extractor the same call to PyRadiomics logs at INFO: the test can fail.
        row = cohort.iloc[0]
        pyradiomics_direct(FAST_SETTINGS, row.t1c_path, row.mask_path)
        assert any(r.name.startswith("radiomics") and r.levelno == logging.INFO
                   for r in caplog.records)
    logger.setLevel(level)
    assert logging.getLogger().level == root_level


# ------------------------------------------------------------------ cache and parallelism


def test_cache_hit_is_identical_and_skips_extraction(cohort, tmp_path, extractions,
                                                     fast_features):
    _, expected = fast_features
    cache = tmp_path / "cache"
    extractor = RadiomicsExtractor(settings=FAST_SETTINGS, memory=cache)
    first = extractor.fit_transform(cohort)
    assert len(extractions) == len(cohort)
    np.testing.assert_array_equal(first, expected)
    second = clone(extractor).fit_transform(cohort)
    assert len(extractions) == len(cohort)   # every patient came from the cache
    np.testing.assert_array_equal(second, expected)
    entries = sorted((cache / "radiomics").glob("*/*/entry.json"))
    assert len(entries) == len(cohort)
    meta = json.loads(entries[0].read_text())["meta"]
    assert sorted(meta["names"]) == sorted(extractor.get_feature_names_out())
    # Other settings are other entries; a store object works like its folder.
    other = {**FAST_SETTINGS, "setting": {**FAST_SETTINGS["setting"], "binWidth": 10}}
    RadiomicsExtractor(settings=other, memory=ContentStore(cache)).fit_transform(cohort.head(2))
    assert len(extractions) == len(cohort) + 2


def test_rewritten_file_is_extracted_again(cohort, tmp_path, extractions):
    rows = []
    for _, row in cohort.head(3).iterrows():
        copy = {"patient_id": row["patient_id"]}
        for column in PATH_COLUMNS:
            image = nib.load(row[column])
            copy[column] = save(np.asanyarray(image.dataobj), image.affine,
                                tmp_path / f"{row['patient_id']}_{column}.nii.gz")
        rows.append(copy)
    patients = cohort_of(rows)
    extractor = RadiomicsExtractor(settings=FAST_SETTINGS, memory=tmp_path / "cache")
    first = extractor.fit_transform(patients)
    t2 = rows[1]["t2_path"]
    image = nib.load(t2)
    nib.save(nib.Nifti1Image(np.sqrt(np.abs(np.asarray(image.dataobj, dtype=float))),
                             image.affine), t2)
    os.utime(t2, ns=(1, 10**18))
    changed = extractor.transform(patients)
    assert extractions[3:] == [os.path.abspath(rows[1]["mask_path"])]
    differs = ~np.all(np.isclose(changed, first, equal_nan=True), axis=1)
    assert differs.tolist() == [False, True, False]
    np.testing.assert_array_equal(changed,
                                  RadiomicsExtractor(settings=FAST_SETTINGS).fit_transform(
                                      patients))


def test_n_jobs_two_and_dask_equal_n_jobs_one(cohort, fast_features):
    _, expected = fast_features
    patients = cohort.head(4)
    two = RadiomicsExtractor(settings=FAST_SETTINGS, n_jobs=2).fit_transform(patients)
    np.testing.assert_array_equal(two, expected[:4])
    distributed = pytest.importorskip("distributed")
    with distributed.Client(processes=False, dashboard_address=None), \
            parallel_config(backend="dask"):
        on_dask = RadiomicsExtractor(settings=FAST_SETTINGS, n_jobs=2).fit_transform(patients)
    np.testing.assert_array_equal(on_dask, expected[:4])


def test_workers_receive_paths_and_settings_only(cohort):
    # The standard pickle refuses closures and lambdas; a few kB means no voxel travelled.
    extractor = RadiomicsExtractor(settings=FAST_SETTINGS).fit(cohort.head(1))
    jobs = extractor._jobs(cohort, extractor.settings_)
    payload = pickle.dumps((radiomics_module._extract_or_report, jobs[0]))
    assert len(payload) < 4096
    function, job = pickle.loads(payload)
    (names, values), error = function(job)
    assert error is None
    assert names == extractor.get_feature_names_out().tolist()


# ----------------------------------------------------------------------------- bad input


def _break(kind, good, folder):
    """A patient whose mask is broken in one way; returns (row, offending file)."""
    row = dict(good, patient_id=f"BAD_{kind}")
    mask = nib.load(good["mask_path"])
    data, affine = np.asanyarray(mask.dataobj).copy(), mask.affine.copy()
    target = folder / f"{kind}.nii.gz"
    if kind == "empty":
        data[:] = 0
    elif kind == "not_binary":
        data = data * 2
    elif kind == "single_voxel":
        data[:] = 0
        data[16, 16, 4] = 1
    elif kind == "line":
        data[:] = 0
        data[16, 16, 3:6] = 1
    elif kind == "other_shape":
        data = data[:, :, :-1]
    elif kind == "shifted":
        affine[0, 3] += 2.0
    elif kind == "missing":
        target = folder / "nowhere.nii.gz"
        row["mask_path"] = str(target)
        return row, str(target)
    save(data, affine, target)
    row["mask_path"] = str(target)
    return row, str(target)


@pytest.mark.parametrize(("kind", "error", "message"), [
    ("empty", ValueError, "mask is empty"),
    ("not_binary", ValueError, "only 0 and 1"),
    ("single_voxel", ValueError, "too small for texture features.*single voxel"),
    ("line", ValueError, "too small for texture features.*too few dimensions"),
    ("other_shape", ValueError, "shape .* voxel grid"),
    ("shifted", ValueError, "different affines"),
    ("missing", FileNotFoundError, "not found"),
])
def test_bad_mask_names_patient_column_and_file(cohort, tmp_path, kind, error, message):
    good = cohort.iloc[0][["patient_id", *PATH_COLUMNS]].to_dict()
    bad, offending = _break(kind, good, tmp_path)
    extractor = RadiomicsExtractor(settings=FAST_SETTINGS, memory=tmp_path / "cache")
    extractor.fit(cohort_of([good]))
    with pytest.raises(error, match=message) as info:
        extractor.transform(cohort_of([good, bad]))
    text = str(info.value)
    assert f"patient BAD_{kind}" in text
    assert offending in text
    assert f"patient BAD_{kind}" in text
    assert "column 'mask_path'" in text
    assert f"patient {good['patient_id']}" not in text
    # Nothing of the bad patient reached the cache.
    assert len(list((tmp_path / "cache" / "radiomics").glob("*/*/entry.json"))) == 1


def test_every_bad_patient_is_listed_at_once(cohort, tmp_path):
    rows = [cohort.iloc[i][["patient_id", *PATH_COLUMNS]].to_dict() for i in range(4)]
    rows[0], _ = _break("empty", rows[0], tmp_path)
    rows[2], _ = _break("single_voxel", rows[2], tmp_path)
    rows[3], _ = _break("not_binary", rows[3], tmp_path)
    with pytest.raises(ValueError, match="3 patient") as info:
        RadiomicsExtractor(settings=FAST_SETTINGS).fit_transform(cohort_of(rows))
    text = str(info.value)
    for kind in ("empty", "single_voxel", "not_binary"):
        assert f"patient BAD_{kind}" in text
    assert "column 'mask_path'" in text
    assert f"patient {rows[1]['patient_id']}" not in text


def test_features_unlike_those_of_fit_are_refused_by_patient(cohort, fast_features,
                                                             monkeypatch):
    extractor, _ = fast_features
    original = radiomics_module.extract_radiomics
    odd_one = os.path.abspath(cohort.loc[1, "mask_path"])

    def skipping(image_paths, mask_path, *args):
        names, values = original(image_paths, mask_path, *args)
        return (names[1:], values[1:]) if mask_path == odd_one else (names, values)

    monkeypatch.setattr(radiomics_module, "extract_radiomics", skipping)
    with pytest.raises(ValueError, match="1 patient") as info:
        extractor.transform(cohort.head(3))
    assert f"patient {cohort.loc[1, 'patient_id']}: its features differ" in str(info.value)
    assert names_in(str(info.value)) == [extractor.get_feature_names_out()[0]]


def names_in(text):
    return text.split("lacks ")[1].split(")")[0].split(", ")


@pytest.mark.parametrize(("params", "message"), [
    ({"image_columns": "t1c_path"}, "image_columns"),
    ({"image_columns": ("t1c_path", "t1c_path")}, "twice"),
    ({"image_columns": ("t1c", "t1c_path")}, "same feature prefix"),
    ({"mask_column": "tumour_mask"}, "tumour_mask"),
    ({"settings": 3}, "settings"),
    ({"memory": 3}, "memory"),
])
def test_bad_parameters_are_refused_in_fit(cohort, params, message):
    with pytest.raises(ValueError, match=message):
        RadiomicsExtractor(**params).fit(cohort.head(1))


def test_bad_containers_and_unfitted_use(cohort):
    with pytest.raises(TypeError, match="DataFrame"):
        RadiomicsExtractor().fit(cohort[PATH_COLUMNS].to_numpy())
    with pytest.raises(ValueError, match="patient_id"):
        RadiomicsExtractor().fit(cohort[PATH_COLUMNS])
    with pytest.raises(ValueError, match="at least one patient"):
        RadiomicsExtractor().fit(cohort.iloc[:0])
    with pytest.raises(NotFittedError):
        RadiomicsExtractor().get_feature_names_out()


def test_importing_tacelearn_transformers_imports_no_pyradiomics():
    code = ("import sys, tacelearn.transformers, tacelearn.estimators; "
            "heavy = {'radiomics', 'SimpleITK', 'torch', 'yaml'} & set(sys.modules); "
            "assert not heavy, heavy")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr


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


@parametrize_with_checks([RadiomicsExtractor()], expected_failed_checks=lambda estimator: {
    name: _TAKES_COHORT_PATHS for name in _DATA_CHECKS})
def test_sklearn_api_checks(estimator, check):
    check(estimator)
