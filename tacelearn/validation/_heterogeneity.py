"""Heterogeneity of performance across centres and subgroups: per-group tables, leave-one-centre-out
validation and random-effects pooling of the per-centre results."""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
from joblib import Parallel, delayed

from ..stats import DEFAULT_LOGIT_EPSILON, check_logit_epsilon
from ..utils import (
    call_capturing_warnings,
    check_binary_outcome,
    check_named_scores,
    describe_rows,
    reraise_warnings,
)
from ._performance import (
    PERFORMANCE_COLUMNS,
    case_label_of,
    check_confidence_level,
    fit_and_predict,
    performance_row,
)
from ._pooling import pool_random_effects

__all__ = ["LeaveOneCenterOutResult", "leave_one_center_out", "pool_performance",
           "subgroup_performance"]

# (metric, its variance column, transform): what pool_performance pools.
_POOLED = (("auc", "auc_variance", "logit"),
           ("calibration_slope", "slope_variance", None),
           ("calibration_intercept", "intercept_variance", None))
_POOLED_COLUMNS = ("estimate", "low", "high", "prediction_low", "prediction_high", "tau2", "i2",
                   "q", "q_pvalue", "k", "method", "scale")


def _grouping_columns(groups, n_samples):
    """``[(name, values)]`` from a DataFrame, a Series, a mapping or a single array."""
    if isinstance(groups, pd.DataFrame):
        items = [(str(column), groups[column]) for column in groups.columns]
    elif isinstance(groups, pd.Series):
        items = [(str(groups.name) if groups.name is not None else "group", groups)]
    elif isinstance(groups, Mapping):
        items = [(str(name), values) for name, values in groups.items()]
    else:
        items = [("group", groups)]
    if not items:
        raise ValueError("groups holds no grouping column")
    columns = []
    for name, values in items:
        values = pd.Series(values.to_numpy() if isinstance(values, pd.Series) else values)
        if values.shape[0] != n_samples:
            raise ValueError(f"grouping column {name!r} has {values.shape[0]} values but y_true "
                             f"has {n_samples}")
        columns.append((name, values))
    return columns


def _level_masks(values):
    """``(level, mask)`` per level of one grouping column: categories in their order (those
    present), other values sorted where they can be, then missing values as one level."""
    missing = values.isna().to_numpy()
    present = values[~missing]
    if isinstance(values.dtype, pd.CategoricalDtype):
        levels = [c for c in values.cat.categories if (present == c).any()]
    else:
        levels = list(pd.unique(present))
        with contextlib.suppress(TypeError):  # mixed types keep their order of appearance
            levels.sort()
    masks = [(level, (values == level).to_numpy() & ~missing) for level in levels]
    if missing.any():
        masks.append((np.nan, missing))
    return masks


def _selections(columns, n_samples, overall):
    """``(variable, level, mask)`` for every level of every grouping column, after an
    ``("all", "all", everyone)`` row when ``overall``."""
    selections = [("all", "all", np.ones(n_samples, dtype=bool))] if overall else []
    for variable, values in columns:
        selections.extend((variable, level, mask) for level, mask in _level_masks(values))
    return selections


