"""Abdominal MRI phantoms: arterial-phase T1C, T2 and a tumour mask for one synthetic patient.

Anatomy is laid out in millimetres in RAS+ scanner space (x to the patient's right, y anterior,
z superior) and sampled on a voxel grid, so volumes of any shape show the same patient. The
liver holds every lesion of the patient (:mod:`tacelearn.datasets._synthetic_layout` places
them and draws the reader's mask); each lesion shows its own biology in its spatial structure
(:mod:`tacelearn.datasets._synthetic_tumour`). The clinical columns are visible too: tumour
number and largest diameter, a lobulated or smooth margin, a nodular liver in cirrhosis and
perihepatic fluid in ascites.

Nuisances: the arterial phase is timed differently by patient and centre, which scales the
enhancement of the aorta, the spleen and the tumours by ``E = exp(arterial_timing_mean[c] +
ARTERIAL_TIMING_SD * N(0, 1))``; scanner effects come from :class:`ScannerProfile`: field of
view (hence voxel spacing), stored orientation, intensity scale and offset, Rician noise and a
smooth multiplicative bias field.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._synthetic_centers import center_profile
from ._synthetic_fields import smooth_noise, soft_inside
from ._synthetic_layout import Grid, draw_reader, label_in_mask_order, place_lesions
from ._synthetic_tumour import LIVER_SIGNAL, draw_look, paint_lesion

#: Physical extent of every volume along z (mm): the liver from dome to tip.
Z_COVERAGE_MM = 160.0
#: Largest tumour radius drawn (mm): bigger tumours would not fit in the phantom liver; the
#: patient's satellites are drawn to the same scale.
MAX_RENDERED_RADIUS_MM = 48.0
#: Standard deviation of the patient's log arterial enhancement factor around the centre's.
ARTERIAL_TIMING_SD = 0.15

# Relative signal of each tissue: (arterial-phase T1C, T2).
_BACKGROUND = (0.02, 0.02)
_BODY = (0.42, 0.30)
_FAT = (0.30, 0.75)
_SPLEEN = (0.80, 0.70)
_AORTA = (1.80, 0.10)
_SPINE = (0.50, 0.45)
_FLUID = (0.10, 1.50)


@dataclass(frozen=True)
class ScannerProfile:
    """How one centre's scanner records a patient.

    Parameters
    ----------
    field_of_view_mm : float
        In-plane field of view; voxel spacing is this divided by the image width.
    orientation : {"RAS", "LPS", "LAS"}
        Axis codes of the stored voxel array.
    intensity_scale, intensity_offset : float
        Stored value = scale * relative signal + offset.
    noise : float
        Standard deviation of the Rician noise relative to liver signal.
    bias : float
        Strength of the smooth multiplicative bias field.
    """

    field_of_view_mm: float
    orientation: str
    intensity_scale: float
    intensity_offset: float
    noise: float
    bias: float


#: Scanner of each centre: spacing, orientation, scale, noise and bias differ.
CENTER_SCANNERS = {
    "center_1": ScannerProfile(360.0, "RAS", 1000.0, 50.0, 0.03, 0.15),
    "center_2": ScannerProfile(400.0, "LPS", 600.0, 0.0, 0.05, 0.25),
    "center_3": ScannerProfile(340.0, "LAS", 1500.0, 120.0, 0.04, 0.10),
}


def scanner_for_center(center):
    """The :class:`ScannerProfile` of a centre; centres beyond the third reuse the three."""
    if center in CENTER_SCANNERS:
        return CENTER_SCANNERS[center]
    keys = list(CENTER_SCANNERS)
    index = int(center.split("_")[-1]) - 1
    return CENTER_SCANNERS[keys[index % len(keys)]]


def ras_affine(image_shape, scanner):
    """Affine of the RAS+ voxel grid centred on the scanner's isocentre."""
    spacing = np.array([
        scanner.field_of_view_mm / image_shape[0],
        scanner.field_of_view_mm / image_shape[1],
        Z_COVERAGE_MM / image_shape[2],
    ])
    affine = np.diag(np.append(spacing, 1.0))
    affine[:3, 3] = -spacing * (np.asarray(image_shape) - 1) / 2.0
    return affine


