"""How one synthetic lesion looks: its shape, enhancement pattern, necrosis, septa and capsule.

The lesion's biology ``b`` (see :mod:`tacelearn.datasets._synthetic_lesions`) is expressed in
*spatial structure*, while the distribution of intensities inside the lesion on every axial
slice is nearly fixed, so that first-order statistics read little of it:

* enhancement pattern: ``pi = expit(PATTERN_SLOPE * b + N(0, PATTERN_NOISE_SD^2))``; with
  ``rho`` the distance from the centre over the distance to the surface, ``radial = (rho -
  0.6) / 0.25``, ``m`` smooth noise on the scale of a third of the radius and the margin term
  ``edge = EDGE_WEIGHT * clip((rho - EDGE_START) / (1 - EDGE_START), 0, 1)``, the
  arterial-phase pattern field is ``(1 - 2 pi) * radial + MOSAIC_WEIGHT * m - edge``: low ``b``
  gives rim enhancement (a bright ring just inside the margin), high ``b`` central, nodular
  enhancement;
* necrosis: a fraction ``f`` of the lesion on every slice, independent of ``b`` (it grows with
  size); where it lies follows ``NECROSIS_CENTRING * (1 - pi) * -radial + m' - edge``: a
  central core when ``b`` is low, scattered foci when it is high;
* T2 septa and centre: the T2 pattern field is ``SEPTA_WEIGHT * pi * |s| - T2_CENTRING *
  (1 - 2 pi) * radial + m'' - edge``, with ``s`` smooth noise whose zero crossings become
  dark septa: a mosaic when ``b`` is high, a bright centre when it is low;
* capsule: a hypointense band of :data:`CAPSULE_THICKNESS_MM` just outside the surface,
  covering a fraction ``expit(CAPSULE_SLOPE * b + N(0, CAPSULE_NOISE_SD^2))`` of it;
* margin irregularity: high-frequency undulation of the surface of amplitude
  ``IRREGULARITY_MAX * expit(-IRREGULARITY_SLOPE * b + N(0, IRREGULARITY_NOISE_SD^2))`` on top of
  the lobulation that ``tumour_margin`` records.

Intensities are *normal scores* of those fields among the lesion's voxels of the same axial slice
(:func:`~tacelearn.datasets._synthetic_fields.normal_scores_by_slice`), so that a pattern moves
intensities around without changing their distribution. Viable tumour then has arterial-phase
signal ``LIVER + E * (VIABLE_T1C_EXCESS + FIRST_ORDER_LEAK_T1C * b + VIABLE_T1C_SPREAD * score)``
(``E`` the patient's arterial timing) and T2 signal ``VIABLE_T2 - FIRST_ORDER_LEAK_T2 * b +
VIABLE_T2_SPREAD * score``: the two small ``FIRST_ORDER_LEAK`` terms are the only first-order
trace of the biology besides partial volume at the margin and mask errors. The ``edge`` term
dims every pattern at the margin, so that a mask that cuts or adds a rim of voxels takes or
gives the same intensities whatever the biology (without it, eroded masks of rim-enhancing
lesions lose their brightest voxels, and first-order statistics read the biology).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import expit, ndtri

from ._synthetic_fields import normal_scores_by_slice, smooth_noise, soft_inside

#: Relative signal of the liver: (arterial-phase T1C, T2).
LIVER_SIGNAL = (0.55, 0.35)
#: Relative signal of necrosis and of the capsule: (arterial-phase T1C, T2).
NECROSIS_SIGNAL = (0.22, 1.30)
CAPSULE_SIGNAL = (0.30, 0.20)
#: Viable tumour: arterial enhancement above the liver, its spread within a lesion, and T2.
VIABLE_T1C_EXCESS = 0.40
VIABLE_T1C_SPREAD = 0.25
VIABLE_T2 = 0.62
VIABLE_T2_SPREAD = 0.12
#: The only first-order intensity effects of the biology (per unit of ``b``).
FIRST_ORDER_LEAK_T1C = 0.01
FIRST_ORDER_LEAK_T2 = 0.005
#: Enhancement pattern: slope and noise of ``pi`` on ``b``, weight of the mosaic noise.
PATTERN_SLOPE = 2.5
PATTERN_NOISE_SD = 0.3
MOSAIC_WEIGHT = 0.3
#: Every field falls by ``EDGE_WEIGHT`` from ``EDGE_START`` of the radius to the margin.
EDGE_START = 0.85
EDGE_WEIGHT = 3.0
#: Necrosis: how strongly it centres when ``b`` is low; its fraction
#: ``NECROSIS_RANGE[0] + NECROSIS_RANGE[1] * expit(1.5 log(r / 25 mm) + N(0, 0.6^2))``.
NECROSIS_CENTRING = 2.0
NECROSIS_RANGE = (0.03, 0.30)
#: T2: weight of the septa field at ``pi = 1``, and of the bright centre at ``pi = 0``.
SEPTA_WEIGHT = 2.0
T2_CENTRING = 1.0
#: Capsule: thickness (mm), slope and noise of its coverage on ``b``.
CAPSULE_THICKNESS_MM = 2.5
CAPSULE_SLOPE = 1.5
CAPSULE_NOISE_SD = 0.5
#: Margin: surface undulation amplitude (share of the radius), slope and noise on ``b``.
IRREGULARITY_MAX = 0.12
IRREGULARITY_SLOPE = 1.5
IRREGULARITY_NOISE_SD = 0.5
#: Lobulation amplitude of a ``lobulated`` and of a ``smooth`` margin.
LOBULATION = {"lobulated": 0.16, "smooth": 0.02}
#: The surface stays between these many radii of the centre.
MAX_EXTENT = 1 + 1.5 * max(LOBULATION.values()) + IRREGULARITY_MAX
MIN_EXTENT = 1 - 1.5 * max(LOBULATION.values()) - IRREGULARITY_MAX


@dataclass(frozen=True)
class LesionLook:
    """Everything random about one lesion's appearance, drawn once.

    Parameters
    ----------
    radius_mm : float
        Radius drawn (mm).
    biology : float
        The lesion's biology ``b``.
    lobulation, irregularity : float
        Amplitudes of the low- and high-frequency surface undulation (shares of the radius).
    pattern : float
        ``pi`` in (0, 1): 0 rim enhancement, 1 central nodular enhancement.
    capsule_coverage : float
        Share of the surface that the capsule covers.
    capsule_axis : tuple of 3 float
        Unit vector; the capsule is missing around it.
    necrotic_fraction : float
        Share of the lesion that is necrotic on every axial slice.
    phases : tuple of 7 float
        Phases of the surface undulations.
    """

    radius_mm: float
    biology: float
    lobulation: float
    irregularity: float
    pattern: float
    capsule_coverage: float
    capsule_axis: tuple
    necrotic_fraction: float
    phases: tuple


def draw_look(biology, radius_mm, margin, rng):
    """Draw a lesion's :class:`LesionLook` from its biology, radius and recorded margin."""
    axis = rng.standard_normal(3)
    necrosis = NECROSIS_RANGE[0] + NECROSIS_RANGE[1] * expit(
        1.5 * np.log(radius_mm / 25.0) + 0.6 * rng.standard_normal())
    return LesionLook(
        radius_mm=float(radius_mm),
        biology=float(biology),
        lobulation=LOBULATION[margin],
        irregularity=float(IRREGULARITY_MAX * expit(
            -IRREGULARITY_SLOPE * biology + IRREGULARITY_NOISE_SD * rng.standard_normal())),
        pattern=float(expit(PATTERN_SLOPE * biology + PATTERN_NOISE_SD * rng.standard_normal())),
        capsule_coverage=float(expit(CAPSULE_SLOPE * biology
                                     + CAPSULE_NOISE_SD * rng.standard_normal())),
        capsule_axis=tuple(axis / np.linalg.norm(axis)),
        necrotic_fraction=float(necrosis),
        phases=tuple(rng.uniform(0.0, 2 * np.pi, 7)),
    )