def subgroup_performance(y_true, y_prob, groups, *, confidence_level=0.95, overall=True,
                         epsilon=DEFAULT_LOGIT_EPSILON, pos_label=None):
    """Performance per centre or subgroup: counts, AUC, calibration intercept and slope, Brier.

    One row per level of each grouping column (centre, BCLC stage, Child-Pugh class, tumour
    size class, TACE type, ...): patients, events, expected events (sum of the predictions),
    the AUC with its DeLong interval and variance, calibration-in-the-large and the calibration
    slope with Wald intervals and variances, and the Brier score. Missing group values form
    their own level. The variances feed :func:`pool_performance`.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        Binary outcome.
    y_prob : array-like, mapping or DataFrame
        Predicted probabilities of the case label: one array, or one per model (a mapping of
        name to array, or a DataFrame with one column per model).
    groups : pandas.DataFrame, pandas.Series, mapping or array-like
        The grouping columns, aligned with ``y_true`` (e.g. ``cohort[["center", "bclc"]]``).
    confidence_level : float, default=0.95
        Level of the confidence intervals.
    overall : bool, default=True
        Start with a row for all patients (``variable`` and ``level`` ``"all"``).
    epsilon : float or None, default=1e-8
        Clip of the probabilities before their logits (see
        :func:`tacelearn.metrics.calibration_metrics`).
    pos_label : int, float, bool or str, default=None
        The case label; may be omitted for {0, 1}, {-1, 1} and boolean outcomes.

    Returns
    -------
    table : pandas.DataFrame
        Columns ``model`` (when several models are given), ``variable``, ``level``, ``n``,
        ``events``, ``expected``, ``auc``, ``auc_low``, ``auc_high``, ``auc_variance``,
        ``calibration_intercept``, ``intercept_low``, ``intercept_high``,
        ``intercept_variance``, ``calibration_slope``, ``slope_low``, ``slope_high``,
        ``slope_variance``, ``brier``. The AUC needs a case and a control (its interval two of
        each), the calibration fits both classes; otherwise NaN. A slope whose
        maximum-likelihood estimate is infinite (the predictions separate the group's cases
        from its controls) is +/-inf with NaN bounds.

    See Also
    --------
    pool_performance : Random-effects pooling of the per-centre rows.
    tacelearn.metrics.performance_table : Table 2 per cohort.

    Examples
    --------
    >>> import numpy as np
    >>> from tacelearn.validation import subgroup_performance
    >>> rng = np.random.default_rng(0)
    >>> p = rng.uniform(0.1, 0.9, 300)
    >>> y = rng.random(300) < p
    >>> centre = np.repeat(["A", "B", "C"], 100)
    >>> table = subgroup_performance(y, p, {"center": centre})
    >>> table[["level", "n", "events", "auc", "calibration_slope"]].round(2)
      level    n  events   auc  calibration_slope
    0   all  300     153  0.81               1.17
    1     A  100      56  0.81               1.16
    2     B  100      46  0.83               1.34
    3     C  100      51  0.78               1.03
    """
    z = check_confidence_level(confidence_level)
    is_case = check_binary_outcome(y_true, pos_label=pos_label)
    names, matrix = check_named_scores(y_prob, is_case.shape[0], probability=True)
    clip = check_logit_epsilon(epsilon)
    for name, probabilities in zip(names, matrix):
        try:
            check_logit_epsilon(epsilon, probabilities)
        except ValueError as error:
            raise ValueError(f"model {name!r}: {error}") from None
    columns = _grouping_columns(groups, is_case.shape[0])
    selections = _selections(columns, is_case.shape[0], overall)
    rows = []
    for name, probabilities in zip(names, matrix):
        for variable, level, mask in selections:
            row = {"model": name, "variable": variable, "level": level}
            row.update(performance_row(is_case[mask], probabilities[mask],
                                       confidence_level=confidence_level, z=z, epsilon=clip))
            rows.append(row)
    table = pd.DataFrame(rows, columns=["model", "variable", "level", *PERFORMANCE_COLUMNS])
    return table if len(names) > 1 else table.drop(columns="model")


def _pool_rows(table, method, confidence_level):
    rows = []
    for metric, variance_column, transform in _POOLED:
        usable = np.isfinite(table[metric].to_numpy(dtype=float)) & np.isfinite(
            table[variance_column].to_numpy(dtype=float)) & (table[variance_column] > 0)
        if transform == "logit":
            usable &= (table[metric] > 0) & (table[metric] < 1)
        k = int(usable.sum())
        scale = transform or "identity"
        if k < 2:
            rows.append((metric, *([np.nan] * 9), k, method, scale))
            continue
        result = pool_random_effects(table.loc[usable, metric], table.loc[usable, variance_column],
                                     method=method, confidence_level=confidence_level,
                                     transform=transform)
        rows.append((metric, result.estimate, *result.confidence_interval,
                     *result.prediction_interval, result.tau2, result.i2, result.q,
                     result.q_pvalue, k, method, scale))
    return rows


