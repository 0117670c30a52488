import numpy as np
import pandas as pd
import pytest

from tacelearn.datasets import (
    CLINICAL_COLUMNS,
    CLINICAL_CUTOFFS,
    COHORT_SCHEMA,
    categorical_columns,
    continuous_columns,
    dichotomise,
)

# The column list of DESIGN.md, written out independently of the schema module.
DESIGN_CLINICAL = [
    "age", "sex", "hypertension", "diabetes", "hbsag", "child_pugh", "bclc", "tace_type",
    "afp", "cea", "ast", "alt", "albumin", "bilirubin", "prothrombin_time", "platelets", "nlr",
    "plr", "cirrhosis", "ascites", "tumour_number", "tumour_diameter", "tumour_margin",
    "portal_vein_invasion",
]
DESIGN_OTHER = [
    "patient_id", "center", "split", "t1c_path", "t2_path", "mask_path", "mrecist",
    "objective_response", "pfs_months", "pfs_event", "os_months", "os_event",
    "true_probability",
]


def test_schema_holds_every_design_column():
    assert list(CLINICAL_COLUMNS) == DESIGN_CLINICAL
    assert set(DESIGN_OTHER) <= set(COHORT_SCHEMA)
    assert set(categorical_columns()) | set(continuous_columns()) == set(DESIGN_CLINICAL)
    assert not set(categorical_columns()) & set(continuous_columns())


@pytest.mark.parametrize(
    ("column", "abnormal", "normal"),
    [
        ("alt", 50.1, 50.0),
        ("ast", 40.1, 40.0),
        ("afp", 400.1, 400.0),
        ("cea", 5.1, 5.0),
        ("albumin", 40.0, 40.1),
        ("bilirubin", 17.2, 17.1),
        ("prothrombin_time", 13.1, 13.0),
        ("platelets", 124.9, 125.0),
    ],
)
def test_cutoffs_match_the_paper(column, abnormal, normal):
    # ALT > 50 U/L, AST > 40, AFP > 400, CEA > 5, albumin <= 40, bilirubin > 17.1,
    # prothrombin time > 13 s, platelets < 125 x10^9/L (issue 2 / the paper's Table 1).
    flags = dichotomise(pd.DataFrame({column: [abnormal, normal, np.nan]}))
    assert flags[f"{column}_abnormal"].tolist()[:2] == [1, 0]
    assert flags[f"{column}_abnormal"].isna().tolist() == [False, False, True]
    assert column in CLINICAL_CUTOFFS


def test_dichotomise_refuses_unknown_column():
    with pytest.raises(ValueError, match="age"):
        dichotomise(pd.DataFrame({"age": [50]}), columns=["age"])
