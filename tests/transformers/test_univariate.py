import numpy as np
import pandas as pd
import pytest
from scipy import stats

from tacelearn.transformers import UnivariateSelector


@pytest.fixture
def cohort():
    rng = np.random.default_rng(0)
    n = 200
    y = rng.integers(0, 2, n)
    return pd.DataFrame({
        "alt": np.exp(3.5 + 0.6 * rng.standard_normal(n) + 0.5 * (y == 0)),  # associated
        "age": rng.normal(57, 11, n),  # not associated
        "ascites": np.where(rng.random(n) < np.where(y == 1, 0.1, 0.4), 1, 0),  # binary
        "bclc": rng.choice(["A", "B", "C"], n),  # categorical, not associated
    }), y


def test_pvalues_match_scipy(cohort):
    X, y = cohort
    selector = UnivariateSelector().fit(X, y)
    expected = [
        stats.mannwhitneyu(X.alt[y == 1], X.alt[y == 0]).pvalue,
        stats.mannwhitneyu(X.age[y == 1], X.age[y == 0]).pvalue,
        stats.chi2_contingency(pd.crosstab(X.ascites, y)).pvalue,  # Yates for 2 x 2
        stats.chi2_contingency(pd.crosstab(X.bclc, y), correction=False).pvalue,
    ]
    np.testing.assert_allclose(selector.pvalues_, expected, rtol=1e-12)
    assert selector.tests_.tolist() == ["mannwhitney", "mannwhitney", "chi2", "chi2"]
    assert selector.get_feature_names_out().tolist() == ["alt", "ascites"]
    np.testing.assert_array_equal(selector.get_support(), [True, False, True, False])


def test_welch_option_matches_scipy(cohort):
    X, y = cohort
    selector = UnivariateSelector(tests="welch").fit(X, y)
    reference = stats.ttest_ind(X.age[y == 1], X.age[y == 0], equal_var=False)
    assert selector.pvalues_[1] == pytest.approx(reference.pvalue, rel=1e-12)
    assert selector.statistics_[1] == pytest.approx(reference.statistic, rel=1e-12)


def test_fisher_when_expected_count_small():
    X = pd.DataFrame({"pvi": [1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0]})
    y = np.array([0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1])
    selector = UnivariateSelector().fit(X, y)
    reference = stats.fisher_exact(pd.crosstab(X.pvi, y).to_numpy())
    assert selector.tests_[0] == "fisher"
    assert selector.pvalues_[0] == pytest.approx(reference.pvalue)


def test_set_output_is_scikit_learns(cohort):
    X, y = cohort
    X = X.set_axis([f"P{i:03d}" for i in range(len(X))][::-1])  # not 0..n-1
    selector = UnivariateSelector().fit(X, y)
    default = selector.transform(X)
    assert isinstance(default, np.ndarray)  # the default output, even for a DataFrame
    np.testing.assert_array_equal(default, X[["alt", "ascites"]].to_numpy(dtype=object))
    out = selector.set_output(transform="pandas").transform(X)
    assert isinstance(out, pd.DataFrame)
    assert out.dtypes.to_dict() == X[["alt", "ascites"]].dtypes.to_dict()
    pd.testing.assert_index_equal(out.index, X.index)
    assert isinstance(selector.set_output(transform="default").transform(X), np.ndarray)
    # No transform of our own: scikit-learn's SelectorMixin does it.
    assert "transform" not in vars(UnivariateSelector)


def test_tests_apply_to_continuous_columns_only():
    # A text column and a perfectly separated 0/1 column under tests="welch" were tested with
    # Welch's t (P = 1.0 and P = 0.0). R: fisher.test(table(x, y))$p.value for 5 vs 5
    # perfectly separated -> 0.0079365079365079395.
    y = np.array([1] * 5 + [0] * 5)
    X = pd.DataFrame({"separated": y.copy(), "text": ["a", "b"] * 5,
                      "number": [5.0, 6.1, 7.2, 8.3, 9.4, 1.0, 2.1, 3.2, 4.3, 5.5]})
    for tests in ("welch", "mannwhitney"):
        selector = UnivariateSelector(tests=tests).fit(X, y)
        assert selector.tests_[:2].tolist() == ["fisher", "fisher"]
        assert selector.pvalues_[0] == pytest.approx(0.0079365079365079395, rel=1e-9)
        assert selector.tests_[2] == tests
    # A numeric 0/1 column named explicitly is tested as continuous.
    named = UnivariateSelector(tests={"separated": "welch"}).fit(X[["separated"]], y)
    assert named.tests_.tolist() == ["not tested (constant within each class)"]


