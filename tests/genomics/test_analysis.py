"""radiogenomics_analysis on synthetic expression: the paper's findings come back out."""

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure
from scipy import stats

from tacelearn.genomics import make_tace_expression, radiogenomics_analysis
from tacelearn.plotting import radiogenomics_figures

SUPPRESSED = {"HALLMARK_ANGIOGENESIS_SYNTHETIC",
              "HALLMARK_EPITHELIAL_MESENCHYMAL_TRANSITION_SYNTHETIC",
              "HALLMARK_HYPOXIA_SYNTHETIC", "HALLMARK_TGF_BETA_SIGNALING_SYNTHETIC"}


def _cohort_and_scores(n, seed=0):
    rng = np.random.default_rng(seed)
    cohort = pd.DataFrame({"patient_id": [f"P{i:04d}" for i in range(n)],
                           "tumour_biology": rng.standard_normal(n)})
    # A model score that sees the biology through noise, as the DLTR score does.
    scores = pd.Series(cohort["tumour_biology"].to_numpy() + rng.normal(0.0, 0.7, n),
                       index=cohort["patient_id"], name="dltr")
    return cohort, scores


@pytest.fixture(scope="module")
def analysed():
    cohort, scores = _cohort_and_scores(200)
    data = make_tace_expression(cohort, n_genes=800, fraction=0.5, random_state=1)
    result = radiogenomics_analysis(scores, data.expression, gene_sets=data.gene_sets,
                                    signature=data.signature, permutations=500,
                                    random_state=0)
    return scores, data, result


def test_groups_split_at_the_mean_of_the_patients_with_expression(analysed):
    scores, data, result = analysed
    kept = scores[data.expression.index]
    assert len(kept) == 100 < len(scores)
    assert result.threshold == pytest.approx(kept.mean())
    expected = np.where(kept >= kept.mean(), "high", "low")
    assert list(result.groups) == list(expected)
    assert list(result.groups.index) == list(data.expression.index)


def test_differential_expression_and_ranking_are_welch_high_over_low(analysed):
    _, data, result = analysed
    high = data.expression[result.groups == "high"]
    low = data.expression[result.groups == "low"]
    table = result.differential_expression.set_index("gene")
    for gene in ["SYN_ANGIO_01", "SYN_EMT_05", "SYN_GENE_0100", "SYN_MARKER_M2_03"]:
        welch = stats.ttest_ind(high[gene], low[gene], equal_var=False)
        assert table.loc[gene, "pvalue"] == pytest.approx(welch.pvalue, rel=1e-10)
        assert result.gsea.ranking[gene] == pytest.approx(welch.statistic, rel=1e-10)
    assert result.gsea.ranking.is_monotonic_decreasing


def test_suppressed_pathways_are_found_down_in_high_score_tumours(analysed):
    _, _, result = analysed
    table = result.gsea.table.set_index("term")
    for term in SUPPRESSED:
        assert table.loc[term, "nes"] < 0, term
        assert table.loc[term, "fdr"] < 0.05, term
    summary = result.summary()
    # Exactly the planted pathways: none of the six unrelated sets comes out.
    assert set(summary["pathways_down"]) == SUPPRESSED
    assert summary["pathways_up"] == ["HALLMARK_XENOBIOTIC_METABOLISM_SYNTHETIC"]
    top = result.differential_expression.head(40)["gene"]
    planted = top.str.match(r"SYN_(ANGIO|EMT|HYPOX|TGFB|XENO|MARKER)_")
    assert planted.mean() >= 0.9


def test_fraction_tests_are_mann_whitney_and_show_the_papers_cells(analysed):
    _, data, result = analysed
    truth = data.fractions.loc[result.fractions.index]
    assert stats.pearsonr(result.fractions.to_numpy().ravel(),
                          truth.to_numpy().ravel()).statistic > 0.95
    tests = result.fraction_tests.set_index("cell_type")
    high = result.fractions[result.groups == "high"]
    low = result.fractions[result.groups == "low"]
    for cell_type in result.fractions.columns:
        # R's wilcox.test: exact when both groups < 50 and no ties, else the corrected normal.
        small = len(high) < 50 and len(low) < 50
        exact = small and not result.fractions[cell_type].duplicated().any()
        reference = stats.mannwhitneyu(high[cell_type], low[cell_type],
                                       method="exact" if exact else "asymptotic")
        assert tests.loc[cell_type, "pvalue"] == pytest.approx(reference.pvalue, rel=1e-10)
        assert tests.loc[cell_type, "median_high"] == pytest.approx(high[cell_type].median())
    summary = result.summary()
    assert "Macrophages M2" in summary["cell_types_down"]
    assert "B cells memory" in summary["cell_types_up"]
    assert summary["n_high"] + summary["n_low"] == summary["n_patients"] == 100


