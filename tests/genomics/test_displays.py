"""The radiogenomics Displays draw the data they are given (checked on the artists, not pixels)."""

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from scipy import stats

from tacelearn.genomics import gsea_prerank
from tacelearn.plotting import (
    CellFractionDisplay,
    EnrichmentScoreDisplay,
    GeneHeatmapDisplay,
    VolcanoDisplay,
)


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def _offsets(collection):
    return {tuple(np.round(point, 10)) for point in collection.get_offsets()}


def test_volcano_points_thresholds_and_labels():
    table = pd.DataFrame({
        "gene": ["UP1", "UP2", "DOWN1", "SMALL", "NS", "UNTESTED", "ZERO"],
        "log2_fold_change": [2.0, 1.5, -3.0, 0.2, 1.8, 0.0, -2.5],
        "pvalue": [1e-6, 1e-4, 1e-8, 1e-5, 0.2, np.nan, 0.0],
        "qvalue": [1e-5, 1e-3, 1e-7, 1e-4, 0.4, np.nan, 0.0],
    })
    table.attrs["comparison"] = ("high", "low")
    _, ax = plt.subplots()
    display = VolcanoDisplay.from_table(table, ax=ax, fdr=0.05, fold_change=1.0, n_labels=2)
    assert display.ax_ is ax
    assert display.figure_ is ax.figure
    # p = 0 is drawn at the smallest positive p-value (1e-8), i.e. height 8.
    assert _offsets(display.scatters_["up"]) == {(2.0, 6.0), (1.5, 4.0)}
    assert _offsets(display.scatters_["down"]) == {(-3.0, 8.0), (-2.5, 8.0)}
    assert _offsets(display.scatters_["not significant"]) == {(0.2, 5.0),
                                                               (1.8, -np.log10(0.2).round(10))}
    assert [label.get_text() for label in display.labels_] == ["ZERO", "DOWN1"]
    vertical = sorted(line.get_xdata()[0] for line in display.threshold_lines_[:2])
    assert vertical == [-1.0, 1.0]
    # The horizontal line sits at the largest p-value still under the q threshold (1e-4).
    assert display.threshold_lines_[2].get_ydata()[0] == pytest.approx(4.0)
    assert ax.get_xlabel() == "log2 fold change (high / low)"


def test_volcano_labels_of_crowded_genes_never_overlap():
    # Thirty significant genes on nearly the same spot: each label must find a free place
    # or be left out; brute force over every pair of drawn labels.
    rng = np.random.default_rng(0)
    table = pd.DataFrame({"gene": [f"GENE{i:02d}" for i in range(30)],
                          "log2_fold_change": 2.0 + rng.normal(0, 1e-3, 30),
                          "pvalue": 1e-6 * (1 + 1e-4 * rng.permutation(30))})
    # Two far genes set the axes' scale, so that the thirty stay crowded on the page.
    far = pd.DataFrame({"gene": ["FAR1", "FAR2"], "log2_fold_change": [-4.0, 4.0],
                        "pvalue": [0.5, 1e-9]})
    table = pd.concat([table, far], ignore_index=True)
    table["qvalue"] = np.minimum(table["pvalue"] * 32, 1.0)
    display = VolcanoDisplay.from_table(table, n_labels=30)
    renderer = display.figure_.canvas.get_renderer()
    boxes = [label.get_window_extent(renderer) for label in display.labels_]
    assert 3 <= len(boxes) < 30
    for i, first in enumerate(boxes):
        for second in boxes[i + 1:]:
            assert not first.overlaps(second)
    # The most significant gene keeps its label.
    best = table.loc[table["pvalue"].idxmin(), "gene"]
    assert best in [label.get_text() for label in display.labels_]
    plt.close(display.figure_)


def test_volcano_labels_are_placed_on_a_figure_made_without_pyplot():
    # The report draws on matplotlib.figure.Figure objects, whose canvas has no renderer yet.
    from matplotlib.figure import Figure

    table = pd.DataFrame({"gene": ["A", "B"], "log2_fold_change": [2.0, -2.0],
                          "pvalue": [1e-6, 1e-5], "qvalue": [1e-5, 1e-4]})
    ax = Figure().subplots()
    display = VolcanoDisplay.from_table(table, ax=ax)
    assert [label.get_text() for label in display.labels_] == ["A", "B"]


def test_volcano_from_expression_uses_welch_by_default():
    rng = np.random.default_rng(0)
    expression = pd.DataFrame(rng.normal(8.0, 1.0, size=(24, 30)),
                              columns=[f"G{i:02d}" for i in range(30)])
    groups = np.repeat(["high", "low"], 12)
    display = VolcanoDisplay.from_expression(expression, groups, fold_change=0.0, fdr=1.1)
    heights = sorted(point[1] for point in display.scatters_["up"].get_offsets())
    heights += sorted(point[1] for point in display.scatters_["down"].get_offsets())
    expected = [-np.log10(stats.ttest_ind(expression[g][:12], expression[g][12:],
                                          equal_var=False).pvalue) for g in expression]
    assert sorted(heights) == pytest.approx(sorted(expected))


