"""Clinical table, response and survival of the synthetic multicentre cohort.

The generative model, in order (every coefficient is a module constant so that the documentation
and the tests can refer to it):

1. Demographics and history are independent draws whose rates follow the paper's Table 1.
2. A latent *liver dysfunction* ``L ~ N(0, 1)`` drives cirrhosis, Child-Pugh class, ascites,
   albumin, bilirubin, prothrombin time and platelets, so those columns are correlated as in
   real patients.
3. Tumour burden (number, largest diameter, margin, portal venous invasion) is drawn next and
   BCLC stage is derived from it (invasion -> C; multinodular or large -> mostly B).
4. A latent *tumour biology* ``B ~ N(0, 1)``, independent of the clinical columns, is what the
   images show (arterial enhancement, necrosis, heterogeneity, T2 signal).
5. ``logit P(OR) = RESPONSE_INTERCEPT + RESPONSE_COEFFICIENTS . [B, ALT > 50, ascites,
   BCLC B/C, portal venous invasion]`` is stored as ``true_probability`` and
   ``objective_response ~ Bernoulli(true_probability)``; ``mrecist`` is drawn given the response.
6. Progression and death are exponential with a hazard ratio of ``SURVIVAL_HR_RESPONSE`` for
   responders, censored at an administrative follow-up whose median is about 53 months.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.special import expit

#: Patients per centre in the paper: centre 1 (train + internal validation), 2, 3.
PAPER_CENTER_SIZES = (210, 189, 74)
#: Centre 1 is split into training and internal validation as 168 / 42.
PAPER_INTERNAL_VALIDATION_FRACTION = 42 / 210

#: Intercept of the response model (gives an objective-response rate of about 55%).
RESPONSE_INTERCEPT = 2.2
#: Coefficients of the response model, on the log-odds scale.
RESPONSE_COEFFICIENTS = {
    "tumour_biology": 1.9,
    "alt_above_50": -1.5,
    "ascites": -1.5,
    "bclc_b_or_c": -1.5,
    "portal_vein_invasion": -1.5,
}
#: Hazard ratio of progression and death for responders against non-responders.
SURVIVAL_HR_RESPONSE = 0.5
#: Median progression-free and overall survival of non-responders, months.
MEDIAN_PFS_NON_RESPONDERS = 9.0
MEDIAN_OS_NON_RESPONDERS = 26.0
#: Administrative follow-up is uniform on this interval (months); its median is 53.
FOLLOW_UP_RANGE = (18.0, 88.0)


def _lognormal(rng, median, sigma, size):
    return np.exp(np.log(median) + sigma * rng.standard_normal(size))


def simulate_clinical(n_per_center, rng):
    """Draw the clinical table, latent variables, response and survival.

    Parameters
    ----------
    n_per_center : sequence of int
        Patients per centre; the first centre is split into train and internal validation.
    rng : numpy.random.Generator
        Source of randomness.

    Returns
    -------
    cohort : pandas.DataFrame
        Schema columns without image paths, plus ``tumour_biology`` (the latent variable the
        images show) and ``true_probability``.
    """
    n_per_center = [int(n) for n in n_per_center]
    n = sum(n_per_center)
    centers = np.repeat([f"center_{i + 1}" for i in range(len(n_per_center))], n_per_center)
    # Centre 1 trains (and validates internally); centre k > 1 is external test k - 1.
    split = np.array(["train" if i == 0 else f"external_{i}"
                      for i, size in enumerate(n_per_center) for _ in range(size)], dtype=object)
    first = np.flatnonzero(centers == "center_1")
    n_internal = int(round(len(first) * PAPER_INTERNAL_VALIDATION_FRACTION))
    split[rng.permutation(first)[:n_internal]] = "internal_validation"

    def bern(p):
        return (rng.random(n) < p).astype(int)

    age = np.clip(np.round(rng.normal(57.0, 11.0, n)), 25, 88)
    sex = np.where(rng.random(n) < 0.86, "male", "female")
    hypertension, diabetes, hbsag = bern(0.25), bern(0.14), bern(0.82)
    tace_type = np.where(rng.random(n) < 0.73, "cTACE", "DEB-TACE")

    liver = rng.standard_normal(n)
    cirrhosis = bern(expit(0.65 + 1.3 * liver))
    child_b = liver + 0.5 * rng.standard_normal(n) > 0.754  # 75th centile of N(0, 1.25)
    child_pugh = np.where(child_b, "B", "A")
    ascites = bern(expit(-1.75 + 1.4 * liver))
    albumin = np.round(40.5 - 3.5 * liver + 3.5 * rng.standard_normal(n), 1)
    bilirubin = np.round(_lognormal(rng, 14.0, 0.4, n) * np.exp(0.3 * liver), 1)
    prothrombin_time = np.round(12.6 + 0.6 * liver + 0.8 * rng.standard_normal(n), 1)
    platelets = np.round(_lognormal(rng, 150.0, 0.45, n) * np.exp(-0.25 * cirrhosis), 0)
    alt = np.round(_lognormal(rng, 34.0, 0.6, n), 0)
    ast = np.round(np.exp(np.log(44.0) + 0.7 * (np.log(alt) - np.log(34.0))
                          + 0.4 * rng.standard_normal(n)), 0)
    # Assays report values down to about 1 ng/mL (AFP) and 0.2 ng/mL (CEA).
    afp = np.round(np.maximum(_lognormal(rng, 150.0, 2.4, n), 1.0), 1)
    cea = np.round(np.maximum(_lognormal(rng, 2.5, 0.7, n), 0.2), 2)
    nlr = np.round(_lognormal(rng, 2.6, 0.5, n), 2)
    plr = np.round(_lognormal(rng, 105.0, 0.45, n), 1)

    multiple = rng.random(n) < 0.70
    tumour_number = np.where(multiple, 2 + np.minimum(rng.poisson(1.2, n), 6), 1)
    tumour_diameter = np.round(np.clip(_lognormal(rng, 5.0, 0.55, n), 1.0, 18.0), 1)
    size_score = np.log(tumour_diameter / 5.0)
    portal_vein_invasion = bern(expit(-1.45 + 1.2 * size_score))
    tumour_margin = np.where(rng.random(n) < expit(-0.2 + 1.0 * size_score), "lobulated",
                             "smooth")
    draw = rng.random(n)
    bclc = np.where(
        portal_vein_invasion == 1, "C",
        np.where(multiple, np.where(draw < 0.62, "B", "A"),
                 np.where(tumour_diameter > 5.0, np.where(draw < 0.45, "B", "A"),
                          np.where(tumour_diameter <= 2.0, "0", "A"))))

    biology = rng.standard_normal(n)
    design = {
        "tumour_biology": biology,
        "alt_above_50": (alt > 50).astype(float),
        "ascites": ascites.astype(float),
        "bclc_b_or_c": np.isin(bclc, ("B", "C")).astype(float),
        "portal_vein_invasion": portal_vein_invasion.astype(float),
    }
    logit = RESPONSE_INTERCEPT + sum(RESPONSE_COEFFICIENTS[k] * v for k, v in design.items())
    true_probability = expit(logit)
    response = (rng.random(n) < true_probability).astype(int)
    complete = rng.random(n) < expit(-1.2 + 0.8 * biology)
    progressive = rng.random(n) < expit(-0.6 - 0.5 * biology)
    mrecist = np.where(response == 1, np.where(complete, "CR", "PR"),
                       np.where(progressive, "PD", "SD"))

    log_hr = np.log(SURVIVAL_HR_RESPONSE) * response + 0.35 * portal_vein_invasion
    progression = rng.exponential(MEDIAN_PFS_NON_RESPONDERS / np.log(2) / np.exp(log_hr))
    death = rng.exponential(MEDIAN_OS_NON_RESPONDERS / np.log(2) / np.exp(log_hr))
    follow_up = rng.uniform(*FOLLOW_UP_RANGE, n)
    pfs_true = np.minimum(progression, death)
    pfs_months = np.round(np.minimum(pfs_true, follow_up), 2)
    os_months = np.round(np.minimum(death, follow_up), 2)

    return pd.DataFrame({
        "patient_id": [f"P{i + 1:04d}" for i in range(n)],
        "center": centers,
        "split": split,
        "age": age,
        "sex": sex,
        "hypertension": hypertension,
        "diabetes": diabetes,
        "hbsag": hbsag,
        "child_pugh": child_pugh,
        "bclc": bclc,
        "tace_type": tace_type,
        "afp": afp,
        "cea": cea,
        "ast": ast,
        "alt": alt,
        "albumin": albumin,
        "bilirubin": bilirubin,
        "prothrombin_time": prothrombin_time,
        "platelets": platelets,
        "nlr": nlr,
        "plr": plr,
        "cirrhosis": cirrhosis,
        "ascites": ascites,
        "tumour_number": tumour_number,
        "tumour_diameter": tumour_diameter,
        "tumour_margin": tumour_margin,
        "portal_vein_invasion": portal_vein_invasion,
        "mrecist": mrecist,
        "objective_response": response,
        "pfs_months": pfs_months,
        "pfs_event": (pfs_true <= follow_up).astype(int),
        "os_months": os_months,
        "os_event": (death <= follow_up).astype(int),
        "tumour_biology": np.round(biology, 6),
        "true_probability": np.round(true_probability, 6),
    })
