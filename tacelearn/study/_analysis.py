"""The study's discrimination and utility tables from the models' scores: Table 2 overall and
by subgroup, DeLong matrices with Holm-adjusted P values, decision curves."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..metrics import decision_curve, delong_test_matrix, performance_table
from ..survival import split_by_score
from ..validation import subgroup_performance

__all__ = [
    "LABEL",
    "by_split",
    "decision_curve_table",
    "delong_tables",
    "evaluation_splits",
    "labelled",
    "performance_tables",
    "score_cut_value",
    "subgroup_table",
    "wide_scores",
]

LABEL = "objective_response"
#: Tumour size classes of the subgroup table: BCLC's 5 cm.
TUMOUR_SIZE_CUT_CM = 5.0


def labelled(scores):
    """The rows of patients with a known response."""
    return scores[scores[LABEL].notna()]


def by_split(scores):
    """``{split: rows}`` in the order the splits first appear."""
    return {split: group for split, group in scores.groupby("split", sort=False)}


def evaluation_splits(scores, settings):
    """Every split but the training one, in cohort order."""
    return [s for s in scores["split"].unique() if s != settings.train_split]


def wide_scores(scores, split, models=None):
    """``(patients x models scores, labels)`` of the labelled patients of ``split``."""
    rows = labelled(scores[scores["split"] == split])
    if models is not None:
        rows = rows[rows["model"].isin(models)]
    wide = rows.pivot(index="patient_id", columns="model", values="score")
    ordered = [m for m in rows["model"].unique() if m in wide.columns]
    y = rows.drop_duplicates("patient_id").set_index("patient_id")[LABEL]
    return wide[ordered], y.loc[wide.index].astype(int)


def score_cut_value(scores, model, cut, train_split):
    """The score that splits high from low: a statistic of the training split, or a number."""
    if not isinstance(cut, str):
        return float(cut)
    train = scores[(scores["model"] == model) & (scores["split"] == train_split)]
    return float(split_by_score(train["score"].to_numpy(), cut=cut)[1])


def performance_tables(scores, settings):
    """Table 2 in long form: AUC (DeLong CI) and the threshold metrics, per model and split.

    Splits with one class only (no AUC can be computed) are left out. The training split is
    kept: its values are apparent performance, which the report labels as such.
    """
    y_by_split, scores_by_model = {}, {}
    for split, group in by_split(labelled(scores)).items():
        models = [m for m in group["model"].unique() if m != "ceiling"] + (
            ["ceiling"] if "ceiling" in set(group["model"]) else [])
        wide, y = wide_scores(group, split, models)
        if y.nunique() < 2:
            continue
        y_by_split[split] = y.to_numpy()
        for model in wide.columns:
            scores_by_model.setdefault(model, {})[split] = wide[model].to_numpy()
    return performance_table(y_by_split, scores_by_model, threshold=settings.threshold,
                             method=settings.ci_method, n_resamples=settings.n_resamples,
                             random_state=settings.random_state)


def _holm(pvalues):
    """Holm's step-down adjustment (R's ``p.adjust(p, "holm")``) of a 1-D array, NaN kept."""
    pvalues = np.asarray(pvalues, dtype=float)
    adjusted = np.full_like(pvalues, np.nan)
    finite = np.flatnonzero(np.isfinite(pvalues))
    if finite.size:
        order = finite[np.argsort(pvalues[finite], kind="stable")]
        m = order.size
        running = np.maximum.accumulate((m - np.arange(m)) * pvalues[order])
        adjusted[order] = np.minimum(running, 1.0)
    return adjusted


def delong_tables(scores, splits, models):
    """Pairwise DeLong tests per split: one row per pair, raw and Holm-adjusted P values.

    Holm's adjustment is over the pairs of one split (the family a reader compares).
    """
    frames = []
    for split in splits:
        wide, y = wide_scores(scores, split, models)
        if y.nunique() < 2 or wide.shape[1] < 2:
            continue
        matrix = delong_test_matrix(y.to_numpy(), {m: wide[m].to_numpy() for m in wide.columns})
        pairs = [(a, b) for i, a in enumerate(wide.columns) for b in wide.columns[i + 1:]]
        rows = pd.DataFrame({"split": split, "model_1": [a for a, _ in pairs],
                             "model_2": [b for _, b in pairs],
                             "pvalue": [float(matrix.loc[a, b]) for a, b in pairs]})
        rows["pvalue_holm"] = _holm(rows["pvalue"].to_numpy())
        frames.append(rows)
    columns = ["split", "model_1", "model_2", "pvalue", "pvalue_holm"]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=columns)


def decision_curve_table(scores, splits, models):
    """Net benefit of every model, treat-all and treat-none, per split."""
    frames = []
    for split in splits:
        wide, y = wide_scores(scores, split, models)
        if y.nunique() < 2:
            continue
        curve = decision_curve(y.to_numpy(), {m: wide[m].to_numpy() for m in wide.columns})
        frames.append(curve.assign(split=split))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def _subgroup_column(cohort, name):
    """The grouping of a subgroup: a cohort column, or tumour size in two classes."""
    if name == "tumour_size":
        if "tumour_diameter" not in cohort.columns:
            return None
        diameter = pd.to_numeric(cohort["tumour_diameter"], errors="coerce")
        return pd.Series(np.where(diameter.isna(), None, np.where(
            diameter <= TUMOUR_SIZE_CUT_CM, f"<= {TUMOUR_SIZE_CUT_CM:g} cm",
            f"> {TUMOUR_SIZE_CUT_CM:g} cm")), index=cohort.index, dtype=object)
    return cohort[name] if name in cohort.columns else None


def subgroup_table(scores, cohort, splits, settings, models):
    """Performance by subgroup (centre, BCLC, Child-Pugh, tumour size, TACE type) per split.

    One row per split, grouping variable, level and model: n, events, AUC with its DeLong
    CI, calibration intercept and slope, Brier (see
    :func:`tacelearn.validation.subgroup_performance`).
    """
    frames = []
    for split in splits:
        wide, y = wide_scores(scores, split, models)
        if y.nunique() < 2:
            continue
        groups = {}
        for name in settings.subgroups:
            column = _subgroup_column(cohort, name)
            if column is not None:
                groups[name] = column.set_axis(cohort["patient_id"]).loc[wide.index].to_numpy()
        if not groups:
            continue
        table = subgroup_performance(y.to_numpy(), {m: wide[m].to_numpy() for m in wide.columns},
                                     groups, overall=False)
        if "model" not in table.columns:  # one model: the table names none
            table.insert(0, "model", wide.columns[0])
        frames.append(table.assign(split=split))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
