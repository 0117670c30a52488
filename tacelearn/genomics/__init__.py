"""Radiogenomics: differential expression, GSEA and immune deconvolution by score group.

The biology behind a score, as in Chen et al. (BMC Cancer 2025) on TCGA-LIHC: genes
differentially expressed between high- and low-score tumours
(:func:`differential_expression`), hallmark pathways by pre-ranked GSEA through gseapy
(:func:`gsea_prerank`, gene sets from a local GMT file or a dict, never downloaded) and
immune-cell fractions by CIBERSORT-style nu-SVR (:func:`deconvolve`).
:func:`radiogenomics_analysis` runs all three for the study report;
:func:`make_tace_expression` makes matching synthetic data for the synthetic cohort.
"""

from ._analysis import RadiogenomicsResult, radiogenomics_analysis
from ._cell_fractions import compare_cell_fractions
from ._checks import align_to_samples, check_expression, check_two_groups
from ._deconvolution import deconvolve
from ._differential import differential_expression
from ._expression_io import read_expression
from ._gene_sets import SYNTHETIC_HALLMARK_GMT, read_gmt, write_gmt
from ._gsea import GseaResult, gsea_prerank
from ._synthetic import make_tace_expression

__all__ = [
    "SYNTHETIC_HALLMARK_GMT",
    "GseaResult",
    "RadiogenomicsResult",
    "align_to_samples",
    "check_expression",
    "check_two_groups",
    "compare_cell_fractions",
    "deconvolve",
    "differential_expression",
    "gsea_prerank",
    "make_tace_expression",
    "radiogenomics_analysis",
    "read_expression",
    "read_gmt",
    "write_gmt",
]
