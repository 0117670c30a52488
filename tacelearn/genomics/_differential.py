"""Differential expression between two groups of samples, tested gene by gene."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from scipy import stats

from ..stats import mann_whitney_u
from ._checks import align_to_samples, check_expression, check_two_groups

__all__ = ["adjust_pvalues", "differential_expression"]

_METHODS = ("welch", "mannwhitney")
_FDR_METHODS = ("bh", "by")


def _welch(first, second):
    statistic = np.full(first.shape[1], np.nan)
    pvalue = np.full(first.shape[1], np.nan)
    # Genes constant within both groups (e.g. not expressed anywhere) have no Welch statistic.
    testable = (np.ptp(first, axis=0) > 0) | (np.ptp(second, axis=0) > 0)
    with warnings.catch_warnings():
        # Nearly constant genes (variance at rounding level) make scipy warn about precision;
        # their p-values are still the right answer for the numbers given.
        warnings.filterwarnings("ignore", message="Precision loss occurred",
                                category=RuntimeWarning)
        result = stats.ttest_ind(first[:, testable], second[:, testable], axis=0,
                                 equal_var=False)
    statistic[testable] = result.statistic
    pvalue[testable] = result.pvalue
    return statistic, pvalue


def _mann_whitney(first, second):
    # Gene by gene, exact or normal as R's wilcox.test chooses; NaN where all values are equal.
    return tuple(mann_whitney_u(first, second))


def _check_fdr(method):
    if method not in _FDR_METHODS:
        raise ValueError(f"fdr must be one of {_FDR_METHODS}, got {method!r}")


def adjust_pvalues(pvalue, method="bh"):
    """False-discovery-rate q-values; NaN p-values stay NaN and do not count as tests."""
    _check_fdr(method)
    qvalue = np.full(len(pvalue), np.nan)
    tested = np.isfinite(pvalue)
    if tested.any():
        qvalue[tested] = stats.false_discovery_control(pvalue[tested], method=method)
    return qvalue


def differential_expression(expression, groups, *, method="welch", fdr="bh", reference=None):
    """Test every gene for a difference in expression between two groups of samples.

    Parameters
    ----------
    expression : pandas.DataFrame of shape (n_samples, n_genes)
        Expression on a log2 scale (for instance ``log2(TPM + 1)`` or microarray intensities),
        rows indexed by sample id, one column per gene.
    groups : pandas.Series or array-like of shape (n_samples,)
        Two labels, one per sample, such as ``"high"`` / ``"low"`` score groups. A Series is
        aligned on ``expression``'s index: every expression sample needs a label (ids missing
        from ``groups`` are named in the error); labels of other ids are ignored. An array is
        taken in the order of ``expression``'s rows.
    method : {"welch", "mannwhitney"}, default="welch"
        Welch's unequal-variance t-test (R's ``t.test``) or the Mann-Whitney U test, run on
        all genes at once. Mann-Whitney p-values are R's ``wilcox.test(x, y)``: exact when both
        groups have fewer than 50 samples and the gene has no ties, otherwise the normal
        approximation with continuity correction (:func:`tacelearn.stats.mann_whitney_u`).
    fdr : {"bh", "by"}, default="bh"
        False discovery rate control across genes: Benjamini-Hochberg or Benjamini-Yekutieli.
    reference : label, optional
        The denominator group. By default ``"low"`` when the labels are ``"high"`` and
        ``"low"``, otherwise the first label in sorted order (``0`` of ``0``/``1``).

    Returns
    -------
    table : pandas.DataFrame
        One row per gene, sorted by q-value then p-value: ``gene``, ``log2_fold_change``
        (mean of the other group minus mean of ``reference``, i.e. "high" over "low" on the
        log2 scale), ``statistic`` (Welch t, positive when the other group is higher; or the
        Mann-Whitney U of the other group), ``pvalue`` and ``qvalue``. Genes that cannot be
        tested (constant within both groups for Welch, all values equal for Mann-Whitney: R's
        tests give NA there) have NaN ``statistic``, ``pvalue`` and ``qvalue``, do not count
        in the false discovery rate adjustment, and come last.
        ``table.attrs["comparison"]`` holds ``(other_label, reference)``.

    See Also
    --------
    gsea_prerank : Pre-ranked gene set enrichment analysis of the resulting statistics.
    tacelearn.plotting.VolcanoDisplay : Volcano plot of the table.
    tacelearn.plotting.GeneHeatmapDisplay : Heatmap of the top genes.

    Examples
    --------
    >>> import numpy as np
    >>> import pandas as pd
    >>> from tacelearn.genomics import differential_expression
    >>> rng = np.random.default_rng(0)
    >>> expression = pd.DataFrame(rng.normal(8.0, 1.0, size=(40, 5)),
    ...                           index=[f"P{i:02d}" for i in range(40)],
    ...                           columns=["VEGFA", "SNAI1", "HIF1A", "TGFB1", "ALB"])
    >>> groups = pd.Series(np.repeat(["high", "low"], 20), index=expression.index)
    >>> expression.loc[groups == "high", "VEGFA"] -= 2.0
    >>> table = differential_expression(expression, groups)
    >>> print(table.loc[0, "gene"], round(table.loc[0, "log2_fold_change"], 2))
    VEGFA -2.01
    >>> bool(table.loc[0, "qvalue"] < 1e-6)
    True
    """
    if method not in _METHODS:
        raise ValueError(f"method must be one of {_METHODS}, got {method!r}")
    _check_fdr(fdr)
    expression = check_expression(expression)
    groups = align_to_samples(groups, expression.index, name="groups")
    numerator, reference = check_two_groups(groups, reference=reference)

    values = expression.to_numpy()
    first = values[(groups == numerator).to_numpy()]
    second = values[(groups == reference).to_numpy()]
    test = _welch if method == "welch" else _mann_whitney
    statistic, pvalue = test(first, second)
    table = pd.DataFrame({
        "gene": expression.columns,
        "log2_fold_change": first.mean(axis=0) - second.mean(axis=0),
        "statistic": statistic,
        "pvalue": pvalue,
        "qvalue": adjust_pvalues(pvalue, fdr),
    })
    table = table.sort_values(["qvalue", "pvalue"], kind="stable", na_position="last")
    table = table.reset_index(drop=True)
    table.attrs["comparison"] = (numerator, reference)
    return table