def pool_performance(table, *, method="REML", confidence_level=0.95):
    """Random-effects pooling of the AUC (on the logit scale), calibration slope and intercept.

    Parameters
    ----------
    table : pandas.DataFrame
        One row per centre with the columns of :func:`subgroup_performance` (``auc``,
        ``auc_variance``, ``calibration_slope``, ``slope_variance``,
        ``calibration_intercept``, ``intercept_variance``), e.g. its rows for ``variable ==
        "center"``, or :attr:`LeaveOneCenterOutResult.table`. With a ``model`` column each
        model is pooled separately. Rows where a value is undefined are left out of that
        metric (``k`` says how many were pooled).
    method : {"REML", "DL"}, default="REML"
        Estimator of the between-centre variance.
    confidence_level : float, default=0.95
        Level of the confidence and prediction intervals.

    Returns
    -------
    pooled : pandas.DataFrame
        One row per metric (index ``metric``, preceded by ``model`` when present):
        ``estimate``, ``low``, ``high`` (confidence interval), ``prediction_low``,
        ``prediction_high`` (prediction interval for a new centre), ``tau2``, ``i2``, ``q``,
        ``q_pvalue``, ``k``, ``method`` and ``scale`` (``"logit"`` for the AUC: its ``tau2`` is
        on the logit scale, the estimate and intervals are AUCs). NaN with fewer than 2 centres
        (intervals need 3 for the prediction interval).

    See Also
    --------
    pool_random_effects : The pooling of one set of estimates.

    Examples
    --------
    >>> import numpy as np
    >>> from tacelearn.validation import pool_performance, subgroup_performance
    >>> rng = np.random.default_rng(0)
    >>> p = rng.uniform(0.1, 0.9, 400)
    >>> y = rng.random(400) < p
    >>> centre = np.repeat(["A", "B", "C", "D"], 100)
    >>> table = subgroup_performance(y, p, {"center": centre}, overall=False)
    >>> pool_performance(table)[["estimate", "low", "high", "k"]].round(2)
                           estimate   low  high  k
    metric
    auc                        0.80  0.75  0.84  4
    calibration_slope          1.12  0.88  1.37  4
    calibration_intercept     -0.10 -0.32  0.12  4
    """
    missing = [column for metric, variance, _ in _POOLED for column in (metric, variance)
               if column not in table.columns]
    if missing:
        raise ValueError(f"table lacks column(s) {missing}; pass a subgroup_performance table")
    if "variable" in table.columns:
        # The overall row of subgroup_performance(..., overall=True) is no centre of its own.
        table = table[table["variable"] != "all"]
    if "model" in table.columns:
        frames = []
        for model, rows in table.groupby("model", sort=False):
            pooled = pd.DataFrame(_pool_rows(rows, method, confidence_level),
                                  columns=["metric", *_POOLED_COLUMNS])
            frames.append(pooled.assign(model=model))
        return pd.concat(frames).set_index(["model", "metric"])
    pooled = pd.DataFrame(_pool_rows(table, method, confidence_level),
                          columns=["metric", *_POOLED_COLUMNS])
    return pooled.set_index("metric")


