"""Where a synthetic patient's lesions lie, and the mask a reader draws of them.

Every lesion of the patient is placed inside the liver, index tumour first, so that no two
lesions, their capsules or their masks touch (not even by a corner, so that each lesion is its
own 26-connected component of the mask). At coarse voxel grids a satellite that finds no room
after :data:`PLACEMENT_ATTEMPTS` tries is drawn smaller (by :data:`SHRINK_FACTOR` at a time);
on the coarsest grids, as a last resort, only its mask has to stay apart from the others'.

The reader's mask has the errors of a real segmentation: per patient, the whole mask is
shifted by ``N(0, MASK_SHIFT_SD_MM^2)`` along each axis and its boundary moved outwards by
``clip(N(mask_offset_mm[c], MASK_OFFSET_SD_MM^2), *MASK_OFFSET_LIMITS_MM)`` (dilation when
positive, erosion when negative), plus ``N(0, MASK_LESION_JITTER_SD_MM^2)`` per lesion; erosion
never takes more than ``1 - MIN_MASK_SHARE`` of a lesion's radius, and a lesion left without
a voxel keeps the voxel nearest its centre. Missed satellites are not drawn at all.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from scipy import ndimage

from ._synthetic_tumour import (
    CAPSULE_THICKNESS_MM,
    MAX_EXTENT,
    MIN_EXTENT,
    lesion_geometry,
    painted_region,
)

#: Standard deviation (mm) of the mask's shift along x, y and z.
MASK_SHIFT_SD_MM = (2.5, 2.5, 1.5)
#: Standard deviation (mm) of the reader's boundary offset around the centre's mean.
MASK_OFFSET_SD_MM = 2.5
#: The reader's boundary offset is clipped to this range (mm).
MASK_OFFSET_LIMITS_MM = (-6.0, 8.0)
#: Standard deviation (mm) of each lesion's own boundary offset around the reader's.
MASK_LESION_JITTER_SD_MM = 1.0
#: Erosion keeps at least this share of a lesion's radius.
MIN_MASK_SHARE = 0.4
#: Candidate centres tried per lesion size, and the shrinking of a lesion that found no room.
PLACEMENT_ATTEMPTS = 40
#: Candidates, widest gap first, whose voxels are checked before the lesion is shrunk.
VOXEL_CHECKS = 4
SHRINK_FACTOR = 0.8
MAX_SHRINKS = 12
_TOUCHING = np.ones((3, 3, 3), dtype=bool)


class Grid:
    """The RAS+ voxel grid of a patient: shape, affine, and millimetre coordinates."""

    def __init__(self, shape, affine):
        self.shape = tuple(shape)
        self.affine = affine
        self.spacing = np.diag(affine)[:3].copy()
        self.origin = affine[:3, 3].copy()
        axes = [(np.arange(n) * s + o).astype(np.float32)
                for n, s, o in zip(self.shape, self.spacing, self.origin)]
        self.axes = axes
        self.coordinates = (axes[0][:, None, None], axes[1][None, :, None],
                            axes[2][None, None, :])
        self.in_plane = float(min(self.spacing[:2]))

    def box(self, centre, half_extent):
        """Slices of the voxels within ``half_extent`` mm of ``centre`` along every axis."""
        lower = np.floor((centre - half_extent - self.origin) / self.spacing).astype(int)
        upper = np.ceil((centre + half_extent - self.origin) / self.spacing).astype(int) + 1
        return tuple(slice(max(0, lo), min(n, hi))
                     for lo, hi, n in zip(lower, upper, self.shape))

    def offsets(self, box, centre):
        """``dx, dy, dz`` (mm) of the box's voxels from ``centre``, broadcastable."""
        centre = np.asarray(centre, dtype=np.float32)
        dx = self.axes[0][box[0]][:, None, None] - centre[0]
        dy = self.axes[1][box[1]][None, :, None] - centre[1]
        dz = self.axes[2][box[2]][None, None, :] - centre[2]
        return dx, dy, dz

    def nearest_slice_centre(self, z):
        return self.axes[2][np.argmin(np.abs(self.axes[2] - z))]


@dataclass(frozen=True)
class Reader:
    """The segmentation errors of one patient's mask."""

    shift_mm: tuple
    offset_mm: float


@dataclass(frozen=True)
class Placement:
    """A lesion in the grid: its look, box, voxel offsets from its centre, the distances of
    the voxels and of the surface from the centre (mm), and its mask."""

    look: object
    box: tuple
    offsets: tuple
    distance: np.ndarray
    surface: np.ndarray
    mask: np.ndarray


def draw_reader(profile, rng):
    """The patient's mask errors, given the centre's :class:`CenterProfile`."""
    shift = rng.normal(0.0, MASK_SHIFT_SD_MM)
    offset = np.clip(rng.normal(profile.mask_offset_mm, MASK_OFFSET_SD_MM),
                     *MASK_OFFSET_LIMITS_MM)
    return Reader(shift_mm=tuple(float(s) for s in shift), offset_mm=float(offset))