def test_figures_are_drawn_for_the_report(analysed):
    _, _, result = analysed
    figures = radiogenomics_figures(result, n_terms=2, n_genes=20)
    assert set(figures) == {"volcano", "heatmap", "cell_fractions",
                            *(f"gsea_{t}" for t in result.gsea.table["term"][:2])}
    assert all(isinstance(figure, Figure) for figure in figures.values())
    heatmap_image = figures["heatmap"].axes[0].images[0]
    assert heatmap_image.get_array().shape == (20, 100)


def test_cuts():
    cohort, scores = _cohort_and_scores(40, seed=2)
    data = make_tace_expression(cohort, n_genes=500, random_state=2)
    median = radiogenomics_analysis(scores, data.expression, gene_sets=data.gene_sets,
                                    cut="median", permutations=20, random_state=0)
    assert (median.groups == "high").sum() == 20
    fixed = radiogenomics_analysis(scores, data.expression, gene_sets=data.gene_sets,
                                   cut=0.5, permutations=20, random_state=0)
    assert list(fixed.groups == "high") == list(scores >= 0.5)
    assert fixed.fractions is None
    assert fixed.fraction_tests is None


def test_errors_before_any_work():
    cohort, scores = _cohort_and_scores(30, seed=3)
    data = make_tace_expression(cohort, n_genes=500, random_state=3)
    sets = data.gene_sets
    with pytest.raises(ValueError, match="have no entry in scores: P0004, P0011"):
        radiogenomics_analysis(scores.drop(["P0004", "P0011"]), data.expression, gene_sets=sets)
    with pytest.raises(TypeError, match="scores must be a pandas Series"):
        radiogenomics_analysis(scores.to_numpy(), data.expression, gene_sets=sets)
    broken = scores.copy()
    broken["P0002"] = np.nan
    with pytest.raises(ValueError, match="not finite for patients P0002"):
        radiogenomics_analysis(broken, data.expression, gene_sets=sets)
    with pytest.raises(ValueError, match="single group"):
        radiogenomics_analysis(scores, data.expression, gene_sets=sets, cut=100.0)
    with pytest.raises(ValueError, match="cut must be .mean., .median. or a number"):
        radiogenomics_analysis(scores, data.expression, gene_sets=sets, cut="tertile")
    with pytest.raises(ValueError, match="'hallmarks' is not an existing file"):
        radiogenomics_analysis(scores, data.expression, gene_sets="hallmarks")
    logged_without_offset = data.expression.copy()
    logged_without_offset.loc["P0005", data.signature.index[3]] = -0.5
    with pytest.raises(ValueError, match=r"patients P0005 has negative values; it must be log2"):
        radiogenomics_analysis(scores, logged_without_offset, gene_sets=sets,
                               signature=data.signature)
    with pytest.raises(ValueError, match="no gene set has between min_size=50"):
        radiogenomics_analysis(scores, data.expression, gene_sets=sets, min_size=50)


def test_cell_fraction_pvalues_are_rs():
    from tacelearn.genomics import compare_cell_fractions

    # R: wilcox.test(c(0.1, 0.15, 0.2), c(0.4, 0.45, 0.5))$p.value -> 0.1 (exact);
    # wilcox.test(c(0.3, 0.35, 0.3), c(0.1, 0.05, 0.1))$p.value -> 0.072198197701657585 (ties);
    # a cell type at 0 everywhere -> NaN, left out of p.adjust.
    samples = [f"P{i}" for i in range(6)]
    fractions = pd.DataFrame({"Macrophages M2": [0.1, 0.15, 0.2, 0.4, 0.45, 0.5],
                              "B cells memory": [0.3, 0.35, 0.3, 0.1, 0.05, 0.1],
                              "Eosinophils": [0.0] * 6}, index=samples)
    groups = pd.Series(["high"] * 3 + ["low"] * 3, index=samples)
    table = compare_cell_fractions(fractions, groups).set_index("cell_type")
    assert table["pvalue"].iloc[:2].tolist() == pytest.approx([0.1, 0.072198197701657585],
                                                              rel=1e-9)
    assert np.isnan(table.loc["Eosinophils", "pvalue"])
    assert table["qvalue"].iloc[:2].tolist() == pytest.approx([0.1, 0.1], rel=1e-9)
