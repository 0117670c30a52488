"""Association of two categorical variables: chi-square or Fisher's exact test, chosen once.

Table 1 (:func:`~tacelearn.stats.baseline_table`) and the univariate screening
(:class:`~tacelearn.transformers.UnivariateSelector`) both test a groups x levels table, and
both go through :func:`contingency_test`, so that one variable gets the same test and the same
P value wherever it appears.

The rule (Cochran's, as tableone and most clinical papers apply it): Pearson's chi-square when
every expected count is at least 5 (Yates-corrected for 2 x 2 tables, as R's ``chisq.test``
and scipy do by default); otherwise Fisher's exact test: for a 2 x 2 table scipy's, for a larger
table the Fisher-Freeman-Halton test by enumerating every table with the observed margins
(R's ``fisher.test``) when at most about :data:`MAX_EXACT_TABLES` of them exist, and by a
seeded Monte Carlo estimate otherwise (R's ``fisher.test(simulate.p.value = TRUE, B = ...)``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from scipy import stats
from scipy.special import gammaln
from scipy.stats.contingency import expected_freq

__all__ = [
    "MAX_EXACT_TABLES",
    "MIN_EXPECTED_COUNT",
    "MONTE_CARLO_RESAMPLES",
    "MONTE_CARLO_SEED",
    "ContingencyTestResult",
    "contingency_test",
]

#: Cochran's rule: the chi-square approximation needs every expected count at least this big.
MIN_EXPECTED_COUNT = 5
#: The r x c Fisher test is exact when a bound on the number of tables with the observed
#: margins (each column's possible splits, multiplied) is at most this; Monte Carlo otherwise.
MAX_EXACT_TABLES = 1_000_000
#: Monte Carlo tables of the r x c Fisher test when the exact one is out of reach.
MONTE_CARLO_RESAMPLES = 9999
#: Seed of the Monte Carlo tables, so that a P value (and a screening) is reproducible.
MONTE_CARLO_SEED = 0
# R's fisher.test counts tables whose probability is within this relative margin of the
# observed one as "as extreme", so that rounding does not drop tables of equal probability.
_RELATIVE_TOLERANCE = 1e-7

_LABELS = {"chi2": "Chi-squared", "fisher": "Fisher's exact",
           "fisher_monte_carlo": "Fisher's exact (Monte Carlo)", "not_tested": "Not tested"}


@dataclass(frozen=True)
class ContingencyTestResult:
    """Result of :func:`contingency_test`, shaped like scipy's test results.

    Made by :func:`contingency_test`; each parameter is kept as an attribute of the same
    name. It unpacks as ``statistic, pvalue``.

    Parameters
    ----------
    statistic : float
        Chi-square for ``test="chi2"``; the (sample) odds ratio for a 2 x 2 Fisher test; the
        probability of the observed table for a larger one; NaN when not tested.
    pvalue : float
        The P value; NaN when not tested.
    test : {"chi2", "fisher", "fisher_monte_carlo", "not_tested"}
        The test run: chi-square, Fisher's exact test, its Monte Carlo version, or none.
    reason : str
        Why this test: the smallest expected count, or why the table cannot be tested
        (e.g. ``"only one level observed"``).
    n_resamples : int, default=0
        Monte Carlo tables (``test="fisher_monte_carlo"`` only, 0 otherwise).

    Attributes
    ----------
    label : str
        The test's name as a table prints it, e.g. ``"Fisher's exact"``.

    See Also
    --------
    contingency_test : Chooses and runs the test.

    Examples
    --------
    >>> from tacelearn.stats import contingency_test
    >>> result = contingency_test([[40, 25], [20, 35]])  # R: chisq.test(...): p = 0.01032
    >>> statistic, pvalue = result
    >>> round(statistic, 3), round(pvalue, 5), result.label
    (6.579, 0.01032, 'Chi-squared')
    >>> result.reason
    'smallest expected count 27.5'
    """

    statistic: float
    pvalue: float
    test: str
    reason: str
    n_resamples: int = 0

    @property
    def label(self):
        """The test's name as a table prints it, e.g. ``"Fisher's exact"``."""
        if self.test == "fisher_monte_carlo":
            return f"Fisher's exact (Monte Carlo, {self.n_resamples} tables)"
        if self.test == "not_tested":
            return f"Not tested ({self.reason})"
        return _LABELS[self.test]

    def __iter__(self):
        # Unpacks as ``statistic, pvalue = contingency_test(...)``, like scipy's results.
        return iter((self.statistic, self.pvalue))


