"""Displays of the radiogenomics analysis: volcano plot, top-gene heatmap, GSEA plot, fractions."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.cluster.hierarchy import leaves_list, linkage

from ..genomics import (
    align_to_samples,
    check_expression,
    check_two_groups,
    compare_cell_fractions,
    deconvolve,
    differential_expression,
)
from ..utils import describe_names
from ._base import get_axes

__all__ = ["CellFractionDisplay", "EnrichmentScoreDisplay", "GeneHeatmapDisplay",
           "VolcanoDisplay"]

_UP, _DOWN, _NOT_SIGNIFICANT = "up", "down", "not significant"
_VOLCANO_COLORS = {_UP: "#c0392b", _DOWN: "#2471a3", _NOT_SIGNIFICANT: "#b3b3b3"}
_GROUP_COLORS = ("#c0392b", "#2471a3")
# Gene names are written on the heatmap's rows only up to this many genes.
_MAX_GENE_LABELS = 60


def _group_order(groups, reference=None):
    """(other group, reference group): "high" before "low" by default."""
    numerator, reference = check_two_groups(groups, reference=reference)
    return [numerator, reference]


class VolcanoDisplay:
    """Volcano plot: log2 fold change against -log10 p-value, significant genes coloured.

    Create it with :meth:`from_expression` or :meth:`from_table`; all parameters are stored
    as attributes.

    Parameters
    ----------
    log2_fold_change : array-like of shape (n_genes,)
        Log2 fold change of each gene.
    pvalue : array-like of shape (n_genes,)
        P-value of each gene; NaN p-values are not drawn.
    qvalue : array-like of shape (n_genes,), optional
        Q-values that decide significance; the p-values when absent.
    genes : array-like of str of shape (n_genes,), optional
        Gene names, to label the most significant genes.
    comparison : tuple of 2 labels, optional
        (numerator, reference) groups, for the axis label.

    Attributes
    ----------
    scatters_ : dict of str to matplotlib.collections.PathCollection
        Points of the ``"up"``, ``"down"`` and ``"not significant"`` genes.
    threshold_lines_ : list of matplotlib.lines.Line2D
        The fold-change lines and the p-value line of the q-value threshold.
    labels_ : list of matplotlib.text.Annotation
        Names of the most significant genes, each placed where it overlaps no other (one
        that finds no free place around its point is left out).
    ax_ : matplotlib.axes.Axes
        The axes drawn on.
    figure_ : matplotlib.figure.Figure
        The figure of ``ax_``.

    See Also
    --------
    tacelearn.genomics.differential_expression : The table this plot shows.

    Examples
    --------
    >>> import numpy as np
    >>> import pandas as pd
    >>> from tacelearn.plotting import VolcanoDisplay
    >>> rng = np.random.default_rng(0)
    >>> expression = pd.DataFrame(rng.normal(8.0, 1.0, size=(30, 50)),
    ...                           columns=[f"G{i:02d}" for i in range(50)])
    >>> groups = np.repeat(["high", "low"], 15)
    >>> expression.iloc[:15, :5] -= 2.0
    >>> display = VolcanoDisplay.from_expression(expression, groups)
    >>> len(display.scatters_["down"].get_offsets())
    5
    >>> import matplotlib.pyplot as plt
    >>> plt.close(display.figure_)
    """

    def __init__(self, *, log2_fold_change, pvalue, qvalue=None, genes=None, comparison=None):
        self.log2_fold_change = log2_fold_change
        self.pvalue = pvalue
        self.qvalue = qvalue
        self.genes = genes
        self.comparison = comparison

    def plot(self, ax=None, *, fdr=0.05, fold_change=1.0, n_labels=10, **kwargs):
        """Draw the plot.

        Parameters
        ----------
        ax : matplotlib.axes.Axes, optional
            Axes to draw on; a new figure otherwise.
        fdr : float, default=0.05
            Genes with q-value below ``fdr`` and ``|log2 fold change| >= fold_change`` are
            significant.
        fold_change : float, default=1.0
            Absolute log2 fold change threshold (1 = two-fold); 0 for none.
        n_labels : int, default=10
            The most significant genes named on the plot (needs ``genes``).
        **kwargs : dict
            Passed to ``Axes.scatter`` (``s``, ``alpha``...).

        Returns
        -------
        display : VolcanoDisplay
            This display, with its artists, ``ax_`` and ``figure_`` set.
        """
        ax = get_axes(ax)
        change = np.asarray(self.log2_fold_change, dtype=float)
        pvalue = np.asarray(self.pvalue, dtype=float)
        qvalue = pvalue if self.qvalue is None else np.asarray(self.qvalue, dtype=float)
        tested = np.isfinite(pvalue) & np.isfinite(change)
        positive = pvalue[tested & (pvalue > 0)]
        # A p-value of exactly 0 (underflow) is drawn at the smallest p-value observed.
        floor = positive.min() if len(positive) else np.finfo(float).tiny
        height = -np.log10(np.clip(np.where(tested, pvalue, 1.0), floor, None))
        significant = tested & (qvalue < fdr) & (np.abs(change) >= fold_change)
        masks = {
            _UP: significant & (change > 0),
            _DOWN: significant & (change < 0),
            _NOT_SIGNIFICANT: tested & ~significant,
        }
        style = {"s": 10, "alpha": 0.8, "linewidths": 0, **kwargs}
        self.scatters_ = {
            name: ax.scatter(change[mask], height[mask], color=_VOLCANO_COLORS[name],
                             label=f"{name} ({int(mask.sum())})", **style)
            for name, mask in masks.items()
        }
        self.threshold_lines_ = []
        line_style = {"color": "0.4", "linestyle": "--", "linewidth": 0.8}
        if fold_change > 0:
            self.threshold_lines_ += [ax.axvline(sign * fold_change, **line_style)
                                      for sign in (-1, 1)]
        passing = tested & (qvalue < fdr)
        if passing.any():
            self.threshold_lines_.append(ax.axhline(height[passing].min(), **line_style))
        self.labels_ = []
        if self.genes is not None and n_labels > 0:
            genes = np.asarray(self.genes, dtype=object)
            ranked = np.flatnonzero(significant)
            ranked = ranked[np.lexsort((pvalue[ranked], qvalue[ranked]))][:n_labels]
            self.labels_ = _place_labels(ax, [(str(genes[i]), change[i], height[i])
                                              for i in ranked])
        comparison = (f" ({self.comparison[0]} / {self.comparison[1]})"
                      if self.comparison is not None else "")
        ax.set_xlabel(f"log2 fold change{comparison}")
        ax.set_ylabel("-log10 p-value")
        ax.legend(loc="upper left", fontsize=8, frameon=False)
        self.ax_ = ax
        self.figure_ = ax.figure
        return self

    @classmethod
    def from_table(cls, table, *, ax=None, fdr=0.05, fold_change=1.0, n_labels=10, **kwargs):
        """Volcano plot of a :func:`~tacelearn.genomics.differential_expression` table.

        Parameters
        ----------
        table : pandas.DataFrame
            With ``log2_fold_change`` and ``pvalue``; ``gene`` and ``qvalue`` are used when
            present.
        ax : matplotlib.axes.Axes, optional
            Axes to draw on; a new figure otherwise.
        fdr : float, default=0.05
            Genes with q-value below ``fdr`` and ``|log2 fold change| >= fold_change`` are
            significant.
        fold_change : float, default=1.0
            Absolute log2 fold change threshold (1 = two-fold); 0 for none.
        n_labels : int, default=10
            The most significant genes named on the plot (needs gene names).
        **kwargs : dict
            Passed to ``Axes.scatter`` (``s``, ``alpha``...).

        Returns
        -------
        display : VolcanoDisplay
            A new display, drawn, with its artists, ``ax_`` and ``figure_`` set.
        """
        missing = [c for c in ("log2_fold_change", "pvalue") if c not in table.columns]
        if missing:
            raise ValueError(f"table lacks the columns {missing}")
        display = cls(
            log2_fold_change=table["log2_fold_change"].to_numpy(),
            pvalue=table["pvalue"].to_numpy(),
            qvalue=table["qvalue"].to_numpy() if "qvalue" in table.columns else None,
            genes=table["gene"].to_numpy() if "gene" in table.columns else None,
            comparison=table.attrs.get("comparison"),
        )
        return display.plot(ax=ax, fdr=fdr, fold_change=fold_change, n_labels=n_labels,
                            **kwargs)

    @classmethod
    def from_expression(cls, expression, groups, *, method="welch", reference=None, ax=None,
                        fdr=0.05, fold_change=1.0, n_labels=10, **kwargs):
        """Test every gene between two groups and draw the volcano plot.

        Parameters
        ----------
        expression : pandas.DataFrame of shape (n_samples, n_genes)
            Expression on a log2 scale, rows indexed by sample id, one column per gene.
        groups : pandas.Series or array-like of shape (n_samples,)
            Two labels, one per sample (a Series is aligned on ``expression``'s index).
        method : {"welch", "mannwhitney"}, default="welch"
            The test of :func:`~tacelearn.genomics.differential_expression`.
        reference : label, optional
            The denominator group; by default ``"low"`` of ``"high"``/``"low"``, otherwise
            the first label in sorted order.
        ax : matplotlib.axes.Axes, optional
            Axes to draw on; a new figure otherwise.
        fdr : float, default=0.05
            Genes with q-value below ``fdr`` and ``|log2 fold change| >= fold_change`` are
            significant.
        fold_change : float, default=1.0
            Absolute log2 fold change threshold (1 = two-fold); 0 for none.
        n_labels : int, default=10
            The most significant genes named on the plot (needs gene names).
        **kwargs : dict
            Passed to ``Axes.scatter`` (``s``, ``alpha``...).

        Returns
        -------
        display : VolcanoDisplay
            A new display, drawn, with its artists, ``ax_`` and ``figure_`` set.
        """
        table = differential_expression(expression, groups, method=method, reference=reference)
        return cls.from_table(table, ax=ax, fdr=fdr, fold_change=fold_change,
                              n_labels=n_labels, **kwargs)


def _zscore_rows(values):
    centred = values - values.mean(axis=1, keepdims=True)
    spread = values.std(axis=1, keepdims=True)
    return centred / np.where(spread > 0, spread, 1.0)


def _cluster_order(values, method):
    if len(values) < 3:
        return np.arange(len(values))
    return leaves_list(linkage(values, method=method, metric="euclidean"))


class GeneHeatmapDisplay:
    """Heatmap of genes (rows, z-scored, clustered) over samples (columns, by group).

    Create it with :meth:`from_expression`; all parameters are stored as attributes.

    Parameters
    ----------
    zscores : pandas.DataFrame of shape (n_genes, n_samples)
        Values drawn, in display order.
    groups : pandas.Series of shape (n_samples,)
        Group of each column, in the same order.

    Attributes
    ----------
    image_ : matplotlib.image.AxesImage
        The heatmap.
    group_bar_ : matplotlib.image.AxesImage
        The strip above it coloured by group.
    colorbar_ : matplotlib.colorbar.Colorbar or None
        The colour bar, if drawn.
    ax_ : matplotlib.axes.Axes
        The axes drawn on.
    figure_ : matplotlib.figure.Figure
        The figure of ``ax_``.

    See Also
    --------
    tacelearn.genomics.differential_expression : Chooses the genes.

    Examples
    --------
    >>> import numpy as np
    >>> import pandas as pd
    >>> from tacelearn.plotting import GeneHeatmapDisplay
    >>> rng = np.random.default_rng(0)
    >>> expression = pd.DataFrame(rng.normal(8.0, 1.0, size=(20, 40)),
    ...                           columns=[f"G{i:02d}" for i in range(40)])
    >>> groups = np.repeat(["high", "low"], 10)
    >>> display = GeneHeatmapDisplay.from_expression(expression, groups, n_genes=12)
    >>> display.image_.get_array().shape
    (12, 20)
    >>> import matplotlib.pyplot as plt
    >>> plt.close(display.figure_)
    """

    def __init__(self, *, zscores, groups):
        self.zscores = zscores
        self.groups = groups

    def plot(self, ax=None, *, cmap="RdBu_r", vmax=3.0, colorbar=True):
        """Draw the heatmap.

        Parameters
        ----------
        ax : matplotlib.axes.Axes, optional
            Axes to draw on; a new figure otherwise.
        cmap : str or matplotlib colormap, default="RdBu_r"
            Diverging colour map, blue for low and red for high z-scores.
        vmax : float, default=3.0
            Z-scores beyond ``+-vmax`` take the end colours.
        colorbar : bool, default=True
            Whether to add a colour bar.

        Returns
        -------
        display : GeneHeatmapDisplay
            This display, with its artists, ``ax_`` and ``figure_`` set.
        """
        ax = get_axes(ax)
        self.image_ = ax.imshow(self.zscores.to_numpy(), aspect="auto", cmap=cmap,
                                vmin=-vmax, vmax=vmax, interpolation="nearest")
        n_genes = self.zscores.shape[0]
        if n_genes <= _MAX_GENE_LABELS:
            ax.set_yticks(np.arange(n_genes), labels=[str(g) for g in self.zscores.index],
                          fontsize=7)
        else:
            ax.set_yticks([])
        ax.set_xticks([])
        ax.set_xlabel(f"samples ({self.zscores.shape[1]})")
        labels = pd.unique(self.groups.to_numpy())
        codes = pd.Categorical(self.groups.to_numpy(), categories=labels).codes
        strip = ax.inset_axes([0.0, 1.01, 1.0, 0.04])
        from matplotlib.colors import ListedColormap

        self.group_bar_ = strip.imshow(codes[None, :], aspect="auto", interpolation="nearest",
                                       cmap=ListedColormap(_GROUP_COLORS[:len(labels)]),
                                       vmin=-0.5, vmax=len(_GROUP_COLORS) - 0.5)
        strip.set_axis_off()
        for code, label in enumerate(labels):
            where = np.flatnonzero(codes == code)
            strip.text(where.mean(), 0.0, str(label), ha="center", va="center", fontsize=8,
                       color="white")
        self.colorbar_ = ax.figure.colorbar(self.image_, ax=ax, label="z-score",
                                            shrink=0.6) if colorbar else None
        self.ax_ = ax
        self.figure_ = ax.figure
        return self

    @classmethod
    def from_expression(cls, expression, groups, *, genes=None, table=None, n_genes=30,
                        method="welch", reference=None, linkage_method="average", ax=None,
                        **kwargs):
        """Z-score the top genes, cluster them and draw the heatmap.

        Each gene is z-scored over all samples; genes are ordered by average-linkage
        hierarchical clustering (``scipy.cluster.hierarchy``, Euclidean distance on
        z-scores); samples by group (other group first, then ``reference``), clustered
        within each group.

        Parameters
        ----------
        expression : pandas.DataFrame of shape (n_samples, n_genes)
            Log2 expression.
        groups : pandas.Series or array-like of shape (n_samples,)
            Two labels per sample.
        genes : sequence of str, optional
            Genes to draw; by default the ``n_genes`` with the smallest q-values.
        table : pandas.DataFrame, optional
            A :func:`~tacelearn.genomics.differential_expression` table to take the top
            genes from; computed with ``method`` when absent.
        n_genes : int, default=30
            How many top genes to draw when ``genes`` is not given.
        method : {"welch", "mannwhitney"}, default="welch"
            The test of :func:`~tacelearn.genomics.differential_expression` that ranks the
            genes when ``table`` is not given.
        reference : label, optional
            The reference group, drawn second; by default ``"low"`` of ``"high"``/``"low"``,
            otherwise the first label in sorted order.
        linkage_method : str, default="average"
            Linkage of ``scipy.cluster.hierarchy.linkage``.
        ax : matplotlib.axes.Axes, optional
            Axes to draw on; a new figure otherwise.
        **kwargs : dict
            Passed to :meth:`plot` (``cmap``, ``vmax``, ``colorbar``).

        Returns
        -------
        display : GeneHeatmapDisplay
            A new display, drawn, with its artists, ``ax_`` and ``figure_`` set.
        """
        expression = check_expression(expression)
        groups = align_to_samples(groups, expression.index, name="groups")
        order = _group_order(groups, reference)
        if genes is None:
            if table is None:
                table = differential_expression(expression, groups, method=method,
                                                 reference=order[1])
            genes = table.dropna(subset=["pvalue"])["gene"].head(n_genes).tolist()
        genes = list(genes)
        unknown = [gene for gene in genes if gene not in expression.columns]
        if unknown:
            raise ValueError(f"genes not in expression: {describe_names(unknown)}")
        if not genes:
            raise ValueError("no gene to draw")
        zscores = _zscore_rows(expression[genes].to_numpy().T)
        rows = _cluster_order(zscores, linkage_method)
        columns = np.concatenate([
            np.flatnonzero(groups.to_numpy() == label)[
                _cluster_order(zscores[:, groups.to_numpy() == label].T, linkage_method)]
            for label in order
        ])
        frame = pd.DataFrame(zscores[np.ix_(rows, columns)],
                             index=pd.Index(np.asarray(genes)[rows], name="gene"),
                             columns=expression.index[columns])
        display = cls(zscores=frame, groups=groups.iloc[columns])
        return display.plot(ax=ax, **kwargs)


class EnrichmentScoreDisplay:
    """GSEA enrichment plot: running enrichment score along the ranked genes, hits below.

    Create it with :meth:`from_result`; all parameters are stored as attributes.

    Parameters
    ----------
    running_enrichment_score : array-like of shape (n_ranked_genes,)
        Running sum along the genes in decreasing order of the ranking metric.
    hit_positions : array-like of int
        Positions of the set's genes in that order.
    term : str, optional
        Gene set name (title).
    nes, pvalue, fdr : float, optional
        Shown under the title.
    permutations : int, optional
        Permutations behind ``pvalue`` and ``fdr``: a value of 0 is shown as
        ``< 1 / permutations``.

    Attributes
    ----------
    line_ : matplotlib.lines.Line2D
        The running enrichment score.
    hits_ : matplotlib.collections.LineCollection
        One tick per gene of the set, at the bottom of the axes.
    peak_line_ : matplotlib.lines.Line2D
        Vertical line at the enrichment score (the extreme of the running sum).
    ax_ : matplotlib.axes.Axes
        The axes drawn on.
    figure_ : matplotlib.figure.Figure
        The figure of ``ax_``.

    See Also
    --------
    tacelearn.genomics.gsea_prerank : Computes the result drawn.

    Examples
    --------
    >>> import numpy as np
    >>> import pandas as pd
    >>> from tacelearn.genomics import gsea_prerank
    >>> from tacelearn.plotting import EnrichmentScoreDisplay
    >>> rng = np.random.default_rng(0)
    >>> genes = [f"G{i:03d}" for i in range(200)]
    >>> ranking = pd.Series(rng.normal(size=200), index=genes)
    >>> ranking.iloc[:20] += 2.0
    >>> result = gsea_prerank(ranking, {"PLANTED": genes[:20]}, permutations=100,
    ...                       random_state=0)
    >>> display = EnrichmentScoreDisplay.from_result(result, "PLANTED")
    >>> len(display.hits_.get_segments())
    20
    >>> import matplotlib.pyplot as plt
    >>> plt.close(display.figure_)
    """

    def __init__(self, *, running_enrichment_score, hit_positions, term=None, nes=None,
                 pvalue=None, fdr=None, permutations=None):
        self.running_enrichment_score = running_enrichment_score
        self.hit_positions = hit_positions
        self.term = term
        self.nes = nes
        self.pvalue = pvalue
        self.fdr = fdr
        self.permutations = permutations

    def _format(self, label, value):
        # A permutation p-value of 0 only says "below one over the number of permutations".
        if label != "NES" and value == 0 and self.permutations:
            return f"{label} < {1.0 / self.permutations:.2g}"
        return f"{label} = {value:.3g}"

    def plot(self, ax=None, *, name=None, **kwargs):
        """Draw the plot.

        Parameters
        ----------
        ax : matplotlib.axes.Axes, optional
            Axes to draw on; a new figure otherwise.
        name : str, optional
            Title; the gene set name by default (the statistics go below it).
        **kwargs : dict
            Passed to ``Axes.plot`` for the running score.

        Returns
        -------
        display : EnrichmentScoreDisplay
            This display, with its artists, ``ax_`` and ``figure_`` set.
        """
        ax = get_axes(ax)
        running = np.asarray(self.running_enrichment_score, dtype=float)
        ranks = np.arange(len(running))
        (self.line_,) = ax.plot(ranks, running, **{"color": "#1e8449", "linewidth": 1.5,
                                                   **kwargs})
        ax.axhline(0.0, color="0.5", linewidth=0.8)
        peak = int(np.argmax(np.abs(running)))
        self.peak_line_ = ax.axvline(peak, color="#c0392b", linestyle="--", linewidth=0.8)
        low, high = min(running.min(), 0.0), max(running.max(), 0.0)
        # Room below the curve for the tick marks of the hits.
        ax.set_ylim(low - 0.25 * (high - low), high + 0.05 * (high - low))
        self.hits_ = ax.vlines(np.asarray(self.hit_positions), 0.0, 0.12, colors="black",
                               linewidth=0.6, transform=ax.get_xaxis_transform())
        ax.set_xlim(0, max(len(running) - 1, 1))
        ax.set_xlabel("rank in ordered gene list")
        ax.set_ylabel("enrichment score")
        title = [str(name if name is not None else self.term or "")]
        stats = [self._format(label, value) for label, value in
                 (("NES", self.nes), ("p", self.pvalue), ("FDR", self.fdr)) if value is not None]
        if stats:
            title.append(", ".join(stats))
        ax.set_title("\n".join(line for line in title if line), fontsize=9)
        self.ax_ = ax
        self.figure_ = ax.figure
        return self

    @classmethod
    def from_result(cls, result, term, *, ax=None, name=None, **kwargs):
        """Enrichment plot of one gene set of a :func:`~tacelearn.genomics.gsea_prerank` result.

        Parameters
        ----------
        result : tacelearn.genomics.GseaResult
            The result of :func:`~tacelearn.genomics.gsea_prerank`.
        term : str
            A gene set of ``result.table``.
        ax : matplotlib.axes.Axes, optional
            Axes to draw on; a new figure otherwise.
        name : str, optional
            Title; the gene set name by default (the statistics go below it).
        **kwargs : dict
            Passed to ``Axes.plot`` for the running score.

        Returns
        -------
        display : EnrichmentScoreDisplay
            A new display, drawn, with its artists, ``ax_`` and ``figure_`` set.
        """
        running = result.running_enrichment_score(term)
        row = result.table.set_index("term").loc[term]
        display = cls(running_enrichment_score=running.to_numpy(),
                      hit_positions=result.hit_positions(term), term=term,
                      nes=float(row["nes"]), pvalue=float(row["pvalue"]), fdr=float(row["fdr"]),
                      permutations=result.permutations)
        return display.plot(ax=ax, name=name, **kwargs)


class CellFractionDisplay:
    """Box plots of cell-type fractions, two groups side by side, Mann-Whitney p-values above.

    Create it with :meth:`from_fractions` or :meth:`from_expression`; all parameters are
    stored as attributes.

    Parameters
    ----------
    fractions : pandas.DataFrame of shape (n_samples, n_cell_types)
        Cell-type fractions, one row per sample.
    groups : pandas.Series of shape (n_samples,)
        Group of each sample, aligned with ``fractions``.
    order : sequence of 2 labels
        Groups from left to right.
    pvalues : pandas.Series, optional
        P-value per cell type, written above each pair of boxes.

    Attributes
    ----------
    boxplots_ : dict of label to dict
        What ``Axes.boxplot`` returned for each group (``"boxes"``, ``"medians"``...).
    pvalue_texts_ : list of matplotlib.text.Text
        The p-values written above the boxes.
    ax_ : matplotlib.axes.Axes
        The axes drawn on.
    figure_ : matplotlib.figure.Figure
        The figure of ``ax_``.

    See Also
    --------
    tacelearn.genomics.deconvolve : Estimates the fractions.
    tacelearn.genomics.compare_cell_fractions : The tests behind the p-values.

    Examples
    --------
    >>> import numpy as np
    >>> import pandas as pd
    >>> from tacelearn.plotting import CellFractionDisplay
    >>> rng = np.random.default_rng(0)
    >>> fractions = pd.DataFrame(rng.dirichlet([2, 2, 2], size=20),
    ...                          columns=["B cells memory", "T cells CD8", "Macrophages M2"])
    >>> groups = np.repeat(["high", "low"], 10)
    >>> display = CellFractionDisplay.from_fractions(fractions, groups)
    >>> sorted(display.boxplots_)
    ['high', 'low']
    >>> import matplotlib.pyplot as plt
    >>> plt.close(display.figure_)
    """

    def __init__(self, *, fractions, groups, order, pvalues=None):
        self.fractions = fractions
        self.groups = groups
        self.order = order
        self.pvalues = pvalues

    def plot(self, ax=None, **kwargs):
        """Draw the box plots.

        Parameters
        ----------
        ax : matplotlib.axes.Axes, optional
            Axes to draw on; a new figure otherwise.
        **kwargs : dict
            Passed to ``Axes.boxplot``.

        Returns
        -------
        display : CellFractionDisplay
            This display, with its artists, ``ax_`` and ``figure_`` set.
        """
        ax = get_axes(ax)
        n_types = self.fractions.shape[1]
        centres = np.arange(n_types) * 3.0
        groups = np.asarray(self.groups)
        self.boxplots_ = {}
        for offset, label, color in zip((-0.5, 0.5), self.order, _GROUP_COLORS):
            values = self.fractions.to_numpy()[groups == label]
            boxes = ax.boxplot([values[:, j] for j in range(n_types)],
                               positions=centres + offset, widths=0.8, patch_artist=True,
                               **{"showfliers": False, **kwargs})
            for box in boxes["boxes"]:
                box.set_facecolor(color)
                box.set_alpha(0.6)
            boxes["boxes"][0].set_label(str(label))
            self.boxplots_[label] = boxes
        self.pvalue_texts_ = []
        if self.pvalues is not None:
            top = float(self.fractions.to_numpy().max())
            for centre, cell_type in zip(centres, self.fractions.columns):
                value = self.pvalues.get(cell_type)
                if value is not None and np.isfinite(value):
                    self.pvalue_texts_.append(ax.text(centre, top * 1.03, f"p={value:.2g}",
                                                      ha="center", va="bottom", fontsize=7))
            ax.set_ylim(top=top * 1.12)
        ax.set_xticks(centres, labels=[str(c) for c in self.fractions.columns], rotation=45,
                      ha="right", fontsize=8)
        ax.set_xlim(centres[0] - 1.5, centres[-1] + 1.5)
        ax.set_ylabel("fraction")
        ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8, frameon=False)
        self.ax_ = ax
        self.figure_ = ax.figure
        return self

    @classmethod
    def from_fractions(cls, fractions, groups, *, reference=None, ax=None, **kwargs):
        """Box plots of given fractions by group, with Mann-Whitney p-values.

        Parameters
        ----------
        fractions : pandas.DataFrame of shape (n_samples, n_cell_types)
            Cell-type fractions, one row per sample (as
            :func:`~tacelearn.genomics.deconvolve` returns them).
        groups : pandas.Series or array-like of shape (n_samples,)
            Two labels per sample, aligned as in
            :func:`~tacelearn.genomics.differential_expression`.
        reference : label, optional
            The right-hand group (``"low"`` of ``"high"``/``"low"`` by default).
        ax : matplotlib.axes.Axes, optional
            Axes to draw on; a new figure otherwise.
        **kwargs : dict
            Passed to ``Axes.boxplot``.

        Returns
        -------
        display : CellFractionDisplay
            A new display, drawn, with its artists, ``ax_`` and ``figure_`` set.
        """
        fractions = check_expression(fractions, name="fractions")
        groups = align_to_samples(groups, fractions.index, name="groups")
        order = _group_order(groups, reference)
        tests = compare_cell_fractions(fractions, groups, reference=order[1])
        display = cls(fractions=fractions, groups=groups, order=order,
                      pvalues=tests.set_index("cell_type")["pvalue"])
        return display.plot(ax=ax, **kwargs)

    @classmethod
    def from_expression(cls, expression, signature, groups, *, reference=None, ax=None,
                        **kwargs):
        """Deconvolve linear-scale expression, then draw the fractions by group.

        Parameters
        ----------
        expression : pandas.DataFrame of shape (n_samples, n_genes)
            Bulk expression on a linear scale (not its logarithm), rows indexed by sample id.
        signature : pandas.DataFrame of shape (n_signature_genes, n_cell_types)
            Reference profiles of purified cell types on the same scale, rows indexed by
            gene (see :func:`~tacelearn.genomics.deconvolve`).
        groups : pandas.Series or array-like of shape (n_samples,)
            Two labels per sample, aligned as in
            :func:`~tacelearn.genomics.differential_expression`.
        reference : label, optional
            The right-hand group (``"low"`` of ``"high"``/``"low"`` by default).
        ax : matplotlib.axes.Axes, optional
            Axes to draw on; a new figure otherwise.
        **kwargs : dict
            Passed to ``Axes.boxplot``.

        Returns
        -------
        display : CellFractionDisplay
            A new display, drawn, with its artists, ``ax_`` and ``figure_`` set.
        """
        fractions = deconvolve(expression, signature)
        return cls.from_fractions(fractions, groups, reference=reference, ax=ax, **kwargs)


#: Where a gene's label may sit around its point, in points, tried in this order.
_LABEL_OFFSETS = ((3, 3), (3, -10), (-3, 3), (-3, -10), (3, 12), (-3, 12), (3, -19), (-3, -19))


def _place_labels(ax, labels):
    """Annotate each ``(text, x, y)`` at the first offset where it overlaps no earlier label.

    The most significant genes come first and keep the best places; a label that finds no
    free place is left out rather than drawn over another one.
    """
    canvas = ax.figure.canvas
    if not hasattr(canvas, "get_renderer"):  # a Figure made without pyplot: no backend yet
        from matplotlib.backends.backend_agg import FigureCanvasAgg

        canvas = FigureCanvasAgg(ax.figure)
    renderer = canvas.get_renderer()
    placed, boxes = [], []
    for text, x, y in labels:
        for dx, dy in _LABEL_OFFSETS:
            annotation = ax.annotate(text, (x, y), fontsize=7, xytext=(dx, dy),
                                     textcoords="offset points",
                                     ha="left" if dx > 0 else "right")
            box = annotation.get_window_extent(renderer).expanded(1.05, 1.1)
            if not any(box.overlaps(other) for other in boxes):
                placed.append(annotation)
                boxes.append(box)
                break
            annotation.remove()
    return placed

