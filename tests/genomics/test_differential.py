"""differential_expression against scipy gene by gene and a hand-written Benjamini-Hochberg."""

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from tacelearn.genomics import differential_expression


def _expression(n_high, n_low, n_genes, seed=0, integer=False):
    rng = np.random.default_rng(seed)
    values = rng.normal(7.0, 1.0, size=(n_high + n_low, n_genes))
    if integer:  # ties in every other gene, as in low counts
        values[:, ::2] = np.round(values[:, ::2])
    samples = [f"S{i:03d}" for i in range(n_high + n_low)]
    expression = pd.DataFrame(values, index=samples, columns=[f"G{j:03d}" for j in range(n_genes)])
    groups = pd.Series(["high"] * n_high + ["low"] * n_low, index=samples)
    return expression, groups


def _benjamini_hochberg(pvalues):
    """q_(i) = min over j >= i of p_(j) * m / j, capped at 1 (Benjamini & Hochberg 1995)."""
    pvalues = np.asarray(pvalues, dtype=float)
    m = len(pvalues)
    order = np.argsort(pvalues)
    qvalues = np.empty(m)
    running = 1.0
    for rank in range(m, 0, -1):
        index = order[rank - 1]
        running = min(running, pvalues[index] * m / rank)
        qvalues[index] = running
    return qvalues


def test_welch_matches_scipy_gene_by_gene():
    expression, groups = _expression(13, 17, 40)
    table = differential_expression(expression, groups).set_index("gene")
    high = expression[groups == "high"]
    low = expression[groups == "low"]
    for gene in expression.columns:
        reference = stats.ttest_ind(high[gene], low[gene], equal_var=False)
        assert table.loc[gene, "statistic"] == pytest.approx(reference.statistic, rel=1e-10)
        assert table.loc[gene, "pvalue"] == pytest.approx(reference.pvalue, rel=1e-10)
        assert table.loc[gene, "log2_fold_change"] == pytest.approx(
            high[gene].mean() - low[gene].mean(), abs=1e-12)


@pytest.mark.parametrize(("n_high", "n_low", "integer"),
                         [(20, 25, False), (6, 7, False), (6, 7, True), (5, 30, True),
                          (50, 12, False)])
def test_mann_whitney_follows_r_gene_by_gene(n_high, n_low, integer):
    expression, groups = _expression(n_high, n_low, 30, seed=n_high, integer=integer)
    table = differential_expression(expression, groups, method="mannwhitney").set_index("gene")
    for gene in expression.columns:
        high = expression.loc[groups == "high", gene]
        low = expression.loc[groups == "low", gene]
        # R's wilcox.test: exact when both groups < 50 and no ties, else the corrected normal.
        tied = expression[gene].duplicated().any()
        method = "exact" if n_high < 50 and n_low < 50 and not tied else "asymptotic"
        reference = stats.mannwhitneyu(high, low, method=method)
        assert table.loc[gene, "statistic"] == reference.statistic
        assert table.loc[gene, "pvalue"] == pytest.approx(reference.pvalue, rel=1e-10)


def test_mann_whitney_r_values_and_constant_genes_left_out_of_the_fdr():
    # R: wilcox.test(c(7.1, 8.3, 6.9, 7.7, 8.8, 7.4), c(6.2, 6.8, 5.9, 7.0, 6.4, 6.1))$p.value
    #    -> 0.004329004329004329 (exact); wilcox.test(rep(5, 6), rep(5, 6))$p.value -> NaN;
    # p.adjust(c(0.004329004329004329, NaN), "BH") -> 0.004329004329004329, NA: the untested
    # gene does not count (it used to get p = 1 and double the q-value).
    samples = [f"S{i}" for i in range(12)]
    expression = pd.DataFrame({
        "VARYING": [7.1, 8.3, 6.9, 7.7, 8.8, 7.4, 6.2, 6.8, 5.9, 7.0, 6.4, 6.1],
        "CONSTANT": [5.0] * 12}, index=samples)
    groups = pd.Series(["high"] * 6 + ["low"] * 6, index=samples)
    table = differential_expression(expression, groups, method="mannwhitney").set_index("gene")
    assert table.loc["VARYING", "pvalue"] == pytest.approx(0.004329004329004329, rel=1e-9)
    assert table.loc["VARYING", "qvalue"] == pytest.approx(0.004329004329004329, rel=1e-9)
    assert table.loc["CONSTANT", ["statistic", "pvalue", "qvalue"]].isna().all()
    assert table.index[-1] == "CONSTANT"
    # R: t.test(high, low)$p.value -> 0.0053917677754627517; t.test(rep(5, 6), rep(5, 6))
    # stops: "data are essentially constant".
    welch = differential_expression(expression, groups).set_index("gene")
    assert welch.loc["VARYING", "pvalue"] == pytest.approx(0.0053917677754627517, rel=1e-9)
    assert welch.loc["VARYING", "qvalue"] == pytest.approx(0.0053917677754627517, rel=1e-9)
    assert np.isnan(welch.loc["CONSTANT", "pvalue"])


@pytest.mark.parametrize("method", ["welch", "mannwhitney"])
def test_qvalues_are_benjamini_hochberg(method):
    expression, groups = _expression(15, 15, 200, seed=3)
    expression.iloc[:15, :10] += 1.0
    table = differential_expression(expression, groups, method=method)
    assert np.allclose(table["qvalue"], _benjamini_hochberg(table["pvalue"]), rtol=1e-12)
    assert table["qvalue"].is_monotonic_increasing


