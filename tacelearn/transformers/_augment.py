"""Training-time augmentation of tumour patches, drawn once per patient.

The original DLTR code drew flips and rotations independently for each MRI sequence, so the T1C
and T2 channels of one patient no longer showed the same anatomy. Here every channel of a patch
moves with one spatial transform; only the intensity jitter differs between sequences, as
scanner gain and offset do. 3D patches ``(n, C, D, H, W)`` get the same in-plane rotation and
row and column flips on every slice, and a flip of the slice order. The work runs batched on
the training device.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

__all__ = ["MAX_ROTATION_DEGREES", "PatchAugmentation", "spatial_transform",
           "spatial_transform_3d"]

#: Largest rotation drawn (degrees, either way).
MAX_ROTATION_DEGREES = 15.0
#: Half-width of the intensity jitter: gain in 1 +- this, offset in +- this (patch SD units).
INTENSITY_JITTER = 0.1


def _in_plane_matrix(n, angles, flip_rows, flip_columns, height, width):
    """The 2 x 2 block of ``affine_grid``'s theta for flips then a rotation, in [-1, 1] units."""
    radians = torch.deg2rad(angles.to(torch.float64))
    cos, sin = torch.cos(radians), torch.sin(radians)
    column_sign = 1.0 - 2.0 * flip_columns.to(torch.float64)
    row_sign = 1.0 - 2.0 * flip_rows.to(torch.float64)
    # affine_grid works in [-1, 1] coordinates on both axes; rotating in pixel units and
    # scaling back keeps non-square patches from shearing.
    aspect = height / width
    block = torch.zeros((n, 2, 2), dtype=torch.float64)
    block[:, 0, 0] = cos * column_sign
    block[:, 0, 1] = -sin * row_sign * aspect
    block[:, 1, 0] = sin * column_sign / aspect
    block[:, 1, 1] = cos * row_sign
    return block


def spatial_transform(patches, angles, flip_rows, flip_columns):
    """Rotate and flip each patch; all channels of a patch get the same transform.

    Parameters
    ----------
    patches : torch.Tensor of shape (n, channels, height, width)
        Floating-point patches.
    angles : torch.Tensor of shape (n,)
        Rotation of each patch in degrees, with the sign convention of
        :func:`scipy.ndimage.rotate`.
    flip_rows, flip_columns : torch.Tensor of bool, shape (n,)
        Whether to mirror each patch upside down (rows reversed) and left-right (columns
        reversed); flips are applied before the rotation.

    Returns
    -------
    transformed : torch.Tensor
        Same shape, dtype and device. Pixels from outside the patch are mirrored in
        (reflection padding); bilinear interpolation, exact for flips alone.
    """
    n, _, height, width = patches.shape
    theta = torch.zeros((n, 2, 3), dtype=torch.float64)
    theta[:, :, :2] = _in_plane_matrix(n, angles, flip_rows, flip_columns, height, width)
    theta = theta.to(device=patches.device, dtype=patches.dtype)
    grid = F.affine_grid(theta, list(patches.shape), align_corners=False)
    return F.grid_sample(patches, grid, mode="bilinear", padding_mode="reflection",
                         align_corners=False)


def spatial_transform_3d(patches, angles, flip_rows, flip_columns, flip_slices):
    """Rotate each slice in plane and flip each 3D patch; all channels move together.

    Parameters
    ----------
    patches : torch.Tensor of shape (n, channels, depth, height, width)
        Floating-point 3D patches; axis 2 runs through the axial slices.
    angles : torch.Tensor of shape (n,)
        In-plane rotation of each patch in degrees, the same on every slice, with the sign
        convention of :func:`spatial_transform`.
    flip_rows, flip_columns, flip_slices : torch.Tensor of bool, shape (n,)
        Whether to reverse the rows, the columns and the slice order of each patch; flips are
        applied before the rotation.

    Returns
    -------
    transformed : torch.Tensor
        Same shape, dtype and device; reflection padding, trilinear interpolation (exact for
        flips alone). Slices stay slices: nothing is interpolated between them but flipped.
    """
    n, _, _, height, width = patches.shape
    theta = torch.zeros((n, 3, 4), dtype=torch.float64)
    theta[:, :2, :2] = _in_plane_matrix(n, angles, flip_rows, flip_columns, height, width)
    theta[:, 2, 2] = 1.0 - 2.0 * flip_slices.to(torch.float64)
    theta = theta.to(device=patches.device, dtype=patches.dtype)
    grid = F.affine_grid(theta, list(patches.shape), align_corners=False)
    return F.grid_sample(patches, grid, mode="bilinear", padding_mode="reflection",
                         align_corners=False)


class PatchAugmentation:
    """Random flips, small rotations and intensity jitter with their own random stream.

    Parameters
    ----------
    seed : int
        Seed of the augmentation's :class:`torch.Generator`; the same seed draws the same
        transforms for the same sequence of batches.
    max_rotation : float, default=MAX_ROTATION_DEGREES
        Rotations are uniform in ``[-max_rotation, max_rotation]`` degrees.
    intensity : float, default=INTENSITY_JITTER
        Each channel of each patch is mapped to ``gain * x + offset`` with gain uniform in
        ``1 +- intensity`` and offset uniform in ``+- intensity``.
    flips : bool, default=True
        Mirror rows and columns (and the slice order of 3D patches), each with probability
        1/2.
    """

    def __init__(self, seed, *, max_rotation=MAX_ROTATION_DEGREES, intensity=INTENSITY_JITTER,
                 flips=True):
        self.seed = int(seed)
        self.max_rotation = float(max_rotation)
        self.intensity = float(intensity)
        self.flips = bool(flips)
        self.generator = torch.Generator().manual_seed(self.seed)

    def _uniform(self, shape, half_width):
        # Drawn on the CPU so that the stream is the same whatever the training device.
        return (2.0 * torch.rand(shape, generator=self.generator) - 1.0) * half_width

    def _flips(self, n):
        if self.flips:
            return torch.rand((n, 2), generator=self.generator) < 0.5
        return torch.zeros((n, 2), dtype=torch.bool)

    def __call__(self, patches):
        """Augment a batch ``(n, channels, height, width)`` or ``(n, channels, depth, height,
        width)``; returns a new tensor."""
        n, channels = patches.shape[:2]
        spatial = (1,) * (patches.ndim - 2)
        flips = self._flips(n)
        angles = self._uniform((n,), self.max_rotation)
        gain = 1.0 + self._uniform((n, channels, *spatial), self.intensity)
        offset = self._uniform((n, channels, *spatial), self.intensity)
        if patches.ndim == 5:
            # Drawn last, so that 2D patches see the same stream as they always did.
            flip_slices = self._flips(n)[:, 0]
            if self.max_rotation > 0 or self.flips:
                patches = spatial_transform_3d(patches, angles, flips[:, 0], flips[:, 1],
                                               flip_slices)
        elif self.max_rotation > 0 or self.flips:
            patches = spatial_transform(patches, angles, flips[:, 0], flips[:, 1])
        device, dtype = patches.device, patches.dtype
        return patches * gain.to(device, dtype) + offset.to(device, dtype)

    def __repr__(self):
        return (f"PatchAugmentation(seed={self.seed}, max_rotation={self.max_rotation}, "
                f"intensity={self.intensity}, flips={self.flips})")

