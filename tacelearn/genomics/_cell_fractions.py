"""Cell-type fractions compared between two groups of samples."""

from __future__ import annotations

import pandas as pd

from ..stats import mann_whitney_u
from ._checks import align_to_samples, check_expression, check_two_groups
from ._differential import adjust_pvalues

__all__ = ["compare_cell_fractions"]


def compare_cell_fractions(fractions, groups, *, reference=None, fdr="bh"):
    """Mann-Whitney U test of each cell type's fraction between two groups of samples.

    P values are R's ``wilcox.test(x, y)``: exact when both groups have fewer than 50 samples
    and a cell type's fractions have no ties, otherwise the normal approximation with
    continuity correction (:func:`tacelearn.stats.mann_whitney_u`). A cell type whose
    fractions are all equal (e.g. 0 in every sample) is not tested: NaN, left out of the
    false discovery rate adjustment.

    Parameters
    ----------
    fractions : pandas.DataFrame of shape (n_samples, n_cell_types)
        Cell-type fractions, as :func:`deconvolve` returns them.
    groups : pandas.Series or array-like of shape (n_samples,)
        Two labels per sample, aligned as in :func:`differential_expression`.
    reference : label, optional
        The second group of the comparison; chosen as in :func:`differential_expression`.
    fdr : {"bh", "by"}, default="bh"
        Correction of the p-values across cell types.

    Returns
    -------
    table : pandas.DataFrame
        One row per cell type, in the order of ``fractions``' columns: ``cell_type``,
        ``median_<other>`` and ``median_<reference>`` (e.g. ``median_high``, ``median_low``),
        ``statistic`` (U of the other group), ``pvalue`` (two-sided) and ``qvalue``.

    See Also
    --------
    deconvolve : Estimates the fractions.
    tacelearn.plotting.CellFractionDisplay : Box plots of the same comparison.

    Examples
    --------
    >>> import pandas as pd
    >>> from tacelearn.genomics import compare_cell_fractions
    >>> fractions = pd.DataFrame({"Macrophages M2": [0.1, 0.15, 0.2, 0.4, 0.45, 0.5],
    ...                           "B cells memory": [0.3, 0.35, 0.3, 0.1, 0.05, 0.1]},
    ...                          index=[f"P{i}" for i in range(6)])
    >>> groups = pd.Series(["high"] * 3 + ["low"] * 3, index=fractions.index)
    >>> table = compare_cell_fractions(fractions, groups)
    >>> table[["cell_type", "median_high", "median_low", "pvalue"]].round(3)
            cell_type  median_high  median_low  pvalue
    0  Macrophages M2         0.15        0.45   0.100
    1  B cells memory         0.30        0.10   0.072
    """
    fractions = check_expression(fractions, name="fractions")
    groups = align_to_samples(groups, fractions.index, name="groups")
    numerator, reference = check_two_groups(groups, reference=reference)
    first = fractions[(groups == numerator).to_numpy()]
    second = fractions[(groups == reference).to_numpy()]
    statistic, pvalue = mann_whitney_u(first.to_numpy(), second.to_numpy())
    return pd.DataFrame({
        "cell_type": fractions.columns,
        f"median_{numerator}": first.median().to_numpy(),
        f"median_{reference}": second.median().to_numpy(),
        "statistic": statistic,
        "pvalue": pvalue,
        "qvalue": adjust_pvalues(pvalue, fdr),
    })
