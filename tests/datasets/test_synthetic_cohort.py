import nibabel as nib
import numpy as np
import pandas as pd
import pytest
from scipy import ndimage, stats
from sklearn.compose import make_column_transformer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from tacelearn.datasets import make_tace_cohort, read_cohort

TRAINING = ("train", "internal_validation")
EXTERNAL = ("external_1", "external_2")


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    folder = tmp_path_factory.mktemp("small")
    return folder, make_tace_cohort(folder, n_per_center=(10, 6, 6), image_shape=(32, 32, 8),
                                    random_state=3)


def _voxels(cohort, column):
    return [np.asarray(nib.load(p).dataobj) for p in cohort[column]]


def test_same_seed_same_manifest_and_voxels(small, tmp_path):
    _, first = small
    second = make_tace_cohort(tmp_path, n_per_center=(10, 6, 6), image_shape=(32, 32, 8),
                              random_state=3, n_jobs=2)
    paths = ["t1c_path", "t2_path", "mask_path"]
    pd.testing.assert_frame_equal(first.drop(columns=paths), second.drop(columns=paths))
    for column in paths:
        for a, b in zip(_voxels(first, column), _voxels(second, column)):
            np.testing.assert_array_equal(a, b)


def test_other_seed_differs(small, tmp_path):
    _, first = small
    other = make_tace_cohort(tmp_path, n_per_center=(10, 6, 6), image_shape=(32, 32, 8),
                             random_state=4)
    assert not np.allclose(first["age"], other["age"])


def test_manifest_reads_back_unchanged(small):
    folder, cohort = small
    pd.testing.assert_frame_equal(read_cohort(folder / "cohort.csv"), cohort)
    raw = pd.read_csv(folder / "cohort.csv")
    assert raw["t1c_path"].str.startswith("images/").all()  # relative: the folder can move


def test_nifti_files_are_consistent(small):
    _, cohort = small
    expected_codes = {"center_1": ("R", "A", "S"), "center_2": ("L", "P", "S"),
                      "center_3": ("L", "A", "S")}
    spacing = {}
    for patient in cohort.itertuples():
        t1c, t2, mask = (nib.load(getattr(patient, c)) for c in ("t1c_path", "t2_path",
                                                                 "mask_path"))
        assert t1c.shape == t2.shape == mask.shape == (32, 32, 8)
        np.testing.assert_allclose(t1c.affine, mask.affine)
        np.testing.assert_allclose(t2.affine, mask.affine)
        assert nib.aff2axcodes(t1c.affine) == expected_codes[patient.center]
        labels = np.unique(np.asarray(mask.dataobj))
        assert set(labels) == {0, 1}
        spacing[patient.center] = tuple(np.round(t1c.header.get_zooms(), 3))
    assert len(set(spacing.values())) == 3  # voxel spacing differs by centre


def test_invalid_arguments_refused_before_writing(tmp_path):
    target = tmp_path / "never"
    with pytest.raises(ValueError, match="n_per_center"):
        make_tace_cohort(target, n_per_center=(1, 5, 5))
    with pytest.raises(ValueError, match="image_shape"):
        make_tace_cohort(target, image_shape=(8, 8))
    with pytest.raises(TypeError, match="n_per_center"):
        make_tace_cohort(target, n_per_center="many")
    assert not target.exists()


def test_default_split_sizes_follow_the_paper(synthetic_cohort):
    counts = synthetic_cohort["split"].value_counts().to_dict()
    assert counts == {"train": 168, "internal_validation": 42, "external_1": 189,
                      "external_2": 74}
    assert synthetic_cohort.groupby("split")["center"].nunique().eq(1).all()


# The paper's Table 1 (issue 2): proportions the generator must reproduce.
PAPER_RATES = {
    "male": 0.86, "bclc_b_or_c": 0.61, "multiple": 0.70, "alt_above_50": 0.26,
    "ascites": 0.23, "portal_vein_invasion": 0.21, "child_pugh_b": 0.25, "ctace": 0.73,
}


def _rates(df):
    return {
        "male": (df["sex"] == "male").mean(),
        "bclc_b_or_c": df["bclc"].isin(["B", "C"]).mean(),
        "multiple": (df["tumour_number"] > 1).mean(),
        "alt_above_50": (df["alt"] > 50).mean(),
        "ascites": df["ascites"].mean(),
        "portal_vein_invasion": df["portal_vein_invasion"].mean(),
        "child_pugh_b": (df["child_pugh"] == "B").mean(),
        "ctace": (df["tace_type"] == "cTACE").mean(),
    }


@pytest.mark.parametrize("split", [None, "train", "internal_validation", "external_1",
                                   "external_2"])
def test_clinical_marginals_within_sampling_error(synthetic_cohort, split):
    df = synthetic_cohort if split is None else synthetic_cohort[synthetic_cohort.split == split]
    n = len(df)
    for name, observed in _rates(df).items():
        expected = PAPER_RATES[name]
        standard_error = np.sqrt(expected * (1 - expected) / n)
        assert abs(observed - expected) < 3.5 * standard_error, (name, split, observed)
    median = df["tumour_diameter"].median()
    assert 4.0 < median < 6.2 if split is None else 3.0 < median < 7.5


