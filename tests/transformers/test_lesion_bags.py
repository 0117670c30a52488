"""Lesion bags: packing by hand, the extractor's bag mode, and their place in pipelines."""

from __future__ import annotations

import nibabel as nib
import numpy as np
import pandas as pd
import pytest
from scipy import ndimage
from sklearn.model_selection import KFold
from sklearn.utils import _safe_indexing

from tacelearn.transformers import TumourPatchExtractor, make_lesion_bags, unpack_lesion_bags


@pytest.fixture(scope="module")
def multifocal(tiny_cohort):
    """Patients with one and with several lesions in their masks."""
    return tiny_cohort.head(8).reset_index(drop=True)


def test_bags_hold_each_patients_lesions_in_order(multifocal):
    per_lesion = TumourPatchExtractor(size=16, lesion="all").fit(multifocal)
    patches, lesions = per_lesion.extract(multifocal)
    bags = TumourPatchExtractor(size=16, lesion="bags").fit_transform(multifocal)
    assert bags.shape == (len(multifocal),)
    counts = lesions.groupby("patient_id", sort=False).size().to_numpy()
    assert counts.max() > 1                      # the cohort has multifocal patients
    assert bags["patches"].shape == (len(multifocal), counts.max(), 2, 16, 16)
    row = 0
    for patient, count in enumerate(counts):
        for slot in range(bags["patches"].shape[1]):
            if slot < count:
                np.testing.assert_array_equal(bags["patches"][patient, slot], patches[row])
                assert bags["volume_ml"][patient, slot] == lesions.loc[row, "volume_ml"]
                row += 1
            else:
                assert not bags["patches"][patient, slot].any()
                assert bags["volume_ml"][patient, slot] == 0.0
    # Volumes are the connected components of each mask, largest first.
    for patient, path in enumerate(multifocal["mask_path"]):
        mask = nib.load(path).get_fdata() > 0
        labels, n = ndimage.label(mask, structure=np.ones((3, 3, 3)))
        sizes = np.sort(np.bincount(labels.ravel())[1:])[::-1]
        voxel_ml = abs(np.linalg.det(nib.load(path).affine[:3, :3])) / 1000
        np.testing.assert_allclose(bags["volume_ml"][patient, :n], sizes * voxel_ml)


def test_max_lesions_keeps_the_largest(multifocal):
    full = TumourPatchExtractor(size=16, lesion="bags").fit_transform(multifocal)
    two = TumourPatchExtractor(size=16, lesion="bags", max_lesions=2).fit_transform(multifocal)
    assert two["patches"].shape[1] == 2
    np.testing.assert_array_equal(two["patches"], full["patches"][:, :2])
    np.testing.assert_array_equal(two["volume_ml"], full["volume_ml"][:, :2])
    capped = TumourPatchExtractor(size=16, lesion="all", max_lesions=1).fit(multifocal)
    assert capped.extract(multifocal).lesions["lesion"].eq(0).all()


def test_bags_split_like_arrays_by_patient(multifocal):
    bags = TumourPatchExtractor(size=8, lesion="bags").fit_transform(multifocal)
    for _train, test in KFold(3).split(bags):
        subset = _safe_indexing(bags, test)
        assert len(subset) == len(test)
        np.testing.assert_array_equal(subset["volume_ml"], bags["volume_ml"][test])


def test_make_and_unpack_by_hand():
    patches = np.arange(5 * 1 * 2 * 2, dtype=np.float32).reshape(5, 1, 2, 2)
    lesions = pd.DataFrame({"lesion": [0, 0, 1, 2, 0], "volume_ml": [1.0, 5.0, 2.0, 0.5, 3.0]})
    bags = make_lesion_bags(patches, lesions)
    unpacked, volumes = unpack_lesion_bags(bags)
    assert unpacked.shape == (3, 3, 1, 2, 2)
    np.testing.assert_array_equal(unpacked[1], patches[1:4])
    np.testing.assert_array_equal(unpacked[0, 0], patches[0])
    assert not unpacked[0, 1:].any()
    np.testing.assert_array_equal(volumes, [[1, 0, 0], [5, 2, 0.5], [3, 0, 0]])
    assert unpacked.flags.c_contiguous
    assert unpacked.flags.writeable


def test_bad_bags_are_refused_with_the_rows_named():
    patches = np.ones((3, 1, 2, 2), dtype=np.float32)
    with pytest.raises(ValueError, match="numbered 0, 1, ..."):
        make_lesion_bags(patches, pd.DataFrame({"lesion": [0, 2, 0], "volume_ml": [1.0] * 3}))
    with pytest.raises(ValueError, match="one row per patch"):
        make_lesion_bags(patches, pd.DataFrame({"lesion": [0, 1], "volume_ml": [1.0] * 2}))
    with pytest.raises(ValueError, match="positive"):
        make_lesion_bags(patches, pd.DataFrame({"lesion": [0, 1, 0],
                                                "volume_ml": [1.0, 0.0, 1.0]}))
    bags = make_lesion_bags(patches, pd.DataFrame({"lesion": [0, 1, 0],
                                                   "volume_ml": [1.0, 2.0, 1.0]}))
    broken = bags.copy()
    broken["patches"][1, 0, 0, 0, 0] = np.nan
    broken["volume_ml"][0] = 0.0
    with pytest.raises(ValueError, match=r"NaN or infinite patch values in row\(s\) \[1\]; "
                                         r".*no lesion .* in row\(s\) \[0\]"):
        unpack_lesion_bags(broken)
    with pytest.raises(TypeError, match="expected lesion bags"):
        unpack_lesion_bags(patches)