@dataclass(frozen=True)
class LeaveOneCenterOutResult:
    """Result of :func:`leave_one_center_out`.

    Made by :func:`leave_one_center_out`; each parameter is kept as an attribute of the same
    name.

    Parameters
    ----------
    table : pandas.DataFrame
        One row per held-out centre: ``center``, ``n_train`` and the columns of
        :func:`subgroup_performance` for the centre's patients scored by the model fitted on
        all other centres.
    pooled : pandas.DataFrame
        :func:`pool_performance` of ``table``: pooled AUC, slope and intercept with confidence
        and prediction intervals, tau^2 and I^2.
    predictions : numpy.ndarray of shape (n_samples,)
        Each patient's held-out probability (from the model that did not see the centre), in
        the order of the cohort's rows.

    See Also
    --------
    leave_one_center_out : Computes it.

    Examples
    --------
    >>> import numpy as np
    >>> import pandas as pd
    >>> from sklearn.compose import make_column_transformer
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn.pipeline import make_pipeline
    >>> from tacelearn.validation import leave_one_center_out
    >>> rng = np.random.default_rng(0)
    >>> cohort = pd.DataFrame({"center": np.repeat(["A", "B", "C"], 40),
    ...                        "afp": rng.standard_normal(120)})
    >>> y = rng.random(120) < 1 / (1 + np.exp(-cohort["afp"]))
    >>> model = make_pipeline(make_column_transformer(("passthrough", ["afp"])),
    ...                       LogisticRegression())
    >>> result = leave_one_center_out(model, cohort, y)
    >>> result.table[["center", "n_train", "n"]]
      center  n_train   n
    0      A       80  40
    1      B       80  40
    2      C       80  40
    >>> result.predictions.shape, list(result.pooled.index)
    ((120,), ['auc', 'calibration_slope', 'calibration_intercept'])
    """

    table: pd.DataFrame
    pooled: pd.DataFrame
    predictions: np.ndarray


def _centre_codes(cohort, center_column):
    if not isinstance(cohort, pd.DataFrame):
        raise TypeError(f"cohort must be a pandas DataFrame, got {type(cohort).__name__}")
    if center_column not in cohort.columns:
        raise ValueError(f"cohort has no column {center_column!r}; pass center_column=")
    centres = cohort[center_column]
    missing = centres.isna().to_numpy()
    if missing.any():
        raise ValueError(f"column {center_column!r} is missing at "
                         f"{describe_rows(cohort, missing)}; every patient needs a centre")
    levels, codes = np.unique(centres.astype(str).to_numpy(), return_inverse=True)
    if levels.size < 2:
        raise ValueError(f"leave-one-centre-out needs at least 2 centres in {center_column!r}, "
                         f"got {levels.tolist()}")
    return levels, codes


