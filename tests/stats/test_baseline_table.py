"""Table 1 against scipy's tests and counts, means and quartiles computed by hand."""

import itertools
import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from tacelearn.datasets import CLINICAL_COLUMNS, read_hcc_tace_seg
from tacelearn.stats import baseline_table

SPLITS = ["train", "internal_validation", "external_1", "external_2"]


def pvalue(table, variable):
    return float(table.loc[variable, "P-Value"].iloc[0])


def by_split(cohort, column):
    return [cohort.loc[cohort["split"] == s, column].dropna().to_numpy(float) for s in SPLITS]


@pytest.fixture(scope="module")
def table(synthetic_cohort):
    return baseline_table(synthetic_cohort, dichotomise_labs=False, pval_digits=12)


def test_layout_follows_the_study_splits(synthetic_cohort, table):
    assert table.columns.tolist() == ["Missing", "Overall", *SPLITS, "P-Value", "Test"]
    assert table.loc[("n", ""), SPLITS].astype(int).tolist() == [
        int((synthetic_cohort["split"] == s).sum()) for s in SPLITS]
    variables = list(dict.fromkeys(table.index.get_level_values("variable")))[1:]
    assert len(variables) == len(CLINICAL_COLUMNS)
    assert variables[0] == "Age (years), mean (SD)"


def test_continuous_pvalues_match_scipy(synthetic_cohort, table):
    anova = stats.f_oneway(*by_split(synthetic_cohort, "age")).pvalue
    assert pvalue(table, "Age (years), mean (SD)") == pytest.approx(anova, abs=1e-11)
    assert table.loc["Age (years), mean (SD)", "Test"].iloc[0] == "One-way ANOVA"
    kruskal = stats.kruskal(*by_split(synthetic_cohort, "afp")).pvalue
    assert pvalue(table, "Alpha-fetoprotein (ng/mL), median [Q1,Q3]") == pytest.approx(
        kruskal, abs=1e-11)


def test_chi_square_pvalue_matches_scipy(synthetic_cohort, table):
    counts = pd.crosstab(synthetic_cohort["split"], synthetic_cohort["hypertension"])
    expected = stats.chi2_contingency(counts.to_numpy()).pvalue
    assert pvalue(table, "Hypertension, n (%)") == pytest.approx(expected, abs=1e-11)
    assert table.loc["Hypertension, n (%)", "Test"].iloc[0] == "Chi-squared"


def test_summaries_by_hand(synthetic_cohort, table):
    ages = by_split(synthetic_cohort, "age")
    assert table.loc[("Age (years), mean (SD)", ""), SPLITS].tolist() == [
        f"{a.mean():.1f} ({a.std(ddof=1):.1f})" for a in ages]
    afp = by_split(synthetic_cohort, "afp")
    assert table.loc[("Alpha-fetoprotein (ng/mL), median [Q1,Q3]", ""), SPLITS].tolist() == [
        "{:.1f} [{:.1f},{:.1f}]".format(*np.percentile(a, [50, 25, 75])) for a in afp]
    for level in ("0", "A", "B", "C"):
        cells = table.loc[("BCLC stage, n (%)", level), SPLITS].tolist()
        for split, cell in zip(SPLITS, cells):
            stages = synthetic_cohort.loc[synthetic_cohort["split"] == split, "bclc"]
            count = int((stages == level).sum())
            assert cell == f"{count} ({100 * count / len(stages):.1f})"


def test_dichotomised_labs_use_the_schema_cutoffs(synthetic_cohort):
    table = baseline_table(synthetic_cohort, columns=["alt", "platelets"])
    for split in SPLITS:
        part = synthetic_cohort[synthetic_cohort["split"] == split]
        # Percentages are of the patients with a value.
        above = int((part["alt"] > 50).sum())
        assert table.loc[("ALT > 50 U/L, n (%)", "yes"), split] == (
            f"{above} ({100 * above / part['alt'].notna().sum():.1f})")
        low = int((part["platelets"] < 125).sum())
        assert table.loc[("Platelets < 125 x10^9/L, n (%)", "yes"), split] == (
            f"{low} ({100 * low / part['platelets'].notna().sum():.1f})")


