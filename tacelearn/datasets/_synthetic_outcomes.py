"""Response, mRECIST reads and survival of the synthetic multicentre cohort.

The generative model (every coefficient is a module constant or a field of the centre's
:class:`~tacelearn.datasets._synthetic_centers.CenterProfile`):

1. The true response follows a logistic model whose *image part* is ``beta_B * B``, with ``B``
   the patient's ``tumour_biology``, and whose *clinical part* holds ALT > 50 U/L, ascites, BCLC
   B/C and portal venous invasion, a centre offset, and in one centre a weaker ALT effect and an
   AFP > 400 ng/mL effect::

       logit p = RESPONSE_INTERCEPT + response_offset[c] + beta_B * B
                 + alt_effect_scale[c] * beta_ALT * [ALT > 50] + beta_ascites * ascites
                 + beta_BCLC * [BCLC B/C] + beta_PVI * PVI + afp_effect[c] * [AFP > 400]

   The true response is ``R ~ Bernoulli(p)``.
2. The mRECIST category is drawn given ``R`` (complete response more likely with high ``B``,
   progression more likely with low ``B``); then the reader misreads it across the response
   boundary with probability :data:`MRECIST_READ_ERROR_RATE` (CR/PR read as SD, SD/PD read as
   PR). ``objective_response`` is the recorded (read) response, so
   ``true_probability = e + (1 - 2 e) * p`` with ``e`` the read-error rate: the probability of
   the label in the table, the ceiling.
3. Progression and death are exponential with a hazard ratio of :data:`SURVIVAL_HR_RESPONSE`
   for true responders (and 1.42 for portal venous invasion), censored at an administrative
   follow-up whose median is about 53 months.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.special import expit

from ._synthetic_centers import center_profile

#: Intercept of the response model.
RESPONSE_INTERCEPT = 2.3
#: Coefficients of the response model common to every centre, on the log-odds scale.
RESPONSE_COEFFICIENTS = {
    "tumour_biology": 2.0,
    "alt_above_50": -1.6,
    "ascites": -1.6,
    "bclc_b_or_c": -1.6,
    "portal_vein_invasion": -1.6,
}
#: Probability that the reader records a response as a non-response or the reverse.
MRECIST_READ_ERROR_RATE = 0.06
#: Hazard ratio of progression and death for true responders against non-responders.
SURVIVAL_HR_RESPONSE = 0.5
#: Hazard ratio of progression and death for portal venous invasion.
SURVIVAL_HR_INVASION = float(np.exp(0.35))
#: Median progression-free and overall survival of non-responders, months.
MEDIAN_PFS_NON_RESPONDERS = 9.0
MEDIAN_OS_NON_RESPONDERS = 26.0
#: Administrative follow-up is uniform on this interval (months); its median is 53.
FOLLOW_UP_RANGE = (18.0, 88.0)


def _profile_values(centers, field):
    return np.array([getattr(center_profile(c), field) for c in centers], dtype=float)


def response_logit(cohort):
    """The two parts of the true log-odds of response.

    Parameters
    ----------
    cohort : pandas.DataFrame
        Complete clinical columns, ``center`` and ``tumour_biology``.

    Returns
    -------
    image_part, clinical_part : numpy.ndarray
        ``beta_B * B`` and the rest of the log-odds (intercept included); their sum is
        ``logit p``.
    """
    centers = cohort["center"]
    alt_high = (cohort["alt"].to_numpy(dtype=float) > 50).astype(float)
    afp_high = (cohort["afp"].to_numpy(dtype=float) > 400).astype(float)
    coefficients = RESPONSE_COEFFICIENTS
    clinical_part = (
        RESPONSE_INTERCEPT + _profile_values(centers, "response_offset")
        + _profile_values(centers, "alt_effect_scale") * coefficients["alt_above_50"] * alt_high
        + coefficients["ascites"] * cohort["ascites"].to_numpy(dtype=float)
        + coefficients["bclc_b_or_c"] * cohort["bclc"].isin(["B", "C"]).to_numpy(dtype=float)
        + coefficients["portal_vein_invasion"]
        * cohort["portal_vein_invasion"].to_numpy(dtype=float)
        + _profile_values(centers, "afp_effect") * afp_high
    )
    image_part = coefficients["tumour_biology"] * cohort["tumour_biology"].to_numpy(dtype=float)
    return image_part, clinical_part


def _mrecist(response, biology, misread, rng):
    n = len(response)
    complete = rng.random(n) < expit(-1.2 + 0.8 * biology)
    progressive = rng.random(n) < expit(-0.6 - 0.5 * biology)
    true_category = np.where(response == 1, np.where(complete, "CR", "PR"),
                             np.where(progressive, "PD", "SD"))
    misread_category = np.where(response == 1, "SD", "PR")
    return np.where(misread, misread_category, true_category)


def _survival(response, invasion, rng):
    n = len(response)
    log_hr = np.log(SURVIVAL_HR_RESPONSE) * response + np.log(SURVIVAL_HR_INVASION) * invasion
    progression = rng.exponential(MEDIAN_PFS_NON_RESPONDERS / np.log(2) / np.exp(log_hr))
    death = rng.exponential(MEDIAN_OS_NON_RESPONDERS / np.log(2) / np.exp(log_hr))
    follow_up = rng.uniform(*FOLLOW_UP_RANGE, n)
    pfs_true = np.minimum(progression, death)
    return {
        "pfs_months": np.round(np.minimum(pfs_true, follow_up), 2),
        "pfs_event": (pfs_true <= follow_up).astype(int),
        "os_months": np.round(np.minimum(death, follow_up), 2),
        "os_event": (death <= follow_up).astype(int),
    }


def simulate_outcomes(cohort, rng):
    """Draw response, the mRECIST read and survival.

    Parameters
    ----------
    cohort : pandas.DataFrame
        Complete clinical columns, ``center`` and ``tumour_biology``.
    rng : numpy.random.Generator
        Source of randomness.

    Returns
    -------
    outcomes : pandas.DataFrame
        ``mrecist``, ``objective_response`` (the recorded response), ``pfs_months``,
        ``pfs_event``, ``os_months``, ``os_event`` and ``true_probability``, on the cohort's
        index.
    """
    image_part, clinical_part = response_logit(cohort)
    probability = expit(image_part + clinical_part)
    n = len(cohort)
    response = (rng.random(n) < probability).astype(int)
    misread = rng.random(n) < MRECIST_READ_ERROR_RATE
    mrecist = _mrecist(response, cohort["tumour_biology"].to_numpy(dtype=float), misread, rng)
    recorded = np.isin(mrecist, ("CR", "PR")).astype(int)
    error = MRECIST_READ_ERROR_RATE
    outcomes = {"mrecist": mrecist, "objective_response": recorded}
    outcomes.update(_survival(response, cohort["portal_vein_invasion"].to_numpy(), rng))
    outcomes["true_probability"] = np.round(error + (1 - 2 * error) * probability, 6)
    return pd.DataFrame(outcomes, index=cohort.index)
