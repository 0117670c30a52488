"""Survival by score group: Kaplan-Meier, log-rank, Cox hazard ratios and concordance."""

from ._concordance import concordance_index
from ._cox import cox_hazard_ratio
from ._kaplan_meier import KaplanMeierResult, kaplan_meier
from ._logrank import LogrankResult, logrank_test
from ._score_groups import ScoreSplit, split_by_score

__all__ = [
    "KaplanMeierResult",
    "LogrankResult",
    "ScoreSplit",
    "concordance_index",
    "cox_hazard_ratio",
    "kaplan_meier",
    "logrank_test",
    "split_by_score",
]
