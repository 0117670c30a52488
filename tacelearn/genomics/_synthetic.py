"""Synthetic tumour expression tied to the synthetic cohort's latent tumour biology.

The generative model (coefficients are module constants, so that documentation and tests can
refer to them):

1. Pathway genes are those of the bundled GMT :data:`SYNTHETIC_HALLMARK_GMT`. Each pathway
   ``p`` has a per-patient activity ``a = e_p * B + sqrt(1 - e_p^2) * z`` with ``B`` the
   cohort's ``tumour_biology`` (standard normal; higher = more likely to respond, and the
   DLTR score is higher) and ``e_p`` from :data:`PATHWAY_EFFECTS`: angiogenesis, EMT,
   hypoxia and TGF-beta signalling go down with ``B`` as in Chen et al.; xenobiotic
   metabolism goes up (a positive control, not a finding of the paper); the other sets are
   co-regulated modules unrelated to ``B``.
2. A fraction :data:`RESPONSIVE_GENE_FRACTION` of each set follows its pathway activity with
   a loading in :data:`LOADING_RANGE` (:data:`NEUTRAL_LOADING_RANGE` for the sets unrelated
   to ``B``: strongly co-regulated sets would come out of a gene-permutation GSEA by chance
   imbalance alone); the rest, and the filler genes, are independent noise. These genes are
   drawn directly on the log2 scale.
3. Immune cells: fractions among :data:`CELL_TYPES` are a softmax of
   ``log(base proportion) + coefficient * B + N(0, FRACTION_NOISE^2)``, so high-biology
   tumours hold fewer M2 macrophages and more memory B cells (the paper's findings).
4. Marker genes of the cell types are expressed, on a linear scale, as
   ``immune_content * signature @ fractions + (1 - immune_content) * tumour_background``
   times log-normal noise, then logged as ``log2(x + 1)``. The signature returned is the
   true one times log-normal measurement noise, as a reference measured on purified cells.
"""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np
import pandas as pd
from sklearn.utils import Bunch

from ..utils import describe_names
from ._gene_sets import SYNTHETIC_HALLMARK_GMT, read_gmt

__all__ = ["CELL_TYPES", "PATHWAY_EFFECTS", "make_tace_expression"]

#: Correlation of each pathway's activity with the latent tumour biology.
PATHWAY_EFFECTS = {
    "HALLMARK_ANGIOGENESIS_SYNTHETIC": -0.6,
    "HALLMARK_EPITHELIAL_MESENCHYMAL_TRANSITION_SYNTHETIC": -0.6,
    "HALLMARK_HYPOXIA_SYNTHETIC": -0.6,
    "HALLMARK_TGF_BETA_SIGNALING_SYNTHETIC": -0.6,
    "HALLMARK_XENOBIOTIC_METABOLISM_SYNTHETIC": 0.5,
}
#: Share of a set's genes that follow the pathway activity.
RESPONSIVE_GENE_FRACTION = 0.7
#: Correlation of a responsive gene with its pathway activity is uniform on this interval.
LOADING_RANGE = (0.5, 0.9)
#: The same for the sets without an effect of the tumour biology.
NEUTRAL_LOADING_RANGE = (0.1, 0.3)
#: Mean (uniform range) and standard deviation (uniform range) of log2 expression of a gene.
LOG2_MEAN_RANGE = (3.0, 11.0)
LOG2_SD_RANGE = (0.5, 2.5)

#: Immune cell types (CIBERSORT LM22 names): (base proportion, log-ratio per SD of biology).
CELL_TYPES = {
    "B cells naive": (0.07, 0.0),
    "B cells memory": (0.08, 0.6),
    "T cells CD8": (0.20, 0.0),
    "T cells regulatory (Tregs)": (0.10, 0.0),
    "NK cells activated": (0.12, 0.0),
    "Macrophages M1": (0.08, 0.0),
    "Macrophages M2": (0.25, -0.6),
}
_MARKER_CODES = ("BNAIVE", "BMEM", "CD8", "TREG", "NK", "M1", "M2")
# Cell types that share part of their markers' expression (same lineage).
_SIBLINGS = {0: (1,), 1: (0,), 2: (3, 4), 3: (2,), 4: (2,), 5: (6,), 6: (5,)}
#: Marker genes per cell type in the signature matrix.
MARKERS_PER_CELL_TYPE = 15
#: Standard deviation of the per-patient noise on the log-ratio of the fractions.
FRACTION_NOISE = 0.5
#: Immune share of the tumour's expression is Beta(a, b).
IMMUNE_CONTENT_BETA = (3.0, 7.0)
#: Log-normal sigma of the bulk measurement noise and of the signature's reference noise.
BULK_NOISE = 0.15
SIGNATURE_NOISE = 0.1


