"""The report's tables as a reader sees them: human headers with units, display names,
numbers rounded once from full precision, P values as ``<0.001``.

The CSV files of ``tables/`` keep full precision for machines; every number the HTML shows
comes through here and :mod:`tacelearn.utils` formatting, so the same value reads the same in
the headline, Table 2, the figure legends and anything that formats ``summary.json``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..utils import format_estimate_ci, format_number, format_pvalue
from ._settings import MODEL_LABELS

__all__ = [
    "METRIC_LABELS",
    "SPLIT_LABELS",
    "calibration_display",
    "delong_display",
    "display_model",
    "display_split",
    "optimism_display",
    "performance_display",
    "pooled_display",
    "subgroup_display",
    "survival_display",
]

METRIC_LABELS = {
    "auc": "AUC", "accuracy": "Accuracy", "sensitivity": "Sensitivity",
    "specificity": "Specificity", "ppv": "PPV", "npv": "NPV",
    "calibration_intercept": "Calibration-in-the-large", "calibration_slope":
    "Calibration slope", "brier": "Brier score", "scaled_brier": "Scaled Brier",
    "ici": "ICI", "e50": "E50", "e90": "E90", "emax": "Emax",
}
SPLIT_LABELS = {"train": "Training (apparent)", "internal_validation": "Internal validation",
                "external_1": "External 1", "external_2": "External 2"}


def display_model(name):
    """``"DLTR_LR"`` for ``"dltr_lr"``."""
    return MODEL_LABELS.get(name, name)


def display_split(name, train_split="train"):
    """A split's display name; the training split is marked as apparent performance."""
    if name == train_split:
        return f"{SPLIT_LABELS.get(name, name).removesuffix(' (apparent)')} (apparent)"
    return SPLIT_LABELS.get(name, name.replace("_", " ").capitalize())


def _estimate_columns(table, key_columns, value_column):
    """Wide text table: one row per key, one column per ``value_column`` value."""
    text = [format_estimate_ci(e, lo, hi) for e, lo, hi in
            zip(table["estimate"], table["low"], table["high"])]
    long = table.assign(text=text)
    wide = long.pivot_table(index=key_columns, columns=value_column, values="text",
                            aggfunc="first", sort=False)
    wide.columns.name = None
    return wide.reset_index()


def performance_display(performance, train_split, split_order=None):
    """Table 2: rows model x split, columns AUC (95% CI), accuracy, ... as ``est (lo-hi)``.

    ``split_order`` lists the splits in the order the rows take (default: as they come).
    """
    if split_order is not None:
        rank = {split: i for i, split in enumerate(split_order)}
        performance = performance.sort_values("cohort", key=lambda s: s.map(rank),
                                              kind="stable")
    table = performance.assign(
        Model=performance["model"].map(display_model),
        Split=performance["cohort"].map(lambda s: display_split(s, train_split)))
    wide = _estimate_columns(table, ["Split", "Model"], "metric")
    order = [m for m in METRIC_LABELS if m in wide.columns]
    wide = wide[["Split", "Model", *order]]
    return wide.rename(columns={m: f"{METRIC_LABELS[m]} (95% CI)" for m in order})


def calibration_display(calibration):
    """Calibration per model and split: each metric as ``est (lo-hi)``."""
    table = calibration.assign(Model=calibration["model"].map(display_model),
                               Split=calibration["split"].map(display_split))
    wide = _estimate_columns(table, ["Split", "Model"], "metric")
    order = [m for m in METRIC_LABELS if m in wide.columns]
    wide = wide[["Split", "Model", *order]]
    return wide.rename(columns={m: METRIC_LABELS[m] for m in order})


def delong_display(delong):
    """Pairwise DeLong tests: P values formatted, raw and Holm-adjusted."""
    return pd.DataFrame({
        "Split": delong["split"].map(display_split),
        "Model": delong["model_1"].map(display_model),
        "Compared with": delong["model_2"].map(display_model),
        "P (DeLong)": delong["pvalue"].map(lambda p: format_pvalue(p, prefix=False)),
        "P (Holm-adjusted)": delong["pvalue_holm"].map(lambda p: format_pvalue(p, prefix=False)),
    })


