"""How the centres of the synthetic cohort differ beyond their scanners.

Real multicentre cohorts differ in who is referred (case mix), how often patients respond, how
the arterial phase is timed, how generously readers draw masks, how complete the records are
and, sometimes, in how the outcome depends on the covariates. Each centre's differences are one
:class:`CenterProfile`; the scanners (spacing, orientation, intensity scale, noise, bias) are
:class:`~tacelearn.datasets._phantom.ScannerProfile`.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["CENTER_PROFILES", "CenterProfile", "center_profile"]


@dataclass(frozen=True)
class CenterProfile:
    """What one centre's patients, readers and records look like.

    Parameters
    ----------
    diameter_median_cm : float
        Median of the log-normal largest tumour diameter (case mix: size, hence BCLC).
    multiple_rate : float
        Share of patients with more than one tumour (case mix: BCLC B).
    invasion_offset : float
        Added to the log-odds of portal venous invasion (case mix: BCLC C).
    afp_median : float
        Median of the log-normal AFP, ng/mL (case mix: AFP).
    response_offset : float
        Added to the log-odds of objective response: the centre's baseline response rate.
    alt_effect_scale : float
        Multiplies the ALT > 50 U/L coefficient of the response model (1 = the common model).
    afp_effect : float
        Log-odds of response added for AFP > 400 ng/mL (0 = the common model).
    missing_rate : float
        Probability that a laboratory value of a patient of average age is missing.
    arterial_timing_mean : float
        Mean of the log enhancement factor of the arterial phase (negative: scans too early).
    mask_offset_mm : float
        Mean outward offset of the readers' mask boundary (positive: masks drawn generously).
    """

    diameter_median_cm: float
    multiple_rate: float
    invasion_offset: float
    afp_median: float
    response_offset: float
    alt_effect_scale: float
    afp_effect: float
    missing_rate: float
    arterial_timing_mean: float
    mask_offset_mm: float


#: Centre 1 trains; centre 2 refers larger, more advanced tumours, responds less often and
#: times the arterial phase early; centre 3 sees smaller, AFP-rich tumours, responds more often,
#: has a slightly different outcome model (ALT matters less, AFP > 400 ng/mL matters: the
#: transportability test) and keeps incomplete laboratory records.
CENTER_PROFILES = {
    "center_1": CenterProfile(diameter_median_cm=5.0, multiple_rate=0.70, invasion_offset=0.0,
                              afp_median=150.0, response_offset=0.0, alt_effect_scale=1.0,
                              afp_effect=0.0, missing_rate=0.03, arterial_timing_mean=0.0,
                              mask_offset_mm=0.0),
    "center_2": CenterProfile(diameter_median_cm=5.7, multiple_rate=0.74, invasion_offset=0.25,
                              afp_median=120.0, response_offset=-0.35, alt_effect_scale=1.0,
                              afp_effect=0.0, missing_rate=0.03, arterial_timing_mean=-0.12,
                              mask_offset_mm=1.5),
    "center_3": CenterProfile(diameter_median_cm=4.3, multiple_rate=0.64, invasion_offset=-0.2,
                              afp_median=320.0, response_offset=0.35, alt_effect_scale=0.5,
                              afp_effect=-0.7, missing_rate=0.10, arterial_timing_mean=0.08,
                              mask_offset_mm=-1.0),
}


def center_profile(center):
    """The :class:`CenterProfile` of a centre; centres beyond the third reuse the three."""
    if center in CENTER_PROFILES:
        return CENTER_PROFILES[center]
    keys = list(CENTER_PROFILES)
    index = int(str(center).split("_")[-1]) - 1
    return CENTER_PROFILES[keys[index % len(keys)]]
