"""Honest validation: optimism-corrected internal validation (Harrell's bootstrap, .632+),
logistic recalibration, performance per centre and subgroup, leave-one-centre-out validation and
random-effects pooling across centres."""

from ._bootstrap import DEFAULT_METRICS, BootstrapValidationResult, bootstrap_validate
from ._heterogeneity import (
    LeaveOneCenterOutResult,
    leave_one_center_out,
    pool_performance,
    subgroup_performance,
)
from ._performance import VALIDATION_METRICS
from ._pooling import RandomEffectsResult, pool_random_effects
from ._recalibration import LogisticRecalibrator

__all__ = [
    "DEFAULT_METRICS",
    "VALIDATION_METRICS",
    "BootstrapValidationResult",
    "LeaveOneCenterOutResult",
    "LogisticRecalibrator",
    "RandomEffectsResult",
    "bootstrap_validate",
    "leave_one_center_out",
    "pool_performance",
    "pool_random_effects",
    "subgroup_performance",
]