def _lesion_mask(grid, box, centre, look, reader, offset):
    """The reader's mask of one lesion on its box: shifted, dilated or eroded, never empty."""
    shift = np.asarray(reader.shift_mm)
    distance, surface = lesion_geometry(*grid.offsets(box, centre + shift), look)
    mask = distance <= surface + offset
    if not mask.any():
        nearest = np.rint((centre + shift - grid.origin) / grid.spacing).astype(int)
        local = [int(np.clip(i - s.start, 0, s.stop - s.start - 1))
                 for i, s in zip(nearest, box)]
        mask[tuple(local)] = True
    return mask


def _footprint(grid, centre, look, reader, offset, missed):
    """Box, offsets, geometry, image footprint (lesion and capsule) and mask of a candidate."""
    box = grid.box(centre, _reach(look, offset, reader, grid) + 2.0 * grid.spacing.max())
    offsets = grid.offsets(box, centre)
    distance, surface = lesion_geometry(*offsets, look)
    image = painted_region(distance, surface, grid.in_plane)
    if missed:
        mask = np.zeros(image.shape, dtype=bool)
    else:
        mask = _lesion_mask(grid, box, centre, look, reader, offset)
    return box, offsets, (distance, surface), image, mask


def _candidate_centre(grid, liver_centre, liver_axes, radius, is_index, rng):
    # Lesions may bulge beyond the liver capsule (subcapsular lesions), not lie outside it.
    room = np.maximum(np.asarray(liver_axes) - 0.6 * radius, 4.0)
    direction = rng.standard_normal(3)
    direction *= rng.uniform(0.0, 1.0) ** (1 / 3) / np.linalg.norm(direction)
    centre = np.asarray(liver_centre) + direction * room
    if is_index:
        # The index tumour is centred on a slice so that its largest section is sampled.
        centre[2] = grid.nearest_slice_centre(centre[2])
    return centre


def _reach(look, offset, reader, grid):
    """Distance (mm) from the centre beyond which a lesion leaves no trace in image or mask."""
    return (look.radius_mm * MAX_EXTENT + CAPSULE_THICKNESS_MM + grid.in_plane
            + max(offset, 0.0) + float(np.linalg.norm(reader.shift_mm)))


def _clearance(centre, look, reach, placed, grid):
    """Smallest gap (mm) between the reaches of the candidate and of the placed lesions.

    ``-inf`` when the candidate certainly overlaps a placed lesion (no surface comes closer to
    its centre than ``MIN_EXTENT`` radii); a gap above two voxels certainly leaves room.
    """
    gap = np.inf
    for other_centre, other_look, other_reach in placed:
        distance = float(np.linalg.norm(centre - other_centre))
        if distance < MIN_EXTENT * (look.radius_mm + other_look.radius_mm):
            return -np.inf
        gap = min(gap, distance - reach - other_reach)
    return gap


def _fits(footprint, blocked, strict):
    """Whether a candidate leaves every other lesion alone: its painted region and mask when
    ``strict``, its mask alone otherwise."""
    box, _, _, image, mask = footprint
    if strict and (image & blocked["image"][box]).any():
        return False
    return not (mask & blocked["mask"][box]).any()


def _accept(placed, blocked, centre, trial, reach, footprint):
    box, offsets, geometry, image, mask = footprint
    for key, region in (("image", image | mask), ("mask", mask)):
        blocked[key][box] |= ndimage.binary_dilation(region, structure=_TOUCHING)
    placed.append((centre, trial, reach))
    return Placement(trial, box, offsets, *geometry, mask)


def _free_voxel_centres(grid, blocked, liver, reader, rng):
    """Candidate centres on voxels of the liver (else of the grid) that no mask comes near,
    in random order, so that the reader's shifted mask lands on them."""
    liver_centre, liver_axes = liver
    x, y, z = grid.coordinates
    in_liver = (((x - liver_centre[0]) / liver_axes[0]) ** 2
                + ((y - liver_centre[1]) / liver_axes[1]) ** 2
                + ((z - liver_centre[2]) / liver_axes[2]) ** 2) <= 1.0
    free = ~blocked["mask"]
    voxels = np.argwhere(free & in_liver) if (free & in_liver).any() else np.argwhere(free)
    positions = grid.origin + voxels[rng.permutation(len(voxels))] * grid.spacing
    return positions - np.asarray(reader.shift_mm)