def test_heatmap_shows_z_scores_of_top_genes_grouped_and_clustered():
    rng = np.random.default_rng(1)
    expression = pd.DataFrame(rng.normal(8.0, 1.0, size=(30, 60)),
                              index=[f"S{i:02d}" for i in range(30)],
                              columns=[f"G{i:02d}" for i in range(60)])
    groups = pd.Series(np.tile(["high", "low"], 15), index=expression.index)
    up, down = [f"G{i:02d}" for i in range(5)], [f"G{i:02d}" for i in range(40, 45)]
    expression.loc[groups == "high", up] += 2.5
    expression.loc[groups == "high", down] -= 2.5
    display = GeneHeatmapDisplay.from_expression(expression, groups, n_genes=10)
    zscores = display.zscores
    assert set(zscores.index) == set(up + down)
    # Columns: all "high" samples, then all "low" ones; the strip above says the same.
    assert list(display.groups) == ["high"] * 15 + ["low"] * 15
    assert list(display.group_bar_.get_array()[0]) == [0] * 15 + [1] * 15
    for gene in zscores.index:
        values = expression.loc[zscores.columns, gene]
        expected = (values - values.mean()) / values.std(ddof=0)
        np.testing.assert_allclose(zscores.loc[gene], expected, atol=1e-12)
    np.testing.assert_allclose(display.image_.get_array(), zscores.to_numpy())
    # Clustering puts the up genes next to each other, and the down genes too.
    order = list(zscores.index)
    positions = sorted(order.index(g) for g in up)
    assert positions == list(range(positions[0], positions[0] + 5))
    assert [t.get_text() for t in display.ax_.get_yticklabels()] == order
    assert display.colorbar_ is not None


def test_heatmap_with_given_genes_and_errors():
    rng = np.random.default_rng(2)
    expression = pd.DataFrame(rng.normal(size=(8, 5)), columns=list("ABCDE"))
    groups = ["high", "low"] * 4
    display = GeneHeatmapDisplay.from_expression(expression, groups, genes=["E", "A"],
                                                 colorbar=False)
    assert set(display.zscores.index) == {"E", "A"}
    assert display.colorbar_ is None
    with pytest.raises(ValueError, match="genes not in expression: Z"):
        GeneHeatmapDisplay.from_expression(expression, groups, genes=["A", "Z"])


def _walk(ranking, members):
    ordered = ranking.sort_values(ascending=False)
    is_hit = ordered.index.isin(members)
    steps = np.where(is_hit, np.abs(ordered.to_numpy()) / np.abs(ordered[is_hit]).sum(),
                     -1.0 / (~is_hit).sum())
    return np.cumsum(steps), np.flatnonzero(is_hit)


def test_enrichment_plot_draws_the_running_sum_and_the_hits():
    rng = np.random.default_rng(3)
    genes = [f"G{i:03d}" for i in range(300)]
    ranking = pd.Series(rng.normal(size=300), index=genes)
    members = genes[::15]
    ranking[members] -= 1.0
    result = gsea_prerank(ranking, {"DOWN": members}, permutations=100, random_state=0,
                          min_size=5)
    _, ax = plt.subplots()
    display = EnrichmentScoreDisplay.from_result(result, "DOWN", ax=ax)
    walk, hits = _walk(ranking, members)
    np.testing.assert_allclose(display.line_.get_ydata(), walk, atol=1e-9)
    assert [segment[0][0] for segment in display.hits_.get_segments()] == list(hits)
    assert display.peak_line_.get_xdata()[0] == np.argmax(np.abs(walk))
    assert walk.min() < 0
    nes = result.table.loc[0, "nes"]
    assert ax.get_title().splitlines() == ["DOWN", f"NES = {nes:.3g}, p < 0.01, FDR < 0.01"]


def test_cell_fraction_boxes_hold_group_medians_and_mann_whitney_pvalues():
    rng = np.random.default_rng(4)
    fractions = pd.DataFrame(rng.dirichlet([2.0, 2.0, 2.0], size=24),
                             index=[f"S{i:02d}" for i in range(24)],
                             columns=["B cells memory", "T cells CD8", "Macrophages M2"])
    groups = pd.Series(["low", "high"] * 12, index=fractions.index)
    display = CellFractionDisplay.from_fractions(fractions, groups)
    assert display.order == ["high", "low"]
    for label in ("high", "low"):
        medians = [line.get_ydata()[0] for line in display.boxplots_[label]["medians"]]
        np.testing.assert_allclose(medians, fractions[groups == label].median())
    texts = [text.get_text() for text in display.pvalue_texts_]
    # R's wilcox.test rule: exact for groups under 50 without ties, as here.
    expected = [stats.mannwhitneyu(fractions.loc[groups == "high", c],
                                   fractions.loc[groups == "low", c], method="exact").pvalue
                for c in fractions.columns]
    assert texts == [f"p={p:.2g}" for p in expected]
    legend = [text.get_text() for text in display.ax_.get_legend().get_texts()]
    assert legend == ["high", "low"]


def test_cell_fraction_display_from_expression_deconvolves_first():
    rng = np.random.default_rng(5)
    genes = [f"M{i:02d}" for i in range(30)]
    signature = pd.DataFrame(rng.lognormal(4.0, 1.5, size=(30, 3)), index=genes,
                             columns=["B", "T", "Mac"])
    truth = pd.DataFrame(rng.dirichlet([2.0, 2.0, 2.0], size=10),
                         index=[f"S{i}" for i in range(10)], columns=signature.columns)
    bulk = truth @ signature.T
    display = CellFractionDisplay.from_expression(bulk, signature, ["high", "low"] * 5)
    np.testing.assert_allclose(display.fractions.to_numpy(), truth.to_numpy(), atol=0.02)
