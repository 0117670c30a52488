"""The baseline characteristics table (the paper's Table 1), built on ``tableone``."""

from __future__ import annotations

import warnings
from numbers import Integral

import numpy as np
import pandas as pd
from scipy import stats
from tableone import TableOne

from ..datasets import CLINICAL_COLUMNS, CLINICAL_CUTOFFS, COHORT_SCHEMA, dichotomise
from ..utils import describe_rows
from ._categorical import MONTE_CARLO_RESAMPLES, MONTE_CARLO_SEED, contingency_test

__all__ = ["DEFAULT_NONNORMAL", "baseline_table"]

#: Clinical columns summarised as median [Q1, Q3] and tested with Kruskal-Wallis by default:
#: laboratory values, ratios and tumour burden are right-skewed in HCC cohorts.
DEFAULT_NONNORMAL = (
    "afp", "cea", "ast", "alt", "bilirubin", "platelets", "nlr", "plr", "tumour_number",
    "tumour_diameter",
)
_BINARY_LEVELS = {0: "no", 1: "yes"}
# Splits of the study design first, in the order of the paper, then any others by name.
_SPLIT_ORDER = ("train", "internal_validation")
_EMPTY_GROUP_WARNINGS = ("Mean of empty slice", "All-NaN slice encountered",
                         "Degrees of freedom <= 0 for slice")



def _kind(cohort, column):
    if column in COHORT_SCHEMA:
        kind = COHORT_SCHEMA[column].kind
        if kind in ("continuous", "count", "probability", "score"):
            return "continuous"
        if kind in ("binary", "categorical"):
            return kind
        raise ValueError(f"column '{column}' is a {kind} column and has no place in Table 1")
    return "continuous" if pd.api.types.is_numeric_dtype(cohort[column]) else "categorical"


def _label(column):
    if column not in COHORT_SCHEMA:
        return column
    described = COHORT_SCHEMA[column]
    return f"{described.description} ({described.unit})" if described.unit else (
        described.description)


def _group_order(groups):
    if isinstance(groups.dtype, pd.CategoricalDtype):
        present = set(groups.dropna())
        return [str(level) for level in groups.cat.categories if level in present]
    levels = sorted({str(g) for g in groups})
    known = [s for s in _SPLIT_ORDER if s in levels]
    return known + [g for g in levels if g not in known]


def _prepare(cohort, by, columns, dichotomise_labs):
    """Recode the columns for tableone: numbers stay numbers, categories become text."""
    frame = pd.DataFrame(index=pd.RangeIndex(len(cohort)))
    continuous, categorical, rename, order = [], [], {}, {}
    for column in columns:
        values = cohort[column].reset_index(drop=True)
        kind = _kind(cohort, column)
        rename[column] = _label(column)
        if kind == "continuous":
            numbers = pd.to_numeric(values, errors="coerce")
            bad = numbers.isna() & values.notna()
            if bad.any():
                raise ValueError(f"column '{column}' is continuous but holds text at "
                                 f"{describe_rows(cohort, bad)}")
            frame[column] = numbers.astype(float)
            continuous.append(column)
        elif kind == "binary":
            numbers = pd.to_numeric(values, errors="coerce")
            bad = values.notna() & ~numbers.isin([0, 1])
            if bad.any():
                raise ValueError(f"column '{column}' is binary but holds values other than 0 "
                                 f"and 1 at {describe_rows(cohort, bad)}")
            frame[column] = numbers.astype(object).map(_BINARY_LEVELS, na_action="ignore")
            categorical.append(column)
        else:
            frame[column] = values.astype(object).map(str, na_action="ignore")
            categorical.append(column)
            if column in COHORT_SCHEMA and COHORT_SCHEMA[column].categories:
                present = set(frame[column].dropna())
                order[column] = [c for c in COHORT_SCHEMA[column].categories if c in present]
    if dichotomise_labs:
        labs = [c for c in continuous if c in CLINICAL_CUTOFFS]
        flags = dichotomise(frame, labs)
        for column in labs:
            frame[column] = flags[f"{column}_abnormal"].astype(object).map(
                _BINARY_LEVELS, na_action="ignore")
            rename[column] = CLINICAL_CUTOFFS[column].label
        continuous = [c for c in continuous if c not in labs]
        categorical = [c for c in columns if c not in continuous]
    if by is not None:
        frame[by] = cohort[by].astype(str).to_numpy()
        order[by] = _group_order(cohort[by])
    return frame, continuous, categorical, rename, order


