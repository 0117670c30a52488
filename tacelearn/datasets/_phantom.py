"""Abdominal MRI phantoms: arterial-phase T1C, T2 and a tumour mask for one synthetic patient.

Anatomy is laid out in millimetres in RAS+ scanner space (x to the patient's right, y anterior,
z superior) and sampled on a voxel grid, so volumes of any shape show the same patient. What a
CNN can learn sits in the tumours, driven by the latent tumour biology ``B``:

* arterial enhancement of viable tumour rises with ``B`` (hypervascular tumours take up the
  embolic agent and respond);
* the necrotic core (dark on T1C, bright on T2) and the heterogeneity of viable tumour shrink
  with ``B``;
* viable tumour is less T2-bright when ``B`` is high.

The clinical columns are visible too: tumour number and largest diameter, a lobulated or smooth
margin, a nodular liver in cirrhosis and perihepatic fluid in ascites. Scanner effects come from
:class:`ScannerProfile`: field of view (hence voxel spacing), stored orientation, intensity scale
and offset, noise and a smooth multiplicative bias field.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import expit

#: Physical extent of every volume along z (mm): the liver from dome to tip.
Z_COVERAGE_MM = 160.0
#: At most this many tumours are drawn; further nodules of a multinodular liver are not shown.
MAX_RENDERED_TUMOURS = 4
#: Largest tumour radius drawn (mm): bigger tumours would not fit in the phantom liver.
MAX_RENDERED_RADIUS_MM = 48.0

# Relative signal of each tissue: (arterial-phase T1C, T2).
_BACKGROUND = (0.02, 0.02)
_BODY = (0.42, 0.30)
_FAT = (0.30, 0.75)
_LIVER = (0.55, 0.35)
_SPLEEN = (0.80, 0.70)
_AORTA = (1.80, 0.10)
_SPINE = (0.50, 0.45)
_FLUID = (0.10, 1.50)
_NECROSIS = (0.22, 1.30)


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


def _linear_upsampling(n_out, n_in):
    """(n_out, n_in) matrix of linear interpolation from ``n_in`` to ``n_out`` points."""
    position = np.linspace(0.0, n_in - 1.0, n_out)
    lower = np.minimum(np.floor(position).astype(int), n_in - 2)
    weight = (position - lower).astype(np.float32)
    matrix = np.zeros((n_out, n_in), dtype=np.float32)
    matrix[np.arange(n_out), lower] = 1.0 - weight
    matrix[np.arange(n_out), lower + 1] = weight
    return matrix


def _smooth_noise(shape, rng, coarseness=6):
    """Unit-variance noise that varies smoothly over about ``coarseness`` voxels in-plane."""
    coarse_shape = [max(2, s // coarseness + 2) for s in shape[:2]] + [max(2, shape[2] // 2 + 2)]
    field = rng.standard_normal(coarse_shape).astype(np.float32)
    # Separable linear interpolation: three small matrix products instead of ndimage.zoom.
    field = field @ _linear_upsampling(shape[2], coarse_shape[2]).T
    field = np.einsum("yb,abz->ayz", _linear_upsampling(shape[1], coarse_shape[1]), field)
    field = np.einsum("xa,ayz->xyz", _linear_upsampling(shape[0], coarse_shape[0]), field)
    return (field - field.mean()) / (field.std() + 1e-6)


def _soft_inside(signed_distance, spacing):
    """Anti-aliased occupancy: 1 inside, 0 outside, a one-voxel ramp at the boundary."""
    return np.clip(0.5 - signed_distance / spacing, 0.0, 1.0)


def _place_tumours(patient, liver_centre, liver_axes, rng, z_centres):
    """Centres and radii (mm) of the tumours, inside the liver and not overlapping."""
    count = int(min(patient["tumour_number"], MAX_RENDERED_TUMOURS))
    largest = min(10.0 * patient["tumour_diameter"] / 2.0, MAX_RENDERED_RADIUS_MM)
    radii = [largest] + [max(6.0, largest * rng.uniform(0.3, 0.6)) for _ in range(count - 1)]
    placed = []
    # Lobulated margins reach 1.24 radii: keep 1.3 radii of room so lesions stay separate.
    for index, radius in enumerate(radii):
        room = np.maximum(np.asarray(liver_axes) - radius - 4.0, 4.0)
        for _attempt in range(60):
            direction = rng.standard_normal(3)
            direction *= rng.uniform(0.0, 1.0) ** (1 / 3) / np.linalg.norm(direction)
            centre = np.asarray(liver_centre) + direction * room
            if index == 0:
                # The largest tumour is centred on a slice so that it always shows in the mask.
                centre[2] = z_centres[np.argmin(np.abs(z_centres - centre[2]))]
            if all(np.linalg.norm(centre - c) > 1.3 * (radius + r) + 4.0 for c, r in placed):
                placed.append((centre, radius))
                break
    return placed


def render_patient(patient, image_shape, scanner, rng):
    """Render one patient's T1C, T2 and tumour mask.

    Parameters
    ----------
    patient : mapping
        The patient's row: ``tumour_biology``, ``tumour_number``, ``tumour_diameter``,
        ``tumour_margin``, ``cirrhosis`` and ``ascites`` are used.
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
        Tumour mask (1 inside any tumour), same shape and orientation.
    affine : numpy.ndarray of shape (4, 4)
        Voxel-to-scanner affine of all three volumes.
    """
    shape = tuple(int(s) for s in image_shape)
    affine = ras_affine(shape, scanner)
    spacing = np.diag(affine)[:3]
    x = (np.arange(shape[0]) * spacing[0] + affine[0, 3]).astype(np.float32)[:, None, None]
    y = (np.arange(shape[1]) * spacing[1] + affine[1, 3]).astype(np.float32)[None, :, None]
    z = (np.arange(shape[2]) * spacing[2] + affine[2, 3]).astype(np.float32)[None, None, :]
    in_plane = min(spacing[0], spacing[1])
    biology = float(patient["tumour_biology"])
    texture = _smooth_noise(shape, rng)

    t1c = np.full(shape, _BACKGROUND[0], dtype=np.float32)
    t2 = np.full(shape, _BACKGROUND[1], dtype=np.float32)

    def paint(weight, signal):
        nonlocal t1c, t2
        t1c += weight * (signal[0] - t1c)
        t2 += weight * (signal[1] - t2)

    # Body wall and subcutaneous fat (an elliptic cylinder), spine, aorta, spleen.
    body_r = np.sqrt((x / 170.0) ** 2 + (y / 125.0) ** 2)
    paint(_soft_inside((body_r - 1.0) * 150.0, in_plane), _FAT)
    paint(_soft_inside((body_r - 0.92) * 150.0, in_plane), _BODY)
    paint(_soft_inside(np.sqrt(x**2 + (y + 88.0) ** 2) - 20.0, in_plane), _SPINE)
    paint(_soft_inside(np.sqrt((x + 15.0) ** 2 + (y + 50.0) ** 2) - 12.0, in_plane), _AORTA)
    spleen = np.sqrt(((x + 100.0) / 42.0) ** 2 + ((y + 30.0) / 35.0) ** 2
                     + ((z - 15.0) / 55.0) ** 2)
    paint(_soft_inside((spleen - 1.0) * 38.0, in_plane), _SPLEEN)

    # Liver: an ellipsoid in the right upper abdomen, smaller and nodular in cirrhosis.
    shrink = 0.88 if patient["cirrhosis"] == 1 else 1.0
    liver_axes = np.array([95.0, 82.0, 72.0]) * shrink * rng.uniform(0.92, 1.08, 3)
    liver_centre = np.array([58.0, 8.0, 0.0]) + rng.normal(0.0, [6.0, 6.0, 6.0])
    liver_r = np.sqrt(((x - liver_centre[0]) / liver_axes[0]) ** 2
                      + ((y - liver_centre[1]) / liver_axes[1]) ** 2
                      + ((z - liver_centre[2]) / liver_axes[2]) ** 2)
    nodularity = 0.035 * texture if patient["cirrhosis"] == 1 else 0.0
    liver_distance = (liver_r - 1.0 + nodularity) * liver_axes.min()
    if patient["ascites"] == 1:
        paint(_soft_inside(liver_distance - rng.uniform(7.0, 14.0), in_plane), _FLUID)
    liver = _soft_inside(liver_distance, in_plane)
    paint(liver, _LIVER)
    if patient["cirrhosis"] == 1:
        t1c *= 1.0 + 0.06 * texture * liver

    # Tumours.
    z_centres = np.ravel(z)
    enhancement = 0.55 + 0.75 * expit(1.5 * biology)
    necrotic_fraction = 0.04 + 0.45 * expit(-1.5 * biology - 0.5)
    heterogeneity = 0.06 + 0.25 * expit(-1.2 * biology)
    viable_t2 = 0.55 + 0.30 * expit(-1.2 * biology)
    lobulation = 0.16 if patient["tumour_margin"] == "lobulated" else 0.02
    mask = np.zeros(shape, dtype=np.uint8)
    for centre, radius in _place_tumours(patient, liver_centre, liver_axes, rng, z_centres):
        lo = [max(0, int(np.floor((centre[a] - 1.3 * radius - affine[a, 3]) / spacing[a])))
              for a in range(3)]
        hi = [min(shape[a], int(np.ceil((centre[a] + 1.3 * radius - affine[a, 3])
                                        / spacing[a])) + 1) for a in range(3)]
        box = tuple(slice(lo[a], hi[a]) for a in range(3))
        dx, dy, dz = x[box[0]] - centre[0], y[:, box[1]] - centre[1], z[..., box[2]] - centre[2]
        distance = np.sqrt(dx**2 + dy**2 + dz**2)
        theta = np.arctan2(dy, dx)
        phi = np.arccos(np.clip(dz / np.maximum(distance, 1e-3), -1.0, 1.0))
        phases = rng.uniform(0, 2 * np.pi, 3)
        surface = radius * (1.0 + lobulation * np.sin(3 * theta + phases[0])
                            * np.sin(2 * phi + phases[1])
                            + 0.5 * lobulation * np.sin(5 * theta + phases[2]))
        inside = _soft_inside(distance - surface, in_plane)
        local_enhancement = enhancement * rng.uniform(0.95, 1.05)
        viable_t1 = local_enhancement * (1.0 + heterogeneity * texture[box])
        region_t1, region_t2 = t1c[box], t2[box]
        region_t1 += inside * (viable_t1 - region_t1)
        region_t2 += inside * (viable_t2 * (1.0 + 0.5 * heterogeneity * texture[box])
                               - region_t2)
        core = _soft_inside(distance - surface * necrotic_fraction ** (1 / 3), in_plane)
        region_t1 += core * (_NECROSIS[0] - region_t1)
        region_t2 += core * (_NECROSIS[1] - region_t2)
        mask[box] |= (distance <= surface).astype(np.uint8)

    # Scanner: bias field, Rician noise, intensity scale and offset, orientation.
    u = x / (scanner.field_of_view_mm / 2)
    v = y / (scanner.field_of_view_mm / 2)
    stored = []
    for image in (t1c, t2):
        a, b, c = rng.normal(0.0, scanner.bias, 3)
        bias_field = np.exp(a * u + b * v + c * (u**2 + v**2 - 0.5)).astype(np.float32)
        sigma = scanner.noise * _LIVER[0]
        noisy = np.sqrt((image * bias_field + sigma * rng.standard_normal(shape,
                                                                           dtype=np.float32)) ** 2
                        + (sigma * rng.standard_normal(shape, dtype=np.float32)) ** 2)
        values = scanner.intensity_scale * noisy + scanner.intensity_offset
        stored.append(np.clip(np.rint(values), -32768, 32767).astype(np.int16))
    volumes = []
    for volume in (*stored, mask):
        oriented, oriented_affine = to_orientation(volume, affine, scanner.orientation)
        volumes.append(oriented)
    return volumes[0], volumes[1], volumes[2], oriented_affine