@lru_cache(maxsize=65536)
def _bounded_compositions(total, caps):
    """Every integer vector ``v`` with ``sum(v) == total`` and ``0 <= v[i] <= caps[i]``."""
    partial = np.zeros((1, 0), dtype=np.int64)
    used = np.zeros(1, dtype=np.int64)
    room_after = np.cumsum(caps[::-1])[::-1]  # room_after[i]: capacity of parts i and later
    for i, cap in enumerate(caps[:-1]):
        low = np.maximum(total - used - room_after[i + 1], 0)
        high = np.minimum(cap, total - used)
        counts = np.maximum(high - low + 1, 0)
        rows = np.repeat(np.arange(len(used)), counts)
        starts = np.repeat(low - np.cumsum(counts) + counts, counts)
        values = starts + np.arange(counts.sum())
        partial = np.column_stack([partial[rows], values])
        used = used[rows] + values
    return np.column_stack([partial, total - used])


def _extend(codes, log_weights, total, radix, log_factorial):
    """Every partial table extended by every possible next column of ``total``.

    A partial table is its row totals still to fill (encoded in one integer, ``codes``) and
    its log weight ``-sum(log x!)``; the new columns of all tables that leave the same row
    totals are enumerated once.
    """
    unique, inverse = np.unique(codes, return_inverse=True)
    option_codes, option_weights, counts = [], [], []
    for code in unique:
        left = code % radix[1:] // radix[:-1]
        options = _bounded_compositions(int(total), tuple(int(v) for v in left))
        option_codes.append(code - options @ radix[:-1])
        option_weights.append(-log_factorial[options].sum(axis=1))
        counts.append(len(options))
    counts = np.asarray(counts)
    offsets = np.concatenate([[0], np.cumsum(counts)[:-1]])
    children = counts[inverse]
    parent = np.repeat(np.arange(len(codes)), children)
    option = np.repeat(offsets[inverse] - np.cumsum(children) + children, children)
    option += np.arange(children.sum())
    return (np.concatenate(option_codes)[option],
            log_weights[parent] + np.concatenate(option_weights)[option])


def _count_compositions(total, caps):
    """How many vectors ``v`` have ``sum(v) == total`` and ``0 <= v[i] <= caps[i]``."""
    ways = np.zeros(total + 1)
    ways[0] = 1.0
    for cap in caps:  # multiply by 1 + x + ... + x^cap, keeping degrees up to total
        ways = np.convolve(ways, np.ones(min(cap, total) + 1))[:total + 1]
    return ways[total]


def _tables_bound(rows, columns):
    """An upper bound on the tables with these margins: each column chosen independently."""
    caps = tuple(int(r) for r in rows)
    return float(np.prod([_count_compositions(int(total), caps) for total in columns[:-1]]))


def _exact_rxc_pvalue(table, max_tables):
    """Fisher-Freeman-Halton P value by enumeration, or None beyond ``max_tables`` tables.

    Column by column, every partial table is extended by every column that fits the row
    totals still to fill; the last column is then fixed by them. A table's probability under
    independence with fixed margins is prod(r_i!) prod(c_j!) / (n! prod(x_ij!)).
    """
    if table.shape[0] > table.shape[1]:
        table = table.T  # fewer rows: fewer column vectors to enumerate
    table = table[:, np.argsort(table.sum(axis=0), kind="stable")]  # largest column last
    rows, columns = table.sum(axis=1), table.sum(axis=0)
    if _tables_bound(rows, columns) > max_tables:
        return None  # decided up front: the enumeration never runs past its budget
    n_total = int(table.sum())
    log_factorial = gammaln(np.arange(n_total + 1) + 1.0)
    log_margins = (log_factorial[rows].sum() + log_factorial[columns].sum()
                   - log_factorial[n_total])
    observed = log_margins - log_factorial[table].sum()
    # Mixed-radix code of the row totals left: sum(left[i] * radix[i]).
    radix = np.cumprod(np.concatenate([[1], rows + 1])).astype(np.int64)
    codes, log_weights = np.array([rows @ radix[:-1]]), np.zeros(1)
    for total in columns[:-1]:
        codes, log_weights = _extend(codes, log_weights, total, radix, log_factorial)
    last_columns = codes[:, None] % radix[1:] // radix[:-1]
    log_probabilities = log_margins + log_weights - log_factorial[last_columns].sum(axis=1)
    as_extreme = log_probabilities <= observed + math.log1p(_RELATIVE_TOLERANCE)
    return float(min(1.0, np.exp(log_probabilities[as_extreme]).sum())), float(np.exp(observed))


