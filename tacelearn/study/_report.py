"""The report's ``index.html``: every table and figure of the study on one offline page,
written so that a reader can answer, from it alone: are these probabilities trustworthy, how
optimistic is the internal estimate, do centres differ, does fusion help."""

from __future__ import annotations

import pandas as pd

from ..utils import atomic_write_text, format_estimate_ci, format_number, format_pvalue
from ._html import HtmlReport
from ._lesion_section import lesion_summary
from ._presentation import (
    calibration_display,
    delong_display,
    display_model,
    display_split,
    optimism_display,
    performance_display,
    pooled_display,
    subgroup_display,
    survival_display,
)

__all__ = ["write_report"]

_SECTIONS = ("Discrimination", "Calibration", "Clinical utility", "Survival", "Scores",
             "Explanation", "Radiogenomics")
#: Genes of a GSEA leading edge shown in the report table (all of them are in the CSV).
LEADING_EDGE_SHOWN = 6


def _headline(summary, train_split):
    rows = []
    for model, by_split in summary["auc"].items():
        row = {"Model": display_model(model)}
        for split in [s for s in summary["patients"] if s in by_split]:
            auc = by_split[split]
            row[display_split(split, train_split)] = format_estimate_ci(
                auc["auc"], auc["ci_low"], auc["ci_high"])
        rows.append(row)
    return pd.DataFrame(rows)


def _figures(report, figures, section, **options):
    for figure in figures.get(section, []):
        report.figure(figure.path, caption=figure.caption, legends=figure.legends, **options)


def _introduction(report, summary, settings):
    patients = ", ".join(f"{display_split(s, settings.train_split)} {n}"
                         for s, n in summary["patients"].items())
    fusion = (f"out-of-fold ({settings.fusion_cv}-fold)" if settings.fusion_cv else "in-sample")
    report.paragraph(
        f"{sum(summary['patients'].values())} patients ({patients}). Models fitted on the "
        f"'{settings.train_split}' split: "
        f"{', '.join(display_model(m) for m in settings.models)}. CNN: {settings.backbone}, "
        f"{settings.patch_size} px patches, {settings.max_epochs} epochs; fusion heads on "
        f"{fusion} CNN outputs.")


def _summary_section(report, summary, tables, settings):
    report.section("Summary")
    report.table(_headline(summary, settings.train_split),
                 caption="AUC (95% DeLong CI) by model and split")
    report.paragraph("The training column is apparent performance (the models scored on the "
                     "patients they were fitted on): it is optimistic by construction; see "
                     "Validation for the optimism-corrected estimate.", note=True)
    if "ceiling" in summary["auc"]:
        report.paragraph("The ceiling is the AUC of the synthetic generator's true response "
                         "probability: no model can be expected to exceed it.", note=True)
    report.bullets(tables["comparisons"]["statement"].tolist())
    if settings.screen_on == "train+internal":
        report.paragraph("Clinical factors were screened on the training and internal "
                         "validation patients together (the paper's choice): the internal "
                         "validation patients helped choose the factors they are scored on, "
                         "so internal performance is optimistic.", flag=True)


def _cohort_section(report, tables, summary, settings):
    report.section("Cohort (Table 1)")
    report.table(tables["table1_baseline"], float_format="{}")
    screening = tables["screening"].assign(
        pvalue=lambda t: t["pvalue"].map(lambda p: format_pvalue(p, prefix=False)),
        statistic=lambda t: t["statistic"].map(format_number))
    report.table(screening.rename(columns={
        "factor": "Factor", "test": "Test", "statistic": "Statistic", "pvalue": "P",
        "kept": "Kept"}), caption=f"Univariate screening on {settings.screen_on} (P < "
                                  f"{settings.screening_alpha})")


