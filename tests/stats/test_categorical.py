"""contingency_test against R's chisq.test and fisher.test (R 4.2.2, stats), values written in."""

import math

import numpy as np
import pytest

from tacelearn.stats import MAX_EXACT_TABLES, ContingencyTestResult, contingency_test

# R: fisher.test(rbind(...))$p.value, the network algorithm, exact for r x c tables.
R_FISHER = [
    ([[3, 1, 4], [1, 5, 2]], 0.23076923076923106),
    ([[2, 6], [6, 1], [4, 3]], 0.082357271211759661),
    ([[3, 1, 4], [1, 5, 2], [2, 2, 0]], 0.1829030962157874),
    ([[8, 2, 1, 0], [1, 3, 5, 6]], 0.0014066496163682668),
    ([[5, 0], [0, 5]], 0.0079365079365079395),
]


@pytest.mark.parametrize(("table", "expected"), R_FISHER)
def test_fisher_matches_r_exactly(table, expected):
    result = contingency_test(table)
    assert result.test == "fisher"
    assert result.pvalue == pytest.approx(expected, rel=1e-9)
    assert result.label == "Fisher's exact"
    assert "smallest expected count" in result.reason


def test_transposed_tables_give_the_same_pvalue():
    table = np.array([[3, 1, 4], [1, 5, 2], [2, 2, 0]])
    assert contingency_test(table.T).pvalue == pytest.approx(0.1829030962157874, rel=1e-9)


def test_chi_square_with_yates_for_two_by_two_as_r():
    # R: chisq.test(matrix(c(40, 20, 25, 35), 2)) -> X-squared = 6.5790209790209788 (Yates),
    # p-value = 0.010318763168636476
    result = contingency_test([[40, 25], [20, 35]])
    assert (result.test, result.label) == ("chi2", "Chi-squared")
    assert result.statistic == pytest.approx(6.5790209790209788, rel=1e-12)
    assert result.pvalue == pytest.approx(0.010318763168636476, rel=1e-12)


def test_chi_square_for_larger_tables_as_r():
    # R: chisq.test(rbind(c(30, 12, 18), c(22, 25, 15))) -> X-squared = 6.0399003786100565,
    # p-value = 0.048803649245156525
    result = contingency_test([[30, 12, 18], [22, 25, 15]])
    assert result.statistic == pytest.approx(6.0399003786100565, rel=1e-12)
    assert result.pvalue == pytest.approx(0.048803649245156525, rel=1e-12)


def test_one_level_is_not_tested():
    # R: chisq.test(factor(c("a", "a", "a")), factor(c("x", "y", "x"))) -> Error: 'x' and 'y'
    # must have at least 2 levels. No silent P = 1.
    result = contingency_test([[2, 0], [1, 0]])
    assert result.test == "not_tested"
    assert np.isnan(result.pvalue)
    assert np.isnan(result.statistic)
    assert result.label == "Not tested (only one level observed)"
    assert contingency_test([[2, 1], [0, 0]]).reason == "only one group observed"


def test_monte_carlo_beyond_the_exact_limit_is_seeded_and_close():
    table = [[3, 1, 4], [1, 5, 2]]
    runs = [contingency_test(table, max_exact_tables=10) for _ in range(5)]
    assert {run.pvalue for run in runs} == {runs[0].pvalue}  # reproducible
    assert runs[0].test == "fisher_monte_carlo"
    assert runs[0].label == "Fisher's exact (Monte Carlo, 9999 tables)"
    # Within four Monte Carlo standard errors of R's exact 0.2308.
    exact = 0.23076923076923106
    assert abs(runs[0].pvalue - exact) < 4 * np.sqrt(exact * (1 - exact) / 9999)
    other_seed = contingency_test(table, max_exact_tables=10, random_state=1)
    assert other_seed.pvalue != runs[0].pvalue
    # R's estimate: (1 + tables no more probable) / (B + 1): a multiple of 1 / (B + 1).
    assert (runs[0].pvalue * 10000) == pytest.approx(round(runs[0].pvalue * 10000), abs=1e-6)


def test_default_limit_and_bad_tables():
    assert MAX_EXACT_TABLES >= 100_000
    statistic, pvalue = contingency_test([[5, 0], [0, 5]])  # unpacks like scipy's results
    assert pvalue == pytest.approx(0.0079365079365079395, rel=1e-9)
    assert isinstance(contingency_test([[5, 0], [0, 5]]), ContingencyTestResult)
    with pytest.raises(ValueError, match="non-negative counts"):
        contingency_test([[1, -1], [2, 3]])
    with pytest.raises(ValueError, match="non-negative counts"):
        contingency_test([1, 2, 3])


def brute_force_fisher(table):
    """Every table with the observed margins, listed cell by cell; their hypergeometric
    probabilities summed where no larger than the observed one (R's 1e-7 relative slack)."""
    table = np.asarray(table)
    rows, columns = table.sum(axis=1), table.sum(axis=0)

    def log_probability(cells):
        return (sum(math.lgamma(r + 1) for r in rows) + sum(math.lgamma(c + 1) for c in columns)
                - math.lgamma(table.sum() + 1) - sum(math.lgamma(x + 1) for x in cells.ravel()))

    def tables(row_left, column_left, cell):
        if cell == table.size:
            yield []
            return
        i, j = divmod(cell, table.shape[1])
        if j == table.shape[1] - 1:  # the row's last cell is fixed
            choices = [row_left[i]] if row_left[i] <= column_left[j] else []
        elif i == table.shape[0] - 1:  # the column's last cell is fixed
            choices = [column_left[j]] if column_left[j] <= row_left[i] else []
        else:
            choices = range(min(row_left[i], column_left[j]) + 1)
        for x in choices:
            row_left[i] -= x
            column_left[j] -= x
            for rest in tables(row_left, column_left, cell + 1):
                yield [x, *rest]
            row_left[i] += x
            column_left[j] += x

    observed = log_probability(table)
    total = 0.0
    for cells in tables(list(rows), list(columns), 0):
        value = log_probability(np.reshape(cells, table.shape))
        if value <= observed + math.log1p(1e-7):
            total += math.exp(value)
    return total


@pytest.mark.parametrize("seed", range(6))
def test_rxc_enumeration_matches_brute_force(seed):
    rng = np.random.default_rng(seed)
    shape = [(3, 3), (2, 4), (3, 4), (4, 2), (2, 5), (3, 3)][seed]
    table = rng.integers(0, 5, size=shape)
    table[0, 0] = 0  # keep an expected count below 5
    result = contingency_test(table)
    assert result.test == "fisher"  # small counts: every one of these tables is sparse
    assert result.pvalue == pytest.approx(brute_force_fisher(table), rel=1e-10)
