"""Checks shared by the survival functions: one-dimensional, aligned, complete inputs."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..utils import describe_entries, one_dimensional


def _missing(array):
    return np.asarray(pd.isna(array), dtype=bool)


def check_numbers(values, name):
    """Finite floats, with the patients that are missing or not numbers named."""
    array = one_dimensional(values, name, allow_empty=False)
    if array.dtype.kind in "USO" and any(isinstance(v, (str, bytes)) for v in array):
        raise TypeError(f"{name} must hold numbers, not text")
    missing = _missing(array)
    if missing.any():
        raise ValueError(f"{name} is missing at {describe_entries(values, missing)}")
    try:
        numbers = array.astype(float)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must hold numbers") from None
    infinite = ~np.isfinite(numbers)
    if infinite.any():
        raise ValueError(f"{name} is infinite at {describe_entries(values, infinite)}")
    return numbers


def check_groups(groups, name="groups"):
    """Group labels as an array, with the patients whose group is missing named."""
    array = one_dimensional(groups, name, allow_empty=False)
    missing = _missing(array)
    if missing.any():
        raise ValueError(f"{name} is missing at {describe_entries(groups, missing)}; drop "
                         "those patients or give them a group")
    return array


def group_levels(groups, labels):
    """Levels in display order: a categorical's own order, otherwise sorted."""
    if isinstance(groups, pd.Series) and isinstance(groups.dtype, pd.CategoricalDtype):
        present = set(labels)
        return [level for level in groups.cat.categories if level in present]
    levels = set(labels.tolist())
    try:
        return sorted(levels)
    except TypeError:  # labels of mixed types
        return sorted(levels, key=str)


def check_survival(time, event, **aligned):
    """Validate survival times and event indicators, and that ``aligned`` inputs match them.

    Returns the times as floats and the events as booleans; raises ValueError naming the
    patients with a negative or missing time or an event indicator other than 0/1.
    """
    times = check_numbers(time, "time")
    negative = times < 0
    if negative.any():
        raise ValueError(f"time is negative at {describe_entries(time, negative)}")
    raw_events = one_dimensional(event, "event", allow_empty=False)
    missing = _missing(raw_events)
    if missing.any():
        raise ValueError(f"event is missing at {describe_entries(event, missing)}")
    if raw_events.dtype.kind in "biuf":
        not_binary = ~np.isin(raw_events, (0, 1))
    else:
        # Text such as "1" is not an event indicator, though it would convert to one.
        not_binary = np.array([isinstance(v, (str, bytes)) or v not in (0, 1)
                               for v in raw_events], dtype=bool)
    if not_binary.any():
        found = ", ".join(sorted({repr(v) for v in raw_events[not_binary].tolist()}))
        raise ValueError(f"event must be 0/1 or False/True, found {found} at "
                         f"{describe_entries(event, not_binary)}")
    events = raw_events.astype(float).astype(bool)
    lengths = {"time": len(times), "event": len(events)}
    lengths.update({name: len(one_dimensional(values, name, allow_empty=False))
                    for name, values in aligned.items()})
    if len(set(lengths.values())) > 1:
        raise ValueError(f"inputs differ in length: {lengths}")
    return times, events
