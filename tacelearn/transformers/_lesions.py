"""Lesion bags: every lesion of a patient in one row, so that lesion-level models keep patient rows.

A cohort holds one row per patient, and so must everything a Pipeline passes between its steps
and to a ColumnTransformer. A patient with several lesions has several patches; a *bag* packs
them into one record: a numpy structured array with one element per patient and two fields,

* ``"patches"``: float32, shape ``(n_slots, C, *patch_shape)``: the patient's lesion patches,
  largest first, then zeros;
* ``"volume_ml"``: float64, shape ``(n_slots,)``: each lesion's volume, 0 in unused slots
  (a real lesion has at least one voxel, so 0 marks an empty slot).

``bags["patches"]`` is then ``(n_patients, n_slots, C, ...)`` and ``bags["volume_ml"]``
``(n_patients, n_slots)``. A bag array indexes, splits and subsets by patient like any array,
so cross-validation, grid search and out-of-fold stacking need nothing special. The lesion
bookkeeping (which patch is whose) travels inside.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

__all__ = ["BAG_FIELDS", "LesionScores", "is_lesion_bags", "make_lesion_bags",
           "unpack_lesion_bags"]

#: The fields of a lesion-bag record.
BAG_FIELDS = ("patches", "volume_ml")


class LesionScores(NamedTuple):
    """Lesion-level output of a lesion-level CNNEncoder, one row per patient, one column per
    slot: each lesion's own log-odds (NaN in empty slots) and its weight in the patient's."""

    log_odds: np.ndarray
    weights: np.ndarray


def is_lesion_bags(X):
    """Whether ``X`` is a lesion-bag array (see :func:`make_lesion_bags`).

    Parameters
    ----------
    X : object
        Anything: patches, bags, a DataFrame.

    Returns
    -------
    is_bags : bool
        True for a structured numpy array with the bag fields, one record per patient.

    Examples
    --------
    >>> import numpy as np
    >>> import pandas as pd
    >>> from tacelearn.transformers import is_lesion_bags, make_lesion_bags
    >>> patches = np.zeros((3, 2, 8, 8), dtype=np.float32)
    >>> lesions = pd.DataFrame({"patient_id": ["P1", "P1", "P2"], "lesion": [0, 1, 0],
    ...                         "volume_ml": [4.0, 1.0, 2.0]})
    >>> is_lesion_bags(make_lesion_bags(patches, lesions)), is_lesion_bags(patches)
    (True, False)
    """
    names = getattr(getattr(X, "dtype", None), "names", None) or ()
    return isinstance(X, np.ndarray) and set(BAG_FIELDS) <= set(names)


def make_lesion_bags(patches, lesions):
    """Pack per-lesion patches into one bag per patient.

    Parameters
    ----------
    patches : array-like of shape (n_lesions, C, ...)
        One patch per lesion, as :meth:`TumourPatchExtractor.extract` returns them.
    lesions : pandas.DataFrame
        One row per patch with ``lesion`` (0 = the patient's largest, then 1, 2, ...) and
        ``volume_ml``: the ``lesions`` table of :meth:`TumourPatchExtractor.extract`. A new
        bag starts at every ``lesion == 0``, so two cohort rows of the same patient stay two
        bags.

    Returns
    -------
    bags : numpy.ndarray, shape (n_patients,)
        Structured array with fields ``"patches"`` (float32, ``(n_slots, C, ...)``) and
        ``"volume_ml"`` (float64, ``(n_slots,)``); ``n_slots`` is the largest number of
        lesions of a patient, unused slots hold zeros.

    Raises
    ------
    ValueError
        If the table does not describe the patches (lengths differ, lesions not numbered
        0, 1, ... within each patient, a volume not positive).

    See Also
    --------
    unpack_lesion_bags : The inverse: the arrays of a bag array.
    TumourPatchExtractor : ``lesion="bags"`` returns bags from ``transform``.

    Examples
    --------
    >>> import numpy as np
    >>> import pandas as pd
    >>> from tacelearn.transformers import make_lesion_bags
    >>> patches = np.arange(3 * 2 * 4, dtype=np.float32).reshape(3, 2, 2, 2)
    >>> lesions = pd.DataFrame({"patient_id": ["P1", "P1", "P2"], "lesion": [0, 1, 0],
    ...                         "volume_ml": [4.0, 1.0, 2.5]})
    >>> bags = make_lesion_bags(patches, lesions)
    >>> bags.shape, bags["patches"].shape
    ((2,), (2, 2, 2, 2, 2))
    >>> bags["volume_ml"].tolist()
    [[4.0, 1.0], [2.5, 0.0]]
    """
    patches = np.asarray(patches, dtype=np.float32)
    numbers = np.asarray(lesions["lesion"], dtype=np.int64)
    volumes = np.asarray(lesions["volume_ml"], dtype=np.float64)
    if patches.ndim < 2 or len(patches) != len(numbers):
        raise ValueError(f"{len(numbers)} lesion rows for patches of shape {patches.shape}: "
                         "make_lesion_bags needs one row per patch")
    starts = np.flatnonzero(numbers == 0)
    sizes = np.diff(np.append(starts, len(numbers)))
    expected = np.concatenate([np.arange(size) for size in sizes]) if len(starts) else []
    if len(numbers) and (starts.size == 0 or starts[0] != 0
                         or not np.array_equal(numbers, expected)):
        raise ValueError("the lesions must be numbered 0, 1, ... within each patient, largest "
                         f"first, as TumourPatchExtractor.extract numbers them; got "
                         f"{numbers[:12].tolist()}")
    if not (np.isfinite(volumes).all() and (volumes > 0).all()):
        raise ValueError("every lesion must have a positive, finite volume_ml")
    n_slots = int(sizes.max(initial=1))
    dtype = np.dtype([("patches", np.float32, (n_slots, *patches.shape[1:])),
                      ("volume_ml", np.float64, (n_slots,))])
    bags = np.zeros(len(starts), dtype=dtype)
    for bag, (start, size) in enumerate(zip(starts, sizes)):
        bags["patches"][bag, :size] = patches[start:start + size]
        bags["volume_ml"][bag, :size] = volumes[start:start + size]
    return bags


def unpack_lesion_bags(bags):
    """The arrays of a bag array, checked: patches, volumes and which slots hold a lesion.

    Parameters
    ----------
    bags : numpy.ndarray
        A bag array (see :func:`make_lesion_bags`).

    Returns
    -------
    patches : numpy.ndarray of float32, shape (n_patients, n_slots, C, ...)
        C-contiguous and writeable (a copy).
    volumes : numpy.ndarray of float32, shape (n_patients, n_slots)
        Lesion volumes (mL), 0 in empty slots.

    Raises
    ------
    TypeError
        If ``bags`` is not a bag array.
    ValueError
        If it is not one-dimensional, holds NaN or infinite values or negative volumes, or
        a patient without any lesion (each listed by row).

    Examples
    --------
    >>> import numpy as np
    >>> import pandas as pd
    >>> from tacelearn.transformers import make_lesion_bags, unpack_lesion_bags
    >>> bags = make_lesion_bags(np.ones((3, 1, 2, 2)), pd.DataFrame(
    ...     {"lesion": [0, 0, 1], "volume_ml": [1.0, 3.0, 2.0]}))
    >>> patches, volumes = unpack_lesion_bags(bags)
    >>> patches.shape, volumes.tolist()
    ((2, 2, 1, 2, 2), [[1.0, 0.0], [3.0, 2.0]])
    """
    if not is_lesion_bags(bags):
        raise TypeError("expected lesion bags: a structured array with fields "
                        f"{BAG_FIELDS} (TumourPatchExtractor(lesion='bags') or "
                        f"make_lesion_bags), got {type(bags).__name__}"
                        f"{f' of dtype {bags.dtype}' if hasattr(bags, 'dtype') else ''}")
    if bags.ndim != 1:
        raise ValueError(f"lesion bags must be one-dimensional (one per patient), got shape "
                         f"{bags.shape}")
    patches = np.array(bags["patches"], dtype=np.float32, order="C")
    volumes = np.array(bags["volume_ml"], dtype=np.float32, order="C")
    if patches.ndim < 4:
        raise ValueError("the bags' patches must have shape (n_patients, n_slots, channels, "
                         f"...), got {patches.shape}")
    problems = []
    flat = patches.reshape(len(patches), -1)
    for name, bad in (("NaN or infinite patch values", ~np.isfinite(flat).all(axis=1)),
                      ("NaN, infinite or negative volumes",
                       ~(np.isfinite(volumes) & (volumes >= 0)).all(axis=1)),
                      ("no lesion (every volume 0)", ~(volumes > 0).any(axis=1))):
        if bad.any():
            problems.append(f"{name} in row(s) {np.flatnonzero(bad)[:8].tolist()}")
    if problems:
        raise ValueError(f"unusable lesion bags: {'; '.join(problems)}")
    return patches, volumes