def lesion_geometry(dx, dy, dz, look):
    """Distance from the centre and distance of the surface in that direction (mm).

    Parameters
    ----------
    dx, dy, dz : numpy.ndarray
        Offsets from the lesion's centre (mm), broadcastable to the box.
    look : LesionLook

    Returns
    -------
    distance, surface : numpy.ndarray
        The voxel is inside the lesion where ``distance <= surface``.
    """
    distance = np.sqrt(dx * dx + dy * dy + dz * dz)
    theta = np.arctan2(dy, dx)
    phi = np.arccos(np.clip(dz / np.maximum(distance, 1e-3), -1.0, 1.0))
    p = look.phases
    lobes = np.sin(3 * theta + p[0]) * np.sin(2 * phi + p[1]) + 0.5 * np.sin(5 * theta + p[2])
    ripples = 0.5 * (np.sin(8 * theta + p[3]) * np.sin(5 * phi + p[4])
                     + np.sin(13 * theta + p[5]) * np.sin(7 * phi + p[6]))
    surface = look.radius_mm * (1.0 + look.lobulation * lobes + look.irregularity * ripples)
    return distance, surface


def _lesion_weight(distance, surface, voxel):
    # The partial-volume ramp lies outside the surface: every voxel of the lesion is pure
    # tumour, so the normal scores fix its intensity distribution exactly.
    return soft_inside(distance - surface - 0.5 * voxel, voxel)