def _discrimination_section(report, tables, figures, settings, split_order):
    report.section("Discrimination")
    report.paragraph(f"Table 2: AUC with DeLong 95% CI; accuracy, sensitivity, specificity, "
                     f"PPV and NPV at threshold {settings.threshold} with "
                     f"{settings.ci_method} 95% CIs.", note=True)
    report.table(performance_display(tables["table2_performance"], settings.train_split,
                                     split_order), caption="Table 2: performance by split")
    if not tables["delong_tests"].empty:
        report.table(delong_display(tables["delong_tests"]),
                     caption="Pairwise DeLong tests: raw and Holm-adjusted P values")
        report.paragraph("Holm's adjustment is over the model pairs of each split. The "
                         "survival section adds one log-rank test per model, split and "
                         "endpoint: read isolated small P values with that multiplicity in "
                         "mind.", note=True)
    _figures(report, figures, "Discrimination")


def _calibration_section(report, tables, figures, settings):
    report.section("Calibration")
    report.paragraph("Calibration-in-the-large (ideal 0) and slope (ideal 1) from logistic "
                     "recalibration with Wald CIs; Brier score, scaled Brier and the "
                     "loess-based ICI, E50, E90 and Emax (Austin & Steyerberg 2019) with "
                     "bootstrap CIs. A slope below 1 means predictions too extreme.", note=True)
    report.table(calibration_display(tables["calibration"]), caption="Calibration by split")
    if "calibration_recalibrated" in tables:
        report.table(calibration_display(tables["calibration_recalibrated"]),
                     caption=f"After recalibration (intercept and slope) on "
                             f"{display_split(settings.recalibrate_on)}")
    _figures(report, figures, "Calibration", wide=True)


def _validation_section(report, tables):
    report.section("Validation")
    optimism = tables["validation_optimism"]
    if not optimism.empty:
        report.table(optimism_display(optimism), caption="Optimism-corrected internal "
                     "validation (Harrell's bootstrap, as rms::validate; .632+ of Efron and "
                     "Tibshirani)")
        report.paragraph("Every resample refits the whole model, screening and imputation "
                         "included; optimism is the mean difference between a resample "
                         "model's performance on its resample and on the original training "
                         "data.", note=True)
    else:
        report.paragraph("No optimism bootstrap was run (n_bootstraps = 0 or no model to "
                         "validate).", note=True)
    loco_pooled = tables["validation_leave_one_center_out_pooled"]
    if not loco_pooled.empty:
        report.table(pooled_display(loco_pooled), caption="Leave-one-centre-out: each centre "
                     "scored by the model refitted on the others, pooled (random effects)")
    pooled = tables["validation_centres_pooled"]
    if not pooled.empty:
        report.table(pooled_display(pooled), caption="Do centres differ? Per-centre "
                     "performance on patients outside training, pooled with random effects "
                     "(AUC on the logit scale); I² is the share of variation due to "
                     "between-centre heterogeneity")
    subgroups = tables["table2_subgroups"]
    for split, rows in subgroups.groupby("split", sort=False) if not subgroups.empty else ():
        report.table(subgroup_display(rows), caption=f"AUC (95% DeLong CI) by subgroup, "
                     f"{display_split(split)} (slopes and Brier scores in "
                     "tables/table2_subgroups.csv)")


def _utility_section(report, figures):
    report.section("Clinical utility")
    report.paragraph("Net benefit = TP/n - FP/n x pt/(1 - pt) at threshold probability pt, "
                     "against treating all and treating none. Full curves: "
                     "tables/decision_curves.csv.", note=True)
    _figures(report, figures, "Clinical utility")


def _survival_section(report, tables, figures, settings):
    report.section("Survival")
    survival = tables.get("survival")
    if survival is not None and not survival.empty:
        report.table(survival_display(survival, settings.train_split), text=True,
                     caption="High vs low score: log-rank test and Cox hazard ratio (high "
                             "compared with low score; * flagged, see Note)")
    else:
        report.paragraph("No survival columns (pfs_months/pfs_event, os_months/os_event).")
    _figures(report, figures, "Survival")


