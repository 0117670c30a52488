"""Input checks shared by every subpackage."""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["one_dimensional"]


def one_dimensional(values, name, *, allow_column=False, allow_empty=True):
    """``values`` as a 1-D ndarray, or a ValueError naming the argument.

    Parameters
    ----------
    values : array-like
        A list, array or pandas Series (its values; the index is dropped).
    name : str
        How the error message calls the argument.
    allow_column : bool, default=False
        Accept a single column (shape ``(n, 1)``) and flatten it.
    allow_empty : bool, default=True
        Accept zero entries.

    Returns
    -------
    array : numpy.ndarray of shape (n,)

    Examples
    --------
    >>> from tacelearn.utils import one_dimensional
    >>> one_dimensional([[1], [2]], "y", allow_column=True)
    array([1, 2])
    """
    array = values.to_numpy() if isinstance(values, pd.Series) else np.asarray(values)
    if allow_column and array.ndim == 2 and array.shape[1] == 1:
        array = array[:, 0]
    if array.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got an array of shape {array.shape}")
    if not allow_empty and len(array) == 0:
        raise ValueError(f"{name} is empty")
    return array
