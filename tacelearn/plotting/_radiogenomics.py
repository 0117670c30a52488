"""All the figures of a radiogenomics analysis, for the study report."""

from __future__ import annotations

from ._genomics import (
    CellFractionDisplay,
    EnrichmentScoreDisplay,
    GeneHeatmapDisplay,
    VolcanoDisplay,
)

__all__ = ["radiogenomics_figures"]


def radiogenomics_figures(result, *, terms=None, n_terms=4, n_genes=30, fdr=0.05,
                          fold_change=1.0):
    """Draw the figures of a radiogenomics result on new figures (not registered with pyplot).

    Parameters
    ----------
    result : tacelearn.genomics.RadiogenomicsResult
        What :func:`tacelearn.genomics.radiogenomics_analysis` returned.
    terms : sequence of str, optional
        Gene sets to draw enrichment plots for; by default the ``n_terms`` with the
        smallest FDR.
    n_terms : int, default=4
        Enrichment plots drawn when ``terms`` is None.
    n_genes : int, default=30
        Genes of the heatmap (smallest q-values).
    fdr, fold_change : float, default=0.05 and 1.0
        Thresholds of the volcano plot, as in the result's ``summary``.

    Returns
    -------
    figures : dict of str to matplotlib.figure.Figure
        ``"volcano"``, ``"heatmap"``, ``"gsea_<term>"`` per gene set and, with a
        signature, ``"cell_fractions"``. The caller saves them.

    See Also
    --------
    VolcanoDisplay, GeneHeatmapDisplay, EnrichmentScoreDisplay, CellFractionDisplay
        The Displays drawn.

    Examples
    --------
    >>> import numpy as np
    >>> import pandas as pd
    >>> from tacelearn.genomics import make_tace_expression, radiogenomics_analysis
    >>> from tacelearn.plotting import radiogenomics_figures
    >>> rng = np.random.default_rng(0)
    >>> cohort = pd.DataFrame({"patient_id": [f"P{i:03d}" for i in range(40)],
    ...                        "tumour_biology": rng.normal(size=40)})
    >>> data = make_tace_expression(cohort, n_genes=500)
    >>> scores = pd.Series(cohort["tumour_biology"].to_numpy(), index=cohort["patient_id"])
    >>> result = radiogenomics_analysis(scores, data.expression, gene_sets=data.gene_sets,
    ...                                 permutations=100, random_state=0)
    >>> figures = radiogenomics_figures(result, n_terms=1, n_genes=10)
    >>> sorted(figures)
    ['gsea_HALLMARK_ANGIOGENESIS_SYNTHETIC', 'heatmap', 'volcano']
    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> for name, figure in figures.items():
    ...     figure.savefig(folder / f"{name}.png")
    """
    from matplotlib.figure import Figure

    def new_axes(size):
        return Figure(figsize=size, layout="constrained").subplots()

    figures = {}
    volcano = VolcanoDisplay.from_table(result.differential_expression, fdr=fdr,
                                        fold_change=fold_change, ax=new_axes((6.0, 5.0)))
    figures["volcano"] = volcano.figure_
    heatmap = GeneHeatmapDisplay.from_expression(
        result.expression, result.groups, table=result.differential_expression,
        n_genes=n_genes, ax=new_axes((8.0, 0.2 * n_genes + 2.5)))
    figures["heatmap"] = heatmap.figure_
    if terms is None:
        terms = result.gsea.table["term"].head(n_terms).tolist()
    for term in terms:
        display = EnrichmentScoreDisplay.from_result(result.gsea, term, ax=new_axes((6.0, 4.0)))
        figures[f"gsea_{term}"] = display.figure_
    if result.fractions is not None:
        display = CellFractionDisplay.from_fractions(
            result.fractions, result.groups,
            ax=new_axes((1.0 * result.fractions.shape[1] + 2, 4.5)))
        figures["cell_fractions"] = display.figure_
    return figures