def test_mann_whitney_follows_r():
    # R: wilcox.test(x, y) -> exact, p-value = 1.082508822446903e-05 (scipy's "auto": 1.8e-4).
    x = [0.80, 0.83, 1.89, 1.04, 1.45, 1.38, 1.91, 1.64, 0.73, 1.46]
    z = [0.15, 0.28, 0.30, 0.24, 0.21, 0.05, 0.12, 0.34, 0.58, 0.62]
    selector = UnivariateSelector().fit(pd.DataFrame({"marker": x + z}), [1] * 10 + [0] * 10)
    assert selector.pvalues_[0] == pytest.approx(1.082508822446903e-05, rel=1e-9)
    assert selector.statistics_[0] == 100.0


def test_rxc_fisher_is_exact_and_reproducible():
    # Classes x levels [[3, 1, 4], [1, 5, 2]]: R: fisher.test(...)$p.value = 0.23076923076923106.
    # The unseeded Monte Carlo gave 0.2223-0.2391 over five identical fits.
    level = ["a"] * 3 + ["b"] * 1 + ["c"] * 4 + ["a"] * 1 + ["b"] * 5 + ["c"] * 2
    y = [0] * 8 + [1] * 8
    fits = [UnivariateSelector().fit(pd.DataFrame({"bclc": level}), y) for _ in range(5)]
    assert {fit.pvalues_[0] for fit in fits} == {fits[0].pvalues_[0]}
    assert fits[0].tests_[0] == "fisher"
    assert fits[0].pvalues_[0] == pytest.approx(0.23076923076923106, rel=1e-9)


def test_untestable_columns_get_nan_and_a_reason():
    X = pd.DataFrame({"constant": [3.0] * 8, "one_level": ["yes"] * 8,
                      "useful": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0]})
    y = [0, 0, 0, 0, 1, 1, 1, 1]
    selector = UnivariateSelector(alpha=0.0, min_features=1).fit(X, y)
    assert np.isnan(selector.pvalues_[:2]).all()
    # One distinct number makes a column categorical, with a single level.
    assert selector.tests_[:2].tolist() == ["not tested (only one level observed)"] * 2
    named = UnivariateSelector(tests={"constant": "mannwhitney"}).fit(X[["constant"]], y)
    assert named.tests_.tolist() == ["not tested (all values are equal)"]
    # min_features keeps a tested column, never an untested one.
    assert selector.get_support().tolist() == [False, False, True]


def test_missing_values_left_out_per_column(cohort):
    X, y = cohort
    X = X.copy()
    X.loc[:9, "alt"] = np.nan
    X["bclc"] = X["bclc"].astype(object)
    X.loc[:4, "bclc"] = None
    selector = UnivariateSelector().fit(X, y)
    keep = X.alt.notna().to_numpy()
    reference = stats.mannwhitneyu(X.alt[keep & (y == 1)], X.alt[keep & (y == 0)]).pvalue
    assert selector.pvalues_[0] == pytest.approx(reference)


def test_min_features_keeps_the_strongest():
    rng = np.random.default_rng(1)
    X = pd.DataFrame(rng.standard_normal((40, 3)), columns=["a", "b", "c"])
    y = rng.integers(0, 2, 40)
    selector = UnivariateSelector(alpha=0.0, min_features=1).fit(X, y)
    assert selector.get_support().sum() == 1
    assert selector.get_support()[np.argmin(selector.pvalues_)]
    assert UnivariateSelector(alpha=0.0, min_features=0).fit(X, y).get_support().sum() == 0


def test_errors():
    X = pd.DataFrame({"a": [1.0, 2.0, 3.0]})
    with pytest.raises(ValueError, match="two classes"):
        UnivariateSelector().fit(X, [1, 1, 1])
    with pytest.raises(ValueError, match="not in X"):
        UnivariateSelector(tests={"zzz": "welch"}).fit(X, [0, 1, 0])
    with pytest.raises(ValueError, match="expected 'auto'"):
        UnivariateSelector(tests={"a": "anova"}).fit(X, [0, 1, 0])
    text = pd.DataFrame({"bclc": ["A", "B", "C"]})
    with pytest.raises(ValueError, match="column 'bclc' holds text"):
        UnivariateSelector(tests={"bclc": "welch"}).fit(text, [0, 1, 0])
