"""Metrics of the study: AUC inference, threshold metrics, calibration and decision curves.

DeLong AUC inference, threshold metrics with confidence intervals, calibration, decision
curves, performance tables (Table 2) and scikit-learn scorers.

Calibration (:func:`calibration_metrics`) gives calibration-in-the-large, the calibration
slope, Brier scores and the loess calibration indices (ICI, E50, E90, Emax) with confidence
intervals, and :func:`loess_calibration_curve` the flexible calibration curve; their
statistical engines (R's ``loess``, the logistic recalibration fit) are in
:mod:`tacelearn.stats`. Validation that refits models (optimism-corrected bootstrap,
leave-one-centre-out, recalibration, pooling across centres) is in :mod:`tacelearn.validation`,
built on these metrics.
"""

from ._calibration import (
    CALIBRATION_METRICS,
    BrierScores,
    CalibrationErrors,
    CalibrationResult,
    brier_scores,
    calibration_metrics,
    loess_calibration_curve,
    loess_calibration_errors,
)
from ._decision_curve import REFERENCE_STRATEGIES, decision_curve, net_benefit
from ._delong import (
    DIRECTIONS,
    ConfidenceInterval,
    DeLongTestResult,
    delong_covariance,
    delong_roc_ci,
    delong_roc_test,
    delong_roc_variance,
    delong_test_matrix,
    roc_direction,
)
from ._scorers import delong_auc_scorer, net_benefit_scorer
from ._tables import (
    PERFORMANCE_METRICS,
    format_estimate_ci,
    format_performance_table,
    performance_table,
)
from ._threshold import (
    CI_METHODS,
    THRESHOLD_METRICS,
    binary_metrics,
    binary_metrics_ci,
    youden_threshold,
)

__all__ = [
    "CALIBRATION_METRICS",
    "CI_METHODS",
    "DIRECTIONS",
    "PERFORMANCE_METRICS",
    "REFERENCE_STRATEGIES",
    "THRESHOLD_METRICS",
    "BrierScores",
    "CalibrationErrors",
    "CalibrationResult",
    "ConfidenceInterval",
    "DeLongTestResult",
    "binary_metrics",
    "binary_metrics_ci",
    "brier_scores",
    "calibration_metrics",
    "decision_curve",
    "delong_auc_scorer",
    "delong_covariance",
    "delong_roc_ci",
    "delong_roc_test",
    "delong_roc_variance",
    "delong_test_matrix",
    "format_estimate_ci",
    "format_performance_table",
    "loess_calibration_curve",
    "loess_calibration_errors",
    "net_benefit",
    "net_benefit_scorer",
    "performance_table",
    "roc_direction",
    "youden_threshold",
]
