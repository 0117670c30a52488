"""Statistical tests shared by the analyses, and the baseline characteristics table (Table 1).

- :func:`contingency_test`: chi-square or Fisher's exact test of a contingency table, by
  Cochran's rule, used by Table 1 and the univariate screening alike;
- :func:`mann_whitney_u`: the Mann-Whitney U test with R's choice of exact or normal P values,
  used by the screening, differential expression and the cell-fraction comparison;
- :func:`baseline_table`: the paper's Table 1.

The tests are light; Table 1 needs tableone and the cohort schema, so it is imported on first
use, and the genomics and transformers that only need the tests do not pay for it.
"""

import importlib

from ._categorical import (
    MAX_EXACT_TABLES,
    MIN_EXPECTED_COUNT,
    MONTE_CARLO_RESAMPLES,
    MONTE_CARLO_SEED,
    ContingencyTestResult,
    contingency_test,
)
from ._mann_whitney import EXACT_MAX_SIZE, MannWhitneyResult, mann_whitney_u

_LAZY = {"DEFAULT_NONNORMAL": "._baseline_table", "baseline_table": "._baseline_table"}


def __getattr__(name):
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name], __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(__all__)


__all__ = [
    "DEFAULT_NONNORMAL",
    "EXACT_MAX_SIZE",
    "MAX_EXACT_TABLES",
    "MIN_EXPECTED_COUNT",
    "MONTE_CARLO_RESAMPLES",
    "MONTE_CARLO_SEED",
    "ContingencyTestResult",
    "MannWhitneyResult",
    "baseline_table",
    "contingency_test",
    "mann_whitney_u",
]
