"""Statistical building blocks shared by the analyses, and the baseline table (Table 1).

- :func:`contingency_test`: chi-square or Fisher's exact test of a contingency table, by
  Cochran's rule, used by Table 1 and the univariate screening alike;
- :func:`mann_whitney_u`: the Mann-Whitney U test with R's choice of exact or normal P values,
  used by the screening, differential expression and the cell-fraction comparison;
- :func:`loess_smooth`: R's ``loess`` in one predictor, the flexible calibration curve of
  :mod:`tacelearn.metrics`;
- :func:`fit_logistic_recalibration`, :func:`clipped_logit`, :func:`check_logit_epsilon`:
  calibration-in-the-large and the calibration slope, fitted by the calibration metrics, the
  recalibrator and the bootstrap validation of :mod:`tacelearn.validation`;
- :func:`baseline_table`: the paper's Table 1.

The tests and smoothers are light; Table 1 needs tableone and the cohort schema, so it is
imported on first use, and the genomics, metrics and transformers that only need the tests do
not pay for it.
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
from ._loess import LOESS_SURFACES, loess_smooth
from ._logistic import (
    DEFAULT_LOGIT_EPSILON,
    LogisticFit,
    check_logit_epsilon,
    clipped_logit,
    fit_logistic_recalibration,
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
    "DEFAULT_LOGIT_EPSILON",
    "DEFAULT_NONNORMAL",
    "EXACT_MAX_SIZE",
    "LOESS_SURFACES",
    "MAX_EXACT_TABLES",
    "MIN_EXPECTED_COUNT",
    "MONTE_CARLO_RESAMPLES",
    "MONTE_CARLO_SEED",
    "ContingencyTestResult",
    "LogisticFit",
    "MannWhitneyResult",
    "baseline_table",
    "check_logit_epsilon",
    "clipped_logit",
    "contingency_test",
    "fit_logistic_recalibration",
    "loess_smooth",
    "mann_whitney_u",
]
