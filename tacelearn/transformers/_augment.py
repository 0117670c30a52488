"""Training-time augmentation of tumour patches, drawn once per patient.

The original DLTR code drew flips and rotations independently for each MRI sequence, so the T1C
and T2 channels of one patient no longer showed the same anatomy. Here every channel of a patch
moves with one spatial transform; only the intensity jitter differs between sequences, as
scanner gain and offset do. The work runs batched on the training device.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

__all__ = ["MAX_ROTATION_DEGREES", "PatchAugmentation", "spatial_transform"]

#: Largest rotation drawn (degrees, either way).
MAX_ROTATION_DEGREES = 15.0
#: Half-width of the intensity jitter: gain in 1 +- this, offset in +- this (patch SD units).
INTENSITY_JITTER = 0.1


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
    radians = torch.deg2rad(angles.to(torch.float64))
    cos, sin = torch.cos(radians), torch.sin(radians)
    column_sign = 1.0 - 2.0 * flip_columns.to(torch.float64)
    row_sign = 1.0 - 2.0 * flip_rows.to(torch.float64)
    # affine_grid works in [-1, 1] coordinates on both axes; rotating in pixel units and
    # scaling back keeps non-square patches from shearing.
    aspect = height / width
    theta = torch.zeros((n, 2, 3), dtype=torch.float64)
    theta[:, 0, 0] = cos * column_sign
    theta[:, 0, 1] = -sin * row_sign * aspect
    theta[:, 1, 0] = sin * column_sign / aspect
    theta[:, 1, 1] = cos * row_sign
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
        Mirror rows and columns, each with probability 1/2.
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

    def __call__(self, patches):
        """Augment a batch ``(n, channels, height, width)``; returns a new tensor."""
        n, channels = patches.shape[:2]
        if self.flips:
            flips = torch.rand((n, 2), generator=self.generator) < 0.5
        else:
            flips = torch.zeros((n, 2), dtype=torch.bool)
        angles = self._uniform((n,), self.max_rotation)
        gain = 1.0 + self._uniform((n, channels, 1, 1), self.intensity)
        offset = self._uniform((n, channels, 1, 1), self.intensity)
        if self.max_rotation > 0 or self.flips:
            patches = spatial_transform(patches, angles, flips[:, 0], flips[:, 1])
        device, dtype = patches.device, patches.dtype
        return patches * gain.to(device, dtype) + offset.to(device, dtype)

    def __repr__(self):
        return (f"PatchAugmentation(seed={self.seed}, max_rotation={self.max_rotation}, "
                f"intensity={self.intensity}, flips={self.flips})")

