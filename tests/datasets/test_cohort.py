import numpy as np
import pandas as pd
import pytest

from tacelearn.datasets import objective_response, read_cohort, validate_cohort


def _cohort(**columns):
    base = {
        "patient_id": ["P1", "P2", "P3"],
        "center": ["A", "A", "B"],
        "split": ["train", "train", "external_1"],
    }
    base.update(columns)
    return pd.DataFrame(base)


@pytest.mark.parametrize(
    ("spelling", "expected"),
    [("CR", 1), ("complete response", 1), ("Complete Response", 1), ("pr", 1),
     ("partial response", 1), (" PR ", 1), ("SD", 0), ("stable disease", 0),
     ("stable-disease", 0), ("PD", 0), ("progressive disease", 0), ("progression", 0)],
)
def test_objective_response_spellings(spelling, expected):
    assert objective_response(spelling) == expected


@pytest.mark.parametrize("bad", ["CRR", "response", "1", "", "NE"])
def test_objective_response_refuses_other_values(bad):
    with pytest.raises(ValueError, match="mRECIST"):
        objective_response(bad)


def test_objective_response_array_keeps_missing():
    result = objective_response(["CR", None, "PD"])
    assert result[0] == 1
    assert result[1] is pd.NA
    assert result[2] == 0


def test_valid_cohort_is_normalised():
    cohort = _cohort(mrecist=["complete response", "sd", None], bclc=[0, "A", "C"],
                     ascites=["1", "0", None], alt=["51", 20, None])
    out = validate_cohort(cohort)
    assert out["mrecist"].tolist() == ["CR", "SD", None]
    assert out["objective_response"].tolist()[:2] == [1, 0]
    assert out["objective_response"].isna().tolist() == [False, False, True]
    assert out["bclc"].tolist() == ["0", "A", "C"]
    assert str(out["ascites"].dtype) == "Int64"
    assert out["alt"].tolist()[:2] == [51.0, 20.0]
    # the input is left untouched
    assert cohort["mrecist"].tolist()[0] == "complete response"


def test_refuses_non_dataframe():
    with pytest.raises(TypeError, match="DataFrame"):
        validate_cohort({"patient_id": ["P1"]})


def test_missing_required_columns_named():
    with pytest.raises(ValueError, match=r"missing required column.*'split'"):
        validate_cohort(pd.DataFrame({"patient_id": ["P1"], "center": ["A"]}))


def test_duplicate_patient_ids_named():
    cohort = _cohort()
    cohort.loc[2, "patient_id"] = "P1"
    with pytest.raises(ValueError, match=r"patient_id.*duplicate.*\[0, 2\].*P1, P1"):
        validate_cohort(cohort)


def test_unknown_category_names_column_row_and_patient():
    with pytest.raises(ValueError, match=r"'child_pugh'.*unknown category.*\[1\].*P2.*'D'"):
        validate_cohort(_cohort(child_pugh=["A", "D", "B"]))


def test_unknown_mrecist_refused():
    with pytest.raises(ValueError, match=r"'mrecist'.*P3"):
        validate_cohort(_cohort(mrecist=["CR", "PD", "maybe"]))


def test_mrecist_disagreeing_with_response_named():
    cohort = _cohort(mrecist=["CR", "PD", "SD"], objective_response=[1, 1, 0])
    with pytest.raises(ValueError, match=r"disagree.*\[1\].*P2"):
        validate_cohort(cohort)


@pytest.mark.parametrize("column", ["pfs_months", "os_months", "age", "alt"])
def test_negative_values_refused(column):
    cohort = _cohort(**{column: [3.0, -1.0, 2.0]})
    with pytest.raises(ValueError, match=rf"'{column}'.*negative.*P2"):
        validate_cohort(cohort)


@pytest.mark.parametrize("column", ["pfs_event", "os_event", "ascites"])
def test_events_outside_zero_one_refused(column):
    with pytest.raises(ValueError, match=rf"'{column}'.*0 or 1.*P3"):
        validate_cohort(_cohort(**{column: [0, 1, 2]}))


def test_text_in_numeric_column_refused():
    with pytest.raises(ValueError, match=r"'afp'.*not a number.*P1.*'high'"):
        validate_cohort(_cohort(afp=["high", 3.0, 2.0]))


def test_fractional_tumour_number_refused():
    with pytest.raises(ValueError, match=r"'tumour_number'.*whole number.*P2"):
        validate_cohort(_cohort(tumour_number=[1, 2.5, 3]))


