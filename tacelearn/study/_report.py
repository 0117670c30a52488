"""The report's ``index.html``: every table and figure of the study on one offline page."""

from __future__ import annotations

import pandas as pd

from ..metrics import format_estimate_ci
from ..utils import atomic_write_text
from ._html import HtmlReport
from ._options import MODEL_LABELS

__all__ = ["write_report"]

_SECTIONS = ("Discrimination", "Clinical utility", "Survival", "Scores", "Explanation",
             "Radiogenomics")


def _auc_overview(summary):
    rows = []
    for model, by_split in summary["auc"].items():
        row = {"model": MODEL_LABELS.get(model, model)}
        for split, auc in by_split.items():
            row[split] = format_estimate_ci(auc["auc"], auc["ci_low"], auc["ci_high"])
        rows.append(row)
    return pd.DataFrame(rows)


def _labelled_models(frame):
    if "model" in frame.columns:
        frame = frame.assign(model=frame["model"].map(lambda m: MODEL_LABELS.get(m, m)))
    return frame


def write_report(folder, summary, tables, figures, options):
    """Write ``folder/index.html`` from the study's summary, tables and figures."""
    report = HtmlReport("TACE response prediction: multicentre study report")
    patients = ", ".join(f"{split} {n}" for split, n in summary["patients"].items())
    fusion = (f"out-of-fold ({options.fusion_cv}-fold)" if options.fusion_cv
              else "in-sample")
    report.paragraph(
        f"{sum(summary['patients'].values())} patients ({patients}). Models fitted on the "
        f"'{options.train_split}' split: {', '.join(MODEL_LABELS[m] for m in options.models)}. "
        f"CNN: {options.backbone}, {options.patch_size} px patches, {options.max_epochs} "
        f"epochs; fusion heads on {fusion} CNN outputs.")

    report.section("Headline: AUC (95% DeLong CI)")
    report.table(_auc_overview(summary))
    if "ceiling" in summary["auc"]:
        report.paragraph("The ceiling is the AUC of the synthetic generator's true response "
                         "probability: no model can be expected to exceed it.", note=True)

    report.section("Cohort (Table 1)")
    report.table(tables["table1_baseline"], float_format="{}")
    report.paragraph(f"Clinical factors kept by univariate screening (P < 0.05, on "
                     f"{options.screen_on}): {', '.join(summary['screened_factors'])}.")

    report.section("Performance (Table 2)")
    report.paragraph(f"Threshold {options.threshold}; AUC with DeLong 95% CI, other metrics "
                     f"with stratified bootstrap 95% CIs ({options.n_resamples} resamples).",
                     note=True)
    report.table(_labelled_models(tables["table2_formatted"]))

    delong = {k: v for k, v in tables.items() if k.startswith("delong_")}
    by_section = {name: [f for f in figures if f.section == name] for name in _SECTIONS}
    report.section("Discrimination")
    for name, table in delong.items():
        report.table(table, caption=f"DeLong test P values, {name.removeprefix('delong_')}",
                     float_format="{:.4f}")
    for figure in by_section["Discrimination"]:
        report.figure(figure.path, caption=figure.caption)

    report.section("Clinical utility")
    report.paragraph("Net benefit = TP/n - FP/n x pt/(1 - pt) at threshold probability pt, "
                     "against treating all and treating none. Full curves: "
                     "tables/decision_curves.csv.", note=True)
    for figure in by_section["Clinical utility"]:
        report.figure(figure.path, caption=figure.caption)

    report.section("Survival")
    survival = tables.get("survival")
    if survival is not None and not survival.empty:
        report.table(_labelled_models(survival), caption="High vs low score: log-rank test "
                                                         "and Cox hazard ratio")
    else:
        report.paragraph("No survival columns (pfs_months/pfs_event, os_months/os_event).")
    for figure in by_section["Survival"]:
        report.figure(figure.path, caption=figure.caption)

    report.section("Scores")
    for figure in by_section["Scores"]:
        report.figure(figure.path, caption=figure.caption)

    if by_section["Explanation"]:
        report.section("Explanation")
        report.paragraph("Grad-CAM of the DLTR CNN: where in the T1C and T2 patches the "
                         "evidence for response lies.", note=True)
        for figure in by_section["Explanation"]:
            report.figure(figure.path, caption=figure.caption)

    if by_section["Radiogenomics"]:
        report.section("Radiogenomics")
        for name in ("radiogenomics_differential_expression", "radiogenomics_gsea",
                     "radiogenomics_cell_fraction_tests"):
            if name in tables:
                report.table(tables[name].head(15), caption=name.removeprefix(
                    "radiogenomics_").replace("_", " ").capitalize() + " (top rows; full "
                    f"table in tables/{name}.csv)", float_format="{:.4g}")
        for figure in by_section["Radiogenomics"]:
            report.figure(figure.path, caption=figure.caption)

    report.section("Settings and timings")
    settings = pd.DataFrame(
        [(k, str(v)) for k, v in summary["options"].items()], columns=["setting", "value"])
    report.table(settings)
    timings = pd.DataFrame(list(summary["timings_seconds"].items()),
                           columns=["stage", "seconds"])
    report.table(timings, float_format="{:.1f}")
    report.paragraph(f"tacelearn {summary['tacelearn_version']}, Python {summary['python']}, "
                     f"{summary['created']}.", note=True)
    atomic_write_text(folder / "index.html", report.render())
