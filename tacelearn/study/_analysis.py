"""The study's tables from the models' scores: Table 2, DeLong, decision curves, survival."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..metrics import (
    decision_curve,
    delong_test_matrix,
    format_performance_table,
    performance_table,
)
from ..survival import cox_hazard_ratio, logrank_test, split_by_score

__all__ = ["ENDPOINTS", "evaluation_tables", "score_cut_value"]

#: Survival endpoints: (name, time column, event column).
ENDPOINTS = (("PFS", "pfs_months", "pfs_event"), ("OS", "os_months", "os_event"))


def _labelled(scores):
    return scores[scores["objective_response"].notna()]


def score_cut_value(scores, model, cut, train_split):
    """The score that splits high from low: a statistic of the training split, or a number."""
    if not isinstance(cut, str):
        return float(cut)
    train = scores[(scores["model"] == model) & (scores["split"] == train_split)]
    return float(split_by_score(train["score"].to_numpy(), cut=cut)[1])


def _by_split(scores):
    return {split: group for split, group in scores.groupby("split", sort=False)}


def performance_tables(scores, options):
    """Table 2 (long and formatted) over every split with both classes."""
    labelled = _labelled(scores)
    y_by_split, scores_by_model = {}, {}
    for split, group in _by_split(labelled).items():
        first = group[group["model"] == group["model"].iloc[0]]
        if first["objective_response"].nunique() < 2:
            continue
        y_by_split[split] = first["objective_response"].astype(int).to_numpy()
        for model, rows in group.groupby("model", sort=False):
            scores_by_model.setdefault(model, {})[split] = rows["score"].to_numpy()
    table = performance_table(y_by_split, scores_by_model, threshold=options.threshold,
                              n_resamples=options.n_resamples,
                              random_state=options.random_state)
    return table, format_performance_table(table).reset_index()


def delong_tables(scores, splits):
    """Pairwise DeLong p-values between models, one matrix per split."""
    tables = {}
    for split in splits:
        rows = _labelled(scores[scores["split"] == split])
        wide = rows.pivot(index="patient_id", columns="model", values="score")
        y = rows.drop_duplicates("patient_id").set_index("patient_id")["objective_response"]
        y = y.loc[wide.index].astype(int)
        if y.nunique() < 2 or wide.shape[1] < 2:
            continue
        tables[split] = delong_test_matrix(y.to_numpy(), {m: wide[m].to_numpy()
                                                          for m in wide.columns})
    return tables


def decision_curve_table(scores, splits):
    frames = []
    for split in splits:
        rows = _labelled(scores[scores["split"] == split])
        wide = rows.pivot(index="patient_id", columns="model", values="score")
        y = rows.drop_duplicates("patient_id").set_index("patient_id")["objective_response"]
        y = y.loc[wide.index].astype(int)
        if y.nunique() < 2:
            continue
        curve = decision_curve(y.to_numpy(), {m: wide[m].to_numpy() for m in wide.columns})
        frames.append(curve.assign(split=split))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def survival_table(scores, cohort, options, models):
    """Log-rank test and hazard ratio of high against low score, per model, split, endpoint."""
    rows = []
    outcomes = cohort.set_index("patient_id")
    for name, time_column, event_column in ENDPOINTS:
        if time_column not in outcomes or event_column not in outcomes:
            continue
        for model in models:
            cut = score_cut_value(scores, model, options.score_cut, options.train_split)
            for split, group in _by_split(scores[scores["model"] == model]).items():
                data = outcomes.loc[group["patient_id"], [time_column, event_column]].assign(
                    score=group["score"].to_numpy())
                data = data.dropna()
                if len(data) < 4:
                    continue
                high = (data["score"] >= cut).astype(int)
                row = {"model": model, "split": split, "endpoint": name, "cut": cut,
                       "n_high": int(high.sum()), "n_low": int((1 - high).sum()),
                       "events": int(data[event_column].sum())}
                if row["n_high"] and row["n_low"] and row["events"]:
                    groups = np.where(high == 1, "high", "low")
                    test = logrank_test(data[time_column], data[event_column], groups)
                    cox = cox_hazard_ratio(data[time_column], data[event_column],
                                           high.rename("high_score"))
                    row.update(logrank_statistic=test.statistic, logrank_pvalue=test.pvalue,
                               hazard_ratio=float(cox["hazard_ratio"].iloc[0]),
                               hr_ci_lower=float(cox["ci_lower"].iloc[0]),
                               hr_ci_upper=float(cox["ci_upper"].iloc[0]))
                rows.append(row)
    return pd.DataFrame(rows)


def evaluation_tables(scores, cohort, options):
    """Every table of the report, keyed by file stem."""
    evaluation_splits = [s for s in scores["split"].unique() if s != options.train_split]
    long, formatted = performance_tables(scores, options)
    tables = {"table2_performance": long, "table2_formatted": formatted}
    for split, matrix in delong_tables(scores, evaluation_splits).items():
        tables[f"delong_{split}"] = matrix.reset_index().rename(columns={"index": "model"})
    tables["decision_curves"] = decision_curve_table(scores, evaluation_splits)
    models = [m for m in options.models]
    tables["survival"] = survival_table(scores, cohort, options, models)
    return tables