def test_benjamini_yekutieli_is_bh_times_the_harmonic_number():
    expression, groups = _expression(15, 15, 100, seed=4)
    expression.iloc[:15, :10] += 1.0
    by = differential_expression(expression, groups, fdr="by")
    harmonic = np.sum(1.0 / np.arange(1, 101))
    expected = np.minimum(_benjamini_hochberg(by["pvalue"]) * harmonic, 1.0)
    assert np.allclose(by["qvalue"], expected, rtol=1e-12)


@pytest.mark.parametrize("method", ["welch", "mannwhitney"])
def test_planted_genes_come_first(method):
    expression, groups = _expression(25, 25, 500, seed=5)
    planted_down = [f"G{j:03d}" for j in range(100, 110)]
    planted_up = [f"G{j:03d}" for j in range(300, 310)]
    expression.loc[groups == "high", planted_down] -= 2.0
    expression.loc[groups == "high", planted_up] += 2.0
    table = differential_expression(expression, groups, method=method)
    top = table.head(20)
    assert set(top["gene"]) == set(planted_down + planted_up)
    signs = top.set_index("gene")["log2_fold_change"]
    assert (signs[planted_down] < -1.0).all()
    assert (signs[planted_up] > 1.0).all()
    assert (top["qvalue"] < 0.01).all()


def test_series_groups_are_aligned_by_sample_id():
    expression, groups = _expression(10, 12, 20, seed=6)
    shuffled = groups.sample(frac=1.0, random_state=0)
    extra = pd.concat([shuffled, pd.Series(["low"], index=["NOT_PROFILED"])])
    as_array = differential_expression(expression, groups.to_numpy())
    aligned = differential_expression(expression, extra)
    pd.testing.assert_frame_equal(as_array, aligned)


def test_reference_sets_the_sign_and_default_puts_high_over_low():
    expression, groups = _expression(10, 10, 5, seed=7)
    expression.loc[groups == "high", "G000"] += 3.0
    default = differential_expression(expression, groups)
    assert default.attrs["comparison"] == ("high", "low")
    assert default.set_index("gene").loc["G000", "log2_fold_change"] > 2.0
    flipped = differential_expression(expression, groups, reference="high")
    assert flipped.attrs["comparison"] == ("low", "high")
    assert np.allclose(flipped.set_index("gene")["log2_fold_change"],
                       -default.set_index("gene")["log2_fold_change"])
    numeric = differential_expression(expression, (groups == "high").astype(int))
    assert numeric.attrs["comparison"] == (1, 0)


def test_genes_constant_in_both_groups_are_untested_and_last():
    expression, groups = _expression(8, 8, 6, seed=8)
    expression["G002"] = 0.0
    table = differential_expression(expression, groups)
    assert table["gene"].iloc[-1] == "G002"
    assert table.iloc[-1][["statistic", "pvalue", "qvalue"]].isna().all()
    tested = table.dropna(subset=["pvalue"])
    assert np.allclose(tested["qvalue"], _benjamini_hochberg(tested["pvalue"]))


def test_errors_name_the_missing_samples():
    expression, groups = _expression(6, 6, 4)
    with pytest.raises(ValueError, match=r"no entry in groups: S003, S010"):
        differential_expression(expression, groups.drop(["S003", "S010"]))


def test_single_group_is_refused():
    expression, groups = _expression(6, 6, 4)
    with pytest.raises(ValueError, match="single group"):
        differential_expression(expression, pd.Series("high", index=groups.index))


def test_three_groups_and_small_groups_are_refused():
    expression, groups = _expression(6, 6, 4)
    three = groups.copy()
    three.iloc[0] = "mid"
    with pytest.raises(ValueError, match="exactly two labels"):
        differential_expression(expression, three)
    lonely = pd.Series(["high"] + ["low"] * 11, index=groups.index)
    with pytest.raises(ValueError, match="'high' has 1 sample"):
        differential_expression(expression, lonely)


def test_non_finite_values_are_named():
    expression, groups = _expression(6, 6, 4)
    expression.loc["S004", "G002"] = np.nan
    expression.loc["S007", "G000"] = np.inf
    with pytest.raises(ValueError, match=r"\(S004, G002\), \(S007, G000\)"):
        differential_expression(expression, groups)


def test_missing_labels_and_bad_arguments():
    expression, groups = _expression(6, 6, 4)
    unlabelled = groups.copy()
    unlabelled["S005"] = None
    with pytest.raises(ValueError, match="no label for samples S005"):
        differential_expression(expression, unlabelled)
    with pytest.raises(ValueError, match="one value per expression sample"):
        differential_expression(expression, groups.to_numpy()[:-1])
    with pytest.raises(TypeError, match="DataFrame"):
        differential_expression(expression.to_numpy(), groups)
    with pytest.raises(ValueError, match="method must be one of"):
        differential_expression(expression, groups, method="limma")
    with pytest.raises(ValueError, match="fdr must be one of"):
        differential_expression(expression, groups, fdr="bonferroni")
    with pytest.raises(ValueError, match="reference 'medium'"):
        differential_expression(expression, groups, reference="medium")
    duplicated = expression.rename(columns={"G001": "G000"})
    with pytest.raises(ValueError, match="duplicated column labels: G000"):
        differential_expression(duplicated, groups)
