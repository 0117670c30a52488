"""Survival by score group: Kaplan-Meier, log-rank, Cox regression and concordance.

Each function computes what the R ``survival`` package computes, with R's defaults
(``survfit``'s "log" intervals, ``coxph``'s Efron ties, ``concordance``'s exact ties), and
says so in its docstring.
"""

from ._concordance import concordance_index
from ._cox import CoxResult, LikelihoodTest, cox_hazard_ratio, cox_regression
from ._kaplan_meier import CONF_TYPES, KaplanMeierResult, kaplan_meier
from ._logrank import LogrankResult, logrank_test
from ._score_groups import ScoreSplit, split_by_score

__all__ = [
    "CONF_TYPES",
    "CoxResult",
    "KaplanMeierResult",
    "LikelihoodTest",
    "LogrankResult",
    "ScoreSplit",
    "concordance_index",
    "cox_hazard_ratio",
    "cox_regression",
    "kaplan_meier",
    "logrank_test",
    "split_by_score",
]
