"""Descriptive statistics of the cohort: the baseline characteristics table (Table 1)."""

from ._baseline_table import DEFAULT_NONNORMAL, baseline_table

__all__ = ["DEFAULT_NONNORMAL", "baseline_table"]
