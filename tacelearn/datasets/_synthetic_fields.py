"""Small numerical building blocks of the phantoms: smooth noise, soft occupancy, ranks."""

from __future__ import annotations

import numpy as np
from scipy.special import ndtri


def _linear_upsampling(n_out, n_in):
    """(n_out, n_in) matrix of linear interpolation from ``n_in`` to ``n_out`` points."""
    position = np.linspace(0.0, n_in - 1.0, n_out)
    lower = np.minimum(np.floor(position).astype(int), n_in - 2)
    weight = (position - lower).astype(np.float32)
    matrix = np.zeros((n_out, n_in), dtype=np.float32)
    matrix[np.arange(n_out), lower] = 1.0 - weight
    matrix[np.arange(n_out), lower + 1] = weight
    return matrix


def smooth_noise(shape, rng, cell):
    """Unit-variance noise that varies smoothly over about ``cell`` voxels along each axis.

    Parameters
    ----------
    shape : tuple of 3 int
        Shape of the field.
    rng : numpy.random.Generator
        Source of randomness.
    cell : tuple of 3 float
        Voxels per independent coarse value along each axis.

    Returns
    -------
    field : numpy.ndarray of float32
        Standardised (mean 0, standard deviation 1) over the field.
    """
    coarse_shape = [max(2, int(np.ceil(n / max(c, 1.0))) + 2) for n, c in zip(shape, cell)]
    field = rng.standard_normal(coarse_shape).astype(np.float32)
    # Separable linear interpolation: three small matrix products instead of ndimage.zoom.
    field = field @ _linear_upsampling(shape[2], coarse_shape[2]).T
    field = np.einsum("yb,abz->ayz", _linear_upsampling(shape[1], coarse_shape[1]), field)
    field = np.einsum("xa,ayz->xyz", _linear_upsampling(shape[0], coarse_shape[0]), field)
    return (field - field.mean()) / (field.std() + 1e-6)


def soft_inside(signed_distance, spacing):
    """Anti-aliased occupancy: 1 inside, 0 outside, a one-voxel ramp at the boundary."""
    return np.clip(0.5 - signed_distance / spacing, 0.0, 1.0)


def normal_scores_by_slice(values, slices, reference):
    """Normal scores of ``values`` against the ``reference`` values of the same axial slice.

    Each value is placed in the empirical distribution of the reference values of its slice
    (mid-rank; ``(rank + 1) / (n + 1)`` for the k-th of ``n`` reference values), and that
    probability is mapped through the standard normal quantile function.
    Whatever the spatial arrangement of the values, the scores of the reference voxels of a
    slice therefore have the same distribution: a pattern changes where intensities go, not
    which intensities there are.

    Parameters
    ----------
    values : numpy.ndarray, shape (n,)
        Field values to score.
    slices : numpy.ndarray of int, shape (n,)
        Axial slice of each value.
    reference : numpy.ndarray of bool, shape (n,)
        Which values form each slice's distribution; a slice without any scores 0.

    Returns
    -------
    scores : numpy.ndarray of float32, shape (n,)
    """
    scores = np.zeros(values.shape, dtype=np.float32)
    for index in np.unique(slices):
        here = slices == index
        pool = np.sort(values[here & reference])
        if pool.size == 0:
            continue
        lower = np.searchsorted(pool, values[here], side="left")
        upper = np.searchsorted(pool, values[here], side="right")
        scores[here] = ndtri((lower + upper + 1.0) / (2.0 * pool.size + 2.0))
    return scores
