"""R's ``loess`` in one predictor: local quadratic regression, as R computes it by default.

The smooth at a point is the tricube-weighted quadratic least-squares fit on the
``floor(span * n)`` nearest observations (span 0.75), computed exactly at the vertices of
loess's k-d tree and blended between them by cubic Hermite interpolation
(``surface = "interpolate"``, Cleveland & Grosse 1991), or exactly at every point
(``surface = "direct"``). In one dimension the k-d tree is a set of cut points: a cell of more
than ``floor(n * span * cell)`` points (cell 0.2) is cut at its median, moved to the nearest
change of value when the median sits in a run of ties.

statsmodels' ``lowess`` is a different smoother (local linear, robustness iterations, no k-d
tree), so the flexible calibration curve of R users (``loess(y ~ p)``, Austin & Steyerberg
2019) is computed here.
"""

from __future__ import annotations

from collections import deque

import numpy as np

from ..utils import describe_entries, one_dimensional

__all__ = ["LOESS_SURFACES", "loess_smooth"]

#: Surfaces of :func:`loess_smooth`: R's ``loess.control(surface = ...)``.
LOESS_SURFACES = ("interpolate", "direct")
# R's loess.control(cell = 0.2): a k-d tree cell holds at most floor(n * span * cell) points.
_CELL = 0.2
# Singular values below this fraction of the largest are dropped, as loess's ehg127 does.
_RCOND = 100.0 * np.finfo(float).eps
# Design matrices of the direct surface are built in blocks of at most this many entries.
_DIRECT_BLOCK = 2_000_000


def _neighbourhood_size(n_samples, span):
    if not 0.0 < span <= 1.0:
        raise ValueError(f"span must lie in (0, 1], got {span!r}")
    n_near = min(n_samples, int(np.floor(n_samples * span)))
    # Three local coefficients need at least four neighbours (loess's error 104).
    if n_near < 4:
        raise ValueError(
            f"span={span} of {n_samples} observations leaves {n_near} neighbours; a local "
            "quadratic fit needs at least 4: increase span or use more observations"
        )
    return n_near


def _local_quadratic(x, y, centres, n_near):
    """Value and slope at each centre of the tricube-weighted local quadratic fit on the
    ``n_near`` nearest values of ``x`` (loess's ehg127: equilibrated columns, pseudo-inverse)."""
    offsets = x[None, :] - centres[:, None]
    squared = offsets * offsets
    radius = np.partition(squared, n_near - 1, axis=1)[:, n_near - 1]
    if np.any(radius <= 0.0):
        raise ValueError(
            f"at least {n_near} observations share one value of x, so the loess neighbourhood "
            "has zero width (R's loess stops with 'span too small'); increase span"
        )
    ratio = np.sqrt(squared / radius[:, None])
    root_weights = np.sqrt(np.where(ratio < 1.0, (1.0 - ratio**3) ** 3, 0.0))
    design = root_weights[..., None] * np.stack((np.ones_like(offsets), offsets, squared),
                                                axis=-1)
    norms = np.sqrt(np.einsum("mnk,mnk->mk", design, design))
    norms[norms == 0.0] = 1.0
    pseudo_inverse = np.linalg.pinv(design / norms[:, None, :], rcond=_RCOND)
    coef = np.einsum("mkn,mn->mk", pseudo_inverse, root_weights * y[None, :]) / norms
    return coef[:, 0], coef[:, 1]


def _split_position(sorted_x, first, last):
    """1-based position of the cut of cell ``first..last``: the median, or the nearest position
    (trying +1, -1, +2, -2, ...) after which the value changes."""
    middle = (first + last) // 2
    offset = 0
    while first <= middle + offset < last:
        if sorted_x[middle + offset - 1] != sorted_x[middle + offset]:
            return middle + offset
        offset = -offset
        if offset >= 0:
            offset += 1
    return middle


def _kd_vertices(sorted_x, span):
    """Vertices of loess's k-d tree over one predictor, in increasing order."""
    n_samples = sorted_x.shape[0]
    max_points = int(np.floor(n_samples * span * _CELL))
    low, high = float(sorted_x[0]), float(sorted_x[-1])
    margin = 0.005 * max(high - low, 1e-10 * max(abs(low), abs(high)) + 1e-30)
    vertices = [low - margin, high + margin]
    capacity = max(200, n_samples)  # loess's nvmax: vertices (and cells) it has room for
    n_cells = 1
    cells = deque([(1, n_samples, low - margin, high + margin)])
    while cells:
        first, last, lower, upper = cells.popleft()
        if (last - first + 1 <= max_points or upper - lower <= 0.0
                or n_cells + 2 > capacity or len(vertices) + 1 > capacity):
            continue
        cut = _split_position(sorted_x, first, last)
        value = float(sorted_x[cut - 1])
        if value in (lower, upper):
            continue
        vertices.append(value)
        n_cells += 2
        cells.append((first, cut, lower, value))
        cells.append((cut + 1, last, value, upper))
    return np.sort(np.asarray(vertices))


