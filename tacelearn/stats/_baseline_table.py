"""The baseline characteristics table (the paper's Table 1), built on ``tableone``."""

from __future__ import annotations

import warnings
from numbers import Integral

import numpy as np
import pandas as pd
from scipy import stats
from scipy.stats.contingency import expected_freq
from tableone import TableOne

from ..datasets import CLINICAL_COLUMNS, CLINICAL_CUTOFFS, COHORT_SCHEMA, dichotomise
from ..utils import describe_rows

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
_FISHER_RXC_NAME = "Fisher-Freeman-Halton (Monte Carlo)"
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


def _fisher_rxc(n_resamples, random_state):
    def test(*level_counts):
        # A fresh generator per variable: its P value does not depend on the other rows.
        method = stats.MonteCarloMethod(n_resamples=n_resamples,
                                        rng=np.random.default_rng(random_state))
        return stats.fisher_exact(np.array(level_counts), method=method).pvalue

    test.__name__ = _FISHER_RXC_NAME
    return test


def _sparse_rxc(frame, categorical, by):
    """Categorical columns whose group table is larger than 2 x 2 and has an expected count < 5."""
    sparse = []
    for column in categorical:
        table = pd.crosstab(frame[by], frame[column]).to_numpy()
        if table.shape == (2, 2) or min(table.shape) < 2:
            continue
        if expected_freq(table).min() < 5:
            sparse.append(column)
    return sparse


def baseline_table(cohort, *, by="split", columns=None, nonnormal=None, dichotomise_labs=True,
                   fisher_rxc=True, n_resamples=9999, overall=True, decimals=1, pval_digits=3,
                   random_state=0, return_tableone=False):
    """Baseline characteristics by group with P values (the paper's Table 1).

    Continuous variables are summarised as mean (SD) and compared with one-way ANOVA, or, when
    they are listed in ``nonnormal``, as median [Q1, Q3] and compared with Kruskal-Wallis.
    Categorical and binary variables, and laboratory values dichotomised at the schema's
    clinical cut-offs (:data:`~tacelearn.datasets.CLINICAL_CUTOFFS`, e.g. "ALT > 50 U/L"), are
    summarised as n (%) of the patients with a value and compared with the chi-square test, or
    Fisher's exact test where counts are small. The summaries and tests are those of the
    ``tableone`` package (Pollard et al., JAMIA Open 2018); what it does, precisely:

    - two groups, normal variable: a pooled-variance t-test (``ttest_equal_var=True``), whose P
      value equals one-way ANOVA's; more than two groups: one-way ANOVA;
    - non-normal variable, any number of groups: Kruskal-Wallis;
    - categorical variable: chi-square on the groups x levels table (Yates-corrected for 2 x 2
      tables, as :func:`scipy.stats.chi2_contingency` does by default); for a 2 x 2 table with an
      expected count below 5 (or a group with fewer than 5 patients), Fisher's exact test;
    - tableone has no exact test for larger tables: it keeps the chi-square and only flags it.
      With ``fisher_rxc=True`` (the default) those tables get the Fisher-Freeman-Halton exact
      test instead, its P value estimated by Monte Carlo (:func:`scipy.stats.fisher_exact` with
      :class:`scipy.stats.MonteCarloMethod`, ``n_resamples`` tables, seeded by
      ``random_state``), so the paper's four splits get Fisher where it belongs.

    Missing values are left out of the summaries and the tests and counted in the ``Missing``
    column. A variable with no value in some group is summarised but not tested.

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
        Use the Monte Carlo Fisher-Freeman-Halton test for tables larger than 2 x 2 with an
        expected count below 5 (see above).
    n_resamples : int, default=9999
        Monte Carlo tables for the Fisher-Freeman-Halton test.
    overall : bool, default=True
        Add an ``Overall`` column.
    decimals : int, default=1
        Decimal places of the summaries and percentages.
    pval_digits : int, default=3
        Decimal places of the P values (smaller ones print as ``<0.001``).
    random_state : int, default=0
        Seed of the Monte Carlo tests.
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
    scipy.stats.f_oneway, scipy.stats.kruskal, scipy.stats.chi2_contingency,
    scipy.stats.fisher_exact : The tests.

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
    if by is not None:
        if by not in cohort.columns:
            raise ValueError(f"the grouping column '{by}' is not in the cohort")
        missing_group = cohort[by].isna()
        if missing_group.any():
            raise ValueError(f"the grouping column '{by}' is missing for "
                             f"{describe_rows(cohort, missing_group)}; drop them or give a group")
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

    frame, continuous, categorical, rename, order = _prepare(cohort, by, columns,
                                                              dichotomise_labs)
    if nonnormal is None:
        nonnormal = [c for c in continuous if c in DEFAULT_NONNORMAL]
    elif isinstance(nonnormal, str):
        if nonnormal != "shapiro":
            raise ValueError(f"nonnormal must be a list of columns or 'shapiro', got {nonnormal!r}")
        nonnormal = _shapiro_nonnormal(frame, continuous, by, alpha=0.05)
    else:
        nonnormal = [c for c in nonnormal if c in continuous]

    grouped = by is not None and len(order[by]) > 1
    htest = {}
    if grouped and fisher_rxc:
        test = _fisher_rxc(n_resamples, random_state)
        htest = {column: test for column in _sparse_rxc(frame, categorical, by)}
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
