"""The paper's Table 2: AUC and threshold metrics with 95% CIs per model and cohort."""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd
from sklearn.utils import check_random_state

from ..utils import format_estimate_ci
from ._delong import delong_roc_ci, delong_roc_variance
from ._threshold import THRESHOLD_METRICS, binary_metrics_ci

__all__ = ["PERFORMANCE_METRICS", "format_estimate_ci", "format_performance_table",
           "performance_table"]

#: Metrics of :func:`performance_table`, in Table 2's column order.
PERFORMANCE_METRICS = ("auc", *THRESHOLD_METRICS)
_COLUMNS = ("model", "cohort", "metric", "estimate", "low", "high", "ci_method")


def _check_mapping(value, name):
    if not isinstance(value, Mapping) or not value:
        raise TypeError(f"{name} must be a non-empty mapping, got {type(value).__name__}")
    return value


def performance_table(
    y_true_by_cohort,
    scores_by_model,
    *,
    threshold=0.5,
    method="wilson",
    n_resamples=2000,
    stratified=False,
    confidence_level=0.95,
    random_state=None,
    pos_label=None,
):
    """Table 2 of the paper as a tidy DataFrame: every model on every cohort, with CIs.

    The AUC comes with its DeLong interval; accuracy, sensitivity, specificity, PPV and NPV at
    ``threshold`` with the intervals of :func:`binary_metrics_ci`.

    Parameters
    ----------
    y_true_by_cohort : mapping of str to array-like
        Outcome of each cohort, e.g. ``{"internal_validation": y_int, "external_1": y_ext1}``.
    scores_by_model : mapping of str to mapping of str to array-like
        ``scores_by_model[model][cohort]``: each model's scores for the patients of each
        cohort, in the order of ``y_true_by_cohort[cohort]``. Every model must score every
        cohort.
    threshold : float, default=0.5
        A patient is called a responder when ``score >= threshold``.
    method : {"wilson", "wilsoncc", "exact", "bootstrap"}, default="wilson"
        Interval of the threshold metrics (see :func:`binary_metrics_ci`): Wilson's score
        interval by default (R's ``prop.test(k, n, correct = FALSE)``).
    n_resamples : int, default=2000
        Bootstrap resamples (``method="bootstrap"`` only).
    stratified : bool, default=False
        Stratified bootstrap (``method="bootstrap"`` only; see :func:`binary_metrics_ci`).
    confidence_level : float, default=0.95
        Level of every interval, the AUC's included.
    random_state : int, RandomState instance or None, default=None
        Seed of the bootstraps; one stream serves all models and cohorts in order.
    pos_label : int, float, bool or str, default=None
        The case label; may be omitted for {0, 1}, {-1, 1} and boolean outcomes.

    Returns
    -------
    table : pandas.DataFrame
        One row per model, cohort and metric (``auc`` then accuracy, sensitivity, specificity,
        ppv, npv), columns ``model``, ``cohort``, ``metric``, ``estimate``, ``low``, ``high``
        and ``ci_method`` ("delong" for the AUC; ``method`` for the others, except
        ``"wilson"`` where a bootstrap estimate is 0 or 1).

    Raises
    ------
    ValueError
        A model without scores for a cohort, scores for an unknown cohort, or any bad input to
        the metrics (the message names the model and cohort).

    See Also
    --------
    format_performance_table : Render the table as "0.822 (0.693-0.950)" strings.
    delong_roc_ci, binary_metrics_ci : The intervals.

    Examples
    --------
    >>> from tacelearn.metrics import performance_table
    >>> y = {"internal": [0, 0, 0, 1, 1, 1], "external": [0, 1, 0, 1, 0, 1, 1, 0]}
    >>> scores = {"clinical": {"internal": [.2, .3, .6, .4, .7, .8],
    ...                        "external": [.1, .6, .4, .5, .7, .3, .9, .2]}}
    >>> table = performance_table(y, scores, method="exact")
    >>> table.query("metric == 'auc'")[["model", "cohort", "estimate", "low", "high"]].round(3)
          model    cohort  estimate    low  high
    0  clinical  internal     0.889  0.581   1.0
    6  clinical  external     0.750  0.350   1.0
    """
    _check_mapping(y_true_by_cohort, "y_true_by_cohort")
    _check_mapping(scores_by_model, "scores_by_model")
    rng = check_random_state(random_state)
    rows = []
    for model, by_cohort in scores_by_model.items():
        _check_mapping(by_cohort, f"scores_by_model[{model!r}]")
        unknown = [c for c in by_cohort if c not in y_true_by_cohort]
        if unknown:
            raise ValueError(f"model {model!r} has scores for unknown cohort(s) {unknown}")
        for cohort, y_true in y_true_by_cohort.items():
            if cohort not in by_cohort:
                raise ValueError(f"model {model!r} has no scores for cohort {cohort!r}")
            y_score = by_cohort[cohort]
            try:
                auc, _ = delong_roc_variance(y_true, y_score, pos_label=pos_label)
                auc_low, auc_high = delong_roc_ci(
                    y_true, y_score, confidence_level, pos_label=pos_label
                )
                thresholded = binary_metrics_ci(
                    y_true,
                    y_score,
                    threshold=threshold,
                    method=method,
                    n_resamples=n_resamples,
                    stratified=stratified,
                    confidence_level=confidence_level,
                    random_state=rng,
                    pos_label=pos_label,
                )
            except (TypeError, ValueError) as error:
                raise type(error)(f"model {model!r}, cohort {cohort!r}: {error}") from error
            rows.append((model, cohort, "auc", auc, auc_low, auc_high, "delong"))
            methods = thresholded.attrs["ci_methods"]
            rows.extend(
                (model, cohort, metric, row.estimate, row.low, row.high, methods[metric])
                for metric, row in thresholded.iterrows()
            )
    return pd.DataFrame(rows, columns=list(_COLUMNS))


