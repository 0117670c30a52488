"""The radiogenomics section of the study: genes, pathways and immune cells by score group."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..utils import describe_names
from ._cell_fractions import compare_cell_fractions
from ._checks import align_to_samples, check_expression
from ._deconvolution import deconvolve
from ._differential import differential_expression
from ._gsea import check_gsea_arguments, gsea_prerank

__all__ = ["RadiogenomicsResult", "radiogenomics_analysis"]

HIGH, LOW = "high", "low"


def _check_deconvolution_input(expression, signature):
    signature = check_expression(signature, name="signature", non_negative=True)
    markers = expression.columns.intersection(signature.index)
    negative = expression.index[(expression[markers] < 0).any(axis=1)]
    if len(negative):
        raise ValueError(f"expression of patients {describe_names(negative)} has negative values; "
                         "it must be log2(x + 1) of linear-scale values x to be deconvolved")


def _ranking(table, method):
    """Signed ranking metric for GSEA: Welch t, or sign(fold change) * -log10(p)."""
    table = table.dropna(subset=["pvalue"]).set_index("gene")
    if method == "welch":
        return table["statistic"]
    smallest = np.finfo(float).tiny
    return np.sign(table["log2_fold_change"]) * -np.log10(table["pvalue"].clip(lower=smallest))


class RadiogenomicsResult:
    """Tables of :func:`radiogenomics_analysis` and the figures drawn from them.

    Made by :func:`radiogenomics_analysis`; every parameter is kept as an attribute of the
    same name.

    Parameters
    ----------
    scores : pandas.Series
        Scores of the patients analysed (those with expression).
    groups : pandas.Series
        ``"high"`` / ``"low"`` per patient.
    threshold : float
        The cut between the groups.
    differential_expression : pandas.DataFrame
        :func:`differential_expression` of high against low.
    gsea : GseaResult
        :func:`gsea_prerank` of the differential-expression ranking; ``gsea.table`` is the
        table of pathways (negative NES: suppressed in high-score tumours).
    fractions : pandas.DataFrame or None
        :func:`deconvolve` fractions, when a signature was given.
    fraction_tests : pandas.DataFrame or None
        :func:`compare_cell_fractions` of high against low.
    expression : pandas.DataFrame
        The expression analysed (log2 scale), kept for the heatmap.

    See Also
    --------
    radiogenomics_analysis : Computes it.
    tacelearn.plotting.radiogenomics_figures : Its figures.

    Examples
    --------
    >>> import numpy as np
    >>> import pandas as pd
    >>> from tacelearn.genomics import make_tace_expression, radiogenomics_analysis
    >>> rng = np.random.default_rng(0)
    >>> cohort = pd.DataFrame({"patient_id": [f"P{i:03d}" for i in range(40)],
    ...                        "tumour_biology": rng.normal(size=40)})
    >>> data = make_tace_expression(cohort, n_genes=500)
    >>> scores = pd.Series(cohort["tumour_biology"].to_numpy(), index=cohort["patient_id"])
    >>> result = radiogenomics_analysis(scores, data.expression, gene_sets=data.gene_sets,
    ...                                 permutations=100, random_state=0)
    >>> result
    RadiogenomicsResult(40 patients: 19 high, 21 low; 500 genes, 11 gene sets)
    >>> result.fractions is None  # no signature given: no deconvolution
    True
    """

    def __init__(self, *, scores, groups, threshold, differential_expression, gsea, fractions,
                 fraction_tests, expression):
        self.scores = scores
        self.groups = groups
        self.threshold = threshold
        self.expression = expression
        self.differential_expression = differential_expression
        self.gsea = gsea
        self.fractions = fractions
        self.fraction_tests = fraction_tests

    def __repr__(self):
        counts = self.groups.value_counts()
        return (f"RadiogenomicsResult({len(self.groups)} patients: {counts.get(HIGH, 0)} high, "
                f"{counts.get(LOW, 0)} low; {self.differential_expression.shape[0]} genes, "
                f"{len(self.gsea.table)} gene sets)")

    def summary(self, *, fdr=0.05, fold_change=1.0):
        """Key findings as plain numbers and names, for a report.

        Parameters
        ----------
        fdr : float, default=0.05
            Significance level on q-values (genes, cell types) and GSEA FDR (pathways).
        fold_change : float, default=1.0
            A differentially expressed gene also needs ``|log2 fold change| >= fold_change``
            (1 = two-fold, the volcano plot's default); 0 counts on q-values alone.

        Returns
        -------
        summary : dict
            ``n_patients``, ``n_high``, ``n_low``, ``threshold``, ``n_genes``,
            ``n_differential_genes`` (``n_up``, ``n_down`` in high-score tumours),
            ``pathways_up`` / ``pathways_down`` (names with FDR below ``fdr``) and
            ``cell_types_up`` / ``cell_types_down`` (q-value below ``fdr``; empty without a
            signature).
        """
        genes = self.differential_expression
        significant = genes[(genes["qvalue"] < fdr)
                            & (genes["log2_fold_change"].abs() >= fold_change)]
        pathways = self.gsea.table[self.gsea.table["fdr"] < fdr]
        cells_up, cells_down = [], []
        if self.fraction_tests is not None:
            tests = self.fraction_tests[self.fraction_tests["qvalue"] < fdr]
            higher = tests[f"median_{HIGH}"] > tests[f"median_{LOW}"]
            cells_up = tests.loc[higher, "cell_type"].tolist()
            cells_down = tests.loc[~higher, "cell_type"].tolist()
        counts = self.groups.value_counts()
        return {
            "n_patients": len(self.groups),
            "n_high": int(counts.get(HIGH, 0)),
            "n_low": int(counts.get(LOW, 0)),
            "threshold": self.threshold,
            "n_genes": len(genes),
            "n_differential_genes": len(significant),
            "n_up": int((significant["log2_fold_change"] > 0).sum()),
            "n_down": int((significant["log2_fold_change"] < 0).sum()),
            "pathways_up": pathways.loc[pathways["nes"] > 0, "term"].tolist(),
            "pathways_down": pathways.loc[pathways["nes"] < 0, "term"].tolist(),
            "cell_types_up": cells_up,
            "cell_types_down": cells_down,
        }


def radiogenomics_analysis(scores, expression, *, gene_sets, signature=None, cut="mean",
                           method="welch", permutations=1000, min_size=15, max_size=500,
                           random_state=None):
    """Compare tumour expression between high- and low-score patients, as Chen et al. did.

    Patients with expression are split into high and low score groups; then differential
    expression (high over low), pre-ranked GSEA of the signed test statistic and, with a
    signature matrix, immune-cell deconvolution with Mann-Whitney tests between groups.

    Parameters
    ----------
    scores : pandas.Series
        Model score (e.g. the DLTR probability) indexed by patient id. Patients without
        expression are left out; every expression sample needs a score.
    expression : pandas.DataFrame of shape (n_patients, n_genes)
        ``log2(x + 1)`` expression (TPM, FPKM or normalised counts ``x``) indexed by patient
        id. It is turned back into ``x`` for the deconvolution.
    gene_sets : dict of str to list of str, or path-like
        Gene sets for GSEA: a dict or a local GMT file (never downloaded).
    signature : pandas.DataFrame, optional
        Linear-scale signature matrix (genes x cell types) for :func:`deconvolve`.
    cut : {"mean", "median"} or float, default="mean"
        Where to split the scores of the patients analysed: their mean (as the paper),
        their median, or a given threshold. Scores at or above the cut are ``"high"``, as in
        :func:`tacelearn.survival.split_by_score`, which does the split.
    method : {"welch", "mannwhitney"}, default="welch"
        Test of :func:`differential_expression`. GSEA ranks genes by the Welch t statistic,
        or by ``sign(log2 fold change) * -log10(p)`` with Mann-Whitney.
    permutations : int, default=1000
        GSEA permutations.
    min_size, max_size : int, default=15 and 500
        Gene set sizes GSEA accepts.
    random_state : int, RandomState instance or None, default=None
        Seed of the GSEA permutations.

    Returns
    -------
    result : RadiogenomicsResult
        Tables as attributes and ``result.summary()``; figures with
        :func:`tacelearn.plotting.radiogenomics_figures`.

    See Also
    --------
    differential_expression : The high against low comparison of each gene.
    gsea_prerank : Gene set enrichment of the resulting ranking.
    deconvolve : Immune cell fractions of each sample.
    compare_cell_fractions : The fractions of the two groups compared.
    make_tace_expression : Synthetic expression to try it on.

    Examples
    --------
    >>> import numpy as np
    >>> import pandas as pd
    >>> from tacelearn.genomics import make_tace_expression, radiogenomics_analysis
    >>> rng = np.random.default_rng(0)
    >>> cohort = pd.DataFrame({"patient_id": [f"P{i:03d}" for i in range(120)],
    ...                        "tumour_biology": rng.normal(size=120)})
    >>> data = make_tace_expression(cohort, n_genes=800)
    >>> scores = pd.Series(cohort["tumour_biology"].to_numpy() + rng.normal(0, 0.5, 120),
    ...                    index=cohort["patient_id"])
    >>> result = radiogenomics_analysis(scores, data.expression, gene_sets=data.gene_sets,
    ...                                 signature=data.signature, permutations=200,
    ...                                 random_state=0)
    >>> summary = result.summary()
    >>> "HALLMARK_HYPOXIA_SYNTHETIC" in summary["pathways_down"]
    True
    >>> summary["cell_types_down"]
    ['Macrophages M2']
    """
    if not isinstance(scores, pd.Series):
        raise TypeError("scores must be a pandas Series indexed by patient id, "
                        f"got {type(scores).__name__}")
    expression = check_expression(expression)
    scores = align_to_samples(scores, expression.index, name="scores")
    try:
        scores = scores.astype(float)
    except (TypeError, ValueError):
        raise ValueError("scores must be numbers") from None
    bad = scores.index[~np.isfinite(scores.to_numpy())]
    if len(bad):
        raise ValueError(f"scores are missing or not finite for patients {describe_names(bad)}")
    # Imported here: scikit-survival, behind tacelearn.survival, takes seconds to load.
    from ..survival import split_by_score

    groups, threshold = split_by_score(scores, cut)
    # Every check before the slow steps (permutations, one SVR fit per patient).
    gene_sets = check_gsea_arguments(expression.columns, gene_sets, permutations=permutations,
                                     min_size=min_size, max_size=max_size)
    if signature is not None:
        _check_deconvolution_input(expression, signature)

    table = differential_expression(expression, groups, method=method, reference=LOW)
    fractions = fraction_tests = None
    if signature is not None:
        fractions = deconvolve(np.exp2(expression) - 1.0, signature)
        fraction_tests = compare_cell_fractions(fractions, groups, reference=LOW)
    gsea = gsea_prerank(_ranking(table, method), gene_sets, permutations=permutations,
                        random_state=random_state, min_size=min_size, max_size=max_size)
    return RadiogenomicsResult(
        scores=scores, groups=groups, threshold=threshold, expression=expression,
        differential_expression=table, gsea=gsea, fractions=fractions,
        fraction_tests=fraction_tests)