def _shapiro_nonnormal(frame, continuous, by, alpha):
    """Columns whose Shapiro-Wilk test rejects normality in a group, Bonferroni-corrected."""
    groups = [frame] if by is None else [g for _, g in frame.groupby(by)]
    skewed = []
    for column in continuous:
        for group in groups:
            values = group[column].dropna().to_numpy()
            if (len(values) >= 3 and np.ptp(values) > 0
                    and stats.shapiro(values).pvalue < alpha / len(groups)):
                skewed.append(column)
                break
    return skewed


def _named_test(pvalue, name):
    """A tableone ``htest`` entry that reports a P value computed beforehand, under ``name``."""

    def test(*_level_counts):
        return pvalue

    test.__name__ = name
    return test


def _empty_group(frame, column, by, groups):
    counts = frame.groupby(by)[column].count().reindex(groups, fill_value=0)
    empty = [str(group) for group, count in counts.items() if count == 0]
    return f"no value in group(s) {empty}" if empty else ""


def _categorical_test(frame, column, by, groups, settings):
    """The shared chi-square / Fisher rule of :func:`~tacelearn.stats.contingency_test`."""
    reason = _empty_group(frame, column, by, groups)
    if reason:
        return np.nan, f"Not tested ({reason})"
    table = pd.crosstab(frame[by], frame[column]).to_numpy()
    result = contingency_test(table, n_resamples=settings["n_resamples"],
                              random_state=settings["random_state"])
    large = min(table.shape) > 1 and table.shape != (2, 2)
    if result.test.startswith("fisher") and large and not settings["fisher_rxc"]:
        # tableone's behaviour: keep the chi-square for larger tables and flag it.
        pvalue = stats.chi2_contingency(table).pvalue
        return float(pvalue), "Chi-squared (warning: expected count < 5)"
    return result.pvalue, result.label


def _continuous_degenerate(frame, column, by, groups):
    """Why a continuous variable cannot be tested (R's tests give NA there), or ''."""
    reason = _empty_group(frame, column, by, groups)
    if reason:
        return reason
    if frame[column].nunique(dropna=True) < 2:
        return "all values are equal"
    return ""


def _tests(frame, continuous, categorical, by, groups, settings):
    """tableone ``htest`` entries: every categorical variable, and untestable continuous ones."""
    htest = {}
    for column in categorical:
        htest[column] = _named_test(*_categorical_test(frame, column, by, groups, settings))
    for column in continuous:
        reason = _continuous_degenerate(frame, column, by, groups)
        if reason:
            htest[column] = _named_test(np.nan, f"Not tested ({reason})")
    return htest


def _check_grouping(cohort, by):
    if by is None:
        return
    if by not in cohort.columns:
        raise ValueError(f"the grouping column '{by}' is not in the cohort")
    missing_group = cohort[by].isna()
    if missing_group.any():
        raise ValueError(f"the grouping column '{by}' is missing for "
                         f"{describe_rows(cohort, missing_group)}; drop them or give a group")


def _checked_columns(cohort, by, columns):
    if columns is None:
        columns = [c for c in CLINICAL_COLUMNS
                   if c in cohort.columns and c != by and cohort[c].notna().any()]
    else:
        columns = list(columns)
        absent = [c for c in columns if c not in cohort.columns]
        if absent:
            raise ValueError(f"column(s) {absent} are not in the cohort")
        empty = [c for c in columns if cohort[c].isna().all()]
        if empty:
            raise ValueError(f"column(s) {empty} have no value in any patient")
        if by in columns:
            raise ValueError(f"the grouping column '{by}' cannot also be a table row")
    if not columns:
        raise ValueError("the cohort has none of the clinical columns of the schema")
    return columns


def _nonnormal_columns(nonnormal, frame, continuous, by):
    if nonnormal is None:
        return [c for c in continuous if c in DEFAULT_NONNORMAL]
    if isinstance(nonnormal, str):
        if nonnormal != "shapiro":
            raise ValueError(f"nonnormal must be a list of columns or 'shapiro', got {nonnormal!r}")
        return _shapiro_nonnormal(frame, continuous, by, alpha=0.05)
    return [c for c in nonnormal if c in continuous]


