"""Metrics of the study: DeLong AUC inference, threshold metrics with CIs, decision curves,
performance tables (Table 2) and scikit-learn scorers."""

from ._calibration import (
    CALIBRATION_METRICS,
    CalibrationResult,
    calibration_metrics,
    loess_calibration_curve,
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
    "CalibrationResult",
    "ConfidenceInterval",
    "DeLongTestResult",
    "binary_metrics",
    "binary_metrics_ci",
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
    "net_benefit",
    "net_benefit_scorer",
    "performance_table",
    "roc_direction",
    "youden_threshold",
]
