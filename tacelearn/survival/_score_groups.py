"""High and low score groups, split at the mean, the median or a given cut."""

from __future__ import annotations

from fractions import Fraction
from numbers import Real
from typing import NamedTuple

import numpy as np
import pandas as pd

from ._validation import check_numbers

__all__ = ["ScoreSplit", "split_by_score"]


class ScoreSplit(NamedTuple):
    """Result of :func:`split_by_score`, a named tuple.

    Made by :func:`split_by_score`; each parameter is kept as an attribute of the same name.

    Parameters
    ----------
    groups : numpy.ndarray of str or pandas.Series
        ``"high"`` or ``"low"`` per patient (a Series with the scores' index when the scores are
        a Series).
    cut : float
        The cut that was applied: scores at or above it are ``"high"``.

    See Also
    --------
    split_by_score : Computes it.

    Examples
    --------
    >>> import pandas as pd
    >>> from tacelearn.survival import split_by_score
    >>> scores = pd.Series([0.2, 0.4, 0.6, 0.8], index=["P1", "P2", "P3", "P4"])
    >>> split = split_by_score(scores, cut="median")
    >>> split.cut
    0.5
    >>> split.groups.to_dict()
    {'P1': 'low', 'P2': 'low', 'P3': 'high', 'P4': 'high'}
    """

    groups: np.ndarray | pd.Series
    cut: float


def _correctly_rounded_mean(values):
    """The mean of ``values`` rounded once, from its exact value, to the nearest double.

    ``numpy.mean`` rounds at every addition and can land one unit in the last place away
    (``np.mean([0.4, 0.4, 0.4])`` is 0.4000000000000001), which would put scores equal to the
    mean in the low group. R's ``mean()`` accumulates in extended precision and corrects with a
    second pass, which gives this correctly rounded value.
    """
    exact = sum(map(Fraction, values.tolist()), Fraction(0)) / len(values)
    return float(exact)


def split_by_score(scores, cut="mean"):
    """Split patients into ``"high"`` and ``"low"`` score groups.

    The paper splits the DLTR_MLP score at its mean to compare progression-free and overall
    survival of the two groups. A score equal to the cut goes to the **high** group
    (``score >= cut``), as R's ``ifelse(x >= mean(x), "high", "low")`` does. The mean is
    rounded once from its exact value, like R's ``mean()`` (``numpy.mean`` can end one unit in
    the last place above a score equal to the mean and put it in the low group).

    Parameters
    ----------
    scores : array-like of shape (n_patients,)
        Model scores, e.g. predicted probabilities of objective response; none missing.
    cut : {"mean", "median"} or float, default="mean"
        Where to split: the scores' mean, their median, or a fixed value (e.g. a cut taken from
        the training cohort, to apply unchanged to a test cohort).

    Returns
    -------
    split : ScoreSplit
        Named tuple ``(groups, cut)``.

    Raises
    ------
    ValueError
        When a score is missing or infinite (the patients are named) or ``cut`` is unknown.

    See Also
    --------
    kaplan_meier : Survival curves of the groups.
    logrank_test : Compare the groups.

    Examples
    --------
    >>> from tacelearn.survival import split_by_score
    >>> groups, cut = split_by_score([0.2, 0.4, 0.6, 0.8], cut="mean")
    >>> groups.tolist(), cut
    (['low', 'low', 'high', 'high'], 0.5)
    >>> split_by_score([0.2, 0.5, 0.9], cut=0.5).groups.tolist()
    ['low', 'high', 'high']
    >>> split_by_score([0.55, 0.65, 0.6]).groups.tolist()  # R: x >= mean(x)
    ['low', 'high', 'high']
    """
    values = check_numbers(scores, "scores")
    if isinstance(cut, str):
        if cut == "mean":
            cut_value = _correctly_rounded_mean(values)
        elif cut == "median":
            cut_value = float(np.median(values))
        else:
            raise ValueError(f"cut must be 'mean', 'median' or a number, got {cut!r}")
    elif isinstance(cut, Real) and np.isfinite(cut):
        cut_value = float(cut)
    else:
        raise ValueError(f"cut must be 'mean', 'median' or a finite number, got {cut!r}")
    groups = np.where(values >= cut_value, "high", "low").astype(object)
    if isinstance(scores, pd.Series):
        groups = pd.Series(groups, index=scores.index, name="score_group")
    return ScoreSplit(groups, cut_value)
