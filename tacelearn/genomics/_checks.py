"""Input checks shared by the genomics functions: expression tables, per-sample labels."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..utils import describe_names

__all__ = ["align_to_samples", "check_expression", "check_two_groups"]

def check_expression(expression, *, name="expression", non_negative=False):
    """Check a samples x genes (or genes x cell types) table and return it as floats.

    Parameters
    ----------
    expression : pandas.DataFrame
        Rows are samples, columns are genes; labels must be unique.
    name : str, default="expression"
        How error messages call the table.
    non_negative : bool, default=False
        Refuse negative values (linear-scale data).

    Returns
    -------
    expression : pandas.DataFrame
        A float64 copy.

    Raises
    ------
    TypeError
        If ``expression`` is not a DataFrame.
    ValueError
        If it is empty, has duplicated labels, non-numeric columns, missing or infinite
        values, or negative ones with ``non_negative=True``; the message names them.

    See Also
    --------
    tacelearn.genomics.read_expression : Read such a table from a file.

    Examples
    --------
    >>> import pandas as pd
    >>> from tacelearn.genomics import check_expression
    >>> table = pd.DataFrame({"VEGFA": [5, 7], "HIF1A": [3, 4]}, index=["P1", "P2"])
    >>> check_expression(table).dtypes.tolist()
    [dtype('float64'), dtype('float64')]
    >>> check_expression(table.assign(HIF1A=[3, -1]), non_negative=True)
    Traceback (most recent call last):
    ...
    ValueError: expression must be on a linear (non-negative) scale; negative values at ...
    """
    if not isinstance(expression, pd.DataFrame):
        raise TypeError(f"{name} must be a pandas DataFrame with labelled rows and columns, "
                        f"got {type(expression).__name__}")
    if expression.shape[0] == 0 or expression.shape[1] == 0:
        raise ValueError(f"{name} is empty (shape {expression.shape})")
    for axis, labels in (("row", expression.index), ("column", expression.columns)):
        duplicated = labels[labels.duplicated()].unique()
        if len(duplicated):
            raise ValueError(f"{name} has duplicated {axis} labels: {describe_names(duplicated)}")
    not_numeric = [column for column, dtype in expression.dtypes.items()
                   if not (pd.api.types.is_numeric_dtype(dtype)
                           and not pd.api.types.is_bool_dtype(dtype))]
    if not_numeric:
        raise ValueError(f"{name} has non-numeric columns: {describe_names(not_numeric)}")
    values = expression.to_numpy(dtype=float)
    rows, columns = np.nonzero(~np.isfinite(values))
    if len(rows):
        cells = [f"({expression.index[r]}, {expression.columns[c]})" for r, c in zip(rows, columns)]
        raise ValueError(f"{name} has {len(rows)} missing or non-finite values at (row, column) "
                         f"{describe_names(cells)}")
    if non_negative:
        rows, columns = np.nonzero(values < 0)
        if len(rows):
            cells = [f"({expression.index[r]}, {expression.columns[c]})"
                     for r, c in zip(rows, columns)]
            raise ValueError(f"{name} must be on a linear (non-negative) scale; negative values "
                             f"at (row, column) {describe_names(cells)}")
    return pd.DataFrame(values, index=expression.index, columns=expression.columns)


def align_to_samples(values, samples, *, name):
    """One value per sample, in the order of ``samples``.

    A pandas Series is aligned by its index: every sample must be there (entries for other
    ids are ignored, since usually only part of a cohort has expression data). Anything else
    is taken in order and must have one value per sample.

    Parameters
    ----------
    values : pandas.Series or array-like of shape (n_samples,)
        One value per sample (a score, a group label).
    samples : pandas.Index
        The samples of the expression table, in its row order.
    name : str
        How error messages call ``values``.

    Returns
    -------
    aligned : pandas.Series
        The values indexed by ``samples``, in their order.

    Raises
    ------
    TypeError
        If ``values`` is a DataFrame.
    ValueError
        If a Series repeats or lacks a sample id, or an array has the wrong length.

    Examples
    --------
    >>> import pandas as pd
    >>> from tacelearn.genomics import align_to_samples
    >>> scores = pd.Series({"P3": 0.9, "P1": 0.2, "P2": 0.5})
    >>> align_to_samples(scores, pd.Index(["P1", "P2"]), name="scores").to_dict()
    {'P1': 0.2, 'P2': 0.5}
    """
    if isinstance(values, pd.DataFrame):
        raise TypeError(f"{name} must be one value per sample (a Series or 1-d array), "
                        "got a DataFrame")
    if isinstance(values, pd.Series):
        if values.index.has_duplicates:
            duplicated = values.index[values.index.duplicated()].unique()
            raise ValueError(f"{name} has duplicated sample ids: {describe_names(duplicated)}")
        missing = samples.difference(values.index, sort=False)
        if len(missing):
            raise ValueError(f"{len(missing)} expression samples have no entry in {name}: "
                             f"{describe_names(missing)}")
        return values.reindex(samples)
    values = np.asarray(values)
    if values.ndim != 1 or len(values) != len(samples):
        raise ValueError(f"{name} must hold one value per expression sample ({len(samples)}), "
                         f"got shape {values.shape}")
    return pd.Series(values, index=samples, name=name)


def check_two_groups(groups, *, reference=None):
    """Check per-sample labels of exactly two groups and name them (numerator, reference).

    The reference (denominator) is ``reference`` if given, else ``"low"`` when the labels are
    ``"high"`` and ``"low"``, else the smaller label in sorted order.

    Parameters
    ----------
    groups : pandas.Series
        One label per sample, indexed by sample id.
    reference : object, optional
        The label of the reference group; one of the labels in ``groups``.

    Returns
    -------
    numerator : object
        The label of the group compared with the reference.
    reference : object
        The label of the reference group.

    Raises
    ------
    ValueError
        If a label is missing, there are not exactly two groups, ``reference`` is not one of
        them, or a group has fewer than 2 samples.

    Examples
    --------
    >>> import pandas as pd
    >>> from tacelearn.genomics import check_two_groups
    >>> check_two_groups(pd.Series(["high", "low", "low", "high"]))
    ('high', 'low')
    >>> check_two_groups(pd.Series(["OR", "NOR", "NOR", "OR"]), reference="OR")
    ('NOR', 'OR')
    """
    missing = groups.index[pd.isna(groups.to_numpy())]
    if len(missing):
        raise ValueError(f"groups has no label for samples {describe_names(missing)}")
    labels = pd.unique(groups.to_numpy())
    if len(labels) != 2:
        shown = describe_names(sorted(map(str, labels)))
        if len(labels) == 1:
            raise ValueError(f"groups holds a single group ({shown}); two are needed")
        raise ValueError(f"groups must hold exactly two labels, got {len(labels)}: {shown}")
    if reference is None:
        if set(map(str, labels)) == {"high", "low"}:
            reference = next(label for label in labels if str(label) == "low")
        else:
            reference = sorted(labels, key=lambda label: (str(type(label)), label))[0]
    elif reference not in set(labels):
        raise ValueError(f"reference {reference!r} is not one of the group labels "
                         f"{sorted(map(str, labels))}")
    numerator = next(label for label in labels if label != reference)
    for label in (numerator, reference):
        size = int((groups == label).sum())
        if size < 2:
            raise ValueError(f"group {label!r} has {size} sample; each group needs at least 2")
    return numerator, reference