def _lesions_section(report, tables, settings):
    lesions = tables.get("lesions")
    if lesions is None or lesions.empty:
        return
    summary = lesion_summary(lesions, settings)
    rule = settings.lesion_aggregation
    report.section("Lesions")
    report.paragraph(
        f"Every lesion of every patient (the mask's connected components, largest first) "
        f"scored on its own by {summary.attrs['model']}'s CNN. Patient scores come from "
        + ("the largest lesion only (the paper's rule); the other lesions are scored here "
           "with weight 0." if rule == "largest" else
           f"the lesions' log-odds pooled by '{rule}' with the weights shown.")
        + " Full table: tables/lesions.csv.", note=True)
    report.table(summary, caption="Lesions per split and the largest lesion's share of the "
                                  "patient's score")


def _radiogenomics_section(report, tables, figures):
    report.section("Radiogenomics")
    names = {"radiogenomics_differential_expression": "Differential expression",
             "radiogenomics_gsea": "GSEA (hallmark pathways)",
             "radiogenomics_cell_fraction_tests": "Immune-cell fractions"}
    for name, title in names.items():
        if name not in tables:
            continue
        table = tables[name].head(15).copy()
        for column in [c for c in table.columns if "pvalue" in c or c in ("fdr", "qvalue",
                                                                          "fwer")]:
            table[column] = table[column].map(lambda p: format_pvalue(p, prefix=False))
        if "leading_edge" in table:
            table["leading_edge"] = table["leading_edge"].map(_short_leading_edge)
        report.table(table, caption=f"{title} (top rows; full table in tables/{name}.csv)",
                     float_format="{:.3g}", text=True)
    _figures(report, figures, "Radiogenomics")


def _short_leading_edge(genes):
    genes = [g for g in str(genes).split(";") if g]
    shown = ", ".join(genes[:LEADING_EDGE_SHOWN])
    return shown + (f" and {len(genes) - LEADING_EDGE_SHOWN} more"
                    if len(genes) > LEADING_EDGE_SHOWN else "")


def _closing_sections(report, summary, tables):
    report.section("TRIPOD+AI checklist")
    report.paragraph("TRIPOD+AI (Collins et al., BMJ 2024;385:e078378): what this run "
                     "documents; the other items are for the authors.", note=True)
    report.table(tables["tripod_ai"].rename(columns=str.capitalize), text=True)
    report.section("Notes")
    notes = pd.DataFrame(summary.get("notes", []))
    if notes.empty:
        report.paragraph("No library raised a warning during the run.", note=True)
    else:
        report.table(notes.rename(columns=str.capitalize), text=True,
                     caption="Warnings raised by the libraries during the run")
    report.section("Settings and timings")
    settings = pd.DataFrame([(k, str(v)) for k, v in summary["settings"].items()],
                            columns=["Setting", "Value"])
    report.table(settings, text=True)
    timings = pd.DataFrame([(k, format_number(v, 1)) for k, v in
                            summary["timings_seconds"].items()],
                           columns=["Stage", "Seconds"])
    report.table(timings)
    report.paragraph(f"tacelearn {summary['tacelearn_version']}, Python {summary['python']}, "
                     f"{summary['created']}.", note=True)


def write_report(folder, summary, tables, figures, settings):
    """Write ``folder/index.html`` from the study's summary, tables and figures."""
    by_section = {name: [f for f in figures if f.section == name] for name in _SECTIONS}
    report = HtmlReport("TACE response prediction: multicentre study report")
    _introduction(report, summary, settings)
    _summary_section(report, summary, tables, settings)
    _cohort_section(report, tables, summary, settings)
    _discrimination_section(report, tables, by_section, settings, list(summary["patients"]))
    _calibration_section(report, tables, by_section, settings)
    _utility_section(report, by_section)
    _validation_section(report, tables)
    _survival_section(report, tables, by_section, settings)
    report.section("Scores")
    _figures(report, by_section, "Scores")
    _lesions_section(report, tables, settings)
    if by_section["Explanation"]:
        report.section("Explanation")
        report.paragraph("Grad-CAM of the DLTR CNN: where in the T1C and T2 patches the "
                         "evidence for response lies.", note=True)
        _figures(report, by_section, "Explanation", wide=True)
    if by_section["Radiogenomics"]:
        _radiogenomics_section(report, tables, by_section)
    _closing_sections(report, summary, tables)
    atomic_write_text(folder / "index.html", report.render())
