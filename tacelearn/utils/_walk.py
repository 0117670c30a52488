"""Every object inside a fitted model, fitted copies included."""

from __future__ import annotations

import numpy as np

__all__ = ["reachable_objects"]

_LEAVES = (str, bytes, int, float, complex, np.ndarray, np.generic, type)


def reachable_objects(model):
    """Every object reachable from ``model`` through attributes and containers, once each.

    ``get_params(deep=True)`` lists a model's parameters only; the fitted copies a pipeline
    predicts with (a column transformer's ``transformers_``, a wrapper's ``estimator_``) are
    found only by walking the attributes, as here.

    Parameters
    ----------
    model : object
        A fitted or unfitted estimator, or any object to walk.

    Returns
    -------
    objects : list
        ``model`` first, then every object with attributes found inside it.

    Examples
    --------
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.preprocessing import StandardScaler
    >>> from tacelearn.utils import reachable_objects
    >>> pipeline = make_pipeline(StandardScaler())
    >>> [type(o).__name__ for o in reachable_objects(pipeline)]
    ['Pipeline', 'StandardScaler']
    """
    found, seen, stack = [], set(), [model]
    while stack:
        value = stack.pop()
        if id(value) in seen or isinstance(value, _LEAVES) or value is None:
            continue
        seen.add(id(value))
        if isinstance(value, (list, tuple, set, frozenset)):
            stack.extend(reversed(list(value)))
        elif isinstance(value, dict):
            stack.extend(reversed(list(value.values())))
        elif hasattr(value, "__dict__"):
            found.append(value)
            stack.extend(reversed(list(vars(value).values())))
    return found