def _hanley_mcneil_se(auc, n_pos, n_neg):
    q1, q2 = auc / (2 - auc), 2 * auc**2 / (1 + auc)
    return np.sqrt((auc * (1 - auc) + (n_pos - 1) * (q1 - auc**2)
                    + (n_neg - 1) * (q2 - auc**2)) / (n_pos * n_neg))


def test_ceiling_auc_in_range(synthetic_cohort):
    y, p = synthetic_cohort["objective_response"], synthetic_cohort["true_probability"]
    assert 0.85 <= roc_auc_score(y, p) <= 0.92
    for _, df in synthetic_cohort.groupby("split"):
        auc = roc_auc_score(df["objective_response"], df["true_probability"])
        n_pos = int(df["objective_response"].sum())
        se = _hanley_mcneil_se(auc, n_pos, len(df) - n_pos)
        assert 0.85 - 2.5 * se <= auc <= 0.92 + 2.5 * se


def test_clinical_only_model_stays_clearly_lower(synthetic_cohort):
    from tacelearn.datasets import CLINICAL_COLUMNS, categorical_columns, continuous_columns

    X = synthetic_cohort[list(CLINICAL_COLUMNS)]
    y = synthetic_cohort["objective_response"].astype(int)
    training = synthetic_cohort["split"].isin(TRAINING)
    model = make_pipeline(
        make_column_transformer((OneHotEncoder(handle_unknown="ignore"), categorical_columns()),
                                (StandardScaler(), continuous_columns())),
        LogisticRegression(max_iter=5000),
    ).fit(X[training], y[training])
    for split in EXTERNAL:
        test = synthetic_cohort["split"] == split
        clinical = roc_auc_score(y[test], model.predict_proba(X[test])[:, 1])
        ceiling = roc_auc_score(y[test], synthetic_cohort.loc[test, "true_probability"])
        assert 0.55 <= clinical <= 0.75
        assert clinical < ceiling - 0.12


def test_response_model_uses_the_planted_factors(synthetic_cohort):
    # P(OR) must fall with ALT > 50, ascites, BCLC B/C and portal venous invasion.
    df = synthetic_cohort
    for flag in (df["alt"] > 50, df["ascites"] == 1, df["bclc"].isin(["B", "C"]),
                 df["portal_vein_invasion"] == 1):
        assert df.loc[flag, "true_probability"].mean() < df.loc[~flag, "true_probability"].mean()
    mrecist_or = df["mrecist"].isin(["CR", "PR"]).astype(int)
    assert (mrecist_or == df["objective_response"]).all()


def test_images_show_the_tumours_and_their_biology(synthetic_cohort):
    rows = synthetic_cohort.groupby("center").head(40)
    contrasts, biology = [], []
    for patient in rows.itertuples():
        image = nib.as_closest_canonical(nib.load(patient.t1c_path))
        mask = np.asarray(nib.as_closest_canonical(nib.load(patient.mask_path)).dataobj) > 0
        t1c = np.asarray(image.dataobj, dtype=float)
        components = ndimage.label(mask)[1]
        assert 1 <= components <= min(patient.tumour_number, 4)
        # the largest lesion's in-plane extent follows the recorded diameter (clipped at 9.6 cm)
        largest = ndimage.label(mask)[0]
        sizes = np.bincount(largest.ravel())[1:]
        lesion = largest == (np.argmax(sizes) + 1)
        extent = (np.ptp(np.nonzero(lesion)[0]) + 1) * image.header.get_zooms()[0] / 10
        expected = min(patient.tumour_diameter, 9.6)
        assert abs(extent - expected) < 0.35 * expected + 1.0
        ring = ndimage.binary_dilation(mask, iterations=2) & ~mask
        contrasts.append(t1c[mask].mean() / t1c[ring].mean())
        biology.append(patient.tumour_biology)
    assert stats.spearmanr(contrasts, biology).statistic > 0.5


def test_survival_follows_response(synthetic_cohort):
    from lifelines import CoxPHFitter, KaplanMeierFitter

    df = synthetic_cohort[["pfs_months", "pfs_event", "os_months", "os_event",
                           "objective_response"]].astype(float)
    assert (df["pfs_months"] <= df["os_months"]).all()
    for time, event in (("pfs_months", "pfs_event"), ("os_months", "os_event")):
        cox = CoxPHFitter().fit(df[[time, event, "objective_response"]], time, event)
        hazard_ratio = np.exp(cox.params_["objective_response"])
        assert 0.35 < hazard_ratio < 0.7
    # median follow-up by the reverse Kaplan-Meier method
    follow_up = KaplanMeierFitter().fit(df["os_months"], 1 - df["os_event"])
    assert 45 < follow_up.median_survival_time_ < 62
