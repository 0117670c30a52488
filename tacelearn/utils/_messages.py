"""Error-message pieces that name the offending entries: patients, rows, labels, problems.

Every subpackage lists offenders through these helpers, so that every message lists the same
number of them (:data:`MAX_LISTED`) and says the same thing about the rest.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["MAX_LISTED", "describe_entries", "describe_names", "describe_rows", "list_problems"]

#: How many offending entries a message lists before it summarises the rest.
MAX_LISTED = 8


def _with_rest(text, n_flagged):
    if n_flagged > MAX_LISTED:
        text += f" and {n_flagged - MAX_LISTED} more"
    return text


def describe_entries(values, mask):
    """'index label(s) [P01, P07]' for a pandas input, 'position(s) [0, 6]' otherwise.

    For the entries of ``values`` where ``mask`` holds.

    Parameters
    ----------
    values : array-like, pandas.Series or pandas.DataFrame
        The checked input; a pandas input is described by its index labels.
    mask : array-like of bool
        Which entries are at fault, aligned with ``values``.

    Returns
    -------
    text : str
        The first :data:`MAX_LISTED` offenders, then a count of the rest.

    See Also
    --------
    describe_rows : The same for the rows of a cohort, named by patient.

    Examples
    --------
    >>> import pandas as pd
    >>> from tacelearn.utils import describe_entries
    >>> describe_entries(pd.Series([1, 2, 3], index=["a", "b", "c"]), [True, False, True])
    "index label(s) ['a', 'c']"
    """
    positions = np.flatnonzero(np.asarray(mask, dtype=bool))
    listed = positions[:MAX_LISTED]
    if isinstance(values, (pd.Series, pd.DataFrame)):
        text = f"index label(s) {[values.index[p] for p in listed]}"
    else:
        text = f"position(s) {[int(p) for p in listed]}"
    return _with_rest(text, len(positions))


def describe_rows(df, mask, values=None):
    """'row(s) [3, 7] (patient(s) P003, P007)' for the rows of ``df`` where ``mask`` holds.

    Parameters
    ----------
    df : pandas.DataFrame
        The checked table; its ``patient_id`` column, when present, names the patients.
    mask : array-like of bool
        Which rows are at fault, aligned with ``df``.
    values : pandas.Series, optional
        Values aligned with ``df`` shown for the rows at fault (the offending entries).

    Returns
    -------
    text : str
        The first :data:`MAX_LISTED` rows, then a count of the rest.

    See Also
    --------
    describe_entries : The same for any array or pandas input, by position or label.

    Examples
    --------
    >>> import pandas as pd
    >>> from tacelearn.utils import describe_rows
    >>> cohort = pd.DataFrame({"patient_id": ["P1", "P2"], "alt": [20.0, -1.0]})
    >>> describe_rows(cohort, cohort["alt"] < 0, cohort["alt"])
    'row(s) [1] (patient(s) P2) with value(s) [-1.0]'
    """
    positions = np.flatnonzero(np.asarray(mask, dtype=bool))
    listed = positions[:MAX_LISTED]
    text = f"row(s) {[int(p) for p in listed]}"
    if "patient_id" in df.columns:
        ids = [str(df["patient_id"].iloc[p]) for p in listed]
        text += f" (patient(s) {', '.join(ids)})"
    if values is not None:
        # tolist() gives Python scalars: [-1.0], not [np.float64(-1.0)].
        shown = values.iloc[listed].tolist()
        text += f" with value(s) {shown!r}"
    return _with_rest(text, len(positions))


def describe_names(names):
    """Up to :data:`MAX_LISTED` names, comma-separated, with the count of the rest.

    Parameters
    ----------
    names : iterable
        The offending names (columns, genes, files); each is printed with ``str``.

    Returns
    -------
    text : str
        The names listed, for a message.

    Examples
    --------
    >>> from tacelearn.utils import describe_names
    >>> describe_names([f"G{i}" for i in range(10)])
    'G0, G1, G2, G3, G4, G5, G6, G7 and 2 more'
    """
    names = [str(name) for name in names]
    return _with_rest(", ".join(names[:MAX_LISTED]), len(names))


def list_problems(problems):
    """Problems one per indented line, the first :data:`MAX_LISTED` of them, then a count.

    Parameters
    ----------
    problems : list of str
        One sentence per problem found, each naming its offender.

    Returns
    -------
    text : str
        The problems joined by a newline and two spaces of indentation; the caller writes
        the first indentation.

    Examples
    --------
    >>> from tacelearn.utils import list_problems
    >>> print("2 problems:\\n  " + list_problems(["patient P1: no mask", "patient P2: empty"]))
    2 problems:
      patient P1: no mask
      patient P2: empty
    """
    text = "\n  ".join(problems[:MAX_LISTED])
    if len(problems) > MAX_LISTED:
        text += f"\n  ... and {len(problems) - MAX_LISTED} more"
    return text