def _fisher(table, n_resamples, random_state, max_exact_tables):
    if table.shape == (2, 2):
        result = stats.fisher_exact(table)
        return ContingencyTestResult(float(result.statistic), float(result.pvalue), "fisher",
                                     "")
    exact = _exact_rxc_pvalue(table, max_exact_tables)
    if exact is not None:
        pvalue, probability = exact
        return ContingencyTestResult(probability, pvalue, "fisher", "")
    method = stats.MonteCarloMethod(n_resamples=n_resamples,
                                    rng=np.random.default_rng(random_state))
    result = stats.fisher_exact(table, method=method)
    return ContingencyTestResult(float(result.statistic), float(result.pvalue),
                                 "fisher_monte_carlo",
                                 f"up to {max_exact_tables} tables enumerated, more possible",
                                 n_resamples)


def contingency_test(table, *, n_resamples=MONTE_CARLO_RESAMPLES, random_state=MONTE_CARLO_SEED,
                     max_exact_tables=MAX_EXACT_TABLES):
    """Test the association in a contingency table: chi-square or Fisher by Cochran's rule.

    Rows and columns without any count are dropped first. Then:

    - fewer than two rows or two columns left: not tested (R's ``chisq.test`` and
      ``fisher.test`` refuse such a table), NaN statistic and P value, the reason given;
    - every expected count at least :data:`MIN_EXPECTED_COUNT` (5): Pearson's chi-square,
      Yates-corrected for a 2 x 2 table (:func:`scipy.stats.chi2_contingency`; R's
      ``chisq.test(table)``);
    - otherwise Fisher's exact test: :func:`scipy.stats.fisher_exact` for a 2 x 2 table (R's
      ``fisher.test(table)``); for a larger table the Fisher-Freeman-Halton test, exact by
      enumeration when at most ``max_exact_tables`` tables can share the observed margins (R's
      ``fisher.test(table)``), else estimated from ``n_resamples`` random tables with those
      margins drawn from a generator seeded by ``random_state`` (R's
      ``fisher.test(table, simulate.p.value = TRUE, B = n_resamples)``; the P value is
      (1 + tables at most as probable) / (1 + n_resamples), as in R).

    Parameters
    ----------
    table : array-like of int of shape (n_rows, n_columns)
        Counts, e.g. groups x levels.
    n_resamples : int, default=9999
        Monte Carlo tables, when the exact r x c test is out of reach.
    random_state : int, default=0
        Seed of the Monte Carlo tables: the same table always gets the same P value.
    max_exact_tables : int, default=1000000
        Budget of the exact r x c test: it runs when the product over columns of the number
        of ways to split each column's total among the rows is at most this.

    Returns
    -------
    result : ContingencyTestResult
        ``statistic``, ``pvalue``, ``test``, ``reason`` and ``label`` (the test's name).

    See Also
    --------
    scipy.stats.chi2_contingency, scipy.stats.fisher_exact : The tests.

    Examples
    --------
    >>> from tacelearn.stats import contingency_test
    >>> result = contingency_test([[3, 1, 4], [1, 5, 2]])  # R: fisher.test(...)$p.value
    >>> result.test, round(result.pvalue, 4)
    ('fisher', 0.2308)
    >>> contingency_test([[40, 25], [20, 35]]).label
    'Chi-squared'
    >>> contingency_test([[4, 0], [6, 0]]).label
    'Not tested (only one level observed)'
    """
    counts = np.asarray(table)
    if counts.ndim != 2 or (counts.size and (counts.min() < 0 or not np.all(counts % 1 == 0))):
        raise ValueError(f"table must be a 2-D array of non-negative counts, got {table!r}")
    counts = counts.astype(np.int64)
    counts = counts[counts.sum(axis=1) > 0][:, counts.sum(axis=0) > 0]
    if counts.shape[0] < 2 or counts.shape[1] < 2:
        few = "level" if counts.shape[1] < 2 else "group"
        reason = "no count" if counts.size == 0 else f"only one {few} observed"
        return ContingencyTestResult(np.nan, np.nan, "not_tested", reason)
    smallest = float(expected_freq(counts).min())
    if smallest >= MIN_EXPECTED_COUNT:
        result = stats.chi2_contingency(counts, correction=True)
        return ContingencyTestResult(float(result.statistic), float(result.pvalue), "chi2",
                                     f"smallest expected count {smallest:.3g}")
    fisher = _fisher(counts, n_resamples, random_state, max_exact_tables)
    reason = f"smallest expected count {smallest:.3g} < {MIN_EXPECTED_COUNT}"
    if fisher.reason:
        reason += f"; {fisher.reason}"
    return ContingencyTestResult(fisher.statistic, fisher.pvalue, fisher.test, reason,
                                 fisher.n_resamples)