def _hazard_ratio_text(row):
    if row.get("flag"):
        return f"{format_estimate_ci(row['hazard_ratio'], row['hr_ci_lower'], row['hr_ci_upper'])}*"
    return format_estimate_ci(row["hazard_ratio"], row["hr_ci_lower"], row["hr_ci_upper"])


def survival_display(survival, train_split):
    """Survival by score group with human headers; flagged hazard ratios starred."""
    if survival.empty:
        return survival
    rows = []
    for _, row in survival.iterrows():
        tested = pd.notna(row.get("logrank_pvalue", np.nan))
        rows.append({
            "Model": display_model(row["model"]), "Split": display_split(row["split"],
                                                                          train_split),
            "Endpoint": row["endpoint"], "Cut (training score)": format_number(row["cut"]),
            "High / low score (patients)": f"{row['n_high']} / {row['n_low']}",
            "Events": row["events"],
            "Log-rank P": format_pvalue(row["logrank_pvalue"], prefix=False) if tested else "",
            "HR, high vs low score (95% CI)": _hazard_ratio_text(row) if tested else "",
            "Cox likelihood-ratio P": format_pvalue(row["hr_lr_pvalue"], prefix=False)
            if tested else "",
            "Note": row.get("flag") or "",
        })
    return pd.DataFrame(rows)


def optimism_display(optimism):
    """Harrell's bootstrap: apparent, optimism, corrected (and .632+) per model and metric."""
    if optimism.empty:
        return optimism
    table = pd.DataFrame({
        "Model": optimism["model"].map(display_model),
        "Metric": optimism["metric"].map(lambda m: METRIC_LABELS.get(m, m)),
        "Apparent": optimism["apparent"].map(format_number),
        "Optimism": optimism["optimism"].map(format_number),
        "Optimism-corrected": optimism["corrected"].map(format_number),
        "Resamples": optimism["n"],
    })
    if "estimate_632plus" in optimism:
        table[".632+"] = optimism["estimate_632plus"].map(format_number)
    return table


def subgroup_display(rows):
    """One split's subgroups: a row per subgroup level, the AUC of every model in columns."""
    table = rows.assign(
        Subgroup=rows["variable"].str.replace("_", " ") + " = " + rows["level"].astype(str),
        **{"n (events)": rows["n"].astype(str) + " (" + rows["events"].astype(str) + ")"},
        Model=rows["model"].map(display_model),
        text=[format_estimate_ci(e, lo, hi) for e, lo, hi in
              zip(rows["auc"], rows["auc_low"], rows["auc_high"])])
    wide = table.pivot_table(index=["Subgroup", "n (events)"], columns="Model", values="text",
                             aggfunc="first", sort=False)
    wide.columns.name = None
    return wide.reset_index()


def pooled_display(pooled):
    """Random-effects pooled estimates with I^2 and the prediction interval."""
    if pooled.empty:
        return pooled
    return pd.DataFrame({
        "Model": pooled["model"].map(display_model),
        "Metric": pooled["metric"].map(lambda m: METRIC_LABELS.get(m, m)),
        "Pooled (95% CI)": [format_estimate_ci(e, lo, hi) for e, lo, hi in
                            zip(pooled["estimate"], pooled["low"], pooled["high"])],
        "95% prediction interval": [
            f"{format_number(lo)}-{format_number(hi)}" for lo, hi in
            zip(pooled["prediction_low"], pooled["prediction_high"])],
        "I²": pooled["i2"].map(lambda v: "NA" if pd.isna(v) else f"{100 * v:.0f}%"),
        "tau²": pooled["tau2"].map(lambda v: format_number(v, 4)),
        "Centres": pooled["k"],
    })
