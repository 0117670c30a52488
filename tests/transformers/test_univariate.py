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


def test_dataframe_in_dataframe_out_keeps_dtypes(cohort):
    X, y = cohort
    out = UnivariateSelector().fit(X, y).transform(X)
    assert isinstance(out, pd.DataFrame)
    assert out.dtypes.to_dict() == X[["alt", "ascites"]].dtypes.to_dict()


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
