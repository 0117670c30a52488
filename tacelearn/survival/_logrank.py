"""The log-rank test between survival curves, through lifelines, with a scipy-style result."""

from __future__ import annotations

from dataclasses import dataclass

from lifelines.statistics import logrank_test as lifelines_logrank_test
from lifelines.statistics import multivariate_logrank_test

from ._validation import check_groups, check_survival, group_levels

__all__ = ["LogrankResult", "logrank_test"]


@dataclass(frozen=True)
class LogrankResult:
    """Result of :func:`logrank_test`, shaped like scipy's test results.

    Made by :func:`logrank_test`; each parameter is kept as an attribute of the same name.
    It unpacks as ``statistic, pvalue``.

    Parameters
    ----------
    statistic : float
        The log-rank chi-square statistic.
    pvalue : float
        Its P value under the chi-square distribution with ``degrees_of_freedom``.
    degrees_of_freedom : int
        Number of groups minus one.
    groups : tuple
        The groups compared, in display order.

    See Also
    --------
    logrank_test : Computes it.

    Examples
    --------
    >>> from tacelearn.survival import logrank_test
    >>> time = [6, 7, 10, 15, 19, 25, 1, 3, 4, 5, 8, 9]
    >>> event = [1, 0, 1, 1, 0, 1, 1, 1, 1, 0, 1, 1]
    >>> result = logrank_test(time, event, ["high"] * 6 + ["low"] * 6)
    >>> statistic, pvalue = result
    >>> result.groups, round(pvalue, 4)
    (('high', 'low'), 0.0123)
    """

    statistic: float
    pvalue: float
    degrees_of_freedom: int
    groups: tuple

    def __iter__(self):
        # Unpacks as ``statistic, pvalue = logrank_test(...)``, like scipy's results.
        return iter((self.statistic, self.pvalue))


def logrank_test(time, event, groups):
    """Test whether survival differs between groups (log-rank, Mantel-Cox).

    Two groups use :func:`lifelines.statistics.logrank_test`; more use
    :func:`lifelines.statistics.multivariate_logrank_test` (the k-sample test with k - 1 degrees
    of freedom). Both weight every event time equally and equal R's
    ``survdiff(Surv(time, event) ~ groups)``.

    Parameters
    ----------
    time : array-like of shape (n_patients,)
        Follow-up times (e.g. ``pfs_months``), non-negative.
    event : array-like of shape (n_patients,)
        1 (or True) where the event was observed, 0 where the patient was censored.
    groups : array-like of shape (n_patients,)
        Group of each patient, e.g. from :func:`split_by_score`; at least two groups.

    Returns
    -------
    result : LogrankResult
        ``statistic``, ``pvalue``, ``degrees_of_freedom`` and ``groups``.

    Raises
    ------
    ValueError
        For inputs of different lengths, negative or missing times, events outside {0, 1},
        missing groups (the patients are named), fewer than two groups or no event at all.

    See Also
    --------
    kaplan_meier : The curves being compared.
    tacelearn.plotting.KaplanMeierDisplay : Plot them with the log-rank P value.

    Examples
    --------
    >>> from tacelearn.survival import logrank_test
    >>> time = [6, 7, 10, 15, 19, 25, 1, 3, 4, 5, 8, 9]
    >>> event = [1, 0, 1, 1, 0, 1, 1, 1, 1, 0, 1, 1]
    >>> groups = ["high"] * 6 + ["low"] * 6
    >>> result = logrank_test(time, event, groups)
    >>> round(result.statistic, 3), round(result.pvalue, 4), result.degrees_of_freedom
    (6.264, 0.0123, 1)
    """
    times, events = check_survival(time, event, groups=groups)
    labels = check_groups(groups)
    levels = group_levels(groups, labels)
    if len(levels) < 2:
        raise ValueError(f"the log-rank test needs at least two groups, got {levels}")
    if not events.any():
        raise ValueError("no event was observed: the log-rank test has nothing to compare")
    if len(levels) == 2:
        first = labels == levels[0]
        second = ~first
        result = lifelines_logrank_test(times[first], times[second], events[first],
                                        events[second])
    else:
        result = multivariate_logrank_test(times, labels, events)
    return LogrankResult(
        statistic=float(result.test_statistic),
        pvalue=float(result.p_value),
        degrees_of_freedom=int(result.degrees_of_freedom),
        groups=tuple(levels),
    )
