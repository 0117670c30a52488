"""Pre-ranked gene set enrichment analysis through gseapy, without files or downloads."""

from __future__ import annotations

from numbers import Integral

import numpy as np
import pandas as pd
from sklearn.utils import check_random_state

from ..utils import describe_names
from ._gene_sets import check_gene_sets

__all__ = ["GseaResult", "check_gsea_arguments", "gsea_prerank"]

_TABLE_COLUMNS = ["term", "nes", "pvalue", "fdr", "es", "size", "leading_edge"]


class GseaResult:
    """Result of :func:`gsea_prerank`.

    Made by :func:`gsea_prerank`.

    Parameters
    ----------
    table : pandas.DataFrame
        One row per gene set tested.
    ranking : pandas.Series
        The ranking metric sorted in decreasing order, as gseapy walked it.
    gene_sets : dict of str to list of str
        Genes of each tested set found in the ranking.
    running_scores : dict of str to numpy.ndarray
        Running enrichment score of each tested set along ``ranking``.
    permutations : int
        Gene-set permutations behind the p-values.

    Attributes
    ----------
    table : pandas.DataFrame
        ``term``, ``nes`` (normalised enrichment score), ``pvalue`` (nominal), ``fdr``
        (GSEA's false discovery rate q-value), ``es``, ``size`` (genes of the set in the
        ranking) and ``leading_edge`` (list of genes), sorted by FDR, then by ``|nes|``.
        A p-value of 0 means below ``1 / permutations``.
    ranking, gene_sets, permutations
        As given.

    See Also
    --------
    gsea_prerank : Computes it.
    tacelearn.plotting.EnrichmentScoreDisplay : The classic enrichment plot of one set.

    Examples
    --------
    >>> import numpy as np
    >>> import pandas as pd
    >>> from tacelearn.genomics import gsea_prerank
    >>> genes = [f"G{i:03d}" for i in range(300)]
    >>> ranking = pd.Series(np.linspace(3.0, -3.0, 300), index=genes)
    >>> result = gsea_prerank(ranking, {"TOP": genes[:40:2]}, permutations=100,
    ...                       random_state=0)
    >>> result
    GseaResult(1 gene sets, 300 ranked genes, permutations=100)
    >>> result.hit_positions("TOP")[:5].tolist()
    [0, 2, 4, 6, 8]
    >>> result.running_enrichment_score("TOP").shape
    (300,)
    """

    def __init__(self, table, ranking, gene_sets, running_scores, permutations):
        self.table = table
        self.ranking = ranking
        self.gene_sets = gene_sets
        self.permutations = permutations
        self._running_scores = running_scores

    def __repr__(self):
        return (f"GseaResult({len(self.table)} gene sets, {len(self.ranking)} ranked genes, "
                f"permutations={self.permutations})")

    def _check_term(self, term):
        if term not in self._running_scores:
            raise ValueError(f"gene set {term!r} was not tested; tested sets: "
                             f"{describe_names(self.table['term'])}")

    def running_enrichment_score(self, term):
        """Running enrichment score of one gene set along the ranked genes.

        Parameters
        ----------
        term : str
            A gene set of :attr:`table`.

        Returns
        -------
        running_score : pandas.Series
            Indexed by gene in decreasing order of the ranking metric; its extreme value is
            the set's enrichment score.
        """
        self._check_term(term)
        return pd.Series(self._running_scores[term], index=self.ranking.index,
                         name="running_enrichment_score")

    def hit_positions(self, term):
        """Positions (0-based, along :attr:`ranking`) of the genes of one set.

        Parameters
        ----------
        term : str
            A gene set of :attr:`table`.

        Returns
        -------
        positions : numpy.ndarray of int
            Increasing positions of the set's genes in the ranking: the ticks of the
            enrichment plot.
        """
        self._check_term(term)
        return np.flatnonzero(self.ranking.index.isin(self.gene_sets[term]))


def _check_ranking(ranking):
    if not isinstance(ranking, pd.Series):
        raise TypeError("ranking must be a pandas Series of a ranking metric indexed by gene, "
                        f"got {type(ranking).__name__}")
    if ranking.index.has_duplicates:
        duplicated = ranking.index[ranking.index.duplicated()].unique()
        raise ValueError(f"ranking has duplicated genes: {describe_names(duplicated)}")
    try:
        values = ranking.to_numpy(dtype=float)
    except (TypeError, ValueError):
        raise ValueError("ranking must hold numbers") from None
    bad = ranking.index[~np.isfinite(values)]
    if len(bad):
        raise ValueError("ranking has missing or non-finite values for genes "
                         f"{describe_names(bad)}")
    if len(values) < 2:
        raise ValueError(f"ranking needs at least 2 genes, got {len(values)}")
    return pd.Series(values, index=ranking.index.astype(str), name="prerank")


def _seed(random_state):
    if isinstance(random_state, Integral):
        return int(random_state)
    return int(check_random_state(random_state).randint(np.iinfo(np.int32).max))