def _select_patients(cohort, fraction, patient_ids, rng):
    if not isinstance(cohort, pd.DataFrame):
        raise TypeError(f"cohort must be a pandas DataFrame, got {type(cohort).__name__}")
    missing = [c for c in ("patient_id", "tumour_biology") if c not in cohort.columns]
    if missing:
        raise ValueError(f"cohort lacks the columns {missing}; make_tace_expression needs the "
                         "synthetic cohort of tacelearn.datasets.make_tace_cohort")
    ids = cohort["patient_id"].astype(str)
    if ids.duplicated().any():
        duplicated = ids[ids.duplicated()]
        raise ValueError(f"cohort has duplicated patient ids: {describe_names(duplicated)}")
    biology = pd.Series(pd.to_numeric(cohort["tumour_biology"], errors="coerce").to_numpy(),
                        index=pd.Index(ids, name="patient_id"), name="tumour_biology")
    bad = biology.index[~np.isfinite(biology.to_numpy())]
    if len(bad):
        raise ValueError("tumour_biology is missing or not finite for patients "
                         f"{describe_names(bad)}")
    if fraction is not None and patient_ids is not None:
        raise ValueError("give fraction or patient_ids, not both")
    if patient_ids is not None:
        wanted = pd.Index([str(p) for p in patient_ids])
        unknown = wanted.difference(biology.index, sort=False)
        if len(unknown):
            raise ValueError(f"patient_ids not in the cohort: {describe_names(unknown)}")
        return biology[biology.index.isin(wanted)]
    if fraction is None:
        return biology
    if not isinstance(fraction, Real) or not 0 < fraction <= 1:
        raise ValueError(f"fraction must be in (0, 1], got {fraction!r}")
    n_kept = max(int(round(fraction * len(biology))), 4)
    kept = np.sort(rng.choice(len(biology), size=min(n_kept, len(biology)), replace=False))
    return biology.iloc[kept]


def _signature(rng):
    n_types = len(CELL_TYPES)
    n_markers = n_types * MARKERS_PER_CELL_TYPE
    signature = rng.lognormal(np.log(30.0), 0.6, size=(n_markers, n_types))
    for cell_type in range(n_types):
        rows = slice(cell_type * MARKERS_PER_CELL_TYPE, (cell_type + 1) * MARKERS_PER_CELL_TYPE)
        own = rng.lognormal(np.log(1000.0), 0.4, size=MARKERS_PER_CELL_TYPE)
        signature[rows, cell_type] = own
        for sibling in _SIBLINGS[cell_type]:
            signature[rows, sibling] = own * rng.uniform(0.1, 0.3, size=MARKERS_PER_CELL_TYPE)
    genes = [f"SYN_MARKER_{code}_{i:02d}" for code in _MARKER_CODES
             for i in range(1, MARKERS_PER_CELL_TYPE + 1)]
    return pd.DataFrame(signature, index=pd.Index(genes, name="gene"), columns=list(CELL_TYPES))


def _fractions(biology, rng):
    base, coefficient = (np.array(values) for values in zip(*CELL_TYPES.values()))
    logits = (np.log(base) + np.outer(biology, coefficient)
              + FRACTION_NOISE * rng.standard_normal((len(biology), len(base))))
    weights = np.exp(logits - logits.max(axis=1, keepdims=True))
    return weights / weights.sum(axis=1, keepdims=True)


def _pathway_genes(gene_sets, biology, rng):
    n = len(biology)
    columns = {}
    for term, genes in gene_sets.items():
        effect = PATHWAY_EFFECTS.get(term, 0.0)
        activity = effect * biology + np.sqrt(1 - effect**2) * rng.standard_normal(n)
        responsive = rng.random(len(genes)) < RESPONSIVE_GENE_FRACTION
        loading_range = LOADING_RANGE if effect else NEUTRAL_LOADING_RANGE
        loading = np.where(responsive, rng.uniform(*loading_range, size=len(genes)), 0.0)
        noise = rng.standard_normal((n, len(genes)))
        standardised = np.outer(activity, loading) + np.sqrt(1 - loading**2) * noise
        for gene, column in zip(genes, standardised.T):
            columns[gene] = column
    return columns