def test_all_problems_reported_at_once():
    cohort = _cohort(child_pugh=["A", "X", "B"], os_event=[0, 1, 5])
    with pytest.raises(ValueError, match="invalid cohort") as error:
        validate_cohort(cohort)
    assert "child_pugh" in str(error.value)
    assert "os_event" in str(error.value)


def test_missing_image_file_named(tmp_path):
    (tmp_path / "a.nii.gz").write_bytes(b"")
    cohort = _cohort(t1c_path=[str(tmp_path / "a.nii.gz"), str(tmp_path / "gone.nii.gz"), None])
    with pytest.raises(ValueError, match=r"'t1c_path'.*not found.*P2.*gone\.nii\.gz"):
        validate_cohort(cohort)
    assert validate_cohort(cohort, check_files=False)["t1c_path"].iloc[2] is None


def test_read_cohort_resolves_relative_paths(tmp_path):
    images = tmp_path / "images"
    images.mkdir()
    (images / "p1.nii.gz").write_bytes(b"x")
    manifest = tmp_path / "cohort.csv"
    manifest.write_text(
        "patient_id,center,split,t1c_path,bclc,mrecist\n"
        "007,A,train,images/p1.nii.gz,0,PR\n"
        "008,A,train,,B,PD\n"
    )
    cohort = read_cohort(manifest)
    assert cohort["patient_id"].tolist() == ["007", "008"]  # leading zeros kept
    assert cohort["bclc"].tolist() == ["0", "B"]
    assert cohort["t1c_path"].iloc[0] == str((images / "p1.nii.gz").resolve())
    assert cohort["t1c_path"].iloc[1] is None
    assert cohort["objective_response"].tolist() == [1, 0]


def test_read_cohort_errors_name_the_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="nothere.csv"):
        read_cohort(tmp_path / "nothere.csv")
    manifest = tmp_path / "bad.csv"
    manifest.write_text("patient_id,center,split,t2_path\nP1,A,train,images/none.nii.gz\n")
    with pytest.raises(ValueError, match=r"(?s)bad\.csv.*t2_path.*P1"):
        read_cohort(manifest)


def test_probability_above_one_refused():
    with pytest.raises(ValueError, match="true_probability"):
        validate_cohort(_cohort(true_probability=[0.2, 1.5, np.nan]))


# --------------------------------------------------------------- issue 11, finding 12
def test_header_only_manifest_is_refused_clearly(tmp_path):
    manifest = tmp_path / "cohort.csv"
    manifest.write_text("patient_id,center,split,t1c_path,t2_path,mask_path\n")
    with pytest.raises(ValueError, match="no patient rows"):
        read_cohort(manifest)


@pytest.mark.parametrize("split", ["ext/2", "../up", "a b", "ext\\2"])
def test_split_names_that_cannot_name_a_file_are_refused(split):
    cohort = _cohort()
    cohort.loc[1, "split"] = split
    with pytest.raises(ValueError, match=r"column 'split': names may hold only") as info:
        validate_cohort(cohort)
    assert repr(split) in str(info.value)


def test_safe_split_names_pass():
    cohort = _cohort()
    cohort["split"] = ["train", "external_1", "ext-2.v1+b"][: len(cohort)] + ["train"] * (
        len(cohort) - 3)
    validate_cohort(cohort)


@pytest.mark.parametrize(("column", "value"), [("alt", np.inf), ("afp", -np.inf),
                                               ("tumour_biology", np.inf),
                                               ("pfs_months", np.inf)])
def test_infinite_values_are_refused(column, value):
    values = [1.0] * len(_cohort())
    values[1] = value
    with pytest.raises(ValueError, match=rf"column '{column}': infinite value at row\(s\) \[1\]"):
        validate_cohort(_cohort(**{column: values}))


def test_unreadable_image_paths_are_named_with_their_reason(tmp_path):
    (tmp_path / "a.nii.gz").symlink_to(tmp_path / "b.nii.gz")
    (tmp_path / "b.nii.gz").symlink_to(tmp_path / "a.nii.gz")
    cohort = _cohort(t1c_path=[str(tmp_path / "a.nii.gz"), str(tmp_path / ("x" * 300)), None])
    with pytest.raises(ValueError, match="unreadable") as info:
        validate_cohort(cohort)
    text = str(info.value)
    assert "column 't1c_path': image file or DICOM folder unreadable (Too many levels of " \
           "symbolic links) at row(s) [0] (patient(s) P1)" in text
    assert "unreadable (File name too long) at row(s) [1] (patient(s) P2)" in text