def format_performance_table(table, *, digits=3, separator="-"):
    """Table 2 layout: one row per cohort and model, one column per metric, "est (low-high)".

    Parameters
    ----------
    table : pandas.DataFrame
        The output of :func:`performance_table`.
    digits : int, default=3
        Decimal places of the estimates and bounds.
    separator : str, default="-"
        Between the bounds of each interval (see :func:`tacelearn.utils.format_estimate_ci`).

    Returns
    -------
    formatted : pandas.DataFrame of str
        Indexed by (cohort, model), cohorts then models in the order they first appear in
        ``table``, columns in the order auc,
        accuracy, sensitivity, specificity, ppv, npv (those present).

    See Also
    --------
    performance_table : The long table of estimates and intervals formatted here.
    format_estimate_ci : How each cell is written.

    Examples
    --------
    >>> from tacelearn.metrics import format_performance_table, performance_table
    >>> y = {"internal": [0, 0, 0, 1, 1, 1]}
    >>> scores = {"clinical": {"internal": [.2, .3, .6, .4, .7, .8]}}
    >>> table = performance_table(y, scores, method="wilson")
    >>> format_performance_table(table)[["auc", "sensitivity"]]
                                       auc          sensitivity
    cohort   model
    internal clinical  0.889 (0.581-1.000)  0.667 (0.208-0.939)
    """
    missing = [c for c in ("model", "cohort", "metric", "estimate", "low", "high")
               if c not in table.columns]
    if missing:
        raise ValueError(f"table lacks column(s) {missing}; pass the output of performance_table")
    text = [
        format_estimate_ci(e, lo, hi, digits=digits, separator=separator)
        for e, lo, hi in zip(table["estimate"], table["low"], table["high"])
    ]
    long = table.assign(text=text)
    wide = long.pivot(index=["cohort", "model"], columns="metric", values="text")
    # Table 2 groups by cohort: cohorts, then models, each in the order they first appear.
    present = set(zip(long["cohort"], long["model"]))
    order = pd.MultiIndex.from_tuples(
        [(c, m) for c in long["cohort"].unique() for m in long["model"].unique()
         if (c, m) in present],
        names=["cohort", "model"],
    )
    metrics = [m for m in PERFORMANCE_METRICS if m in wide.columns]
    metrics += [m for m in wide.columns if m not in metrics]
    wide = wide.reindex(index=order, columns=metrics)
    wide.columns.name = None
    return wide