def test_two_groups_on_real_data_with_missing_values(shared_data):
    with pytest.warns(UserWarning, match="no mRECIST response"):
        cohort = read_hcc_tace_seg(shared_data / "hcc-tace-seg/clinical.csv")
    cohort = cohort[cohort["objective_response"].notna()]
    table = baseline_table(cohort, by="objective_response", pval_digits=12)
    groups = [cohort[cohort["objective_response"] == r] for r in (0, 1)]

    diameter = "Largest tumour diameter (cm), median [Q1,Q3]"
    assert int(table.loc[diameter, "Missing"].iloc[0]) == cohort["tumour_diameter"].isna().sum()
    kruskal = stats.kruskal(*[g["tumour_diameter"].dropna() for g in groups]).pvalue
    assert pvalue(table, diameter) == pytest.approx(kruskal, abs=1e-11)
    # Two groups: tableone's pooled t-test has one-way ANOVA's P value.
    anova = stats.f_oneway(*[g["age"] for g in groups]).pvalue
    assert pvalue(table, "Age (years), mean (SD)") == pytest.approx(anova, abs=1e-11)
    # 2 x 2 with large counts: Yates-corrected chi-square, as scipy does by default.
    sex = pd.crosstab(cohort["objective_response"], cohort["sex"]).to_numpy()
    assert pvalue(table, "Sex, n (%)") == pytest.approx(
        stats.chi2_contingency(sex, correction=True).pvalue, abs=1e-11)
    # Percentages are of the patients with a value.
    male = int((groups[1]["sex"] == "male").sum())
    assert table.loc[("Sex, n (%)", "male"), "1"] == f"{male} ({100 * male / len(groups[1]):.1f})"


def test_fisher_exact_for_sparse_two_by_two():
    cohort = pd.DataFrame({"split": ["train"] * 10 + ["external_1"] * 10,
                           "ascites": [1] * 7 + [0] * 3 + [1] * 1 + [0] * 9})
    table = baseline_table(cohort, pval_digits=12)
    assert table.loc["Ascites, n (%)", "Test"].iloc[0] == "Fisher's exact"
    expected = stats.fisher_exact([[3, 7], [9, 1]]).pvalue
    assert pvalue(table, "Ascites, n (%)") == pytest.approx(expected, abs=1e-11)


def exact_fisher_freeman_halton(table):
    """Sum of the probabilities of all tables with the observed margins that are no likelier."""
    table = np.asarray(table)
    rows, columns = table.sum(axis=1), table.sum(axis=0)
    n = table.sum()

    def probability(cells):
        numerator = sum(math.lgamma(r + 1) for r in rows) + sum(
            math.lgamma(c + 1) for c in columns)
        return math.exp(numerator - math.lgamma(n + 1) - sum(
            math.lgamma(x + 1) for x in np.ravel(cells)))

    observed = probability(table)
    total = 0.0
    # Two columns: each row's first cell fixes the table.
    for firsts in itertools.product(*[range(r + 1) for r in rows]):
        if sum(firsts) != columns[0]:
            continue
        cells = np.column_stack([firsts, rows - np.array(firsts)])
        p = probability(cells)
        if p <= observed * (1 + 1e-7):
            total += p
    return total


def _diabetes_by_split(counts):
    split, diabetes = [], []
    for group, (yes, no) in counts.items():
        split += [group] * (yes + no)
        diabetes += [1] * yes + [0] * no
    return pd.DataFrame({"split": split, "diabetes": diabetes})


def test_fisher_freeman_halton_for_sparse_larger_tables():
    # Three groups x two levels with expected counts below 5: tableone alone keeps chi-square.
    cohort = _diabetes_by_split({"train": (6, 2), "external_1": (1, 6), "external_2": (3, 4)})
    table = baseline_table(cohort, pval_digits=12)
    assert table.loc["Diabetes, n (%)", "Test"].iloc[0] == "Fisher's exact"
    exact = exact_fisher_freeman_halton([[2, 6], [6, 1], [4, 3]])
    # R: fisher.test(rbind(c(2, 6), c(6, 1), c(4, 3)))$p.value -> 0.082357271211759661
    assert exact == pytest.approx(0.082357271211759661, rel=1e-9)
    assert pvalue(table, "Diabetes, n (%)") == pytest.approx(exact, abs=1e-11)
    plain = baseline_table(cohort, fisher_rxc=False)
    assert plain.loc["Diabetes, n (%)", "Test"].iloc[0].startswith("Chi-squared (warning")


def test_monte_carlo_fisher_when_too_many_tables():
    counts = {"train": (60, 3), "internal_validation": (55, 4), "external_1": (50, 6),
              "external_2": (4, 2)}
    cohort = _diabetes_by_split(counts).assign(
        bclc=lambda frame: np.tile(["0", "A", "B", "C", "D"], len(frame))[:len(frame)])
    first = baseline_table(cohort, columns=["bclc"], pval_digits=12)
    test_name = first.loc["BCLC stage, n (%)", "Test"].iloc[0]
    assert test_name == "Fisher's exact (Monte Carlo, 9999 tables)"
    second = baseline_table(cohort, columns=["bclc"], pval_digits=12)
    assert pvalue(first, "BCLC stage, n (%)") == pvalue(second, "BCLC stage, n (%)")