def to_orientation(volume, affine, orientation):
    """Store a RAS+ volume in another orientation, adjusting the affine to match."""
    flips = {"RAS": (), "LAS": (0,), "LPS": (0, 1)}[orientation]
    affine = affine.copy()
    for axis in flips:
        volume = np.flip(volume, axis=axis)
        # voxel i' = n - 1 - i: the column changes sign and the origin moves to the far end.
        affine[:3, 3] = affine[:3, 3] + affine[:3, axis] * (volume.shape[axis] - 1)
        affine[:3, axis] = -affine[:3, axis]
    return np.ascontiguousarray(volume), affine


class _Canvas:
    """The two sequences being painted, in relative signal."""

    def __init__(self, shape):
        self.t1c = np.full(shape, _BACKGROUND[0], dtype=np.float32)
        self.t2 = np.full(shape, _BACKGROUND[1], dtype=np.float32)

    def paint(self, weight, signal):
        self.t1c += weight * (signal[0] - self.t1c)
        self.t2 += weight * (signal[1] - self.t2)


def _paint_body(canvas, grid, timing):
    """Body wall and subcutaneous fat (an elliptic cylinder), spine, aorta, spleen."""
    x, y, z = grid.coordinates
    voxel = grid.in_plane

    def enhanced(tissue):
        # The arterial timing scales enhancement above the body wall's signal.
        return (_BODY[0] + timing * (tissue[0] - _BODY[0]), tissue[1])

    body_r = np.sqrt((x / 170.0) ** 2 + (y / 125.0) ** 2)
    canvas.paint(soft_inside((body_r - 1.0) * 150.0, voxel), _FAT)
    canvas.paint(soft_inside((body_r - 0.92) * 150.0, voxel), _BODY)
    canvas.paint(soft_inside(np.sqrt(x**2 + (y + 88.0) ** 2) - 20.0, voxel), _SPINE)
    canvas.paint(soft_inside(np.sqrt((x + 15.0) ** 2 + (y + 50.0) ** 2) - 12.0, voxel),
                 enhanced(_AORTA))
    spleen = np.sqrt(((x + 100.0) / 42.0) ** 2 + ((y + 30.0) / 35.0) ** 2
                     + ((z - 15.0) / 55.0) ** 2)
    canvas.paint(soft_inside((spleen - 1.0) * 38.0, voxel), enhanced(_SPLEEN))


def _paint_liver(canvas, grid, patient, rng):
    """Liver ellipsoid in the right upper abdomen, smaller and nodular in cirrhosis."""
    x, y, z = grid.coordinates
    cirrhotic = patient["cirrhosis"] == 1
    texture = smooth_noise(grid.shape, rng, (6.0, 6.0, 2.0)) if cirrhotic else 0.0
    shrink = 0.88 if cirrhotic else 1.0
    axes = np.array([95.0, 82.0, 72.0]) * shrink * rng.uniform(0.92, 1.08, 3)
    centre = np.array([58.0, 8.0, 0.0]) + rng.normal(0.0, [6.0, 6.0, 6.0])
    radius = np.sqrt(((x - centre[0]) / axes[0]) ** 2 + ((y - centre[1]) / axes[1]) ** 2
                     + ((z - centre[2]) / axes[2]) ** 2)
    distance = (radius - 1.0 + 0.035 * texture) * axes.min()
    if patient["ascites"] == 1:
        canvas.paint(soft_inside(distance - rng.uniform(7.0, 14.0), grid.in_plane), _FLUID)
    liver = soft_inside(distance, grid.in_plane)
    canvas.paint(liver, LIVER_SIGNAL)
    if cirrhotic:
        canvas.t1c *= 1.0 + 0.06 * texture * liver
    return centre, axes