def _place_one(look, missed, offset, reader, grid, liver, placed, blocked, is_index, rng):
    """Place a lesion where it surely has room, else where its voxels show room (widest gap
    first); shrink it when neither is found. As a last resort (very coarse grids) the smallest
    size goes on any free voxel where only its mask must stay apart from the others'. None
    if even that fails."""
    sure_gap = 2.0 * float(grid.spacing.max())
    trial = look
    for _shrink in range(MAX_SHRINKS + 1):
        trial_offset = max(offset, -(1.0 - MIN_MASK_SHARE) * trial.radius_mm)
        reach = _reach(trial, trial_offset, reader, grid)
        candidates = []
        for _attempt in range(PLACEMENT_ATTEMPTS):
            centre = _candidate_centre(grid, *liver, trial.radius_mm, is_index, rng)
            gap = _clearance(centre, trial, reach, placed, grid)
            if gap > sure_gap:
                candidates = [(gap, centre)]
                break
            if gap > -np.inf:
                candidates.append((gap, centre))
        ranked = sorted(candidates, key=lambda candidate: -candidate[0])
        for _gap, centre in ranked[:VOXEL_CHECKS]:
            footprint = _footprint(grid, centre, trial, reader, trial_offset, missed)
            if _fits(footprint, blocked, strict=True):
                return _accept(placed, blocked, centre, trial, reach, footprint)
        if _shrink < MAX_SHRINKS:
            trial = replace(trial, radius_mm=trial.radius_mm * SHRINK_FACTOR)
    for centre in _free_voxel_centres(grid, blocked, liver, reader, rng):
        footprint = _footprint(grid, centre, trial, reader, trial_offset, missed)
        if _fits(footprint, blocked, strict=False):
            return _accept(placed, blocked, centre, trial, reach, footprint)
    return None


def place_lesions(looks, missed, reader, grid, liver_centre, liver_axes, rng, patient_id):
    """Place every lesion in the liver, index tumour first, none touching another.

    Parameters
    ----------
    looks : sequence of LesionLook
        The lesions, index tumour first.
    missed : sequence of bool
        Whether the reader misses each lesion (no mask).
    reader : Reader
    grid : Grid
    liver_centre, liver_axes : numpy.ndarray of shape (3,)
        The liver ellipsoid (mm).
    rng : numpy.random.Generator
    patient_id : str
        Named in the error raised when a lesion cannot be placed.

    Returns
    -------
    placements : list of Placement
        In the order of ``looks``.
    """
    blocked = {"image": np.zeros(grid.shape, dtype=bool),
               "mask": np.zeros(grid.shape, dtype=bool)}
    placements, placed = [], []
    for index, (look, is_missed) in enumerate(zip(looks, missed)):
        offset = reader.offset_mm + MASK_LESION_JITTER_SD_MM * rng.standard_normal()
        placement = _place_one(look, is_missed, offset, reader, grid,
                               (liver_centre, liver_axes), placed, blocked, index == 0, rng)
        if placement is None:
            raise RuntimeError(f"patient {patient_id}: no room for lesion {index} on a grid of "
                               f"{grid.shape}; use a larger image_shape")
        placements.append(placement)
    return placements


def label_in_mask_order(mask, placements, patient_id):
    """Each lesion's rank among the mask's connected components, largest first, and its voxels.

    Components are 26-connected and ranked by voxel count, ties in scan order: the numbering of
    :func:`tacelearn.transformers.label_lesions` (minus one).

    Returns
    -------
    ranks : list of int or None
        Per placement; ``None`` for a lesion the mask misses.
    voxels : list of int
        Per placement; 0 for a missed lesion.
    """
    # Label the mask's bounding box only: the scan order of its voxels is that of the volume.
    extent = []
    for axis in range(3):
        hits = np.flatnonzero(mask.any(axis=tuple(a for a in range(3) if a != axis)))
        extent.append(slice(hits[0], hits[-1] + 1))
    extent = tuple(extent)
    labels = np.zeros(mask.shape, dtype=np.int32)
    labels[extent], n_components = ndimage.label(mask[extent], structure=_TOUCHING)
    counts = np.bincount(labels.ravel(), minlength=n_components + 1)[1:]
    rank_of = np.empty(n_components, dtype=int)
    rank_of[np.argsort(-counts, kind="stable")] = np.arange(n_components)
    ranks, voxels, seen = [], [], set()
    for placement in placements:
        if not placement.mask.any():
            ranks.append(None)
            voxels.append(0)
            continue
        found = np.unique(labels[placement.box][placement.mask])
        if len(found) != 1 or counts[found[0] - 1] != placement.mask.sum():
            raise RuntimeError(f"patient {patient_id}: two lesions of the mask touch")
        seen.add(int(found[0]))
        ranks.append(int(rank_of[found[0] - 1]))
        voxels.append(int(counts[found[0] - 1]))
    if len(seen) != n_components:
        raise RuntimeError(f"patient {patient_id}: the mask holds a component of no lesion")
    return ranks, voxels