def check_gsea_arguments(genes, gene_sets, *, permutations, min_size, max_size):
    """Check everything GSEA needs before the permutations run; return the gene sets as a dict.

    Some set must keep between ``min_size`` and ``max_size`` of ``genes``, the ranked genes.
    """
    gene_sets = check_gene_sets(gene_sets)
    if not isinstance(permutations, Integral) or permutations < 1:
        raise ValueError(f"permutations must be a positive integer, got {permutations!r}")
    for name, value in (("min_size", min_size), ("max_size", max_size)):
        if not isinstance(value, Integral) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    if min_size > max_size:
        raise ValueError(f"min_size ({min_size}) is larger than max_size ({max_size})")
    genes = set(genes)
    sizes = {name: len(genes.intersection(members)) for name, members in gene_sets.items()}
    if not any(min_size <= size <= max_size and size < len(genes) for size in sizes.values()):
        found = ", ".join(f"{name}: {size}" for name, size in list(sizes.items())[:10])
        raise ValueError(f"no gene set has between min_size={min_size} and max_size={max_size} "
                         f"genes of the ranking (genes found per set: {found}); check that "
                         "the gene identifiers match")
    return gene_sets


def gsea_prerank(ranking, gene_sets, *, permutations=1000, random_state=None, min_size=15,
                 max_size=500):
    """Pre-ranked gene set enrichment analysis (GSEA) of a ranked gene list.

    Runs ``gseapy.prerank`` (weighted Kolmogorov-Smirnov running sum, weight 1, gene-set
    permutations) with one thread, writing nothing to disk and drawing nothing.

    Parameters
    ----------
    ranking : pandas.Series
        A ranking metric indexed by gene, such as the ``statistic`` of
        :func:`differential_expression` (signed: positive when higher in the group of
        interest). Genes are walked in decreasing order.
    gene_sets : dict of str to list of str, or path-like
        Gene sets as a dict or the path of a local GMT file. A string that is not an existing
        file is refused (gseapy would download an Enrichr library of that name). Genes are
        matched by exact name (e.g. HGNC symbols on both sides).
    permutations : int, default=1000
        Gene-set permutations for the null distribution; the smallest non-zero p-value is
        about ``1 / permutations``.
    random_state : int, RandomState instance or None, default=None
        Seed of the permutations.
    min_size, max_size : int, default=15 and 500
        Sets with fewer or more genes found in the ranking are skipped, as in GSEA.

    Returns
    -------
    result : GseaResult
        ``result.table`` holds ``term, nes, pvalue, fdr, es, size, leading_edge``;
        ``result.running_enrichment_score(term)`` gives the running sum for plots.

    See Also
    --------
    differential_expression : Gives the ranking statistic.
    read_gmt : Reads a GMT file.
    tacelearn.plotting.EnrichmentScoreDisplay : The enrichment plot of one set.

    Examples
    --------
    >>> import numpy as np
    >>> import pandas as pd
    >>> from tacelearn.genomics import gsea_prerank
    >>> rng = np.random.default_rng(0)
    >>> genes = [f"G{i:03d}" for i in range(300)]
    >>> ranking = pd.Series(rng.normal(size=300), index=genes)
    >>> ranking.iloc[:20] += 2.0
    >>> gene_sets = {"PLANTED": genes[:20], "RANDOM": genes[100:120]}
    >>> result = gsea_prerank(ranking, gene_sets, permutations=200, random_state=0)
    >>> result.table[["term", "size"]].to_dict("list")
    {'term': ['PLANTED', 'RANDOM'], 'size': [20, 20]}
    >>> bool(result.table.loc[0, "nes"] > 1.5)
    True
    """
    import gseapy

    ranking = _check_ranking(ranking)
    gene_sets = check_gsea_arguments(ranking.index, gene_sets, permutations=permutations,
                                     min_size=min_size, max_size=max_size)

    prerank = gseapy.prerank(
        rnk=ranking, gene_sets=gene_sets, outdir=None, no_plot=True, threads=1,
        permutation_num=int(permutations), min_size=int(min_size), max_size=int(max_size),
        seed=_seed(random_state), verbose=False,
    )
    sorted_ranking = prerank.ranking.rename("ranking")
    sorted_ranking.index.name = "gene"
    records, running_scores, members = [], {}, {}
    for term, record in prerank.results.items():
        hits = np.asarray(record["hits"], dtype=int)
        running_scores[term] = np.asarray(record["RES"], dtype=float)
        members[term] = sorted_ranking.index[np.sort(hits)].tolist()
        leading_edge = record["lead_genes"]
        records.append({
            "term": term,
            "nes": record["nes"],
            "pvalue": record["pval"],
            "fdr": record["fdr"],
            "es": record["es"],
            "size": len(hits),
            "leading_edge": leading_edge.split(";") if leading_edge else [],
        })
    table = pd.DataFrame.from_records(records, columns=_TABLE_COLUMNS)
    table = table.assign(abs_nes=table["nes"].abs())
    table = table.sort_values(["fdr", "abs_nes"], ascending=[True, False], kind="stable")
    table = table.drop(columns="abs_nes").reset_index(drop=True)
    return GseaResult(table, sorted_ranking, members, running_scores, int(permutations))