def _hermite(vertices, values, slopes, points):
    """Cubic Hermite interpolation between the vertices enclosing each point (loess's ehg128)."""
    right = np.clip(np.searchsorted(vertices, points, side="left"), 1, vertices.shape[0] - 1)
    left = right - 1
    width = vertices[right] - vertices[left]
    h = (points - vertices[left]) / width
    return ((1.0 - h) ** 2 * (1.0 + 2.0 * h) * values[left]
            + h**2 * (3.0 - 2.0 * h) * values[right]
            + (h * (1.0 - h) ** 2 * slopes[left] + h**2 * (h - 1.0) * slopes[right]) * width)


def _finite_vector(values, name):
    array = np.asarray(one_dimensional(values, name, allow_empty=False), dtype=np.float64)
    not_finite = ~np.isfinite(array)
    if not_finite.any():
        raise ValueError(
            f"{name} has NaN or infinite values at {describe_entries(values, not_finite)}"
        )
    return array


def loess_smooth(x, y, points, *, span=0.75, surface="interpolate"):
    """Local quadratic regression of ``y`` on ``x``, evaluated at ``points``, as R's ``loess``.

    This is R's ``predict(loess(y ~ x, span = span, degree = 2, control =
    loess.control(surface = surface)), points)`` with the default Gaussian family: each fit
    uses the ``floor(span * n)`` nearest observations with tricube weights.
    ``surface="interpolate"`` (R's default) fits exactly at the vertices of loess's k-d tree
    and interpolates between them by cubic Hermite polynomials; ``surface="direct"`` fits at
    every point.

    Parameters
    ----------
    x : array-like of shape (n_samples,)
        The predictor, finite.
    y : array-like of shape (n_samples,)
        The response, finite (0/1 outcomes give a flexible calibration curve).
    points : array-like of float
        Where to evaluate the smooth, any shape.
    span : float, default=0.75
        Fraction of the observations in each neighbourhood, in (0, 1].
    surface : {"interpolate", "direct"}, default="interpolate"
        Interpolated k-d tree surface or an exact fit at every point.

    Returns
    -------
    smoothed : ndarray of float of the shape of ``points``
        NaN at points outside the range of ``x`` (loess does not extrapolate) and at NaN
        points.

    Raises
    ------
    ValueError
        ``x`` and ``y`` of different lengths, empty or not finite; a neighbourhood of fewer
        than 4 observations; or one of zero width (more than ``span * n`` observations share
        one value of ``x``, R's "span too small").

    See Also
    --------
    statsmodels.nonparametric.smoothers_lowess.lowess : Local linear, robust smoothing.
    tacelearn.metrics.loess_calibration_curve : The calibration curve built on it.

    References
    ----------
    Cleveland WS, Grosse E. Computational methods for local regression. Statistics and
    Computing 1991;1:47-62.

    Examples
    --------
    R's ``cars`` data, ``predict(loess(dist ~ speed, cars), c(5.5, 10, 17))``:

    >>> from tacelearn.stats import loess_smooth
    >>> speed = [4, 4, 7, 7, 8, 9, 10, 10, 10, 11, 11, 12, 12, 12, 12, 13, 13, 13, 13, 14, 14,
    ...          14, 14, 15, 15, 15, 16, 16, 17, 17, 17, 18, 18, 18, 18, 19, 19, 19, 20, 20, 20,
    ...          20, 20, 22, 23, 24, 24, 24, 24, 25]
    >>> dist = [2, 10, 4, 22, 16, 10, 18, 26, 34, 17, 28, 14, 20, 24, 28, 26, 34, 34, 46, 26,
    ...         36, 60, 80, 20, 26, 54, 32, 40, 32, 40, 50, 42, 56, 76, 84, 36, 46, 68, 32, 48,
    ...         52, 56, 64, 66, 54, 70, 92, 93, 120, 85]
    >>> loess_smooth(speed, dist, [5.5, 10, 17, 30]).round(3)
    array([ 8.863, 21.865, 48.356,    nan])
    """
    if surface not in LOESS_SURFACES:
        raise ValueError(f"surface must be one of {LOESS_SURFACES}, got {surface!r}")
    x, y = _finite_vector(x, "x"), _finite_vector(y, "y")
    if x.shape != y.shape:
        raise ValueError(f"x has {x.shape[0]} values but y has {y.shape[0]}")
    n_near = _neighbourhood_size(x.shape[0], span)
    points = np.asarray(points, dtype=np.float64)
    smoothed = np.full(points.shape, np.nan)
    inside = (points >= x.min()) & (points <= x.max())
    if surface == "interpolate":
        vertices = _kd_vertices(np.sort(x), span)
        values, slopes = _local_quadratic(x, y, vertices, n_near)
        smoothed[inside] = _hermite(vertices, values, slopes, points[inside])
        return smoothed
    targets = np.flatnonzero(inside)
    flat = smoothed.reshape(-1)  # a view: filling it fills smoothed
    block = max(1, _DIRECT_BLOCK // x.shape[0])
    for start in range(0, targets.shape[0], block):
        chosen = targets[start:start + block]
        flat[chosen] = _local_quadratic(x, y, points.reshape(-1)[chosen], n_near)[0]
    return smoothed
