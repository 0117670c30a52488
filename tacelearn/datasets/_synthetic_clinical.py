"""Clinical covariates of the synthetic multicentre cohort, and their missing values.

The generative model, in order (every coefficient is a module constant or a field of the
centre's :class:`~tacelearn.datasets._synthetic_centers.CenterProfile`, so that the
documentation and the tests can refer to it):

1. Demographics and history are independent draws whose rates follow the paper's Table 1.
2. A latent *liver dysfunction* ``L ~ N(0, 1)`` drives cirrhosis, Child-Pugh class, ascites,
   albumin, bilirubin, prothrombin time and platelets, so those columns are correlated as in
   real patients.
3. Tumour burden (number, largest diameter, margin, portal venous invasion) is drawn with the
   centre's case mix, and BCLC stage is derived from it (invasion -> C; multinodular or large
   -> mostly B). AFP is log-normal around the centre's median.
4. A latent *tumour biology* ``B ~ N(0, 1)``, independent of every clinical column, is drawn
   last (see :mod:`tacelearn.datasets._synthetic_lesions` for how it is shared among lesions).

Missing values (:func:`hide_laboratory_values`) are missing at random: the probability that a
laboratory value is missing depends on the centre and on the (recorded) age only.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.special import expit, logit

from ._synthetic_centers import center_profile

#: Patients per centre in the paper: centre 1 (train + internal validation), 2, 3.
PAPER_CENTER_SIZES = (210, 189, 74)
#: Centre 1 is split into training and internal validation as 168 / 42.
PAPER_INTERNAL_VALIDATION_FRACTION = 42 / 210
#: Most tumours a patient has: every one of them is drawn in the images and the mask.
MAX_TUMOURS = 5
#: Laboratory columns that can be missing.
LABORATORY_COLUMNS = ("afp", "cea", "ast", "alt", "albumin", "bilirubin", "prothrombin_time",
                      "platelets", "nlr", "plr")
#: Log-odds of a missing laboratory value rise by this much per 10 years of age above 57.
MISSING_AGE_SLOPE = 0.3


def _lognormal(rng, median, sigma, size):
    return np.exp(np.log(median) + sigma * rng.standard_normal(size))


def _assign_splits(n_per_center, rng):
    centers = np.repeat([f"center_{i + 1}" for i in range(len(n_per_center))], n_per_center)
    # Centre 1 trains (and validates internally); centre k > 1 is external test k - 1.
    split = np.array(["train" if i == 0 else f"external_{i}"
                      for i, size in enumerate(n_per_center) for _ in range(size)], dtype=object)
    first = np.flatnonzero(centers == "center_1")
    n_internal = int(round(len(first) * PAPER_INTERNAL_VALIDATION_FRACTION))
    split[rng.permutation(first)[:n_internal]] = "internal_validation"
    return centers, split


def _profile_values(centers, field):
    return np.array([getattr(center_profile(c), field) for c in centers], dtype=float)


def _liver_and_labs(n, centers, rng):
    liver = rng.standard_normal(n)
    cirrhosis = (rng.random(n) < expit(0.65 + 1.3 * liver)).astype(int)
    child_b = liver + 0.5 * rng.standard_normal(n) > 0.754  # 75th centile of N(0, 1.25)
    alt = np.round(_lognormal(rng, 34.0, 0.6, n), 0)
    # Assays report values down to about 1 ng/mL (AFP) and 0.2 ng/mL (CEA).
    afp = _lognormal(rng, 1.0, 2.4, n) * _profile_values(centers, "afp_median")
    return {
        "child_pugh": np.where(child_b, "B", "A"),
        "afp": np.round(np.maximum(afp, 1.0), 1),
        "cea": np.round(np.maximum(_lognormal(rng, 2.5, 0.7, n), 0.2), 2),
        "ast": np.round(np.exp(np.log(44.0) + 0.7 * (np.log(alt) - np.log(34.0))
                               + 0.4 * rng.standard_normal(n)), 0),
        "alt": alt,
        "albumin": np.round(40.5 - 3.5 * liver + 3.5 * rng.standard_normal(n), 1),
        "bilirubin": np.round(_lognormal(rng, 14.0, 0.4, n) * np.exp(0.3 * liver), 1),
        "prothrombin_time": np.round(12.6 + 0.6 * liver + 0.8 * rng.standard_normal(n), 1),
        "platelets": np.round(_lognormal(rng, 150.0, 0.45, n) * np.exp(-0.25 * cirrhosis), 0),
        "nlr": np.round(_lognormal(rng, 2.6, 0.5, n), 2),
        "plr": np.round(_lognormal(rng, 105.0, 0.45, n), 1),
        "cirrhosis": cirrhosis,
        "ascites": (rng.random(n) < expit(-1.75 + 1.4 * liver)).astype(int),
    }


def _tumour_burden(n, centers, rng):
    multiple = rng.random(n) < _profile_values(centers, "multiple_rate")
    tumour_number = np.where(multiple, 2 + np.minimum(rng.poisson(0.9, n), MAX_TUMOURS - 2), 1)
    median = _profile_values(centers, "diameter_median_cm")
    tumour_diameter = np.round(np.clip(_lognormal(rng, 1.0, 0.55, n) * median, 1.0, 18.0), 1)
    size_score = np.log(tumour_diameter / 5.0)
    invasion = rng.random(n) < expit(-1.45 + 1.2 * size_score
                                     + _profile_values(centers, "invasion_offset"))
    lobulated = rng.random(n) < expit(-0.2 + 1.0 * size_score)
    draw = rng.random(n)
    bclc = np.where(
        invasion, "C",
        np.where(multiple, np.where(draw < 0.62, "B", "A"),
                 np.where(tumour_diameter > 5.0, np.where(draw < 0.45, "B", "A"),
                          np.where(tumour_diameter <= 2.0, "0", "A"))))
    return {
        "bclc": bclc,
        "tumour_number": tumour_number,
        "tumour_diameter": tumour_diameter,
        "tumour_margin": np.where(lobulated, "lobulated", "smooth"),
        "portal_vein_invasion": invasion.astype(int),
    }


def simulate_clinical(n_per_center, rng):
    """Draw the clinical covariates and the latent tumour biology of every patient.

    Parameters
    ----------
    n_per_center : sequence of int
        Patients per centre; the first centre is split into train and internal validation.
    rng : numpy.random.Generator
        Source of randomness.

    Returns
    -------
    cohort : pandas.DataFrame
        ``patient_id``, ``center``, ``split``, the clinical columns (complete: nothing is
        missing yet) and ``tumour_biology``.
    """
    n_per_center = [int(n) for n in n_per_center]
    n = sum(n_per_center)
    centers, split = _assign_splits(n_per_center, rng)
    columns = {
        "patient_id": [f"P{i + 1:04d}" for i in range(n)],
        "center": centers,
        "split": split,
        "age": np.clip(np.round(rng.normal(57.0, 11.0, n)), 25, 88),
        "sex": np.where(rng.random(n) < 0.86, "male", "female"),
        "hypertension": (rng.random(n) < 0.25).astype(int),
        "diabetes": (rng.random(n) < 0.14).astype(int),
        "hbsag": (rng.random(n) < 0.82).astype(int),
        "tace_type": np.where(rng.random(n) < 0.73, "cTACE", "DEB-TACE"),
    }
    columns.update(_liver_and_labs(n, centers, rng))
    columns.update(_tumour_burden(n, centers, rng))
    columns["tumour_biology"] = rng.standard_normal(n)
    return pd.DataFrame(columns)


def hide_laboratory_values(cohort, rng):
    """Blank laboratory values at random given the centre and age (missing at random).

    ``P(missing) = expit(logit(missing_rate of the centre) + MISSING_AGE_SLOPE * (age - 57)
    / 10)``, independently for every patient and laboratory column.

    Parameters
    ----------
    cohort : pandas.DataFrame
        Complete clinical table; not modified.
    rng : numpy.random.Generator
        Source of randomness.

    Returns
    -------
    cohort : pandas.DataFrame
        A copy with missing laboratory values as NaN.
    """
    cohort = cohort.copy()
    base = logit(_profile_values(cohort["center"], "missing_rate"))
    rate = expit(base + MISSING_AGE_SLOPE * (cohort["age"].to_numpy() - 57.0) / 10.0)
    for column in LABORATORY_COLUMNS:
        hidden = rng.random(len(cohort)) < rate
        cohort[column] = cohort[column].astype(float).mask(hidden)
    return cohort