def baseline_table(cohort, *, by="split", columns=None, nonnormal=None, dichotomise_labs=True,
                   fisher_rxc=True, n_resamples=MONTE_CARLO_RESAMPLES, overall=True, decimals=1,
                   pval_digits=3, random_state=MONTE_CARLO_SEED, return_tableone=False):
    """Baseline characteristics by group with P values (the paper's Table 1).

    Continuous variables are summarised as mean (SD) and compared with one-way ANOVA, or, when
    they are listed in ``nonnormal``, as median [Q1, Q3] and compared with Kruskal-Wallis.
    Categorical and binary variables, and laboratory values dichotomised at the schema's
    clinical cut-offs (:data:`~tacelearn.datasets.CLINICAL_CUTOFFS`, e.g. "ALT > 50 U/L"), are
    summarised as n (%) of the patients with a value and compared with the chi-square test, or
    Fisher's exact test where counts are small. The summaries and the continuous tests are
    those of the ``tableone`` package (Pollard et al., JAMIA Open 2018):

    - two groups, normal variable: a pooled-variance t-test (``ttest_equal_var=True``), whose P
      value equals one-way ANOVA's; more than two groups: one-way ANOVA;
    - non-normal variable, any number of groups: Kruskal-Wallis;
    - categorical variable: :func:`~tacelearn.stats.contingency_test` on the groups x levels
      table, the rule the univariate screening uses too: chi-square (Yates-corrected for 2 x 2
      tables, as R's ``chisq.test``) when every expected count is at least 5, otherwise
      Fisher's exact test (R's ``fisher.test``), for larger tables exact when at most
      :data:`~tacelearn.stats.MAX_EXACT_TABLES` tables share the margins and otherwise from
      ``n_resamples`` Monte Carlo tables seeded by ``random_state`` (R's
      ``fisher.test(simulate.p.value = TRUE, B = n_resamples)``).

    Missing values are left out of the summaries and the tests and counted in the ``Missing``
    column. A variable that cannot be tested is summarised, its P value left blank and its
    ``Test`` cell says why: no value in some group, only one level observed (R's
    ``chisq.test`` refuses such a table), or all values equal (R's tests give NA).

    Parameters
    ----------
    cohort : pandas.DataFrame
        One row per patient, with the columns of the cohort schema.
    by : str or None, default="split"
        Column whose values are the table's groups; ``None`` gives one overall column and no P
        values. The study's splits are ordered train, internal validation, then the others by
        name; a categorical ``by`` keeps its category order.
    columns : sequence of str, optional
        Variables, in table order. Default: the schema's clinical columns
        (:data:`~tacelearn.datasets.CLINICAL_COLUMNS`) that the cohort has, with at least one value.
        Columns outside the schema are continuous when numeric, categorical otherwise.
    nonnormal : sequence of str or "shapiro", optional
        Continuous variables to summarise as median [Q1, Q3] and test with Kruskal-Wallis.
        Default: those of :data:`DEFAULT_NONNORMAL` among ``columns``. ``"shapiro"`` picks the
        variables whose Shapiro-Wilk test rejects normality in at least one group at
        P < 0.05 / number of groups (Bonferroni: each group is tested).
    dichotomise_labs : bool, default=True
        Show laboratory values that have a clinical cut-off as n (%) above/below it instead of as
        continuous summaries.
    fisher_rxc : bool, default=True
        Use Fisher's exact test for tables larger than 2 x 2 with an expected count below 5
        (see above); ``False`` keeps tableone's behaviour there: the chi-square, flagged
        ``"Chi-squared (warning: expected count < 5)"``.
    n_resamples : int, default=9999
        Monte Carlo tables of the r x c Fisher test when the exact one is out of reach.
    overall : bool, default=True
        Add an ``Overall`` column.
    decimals : int, default=1
        Decimal places of the summaries and percentages.
    pval_digits : int, default=3
        Decimal places of the P values (smaller ones print as ``<0.001``).
    random_state : int, default=0
        Seed of the Monte Carlo tests (a fresh generator per variable, so a variable's P value
        does not depend on the other rows).
    return_tableone : bool, default=False
        Also return the :class:`tableone.TableOne` object (its ``htest_table`` holds the raw
        P values).

    Returns
    -------
    table : pandas.DataFrame
        Rows indexed by ``(variable, level)``; columns ``Missing``, ``Overall``, one per group,
        ``P-Value`` and ``Test`` (the name of the test used). All cells are text, ready for
        :meth:`~pandas.DataFrame.to_csv` and :meth:`~pandas.DataFrame.to_html`.
    table_one : tableone.TableOne
        Only when ``return_tableone`` is true.

    Raises
    ------
    ValueError
        When ``by`` or a column is absent, ``by`` is missing for some patients (they are named),
        a continuous column holds text, a binary column holds values other than 0 and 1, or a
        requested column has no value at all.

    See Also
    --------
    tacelearn.datasets.dichotomise : The laboratory cut-offs.
    tacelearn.stats.contingency_test : The categorical tests.
    scipy.stats.f_oneway, scipy.stats.kruskal : The continuous tests.

    Examples
    --------
    >>> import pandas as pd
    >>> from tacelearn.stats import baseline_table
    >>> cohort = pd.DataFrame({
    ...     "split": ["train"] * 4 + ["external_1"] * 4,
    ...     "age": [50.0, 60.0, 55.0, 65.0, 70.0, 58.0, 62.0, 66.0],
    ...     "alt": [30.0, 80.0, 45.0, 20.0, 60.0, 90.0, 35.0, 70.0],
    ...     "ascites": [0, 1, 0, 0, 1, 1, 0, 1],
    ... })
    >>> table = baseline_table(cohort)
    >>> table.columns.tolist()
    ['Missing', 'Overall', 'train', 'external_1', 'P-Value', 'Test']
    >>> table.loc[("Age (years), mean (SD)", ""), ["train", "external_1", "P-Value"]].tolist()
    ['57.5 (6.5)', '64.0 (5.2)', '0.167']
    >>> table.loc[("ALT > 50 U/L, n (%)", "yes"), ["train", "external_1"]].tolist()
    ['1 (25.0)', '3 (75.0)']
    """
    if not isinstance(cohort, pd.DataFrame):
        raise TypeError(f"cohort must be a pandas DataFrame, not {type(cohort).__name__}")
    if not isinstance(n_resamples, Integral) or n_resamples < 1:
        raise ValueError(f"n_resamples must be a positive integer, got {n_resamples!r}")
    _check_grouping(cohort, by)
    columns = _checked_columns(cohort, by, columns)

    frame, continuous, categorical, rename, order = _prepare(cohort, by, columns,
                                                              dichotomise_labs)
    nonnormal = _nonnormal_columns(nonnormal, frame, continuous, by)
    grouped = by is not None and len(order[by]) > 1
    htest = {}
    if grouped:
        settings = {"n_resamples": n_resamples, "random_state": random_state,
                    "fisher_rxc": fisher_rxc}
        htest = _tests(frame, continuous, categorical, by, order[by], settings)
    with warnings.catch_warnings():
        # A group with no value of a variable: tableone warns and leaves the P value blank, and
        # numpy warns about the empty group's mean and spread. The table shows "Not tested" and
        # an empty cell instead.
        warnings.filterwarnings("ignore", message="No P-Value was computed", category=UserWarning)
        for message in _EMPTY_GROUP_WARNINGS:
            warnings.filterwarnings("ignore", message=message, category=RuntimeWarning)
        table_one = TableOne(
            frame, columns=columns, categorical=categorical, continuous=continuous,
            groupby=by, nonnormal=nonnormal, pval=grouped, htest_name=grouped,
            htest=htest or None, ttest_equal_var=True, include_null=False, rename=rename,
            order=order, overall=overall and by is not None, decimals=decimals,
            pval_digits=pval_digits,
        )
    table = table_one.tableone.copy()
    if isinstance(table.columns, pd.MultiIndex):
        table.columns = table.columns.get_level_values(-1)
    table.columns = [str(c) for c in table.columns]
    table.index = table.index.set_names(["variable", "level"])
    table = table.astype(str)
    table = table.mask(table.apply(lambda cells: cells.str.startswith("nan")), "")
    return (table, table_one) if return_tableone else table
