"""Error-message pieces that name the offending entries: patients, rows, index labels."""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["MAX_LISTED", "describe_entries", "describe_rows"]

#: How many offending entries a message lists before it summarises the rest.
MAX_LISTED = 8


def _with_rest(text, n_flagged):
    if n_flagged > MAX_LISTED:
        text += f" and {n_flagged - MAX_LISTED} more"
    return text


def describe_entries(values, mask):
    """'index label(s) [P01, P07]' for a pandas input, 'position(s) [0, 6]' otherwise.

    For the entries of ``values`` where ``mask`` holds.
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

    With ``values`` (a Series aligned with ``df``), their values on those rows follow.
    """
    positions = np.flatnonzero(np.asarray(mask, dtype=bool))
    listed = positions[:MAX_LISTED]
    text = f"row(s) {[int(p) for p in listed]}"
    if "patient_id" in df.columns:
        ids = [str(df["patient_id"].iloc[p]) for p in listed]
        text += f" (patient(s) {', '.join(ids)})"
    if values is not None:
        shown = [values.iloc[p] for p in listed]
        text += f" with value(s) {shown!r}"
    return _with_rest(text, len(positions))
