"""The lesions of each synthetic patient: sizes, their own biology, and the ones masks miss.

A patient with ``tumour_number = N`` has ``N`` lesions, all drawn in the images. Lesion 0 is the
index tumour, of radius ``r_0 = 5 * tumour_diameter`` mm (the diameter is in cm); satellites have
``r_k = r_0 * U(SATELLITE_RADIUS_RANGE)``, at least :data:`MIN_SATELLITE_RADIUS_MM` and at most
:data:`MAX_SATELLITE_SHARE` of ``r_0``.

Every lesion has its own biology ``b_k``; the patient's ``tumour_biology`` ``B`` is their
volume-weighted mean, which is what drives the response (a volume-weighted mix, not the worst
lesion). With volume weights ``w_k = r_k^3 / sum_j r_j^3`` and ``d_k ~ N(0, 1)``::

    b_k = B + LESION_BIOLOGY_SD * (d_k - sum_j w_j d_j)

so ``sum_k w_k b_k = B`` exactly and ``B`` stays standard normal whatever the number of
lesions; satellites differ from the index tumour by about ``LESION_BIOLOGY_SD``.

A reader misses each satellite with probability :data:`MISSED_SATELLITE_RATE`: the lesion is in
the images but not in the mask. The index tumour is never missed.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

#: Satellite radius as a share of the index tumour's radius is uniform on this interval.
SATELLITE_RADIUS_RANGE = (0.2, 0.5)
#: Smallest satellite radius (mm).
MIN_SATELLITE_RADIUS_MM = 5.0
#: A satellite's radius is at most this share of the index tumour's radius.
MAX_SATELLITE_SHARE = 0.85
#: Standard deviation of a lesion's biology around the patient's (before centring).
LESION_BIOLOGY_SD = 0.8
#: Probability that the mask misses a satellite.
MISSED_SATELLITE_RATE = 0.05

LESION_COLUMNS = ("patient_id", "tumour", "radius_mm", "volume_weight", "biology",
                  "missed_by_mask")


def simulate_lesions(cohort, rng):
    """Draw every patient's lesions.

    Parameters
    ----------
    cohort : pandas.DataFrame
        ``patient_id``, ``tumour_number``, ``tumour_diameter`` (cm) and ``tumour_biology``.
    rng : numpy.random.Generator
        Source of randomness.

    Returns
    -------
    lesions : pandas.DataFrame
        One row per lesion, columns :data:`LESION_COLUMNS`: ``tumour`` numbers the patient's
        lesions by true size (0 = index tumour), ``radius_mm`` is the true radius,
        ``volume_weight`` the lesion's share of the tumour volume, ``biology`` its own
        biology and ``missed_by_mask`` 1 for a satellite the mask leaves out.
    """
    rows = []
    for patient in cohort[["patient_id", "tumour_number", "tumour_diameter",
                           "tumour_biology"]].itertuples(index=False):
        count = int(patient.tumour_number)
        index_radius = 5.0 * float(patient.tumour_diameter)
        shares = np.sort(rng.uniform(*SATELLITE_RADIUS_RANGE, count - 1))[::-1]
        satellites = np.clip(index_radius * shares, MIN_SATELLITE_RADIUS_MM,
                             MAX_SATELLITE_SHARE * index_radius)
        radii = np.concatenate([[index_radius], satellites])
        weights = radii**3 / np.sum(radii**3)
        deviation = rng.standard_normal(count)
        biology = patient.tumour_biology + LESION_BIOLOGY_SD * (deviation - weights @ deviation)
        missed = np.concatenate([[False], rng.random(count - 1) < MISSED_SATELLITE_RATE])
        rows.extend(
            (patient.patient_id, k, radii[k], weights[k], biology[k], int(missed[k]))
            for k in range(count)
        )
    return pd.DataFrame(rows, columns=list(LESION_COLUMNS))