def test_one_observed_level_is_not_tested():
    # R: chisq.test(split, ascites) with one level -> Error: 'x' and 'y' must have at least 2
    # levels. tableone printed "P = 1.000, Chi-squared".
    cohort = pd.DataFrame({"split": ["train"] * 4 + ["external_1"] * 4, "ascites": [1] * 8,
                           "age": [60.0] * 8})
    table = baseline_table(cohort)
    row = table.loc[("Ascites, n (%)", "yes")]
    assert (row["P-Value"], row["Test"]) == ("", "Not tested (only one level observed)")
    age = table.loc[("Age (years), mean (SD)", "")]
    assert (age["P-Value"], age["Test"]) == ("", "Not tested (all values are equal)")


def test_same_test_and_pvalue_as_the_univariate_screening():
    from tacelearn.transformers import UnivariateSelector

    cohort = _diabetes_by_split({"train": (6, 2), "external_1": (1, 6), "external_2": (3, 4)})
    table = baseline_table(cohort, pval_digits=12)
    selector = UnivariateSelector().fit(cohort[["diabetes"]], cohort["split"])
    assert selector.tests_[0] == "fisher"
    assert selector.pvalues_[0] == pytest.approx(pvalue(table, "Diabetes, n (%)"), abs=1e-11)


def test_variable_missing_in_a_whole_group_is_not_tested():
    cohort = pd.DataFrame({"split": ["train"] * 4 + ["external_1"] * 4,
                           "age": [50.0, 60.0, 55.0, 65.0] + [np.nan] * 4})
    table = baseline_table(cohort)
    row = table.loc[("Age (years), mean (SD)", "")]
    assert (row["P-Value"], row["Test"]) == ("",
                                             "Not tested (no value in group(s) ['external_1'])")
    assert (row["train"], row["external_1"], row["Missing"]) == ("57.5 (6.5)", "", "4")


def test_shapiro_rule_picks_the_skewed_variables(synthetic_cohort):
    columns = ["age", "albumin", "afp", "platelets"]
    table = baseline_table(synthetic_cohort, columns=columns, nonnormal="shapiro",
                           dichotomise_labs=False)
    variables = list(table.index.get_level_values("variable"))[1:]
    for column, variable in zip(columns, variables):
        smallest = min(stats.shapiro(values).pvalue for values in by_split(synthetic_cohort,
                                                                           column))
        skewed = smallest < 0.05 / len(SPLITS)
        assert variable.endswith("median [Q1,Q3]" if skewed else "mean (SD)"), variable
    assert variables[2].endswith("median [Q1,Q3]")  # AFP is log-normal in the generator


def test_without_groups_there_is_one_column():
    cohort = pd.DataFrame({"age": [50.0, 60.0], "sex": ["male", "female"]})
    table = baseline_table(cohort, by=None)
    assert table.columns.tolist() == ["Missing", "Overall"]
    assert table.loc[("Sex, n (%)", "male"), "Overall"] == "1 (50.0)"


def test_bad_input_is_named():
    cohort = pd.DataFrame({"patient_id": ["P1", "P2", "P3"], "split": ["train", None, "x"],
                           "age": [50.0, 60.0, 70.0], "hypertension": [0, 2, 1]})
    with pytest.raises(ValueError, match=r"'split' is missing for row.s. \[1\] \(patient.s. P2\)"):
        baseline_table(cohort)
    cohort["split"] = ["train", "train", "x"]
    with pytest.raises(ValueError, match=r"'hypertension' is binary .* \(patient.s. P2\)"):
        baseline_table(cohort)
    with pytest.raises(ValueError, match=r"\['bmi'\] are not in the cohort"):
        baseline_table(cohort, columns=["bmi"])
    with pytest.raises(ValueError, match="grouping column 'centre'"):
        baseline_table(cohort, by="centre")
    cohort["age"] = ["50", "sixty", "70"]
    with pytest.raises(ValueError, match=r"'age' is continuous but holds text .*\(patient.s. P2\)"):
        baseline_table(cohort, columns=["age"])
    # A laboratory value is checked before it is dichotomised, not silently made missing.
    cohort["alt"] = [30.0, "high", 60.0]
    with pytest.raises(ValueError, match=r"'alt' is continuous but holds text .*\(patient.s. P2\)"):
        baseline_table(cohort, columns=["alt"])
    with pytest.raises(TypeError, match="DataFrame"):
        baseline_table(cohort.to_numpy())