def _record(canvas_shape, scanner, affine, rng, volume):
    """Bias field, Rician noise, intensity scale and offset: the stored int16 values."""
    u = affine[0, 3] + np.arange(canvas_shape[0]) * affine[0, 0]
    v = affine[1, 3] + np.arange(canvas_shape[1]) * affine[1, 1]
    u = (u / (scanner.field_of_view_mm / 2)).astype(np.float32)[:, None, None]
    v = (v / (scanner.field_of_view_mm / 2)).astype(np.float32)[None, :, None]
    a, b, c = rng.normal(0.0, scanner.bias, 3)
    bias_field = np.exp(a * u + b * v + c * (u**2 + v**2 - 0.5)).astype(np.float32)
    sigma = scanner.noise * LIVER_SIGNAL[0]
    real = volume * bias_field + sigma * rng.standard_normal(canvas_shape, dtype=np.float32)
    imaginary = sigma * rng.standard_normal(canvas_shape, dtype=np.float32)
    values = scanner.intensity_scale * np.sqrt(real**2 + imaginary**2) + scanner.intensity_offset
    return np.clip(np.rint(values), -32768, 32767).astype(np.int16)


def _rendered_radii(lesions):
    """Radii drawn (mm): the true ones, scaled down together when the largest does not fit."""
    radii = np.array([lesion["radius_mm"] for lesion in lesions], dtype=float)
    return radii * min(1.0, MAX_RENDERED_RADIUS_MM / radii.max())


def render_patient(patient, lesions, image_shape, scanner, rng):
    """Render one patient's T1C, T2 and tumour mask.

    Parameters
    ----------
    patient : mapping
        The patient's row: ``patient_id``, ``center``, ``tumour_margin``, ``cirrhosis`` and
        ``ascites`` are used.
    lesions : sequence of mapping
        The patient's lesions as :func:`~tacelearn.datasets._synthetic_lesions.simulate_lesions`
        gives them (``tumour``, ``radius_mm``, ``biology``, ``missed_by_mask``), index tumour
        first.
    image_shape : tuple of 3 int
        Voxel grid (x, y, z).
    scanner : ScannerProfile
        The centre's scanner.
    rng : numpy.random.Generator
        The patient's own random stream.

    Returns
    -------
    t1c, t2 : numpy.ndarray of int16
        Stored intensities, in the scanner's orientation.
    mask : numpy.ndarray of uint8
        Tumour mask as the reader drew it (1 inside a lesion), same shape and orientation.
    affine : numpy.ndarray of shape (4, 4)
        Voxel-to-scanner affine of all three volumes.
    records : list of dict
        Per lesion, in the order of ``lesions``: ``lesion`` (its rank by voxel count among the
        connected components of the mask, 0 = largest, as
        :func:`tacelearn.transformers.label_lesions` numbers them in RAS+; ``None`` when the
        mask misses it), ``mask_voxels`` and ``rendered_radius_mm``.
    """
    shape = tuple(int(s) for s in image_shape)
    affine = ras_affine(shape, scanner)
    grid = Grid(shape, affine)
    profile = center_profile(patient["center"])
    timing = float(np.exp(profile.arterial_timing_mean
                          + ARTERIAL_TIMING_SD * rng.standard_normal()))

    canvas = _Canvas(shape)
    _paint_body(canvas, grid, timing)
    liver_centre, liver_axes = _paint_liver(canvas, grid, patient, rng)

    looks = [draw_look(lesion["biology"], radius, patient["tumour_margin"], rng)
             for lesion, radius in zip(lesions, _rendered_radii(lesions))]
    reader = draw_reader(profile, rng)
    missed = [bool(lesion["missed_by_mask"]) for lesion in lesions]
    placements = place_lesions(looks, missed, reader, grid, liver_centre, liver_axes, rng,
                               patient["patient_id"])
    mask = np.zeros(shape, dtype=np.uint8)
    for placement in placements:
        paint_lesion(canvas.t1c[placement.box], canvas.t2[placement.box], placement.offsets,
                     (placement.distance, placement.surface), placement.look, grid.spacing,
                     timing, rng)
        mask[placement.box] |= placement.mask
    order, voxels = label_in_mask_order(mask, placements, patient["patient_id"])
    records = [{"lesion": rank, "mask_voxels": count,
                "rendered_radius_mm": placement.look.radius_mm}
               for rank, count, placement in zip(order, voxels, placements)]

    stored = [_record(shape, scanner, affine, rng, image) for image in (canvas.t1c, canvas.t2)]
    volumes = []
    for volume in (*stored, mask):
        oriented, oriented_affine = to_orientation(volume, affine, scanner.orientation)
        volumes.append(oriented)
    return volumes[0], volumes[1], volumes[2], oriented_affine, records
