"""mann_whitney_u against R's wilcox.test (R 4.2.2, stats), values written in."""

import numpy as np
import pytest
from scipy import stats

from tacelearn.stats import MannWhitneyResult, mann_whitney_u

# The example: 10 against 10, no ties. R: wilcox.test(X, Y) -> W = 100, exact test.
X = [0.80, 0.83, 1.89, 1.04, 1.45, 1.38, 1.91, 1.64, 0.73, 1.46]
Y = [0.15, 0.28, 0.30, 0.24, 0.21, 0.05, 0.12, 0.34, 0.58, 0.62]
R_EXACT_10_10 = 1.082508822446903e-05
# Built without a random generator so that R can rebuild them:
# x49 <- (((0:48) * 37) %% 101) / 10; y49 <- (((0:48) * 53) %% 103) / 10 + 3.05
X49 = (np.arange(49) * 37 % 101) / 10
Y49 = (np.arange(49) * 53 % 103) / 10 + 3.05
X50 = (np.arange(50) * 37 % 101) / 10  # x50 <- (((0:49) * 37) %% 101) / 10


def test_ten_against_ten_is_exact_as_in_r():
    result = mann_whitney_u(X, Y)
    # scipy's own "auto" rule (exact only up to 8 per group) gives the normal 1.83e-4.
    assert stats.mannwhitneyu(X, Y).pvalue == pytest.approx(1.8267179110955e-4, rel=1e-9)
    assert result.pvalue == pytest.approx(R_EXACT_10_10, rel=1e-9)
    assert (result.statistic, result.method) == (100.0, "exact")


def test_both_groups_below_50_without_ties_are_exact():
    # R: wilcox.test(x49, y49) -> W = 629, p-value = 3.3233075090681e-05 (exact)
    result = mann_whitney_u(X49, Y49)
    assert (result.statistic, result.method) == (629.0, "exact")
    assert result.pvalue == pytest.approx(3.3233075090681e-05, rel=1e-9)


def test_a_group_of_50_uses_the_normal_approximation():
    # R: wilcox.test(x50, y49) -> W = 663, p-value = 8.5058487429612946e-05
    result = mann_whitney_u(X50, Y49)
    assert (result.statistic, result.method) == (663.0, "asymptotic")
    assert result.pvalue == pytest.approx(8.5058487429612946e-05, rel=1e-9)


def test_ties_use_the_corrected_normal_approximation():
    # R: wilcox.test(c(1,2,2,3,4,5,5,6), c(2,3,3,4,6,7,8,8,9)) -> W = 19,
    # p-value = 0.10970556071066581 ("cannot compute exact p-value with ties")
    result = mann_whitney_u([1, 2, 2, 3, 4, 5, 5, 6], [2, 3, 3, 4, 6, 7, 8, 8, 9])
    assert (result.statistic, result.method) == (19.0, "asymptotic")
    assert result.pvalue == pytest.approx(0.10970556071066581, rel=1e-9)


def test_all_values_equal_is_not_tested():
    # R: wilcox.test(c(1,1,1), c(1,1,1))$p.value -> NaN
    result = mann_whitney_u([1.0, 1.0, 1.0], [1.0, 1.0, 1.0])
    assert np.isnan(result.pvalue)
    assert np.isnan(result.statistic)
    assert result.method.startswith("not tested")
    assert mann_whitney_u([], [1.0, 2.0]).method == "not tested: a group has no value"


def test_columns_choose_their_own_method():
    first = np.column_stack([X49, np.round(X49), np.full(49, 2.0)])
    second = np.column_stack([Y49, np.round(Y49), np.full(49, 2.0)])
    result = mann_whitney_u(first, second)
    assert result.method.tolist() == ["exact", "asymptotic", "not tested: all values are equal"]
    assert result.pvalue[0] == pytest.approx(3.3233075090681e-05, rel=1e-9)
    tied = stats.mannwhitneyu(np.round(X49), np.round(Y49), method="asymptotic")
    assert result.pvalue[1] == pytest.approx(tied.pvalue, rel=1e-12)
    assert np.isnan(result.pvalue[2])
    statistic, pvalue = result  # unpacks like scipy's results
    assert isinstance(result, MannWhitneyResult)
    assert statistic.shape == pvalue.shape == (3,)


def test_shape_mismatch_is_refused():
    with pytest.raises(ValueError, match="same number of columns"):
        mann_whitney_u(np.ones((4, 2)), np.ones((4, 3)))
