"""Reader for the clinical table of the public HCC-TACE-Seg collection (TCIA)."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from ._cohort import validate_cohort

__all__ = ["WEEKS_PER_MONTH", "read_hcc_tace_seg"]

#: TTP and OS are in weeks in the collection (fractions of 1/7): months = weeks / this.
WEEKS_PER_MONTH = 365.25 / 12 / 7
_MRECIST_CODES = {1: "CR", 2: "PR", 3: "SD", 4: "PD"}
_REQUIRED = (
    "TCIA_ID", "age", "Sex", "CPS", "BCLC", "AFP", "Portal Vein Thrombosis", "tumor_nodul",
    "Evidence_of_cirh", "1_mRECIST", "TTP", "Censored_0_progressed_1", "OS",
    "Death_1_StillAliveorLostToFU_0",
)


def _map(values, mapping, column, path):
    unknown = sorted({str(v) for v in values.dropna() if v not in mapping})
    if unknown:
        raise ValueError(f"{path}: column '{column}' has unexpected value(s) {unknown}")
    return values.map(mapping)


def read_hcc_tace_seg(path):
    """Map the HCC-TACE-Seg clinical table onto the cohort schema.

    HCC-TACE-Seg (The Cancer Imaging Archive, doi:10.7937/TCIA.5FNA-0924; Moawad et al.,
    Scientific Data 2023) holds 105 HCC patients treated with TACE at MD Anderson. The mapping:

    ============================  =====================================================
    schema column                 collection column and rule
    ============================  =====================================================
    ``patient_id``                ``TCIA_ID``
    ``center``, ``split``         ``"mdacc"`` and ``"hcc_tace_seg"``
    ``age``                       ``age``
    ``sex``                       ``Sex``: 1 -> male, 2 -> female (the usual coding; the
                                  majority code is 1, as HCC is male-predominant)
    ``hbsag``                     ``hepatitis`` mentions HBV -> 1, otherwise 0
    ``diabetes``                  ``Diabetes``
    ``child_pugh``                ``CPS`` (A/B/C)
    ``bclc``                      ``BCLC`` (``Stage-A`` -> ``A``)
    ``afp``                       ``AFP`` (ng/mL)
    ``cirrhosis``                 ``Evidence_of_cirh``
    ``portal_vein_invasion``      ``Portal Vein Thrombosis``
    ``tumour_number``             ``tumor_nodul``: uninodular -> 1, multinodular -> 2
                                  (the table records only single vs multiple)
    ``tumour_diameter``           ``Tr_Size`` (cm; often blank)
    ``mrecist``                   ``1_mRECIST``: 1 CR, 2 PR, 3 SD, 4 PD (response after the
                                  first TACE; blank -> missing)
    ``objective_response``        CR/PR -> 1, SD/PD -> 0, missing where ``mrecist`` is
    ``pfs_months``, ``pfs_event``  ``TTP`` (time to progression) in weeks / 4.348;
                                  ``Censored_0_progressed_1`` (1 = progressed)
    ``os_months``, ``os_event``    ``OS`` in weeks / 4.348;
                                  ``Death_1_StillAliveorLostToFU_0`` (1 = died)
    ============================  =====================================================

    TTP and OS are taken to be in weeks: every value is a multiple of 1/7 (days / 7); the
    collection's documentation does not state the unit. Months are weeks divided by
    :data:`WEEKS_PER_MONTH` (365.25 / 12 / 7). The collection has no images in this table, so
    the image columns are empty. Rows without a first-TACE response are kept with a missing
    label; a :class:`UserWarning` says how many, and ``cohort.attrs["n_missing_response"]``
    holds the count.

    Parameters
    ----------
    path : str or path-like
        ``clinical.csv`` of the collection.

    Returns
    -------
    cohort : pandas.DataFrame
        One row per patient, validated against the schema.

    Examples
    --------
    Two rows in the collection's layout (the real table has 105 patients and more columns):

    >>> import tempfile
    >>> from pathlib import Path
    >>> from tacelearn.datasets import read_hcc_tace_seg
    >>> table = Path(tempfile.mkdtemp()) / "clinical.csv"
    >>> _ = table.write_text(
    ...     "TCIA_ID,age,Sex,CPS,BCLC,AFP,Portal Vein Thrombosis,tumor_nodul,Evidence_of_cirh,"
    ...     "1_mRECIST,TTP,Censored_0_progressed_1,OS,Death_1_StillAliveorLostToFU_0\\n"
    ...     "HCC_001,71,1,A,Stage-A,5,0,multinodular,1,1,197,1,350.29,1\\n"
    ...     "HCC_002,72,1,A,Stage-C,2910.5,1,multinodular,1,2,20.71,0,25.29,1\\n")
    >>> cohort = read_hcc_tace_seg(table)
    >>> cohort[["patient_id", "bclc", "mrecist", "objective_response"]]
      patient_id bclc mrecist  objective_response
    0    HCC_001    A      CR                   1
    1    HCC_002    C      PR                   1
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"HCC-TACE-Seg clinical table not found: {path}")
    raw = pd.read_csv(path)
    missing = [c for c in _REQUIRED if c not in raw.columns]
    if missing:
        raise ValueError(f"{path} is not the HCC-TACE-Seg clinical table: missing {missing}")

    hepatitis = raw["hepatitis"].astype(str) if "hepatitis" in raw.columns else None
    mrecist = _map(raw["1_mRECIST"], _MRECIST_CODES, "1_mRECIST", path)
    cohort = pd.DataFrame({
        "patient_id": raw["TCIA_ID"].astype(str),
        "center": "mdacc",
        "split": "hcc_tace_seg",
        "t1c_path": None,
        "t2_path": None,
        "mask_path": None,
        "age": raw["age"].astype(float),
        "sex": _map(raw["Sex"], {1: "male", 2: "female"}, "Sex", path),
        "hbsag": (hepatitis.str.contains("HBV").astype(int) if hepatitis is not None
                  else np.nan),
        "diabetes": raw["Diabetes"] if "Diabetes" in raw.columns else np.nan,
        "child_pugh": raw["CPS"],
        "bclc": raw["BCLC"].str.replace("Stage-", "", regex=False),
        "afp": raw["AFP"].astype(float),
        "cirrhosis": raw["Evidence_of_cirh"],
        "tumour_number": _map(raw["tumor_nodul"], {"uninodular": 1, "multinodular": 2},
                              "tumor_nodul", path),
        "tumour_diameter": raw["Tr_Size"] if "Tr_Size" in raw.columns else np.nan,
        "portal_vein_invasion": raw["Portal Vein Thrombosis"],
        "mrecist": mrecist,
        "pfs_months": raw["TTP"].astype(float) / WEEKS_PER_MONTH,
        "pfs_event": raw["Censored_0_progressed_1"],
        "os_months": raw["OS"].astype(float) / WEEKS_PER_MONTH,
        "os_event": raw["Death_1_StillAliveorLostToFU_0"],
    })
    cohort = validate_cohort(cohort, check_files=False)
    n_missing = int(cohort["objective_response"].isna().sum())
    cohort.attrs["n_missing_response"] = n_missing
    if n_missing:
        warnings.warn(
            f"{path.name}: {n_missing} of {len(cohort)} patients have no mRECIST response after "
            "the first TACE; they are kept with a missing objective_response",
            UserWarning,
            stacklevel=2,
        )
    return cohort