def painted_region(distance, surface, voxel):
    """Voxels that a lesion or its capsule paints (the capsule is painted whatever its
    coverage, so that the region does not depend on it)."""
    return _lesion_weight(distance - CAPSULE_THICKNESS_MM, surface, voxel) > 0


def _capsule_weight(dx, dy, dz, distance, surface, look, voxel):
    band = (_lesion_weight(distance - CAPSULE_THICKNESS_MM, surface, voxel)
            - _lesion_weight(distance, surface, voxel))
    # A cap of the sphere around capsule_axis is uncovered: cos(angle) is uniform on [-1, 1].
    ax, ay, az = look.capsule_axis
    cosine = (dx * ax + dy * ay + dz * az) / np.maximum(distance, 1e-3)
    return np.clip(band, 0.0, 1.0) * (cosine < 2.0 * look.capsule_coverage - 1.0)


def _pattern_fields(distance, surface, look, shape, spacing, rng):
    """Arterial pattern, necrosis and T2 fields on the box (before normal scores)."""
    cell = [max(1.5, look.radius_mm / 3.0 / s) for s in spacing]
    rho = distance / np.maximum(surface, 1e-3)
    radial = (rho - 0.6) / 0.25
    # Every pattern is dim at the margin, so that a mask that cuts or adds a margin of voxels
    # takes or gives the same intensities whatever the biology.
    edge = EDGE_WEIGHT * np.clip((rho - EDGE_START) / (1.0 - EDGE_START), 0.0, 1.0)
    pi = look.pattern
    arterial = (1 - 2 * pi) * radial + MOSAIC_WEIGHT * smooth_noise(shape, rng, cell) - edge
    necrosis = NECROSIS_CENTRING * (1 - pi) * -radial + smooth_noise(shape, rng, cell) - edge
    septa = np.abs(smooth_noise(shape, rng, [1.5 * c for c in cell]))
    t2 = (SEPTA_WEIGHT * pi * septa - T2_CENTRING * (1 - 2 * pi) * radial
          + smooth_noise(shape, rng, cell) - edge)
    return arterial, necrosis, t2


def paint_lesion(t1c, t2, offsets, geometry, look, spacing, timing, rng):
    """Paint one lesion into the T1C and T2 boxes around it (in place).

    Parameters
    ----------
    t1c, t2 : numpy.ndarray of float32
        Views of the volumes on the lesion's box; modified in place.
    offsets : tuple of 3 numpy.ndarray
        ``dx, dy, dz`` of the box's voxels from the lesion's centre (mm), broadcastable.
    geometry : tuple of 2 numpy.ndarray
        ``distance, surface`` on the box, as :func:`lesion_geometry` gives them.
    look : LesionLook
    spacing : sequence of 3 float
        Voxel spacing (mm).
    timing : float
        The patient's arterial enhancement factor ``E``.
    rng : numpy.random.Generator
    """
    shape = t1c.shape
    dx, dy, dz = offsets
    distance, surface = geometry
    voxel = min(spacing[0], spacing[1])
    inside = _lesion_weight(distance, surface, voxel)
    core = distance <= surface
    arterial, necrosis, t2_field = _pattern_fields(distance, surface, look, shape, spacing, rng)

    support = inside > 0
    slices = np.broadcast_to(np.arange(shape[2]), shape)[support]
    reference = core[support]
    necrotic = (normal_scores_by_slice(necrosis[support], slices, reference)
                > ndtri(1.0 - look.necrotic_fraction))
    viable = reference & ~necrotic
    arterial_score = normal_scores_by_slice(arterial[support], slices, viable)
    t2_score = normal_scores_by_slice(t2_field[support], slices, viable)

    enhancement = timing * (VIABLE_T1C_EXCESS + FIRST_ORDER_LEAK_T1C * look.biology
                            + VIABLE_T1C_SPREAD * arterial_score)
    t1c_target = np.where(necrotic, NECROSIS_SIGNAL[0],
                          np.maximum(LIVER_SIGNAL[0] + enhancement, 0.25))
    t2_target = np.where(necrotic, NECROSIS_SIGNAL[1],
                         np.maximum(VIABLE_T2 - FIRST_ORDER_LEAK_T2 * look.biology
                                    + VIABLE_T2_SPREAD * t2_score, 0.2))

    capsule = _capsule_weight(dx, dy, dz, distance, surface, look, voxel)
    t1c += capsule * (CAPSULE_SIGNAL[0] - t1c)
    t2 += capsule * (CAPSULE_SIGNAL[1] - t2)
    weight = inside[support]
    t1c[support] += weight * (t1c_target - t1c[support])
    t2[support] += weight * (t2_target - t2[support])
