"""Issue 11 findings 6, 10, 11 and 12 for the patch extractor: a shared cache never runs code
or hands out a wrong patch, and hostile or broken files are refused by name, cheaply."""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import tracemalloc
from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd
import pytest
from safetensors.numpy import load_file, save_file

from tacelearn.transformers import TumourPatchExtractor
from tacelearn.utils import CacheWarning

PATH_COLUMNS = ["t1c_path", "t2_path", "mask_path"]


@pytest.fixture
def two(tiny_cohort):
    return tiny_cohort.head(2)[["patient_id", *PATH_COLUMNS]].reset_index(drop=True)


class _Payload:
    """Unpickling this writes a marker file: proof that a pickle was loaded."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (Path(self.marker).write_text, ("pwned",))


def _entries(cache):
    return sorted(p.parent for p in (cache / "patches").rglob("entry.json"))


def _reseal(entry, data):
    """Write ``data`` as the entry's arrays with a matching checksum: a consistent forgery."""
    (entry / "arrays.safetensors").write_bytes(data)
    record = json.loads((entry / "entry.json").read_text())
    record["sha256"] = hashlib.sha256(data).hexdigest()
    (entry / "entry.json").write_text(json.dumps(record))


# ------------------------------------------------------------------------- finding 6: caches
def test_a_pickle_planted_in_the_cache_is_never_loaded(two, tmp_path):
    expected = TumourPatchExtractor(size=16).fit_transform(two)
    cache = tmp_path / "cache"
    extractor = TumourPatchExtractor(size=16, memory=cache).fit(two)
    extractor.transform(two)
    marker = tmp_path / "marker"
    payload = pickle.dumps(_Payload(marker))
    # Where joblib's cache kept its results, and inside a real entry with its checksum fixed.
    for entry in _entries(cache):
        (entry / "output.pkl").write_bytes(payload)
    _reseal(_entries(cache)[0], payload)
    with pytest.warns(CacheWarning, match="not readable"):
        patches = extractor.transform(two)
    np.testing.assert_array_equal(patches, expected)
    assert not marker.exists()


def test_a_consistent_entry_of_zeros_is_discarded_and_recomputed(two, tmp_path):
    expected = TumourPatchExtractor(size=16).fit_transform(two)
    cache = tmp_path / "cache"
    extractor = TumourPatchExtractor(size=16, memory=cache).fit(two)
    extractor.transform(two)
    entry = _entries(cache)[1]
    arrays = load_file(entry / "arrays.safetensors")
    arrays["patches"] = np.zeros_like(arrays["patches"])
    save_file(arrays, tmp_path / "zeros.safetensors")
    _reseal(entry, (tmp_path / "zeros.safetensors").read_bytes())
    with pytest.warns(CacheWarning, match="blank"):
        patches = extractor.transform(two)
    np.testing.assert_array_equal(patches, expected)


def test_a_truncated_entry_is_named_and_recomputed(two, tmp_path):
    expected = TumourPatchExtractor(size=16).fit_transform(two)
    cache = tmp_path / "cache"
    extractor = TumourPatchExtractor(size=16, memory=cache).fit(two)
    extractor.transform(two)
    entry = _entries(cache)[0]
    data = (entry / "arrays.safetensors").read_bytes()
    (entry / "arrays.safetensors").write_bytes(data[: len(data) // 3])
    with pytest.warns(CacheWarning, match=str(entry)):
        np.testing.assert_array_equal(extractor.transform(two), expected)
    assert len(_entries(cache)) == 2  # healed


# ------------------------------------------------------------ finding 11: every OSError named
@pytest.mark.parametrize("kind", ["loop", "too_long", "nul"])
def test_unreadable_paths_are_named_with_patient_and_column(two, tmp_path, kind):
    bad = two.copy()
    if kind == "loop":
        os.symlink(tmp_path / "b.nii.gz", tmp_path / "a.nii.gz")
        os.symlink(tmp_path / "a.nii.gz", tmp_path / "b.nii.gz")
        path, reason = str(tmp_path / "a.nii.gz"), "symbolic links"
    elif kind == "too_long":
        path, reason = str(tmp_path / ("x" * 300 + ".nii.gz")), "too long"
    else:
        path, reason = str(tmp_path / "bad\0name.nii.gz"), "null"
    bad.loc[1, "t2_path"] = path
    extractor = TumourPatchExtractor(size=16).fit(two)
    with pytest.raises(ValueError, match=reason) as info:
        extractor.transform(bad)
    text = str(info.value)
    assert f"patient {bad.loc[1, 'patient_id']}" in text
    assert "column 't2_path'" in text
    assert f"patient {bad.loc[0, 'patient_id']}" not in text


# ------------------------------------------------- findings 10 and 12: headers that lie
def _header_only(path, shape, zooms=(1.0, 1.0, 1.0)):
    header = nib.Nifti1Header()
    header.set_data_shape(shape)
    header.set_data_dtype(np.float32)
    header.set_zooms(zooms)
    header.set_qform(np.diag([*zooms, 1.0]), code=1)
    header.set_sform(np.diag([*zooms, 1.0]), code=1)
    path.write_bytes(header.binaryblock + b"\0" * 4)  # 352 bytes: a header and no voxels
    return path


@pytest.mark.parametrize(("shape", "message"), [
    ((640, 640, 640), "does not hold them"),           # claims 1 GiB of float32
    ((4000, 4000, 4000), "more than the 536,870,912"),  # claims 238 TiB
])
def test_a_header_that_promises_huge_volumes_fails_by_name_without_allocating(
        two, tmp_path, shape, message):
    bad = two.copy()
    bad.loc[0, "t1c_path"] = str(_header_only(tmp_path / "huge.nii", shape))
    extractor = TumourPatchExtractor(size=16).fit(two)
    tracemalloc.start()
    try:
        with pytest.raises(ValueError, match=message) as info:
            extractor.transform(bad)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 50 * 2**20  # the voxels the header promises are never allocated
    assert f"patient {bad.loc[0, 'patient_id']}, column 't1c_path'" in str(info.value)


def test_an_absurd_spacing_is_refused_by_name(two, tmp_path):
    row = two.iloc[0]
    bad = two.copy()
    for column in PATH_COLUMNS:  # y spacing x1000 in every file, consistently
        image = nib.load(row[column])
        affine = image.affine.copy()
        affine[:3, 1] *= 1000.0
        target = tmp_path / f"{column}.nii.gz"
        nib.save(nib.Nifti1Image(np.asanyarray(image.dataobj), affine), target)
        bad.loc[0, column] = str(target)
    extractor = TumourPatchExtractor(size=16).fit(two)
    with pytest.raises(ValueError, match="outside the plausible range") as info:
        extractor.transform(bad)
    assert f"patient {bad.loc[0, 'patient_id']}" in str(info.value)


def test_the_cohort_with_lying_files_writes_nothing_to_the_cache(two, tmp_path):
    bad = pd.concat([two, two.iloc[[0]].assign(patient_id="LIAR")], ignore_index=True)
    bad.loc[2, "mask_path"] = str(_header_only(tmp_path / "mask.nii", (640, 640, 640)))
    cache = tmp_path / "cache"
    with pytest.raises(ValueError, match="LIAR"):
        TumourPatchExtractor(size=16, memory=cache).fit_transform(bad)
    assert len(_entries(cache)) == 2  # the two valid patients only