def leave_one_center_out(estimator, cohort, y, *, center_column="center", confidence_level=0.95,
                         method="REML", epsilon=DEFAULT_LOGIT_EPSILON, n_jobs=None, pos_label=None):
    """Internal-external validation: fit on all centres but one, evaluate on the held-out one.

    For each centre, a clone of ``estimator`` (the whole pipeline) is fitted on the patients of
    all other centres and scores the centre's patients; the per-centre performance (AUC with
    DeLong interval, calibration intercept and slope, Brier score) is then pooled by a
    random-effects model, with I^2 and a prediction interval for a new centre (Steyerberg &
    Harrell 2016; Debray et al. 2017).

    Parameters
    ----------
    estimator : classifier
        Unfitted classifier with ``predict_proba`` taking the cohort DataFrame as ``X``.
    cohort : pandas.DataFrame
        The patients, with the centre column.
    y : array-like of shape (n_samples,)
        Binary outcome, aligned with the cohort's rows.
    center_column : str, default="center"
        The column naming each patient's centre.
    confidence_level : float, default=0.95
        Level of the confidence intervals.
    method : {"REML", "DL"}, default="REML"
        Estimator of the between-centre variance.
    epsilon : float or None, default=1e-8
        Clip of the probabilities before their logits.
    n_jobs : int, default=None
        Centres fitted in parallel by joblib (any ``joblib.parallel_config`` backend).
    pos_label : int, float, bool or str, default=None
        The case label; may be omitted for {0, 1}, {-1, 1} and boolean outcomes.

    Returns
    -------
    result : LeaveOneCenterOutResult
        ``table`` (per centre), ``pooled`` and the held-out ``predictions``.

    Raises
    ------
    ValueError
        A missing centre column or missing centres (naming the patients), fewer than 2
        centres, a bad outcome. A fit that fails on the other centres' patients raises.

    See Also
    --------
    subgroup_performance : The same table for a model fitted once.
    bootstrap_validate : Optimism-corrected internal validation.

    References
    ----------
    Steyerberg EW, Harrell FE. Prediction models need appropriate internal, internal-external,
    and external validation. J Clin Epidemiol 2016;69:245-7.

    Examples
    --------
    >>> import numpy as np
    >>> import pandas as pd
    >>> from sklearn.compose import make_column_transformer
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn.pipeline import make_pipeline
    >>> from tacelearn.validation import leave_one_center_out
    >>> rng = np.random.default_rng(0)
    >>> cohort = pd.DataFrame({"center": np.repeat(["A", "B", "C"], 300),
    ...                        "afp": rng.standard_normal(900)})
    >>> shift = np.where(cohort["center"] == "C", 1.0, 0.0)   # C responds more often
    >>> y = rng.random(900) < 1 / (1 + np.exp(-(cohort["afp"] + shift)))
    >>> model = make_pipeline(make_column_transformer(("passthrough", ["afp"])),
    ...                       LogisticRegression())
    >>> result = leave_one_center_out(model, cohort, y)
    >>> result.table[["center", "n_train", "n", "auc", "calibration_intercept"]].round(2)
      center  n_train    n   auc  calibration_intercept
    0      A      600  300  0.75                  -0.48
    1      B      600  300  0.76                  -0.42
    2      C      600  300  0.73                   0.94
    >>> result.pooled[["estimate", "low", "high", "i2"]].round(2)
                           estimate   low  high    i2
    metric
    auc                        0.74  0.71  0.78  0.00
    calibration_slope          1.04  0.86  1.22  0.00
    calibration_intercept      0.01 -0.89  0.92  0.97
    """
    z = check_confidence_level(confidence_level)
    is_case = check_binary_outcome(y, pos_label=pos_label)
    if len(cohort) != is_case.shape[0]:
        raise ValueError(f"cohort has {len(cohort)} rows but y has {is_case.shape[0]} outcomes")
    check_logit_epsilon(epsilon)
    levels, codes = _centre_codes(cohort, center_column)
    case_label = case_label_of(y, is_case)
    folds = [(np.flatnonzero(codes != c), np.flatnonzero(codes == c)) for c in range(levels.size)]
    # Warnings of the refits come back from the workers and are raised here, once each.
    held_out = Parallel(n_jobs=n_jobs)(
        delayed(call_capturing_warnings)(fit_and_predict, estimator, cohort, y, train,
                                         case_label, predict=test)
        for train, test in folds
    )
    reraise_warnings([w for _, caught in held_out for w in caught])
    held_out = [probabilities for probabilities, _ in held_out]
    predictions = np.empty(is_case.shape[0])
    for (_, test), probabilities in zip(folds, held_out):
        predictions[test] = probabilities
    epsilon = check_logit_epsilon(epsilon, predictions, pd.Series(predictions, index=cohort.index))
    rows = []
    for level, (train, test), probabilities in zip(levels, folds, held_out):
        row = {"center": level, "n_train": int(train.size)}
        row.update(performance_row(is_case[test], probabilities,
                                   confidence_level=confidence_level, z=z, epsilon=epsilon))
        rows.append(row)
    table = pd.DataFrame(rows, columns=["center", "n_train", *PERFORMANCE_COLUMNS])
    return LeaveOneCenterOutResult(
        table=table,
        pooled=pool_performance(table, method=method, confidence_level=confidence_level),
        predictions=predictions,
    )
