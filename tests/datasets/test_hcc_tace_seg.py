import csv

import numpy as np
import pytest

from tacelearn.datasets import read_hcc_tace_seg


@pytest.fixture(scope="module")
def raw_rows(shared_data):
    # Read the raw file with the csv module, independently of pandas and of our reader.
    with open(shared_data / "hcc-tace-seg" / "clinical.csv", newline="") as file:
        return list(csv.DictReader(file))


@pytest.fixture(scope="module")
def cohort(shared_data):
    with pytest.warns(UserWarning, match=r"9 of 105 patients have no mRECIST"):
        return read_hcc_tace_seg(shared_data / "hcc-tace-seg" / "clinical.csv")


def test_response_counts_match_the_raw_file(cohort, raw_rows):
    codes = [row["1_mRECIST"] for row in raw_rows]
    n_or = sum(c in ("1", "1.0", "2", "2.0") for c in codes)
    n_nor = sum(c in ("3", "3.0", "4", "4.0") for c in codes)
    n_missing = sum(c.strip() in ("", "NA") for c in codes)
    assert len(cohort) == len(raw_rows) == 105
    assert int((cohort["objective_response"] == 1).sum()) == n_or
    assert int((cohort["objective_response"] == 0).sum()) == n_nor
    assert int(cohort["objective_response"].isna().sum()) == n_missing == 9
    assert cohort.attrs["n_missing_response"] == 9
    first_cr = cohort["mrecist"] == "CR"
    assert int(first_cr.sum()) == sum(c in ("1", "1.0") for c in codes)


def test_event_counts_and_times_match_the_raw_file(cohort, raw_rows):
    progressed = sum(row["Censored_0_progressed_1"] == "1" for row in raw_rows)
    died = sum(row["Death_1_StillAliveorLostToFU_0"] == "1" for row in raw_rows)
    assert int(cohort["pfs_event"].sum()) == progressed
    assert int(cohort["os_event"].sum()) == died
    weeks = np.array([float(row["OS"]) for row in raw_rows])
    # weeks -> days -> months of 365.25 / 12 days
    np.testing.assert_allclose(cohort["os_months"], weeks * 7 / (365.25 / 12))
    ttp = np.array([float(row["TTP"]) for row in raw_rows])
    np.testing.assert_allclose(cohort["pfs_months"], ttp * 7 / (365.25 / 12))


def test_clinical_columns_mapped(cohort, raw_rows):
    assert cohort["patient_id"].tolist() == [row["TCIA_ID"] for row in raw_rows]
    assert int((cohort["sex"] == "male").sum()) == sum(r["Sex"] == "1" for r in raw_rows)
    assert int(cohort["portal_vein_invasion"].sum()) == sum(
        r["Portal Vein Thrombosis"] == "1" for r in raw_rows)
    assert int((cohort["tumour_number"] > 1).sum()) == sum(
        r["tumor_nodul"] == "multinodular" for r in raw_rows)
    assert cohort["bclc"].value_counts().to_dict() == {"C": 66, "B": 24, "A": 12, "D": 3}
    assert int(cohort["hbsag"].sum()) == sum("HBV" in r["hepatitis"] for r in raw_rows)
    assert cohort[["t1c_path", "t2_path", "mask_path"]].isna().all().all()


def test_not_the_collection_refused(tmp_path):
    other = tmp_path / "other.csv"
    other.write_text("a,b\n1,2\n")
    with pytest.raises(ValueError, match=r"other\.csv.*missing"):
        read_hcc_tace_seg(other)
    with pytest.raises(FileNotFoundError, match="absent.csv"):
        read_hcc_tace_seg(tmp_path / "absent.csv")
