"""The report's radiogenomics section: the biology behind the primary model's score."""

from __future__ import annotations

import pandas as pd

from ..genomics import radiogenomics_analysis
from ..plotting import radiogenomics_figures
from ._figures import save_figure
from ._options import MODEL_LABELS

__all__ = ["radiogenomics_section"]

#: GSEA permutations in the report: enough for FDR near 0.01 with a few dozen gene sets.
PERMUTATIONS = 1000


def radiogenomics_section(scores, options, inputs, folder):
    """Differential expression, GSEA and deconvolution by high/low score of the primary model.

    Every patient with expression is analysed, whatever their split, with the score of the
    primary model; groups split at the mean (or median) score of the patients analysed, as the
    paper did on TCGA-LIHC.

    Returns
    -------
    section : dict
        ``tables`` (file stem -> DataFrame), ``figures`` (list of Figure) and ``summary``.
    """
    expression = inputs["expression"]
    primary = scores[scores["model"] == options.primary].set_index("patient_id")["score"]
    unknown = sorted(set(map(str, expression.index)) - set(primary.index))
    if unknown:
        raise ValueError(f"expression has samples that are not patients of the cohort: "
                         f"{unknown[:8]}")
    cut = options.score_cut if isinstance(options.score_cut, str) else float(options.score_cut)
    result = radiogenomics_analysis(
        primary.loc[expression.index.astype(str)], expression, gene_sets=inputs["gene_sets"],
        signature=inputs.get("signature"), cut=cut, permutations=PERMUTATIONS,
        random_state=options.random_state)
    tables = {
        "radiogenomics_differential_expression": result.differential_expression,
        "radiogenomics_gsea": result.gsea.table.assign(
            leading_edge=lambda t: t["leading_edge"].map(
                lambda genes: ";".join(genes) if isinstance(genes, (list, tuple)) else genes)),
    }
    if result.fractions is not None:
        tables["radiogenomics_cell_fractions"] = result.fractions.reset_index()
        tables["radiogenomics_cell_fraction_tests"] = result.fraction_tests
    groups = pd.DataFrame({"patient_id": result.groups.index, "group": result.groups.to_numpy(),
                           "score": result.scores.loc[result.groups.index].to_numpy()})
    tables["radiogenomics_groups"] = groups
    label = MODEL_LABELS.get(options.primary, options.primary)
    captions = {
        "volcano": f"Differential expression, high vs low {label} score",
        "heatmap": "Top differentially expressed genes (z-scored, clustered)",
        "cell_fractions": f"Immune-cell fractions by {label} score group",
    }
    figures = []
    for name, figure in radiogenomics_figures(result).items():
        caption = captions.get(name, f"GSEA enrichment: {name.removeprefix('gsea_')}")
        figures.append(save_figure(figure, folder / f"radiogenomics_{name}.png", caption,
                                   "Radiogenomics"))
    return {"tables": tables, "figures": figures, "summary": result.summary()}