def make_tace_expression(cohort, *, n_genes=2000, fraction=None, patient_ids=None,
                         random_state=0):
    """Synthetic tumour expression for (part of) the synthetic cohort, tied to its biology.

    High-biology tumours (likely responders, high DLTR score) show suppressed angiogenesis,
    EMT, hypoxia and TGF-beta pathway genes, fewer M2 macrophages and more memory B cells,
    as Chen et al. found on TCGA-LIHC; the generative model is in the module docstring of
    ``tacelearn.genomics._synthetic``.

    Parameters
    ----------
    cohort : pandas.DataFrame
        A cohort with ``patient_id`` and the latent ``tumour_biology`` column, as
        :func:`tacelearn.datasets.make_tace_cohort` writes it.
    n_genes : int, default=2000
        Genes in total: the pathway genes of :data:`SYNTHETIC_HALLMARK_GMT`, the marker genes
        of the signature, and unrelated filler genes (``SYN_GENE_0001``...).
    fraction : float in (0, 1], optional
        Keep a random share of the patients (only part of a cohort has expression data).
    patient_ids : sequence of str, optional
        Keep these patients instead; exclusive with ``fraction``.
    random_state : int or numpy.random.Generator, default=0
        Seed of the gene parameters, the patients kept and the noise.

    Returns
    -------
    data : sklearn.utils.Bunch
        ``expression``: samples x genes, ``log2(x + 1)`` scale, indexed by ``patient_id``;
        ``gene_sets``: the bundled pathway sets (dict); ``signature``: marker genes x cell
        types on a linear scale, for :func:`deconvolve` (after ``2 ** expression - 1``);
        ``fractions``: the true immune fractions, samples x cell types;
        ``pathway_effects``: :data:`PATHWAY_EFFECTS`.

    See Also
    --------
    radiogenomics_analysis : The analysis this data is made for.
    write_gmt : Writes ``gene_sets`` for the command line.

    Examples
    --------
    >>> import numpy as np
    >>> import pandas as pd
    >>> from tacelearn.genomics import make_tace_expression
    >>> cohort = pd.DataFrame({"patient_id": [f"P{i:03d}" for i in range(100)],
    ...                        "tumour_biology": np.random.default_rng(0).normal(size=100)})
    >>> data = make_tace_expression(cohort, n_genes=1000, fraction=0.5)
    >>> data.expression.shape, data.signature.shape
    ((50, 1000), (105, 7))
    >>> data.fractions.sum(axis=1).round(6).unique().tolist()
    [1.0]
    """
    rng = np.random.default_rng(random_state)
    biology = _select_patients(cohort, fraction, patient_ids, rng)
    gene_sets = read_gmt(SYNTHETIC_HALLMARK_GMT)
    signature = _signature(rng)
    n_structured = sum(len(genes) for genes in gene_sets.values()) + len(signature)
    if not isinstance(n_genes, Integral) or n_genes < n_structured:
        raise ValueError(f"n_genes must be an integer of at least {n_structured} (pathway and "
                         f"marker genes), got {n_genes!r}")

    b = biology.to_numpy()
    log2_columns = _pathway_genes(gene_sets, b, rng)
    n_filler = n_genes - n_structured
    log2_columns.update(zip([f"SYN_GENE_{i:04d}" for i in range(1, n_filler + 1)],
                            rng.standard_normal((n_filler, len(b)))))
    standardised = np.column_stack(list(log2_columns.values()))
    means = rng.uniform(*LOG2_MEAN_RANGE, size=standardised.shape[1])
    sds = rng.uniform(*LOG2_SD_RANGE, size=standardised.shape[1])
    log2_values = np.maximum(means + sds * standardised, 0.0)

    fractions = _fractions(b, rng)
    content = rng.beta(*IMMUNE_CONTENT_BETA, size=len(b))
    background = rng.lognormal(np.log(10.0), 0.5, size=len(signature))
    linear = (content[:, None] * fractions @ signature.to_numpy().T
              + (1 - content)[:, None] * background)
    linear *= rng.lognormal(0.0, BULK_NOISE, size=linear.shape)
    measured_signature = signature * rng.lognormal(0.0, SIGNATURE_NOISE, size=signature.shape)

    samples = pd.Index(biology.index, name="patient_id")
    expression = pd.DataFrame(
        np.hstack([log2_values, np.log2(linear + 1.0)]), index=samples,
        columns=pd.Index([*log2_columns, *signature.index], name="gene"))
    return Bunch(
        expression=expression,
        gene_sets=gene_sets,
        signature=measured_signature,
        fractions=pd.DataFrame(fractions, index=samples, columns=signature.columns),
        pathway_effects=dict(PATHWAY_EFFECTS),
    )
