"""The report's radiogenomics section: the biology behind the primary model's score."""

from __future__ import annotations

import pandas as pd

from ..genomics import radiogenomics_analysis
from ..plotting import radiogenomics_figures
from ..utils import describe_names
from ._figures import save_figure
from ._presentation import display_model

__all__ = ["radiogenomics_model", "radiogenomics_section"]

#: GSEA permutations in the report: enough for FDR near 0.01 with a few dozen gene sets.
PERMUTATIONS = 1000


def radiogenomics_model(settings):
    """The model whose score ranks the patients: DLTR, as the paper did, when it was fitted."""
    return "dltr" if "dltr" in settings.models else settings.primary


def radiogenomics_section(scores, settings, inputs, folder):
    """Differential expression, GSEA and deconvolution by high/low DLTR score.

    As the paper did on TCGA-LIHC: patients are ranked by the DLTR score (the primary model's
    when DLTR was not fitted), the CNN's training patients are left out (their scores are
    in-sample), and the groups split at the mean (or median) score of the patients analysed.

    Returns
    -------
    section : dict
        ``tables`` (file stem -> DataFrame), ``figures`` (list of Figure) and ``summary``.
    """
    expression = inputs["expression"]
    model = radiogenomics_model(settings)
    rows = scores[scores["model"] == model].set_index("patient_id")
    unknown = sorted(set(map(str, expression.index)) - set(rows.index))
    if unknown:
        raise ValueError(f"expression has samples that are not patients of the cohort: "
                         f"{describe_names(unknown)}")
    evaluated = rows.index[rows["split"] != settings.train_split]
    expression = expression.loc[[p for p in expression.index.astype(str) if p in set(evaluated)]]
    if len(expression) < 4:
        raise ValueError("radiogenomics needs expression for at least 4 patients outside the "
                         f"training split; {len(expression)} have it")
    cut = (settings.score_cut if isinstance(settings.score_cut, str)
           else float(settings.score_cut))
    result = radiogenomics_analysis(
        rows["score"].loc[expression.index], expression, gene_sets=inputs["gene_sets"],
        signature=inputs.get("signature"), cut=cut, permutations=PERMUTATIONS,
        random_state=settings.random_state)
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
    label = display_model(model)
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
