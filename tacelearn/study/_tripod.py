"""A TRIPOD+AI checklist filled with what the run can document.

TRIPOD+AI (Collins et al., BMJ 2024;385:e078378) is the reporting guideline for studies that
develop or evaluate a prediction model, with regression or machine learning. A run knows its
data, its models and its analyses, not the study's context, ethics or funding: the items it
can document point to the report's section; the others are left to the authors.
"""

from __future__ import annotations

import pandas as pd

from ..datasets import COHORT_SCHEMA
from ._settings import MODEL_LABELS

__all__ = ["AUTHORS", "tripod_checklist"]

#: What the table says of an item the run cannot document.
AUTHORS = "to be reported by the authors"

#: (item, topic) of the TRIPOD+AI checklist, in its order.
ITEMS = (
    ("1", "Title"), ("2", "Abstract"), ("3", "Background"), ("4", "Objectives"),
    ("5", "Data: sources and dates"), ("6", "Participants: setting, eligibility, treatment"),
    ("7", "Data preparation"), ("8", "Outcome"), ("9", "Predictors"), ("10", "Sample size"),
    ("11", "Missing data"), ("12", "Analytical methods"), ("13", "Class imbalance"),
    ("14", "Fairness"), ("15", "Model output"), ("16", "Training versus evaluation"),
    ("17", "Ethical approval"), ("18", "Open science (funding, conflicts, protocol, "
                                      "registration, data and code sharing)"),
    ("19", "Patient and public involvement"), ("20", "Participants: flow and "
                                                     "characteristics"),
    ("21", "Model development: participants and events"), ("22", "Model specification"),
    ("23", "Model performance"), ("24", "Model updating"), ("25", "Interpretation"),
    ("26", "Limitations"), ("27", "Usability of the model"),
)


def _counts(cohort, label):
    parts = []
    for split, rows in cohort.groupby("split", sort=False):
        events = int(rows[label].sum()) if label in rows else 0
        parts.append(f"{split} {len(rows)} ({events} responders)")
    return "; ".join(parts)


def _missing(cohort):
    clinical = [c for c in cohort.columns if c in COHORT_SCHEMA
                and COHORT_SCHEMA[c].role == "clinical"]
    shares = cohort[clinical].isna().mean()
    shares = shares[shares > 0].sort_values(ascending=False)
    if shares.empty:
        return "no clinical value is missing"
    listed = ", ".join(f"{name} {share:.0%}" for name, share in shares.items())
    return (f"missing clinical values: {listed}; median-imputed (numbers) or their own "
            "category (categories) inside each model, fitted on the training split only")


def tripod_checklist(cohort, settings, *, screened, label):
    """The checklist as a table: item, topic, status and where the report documents it.

    Parameters
    ----------
    cohort : pandas.DataFrame
        The validated cohort.
    settings : StudySettings
    screened : list of str
        The clinical factors kept by screening.
    label : str
        The outcome column.

    Returns
    -------
    checklist : pandas.DataFrame
        ``item, topic, status, documentation``.
    """
    models = ", ".join(MODEL_LABELS[m] for m in settings.models)
    centres = cohort["center"].nunique()
    documented = {
        "5": f"{centres} centres; splits: {', '.join(cohort['split'].unique())} (Cohort)",
        "6": f"{len(cohort)} patients from {centres} centres (Cohort); eligibility and "
             f"treatment details: {AUTHORS}",
        "8": "objective response after the first TACE by mRECIST (CR/PR = 1, SD/PD = 0)",
        "9": (f"clinical factors screened univariately (P < {settings.screening_alpha}, on "
              f"{settings.screen_on}): {', '.join(screened) or 'none'}; image features: "
              "tumour patches of T1C and T2 (CNN) and PyRadiomics features (Cohort, Settings)"),
        "10": _counts(cohort, label),
        "11": _missing(cohort),
        "12": (f"models: {models}; out-of-fold CNN outputs for fusion "
               f"({settings.fusion_cv or 'in-sample'}); AUC with DeLong CIs, threshold "
               f"metrics ({settings.ci_method} CIs), calibration, decision curves, optimism "
               f"bootstrap (B = {settings.n_bootstraps}), per-centre pooling (Discrimination, "
               "Calibration, Validation)"),
        "15": "predicted probability of objective response; threshold "
              f"{settings.threshold} for Table 2",
        "16": "internal validation (same centre) and external validation (other centres) "
              "(Cohort: Table 1 by split)",
        "20": "Table 1 by split (Cohort)",
        "21": _counts(cohort[cohort["split"] == settings.train_split], label),
        "22": "saved models (models/), their settings (Settings)",
        "23": "Discrimination, Calibration, Clinical utility, Validation, Subgroups",
        "24": (f"recalibration on {settings.recalibrate_on} (Calibration)"
               if settings.recalibrate_on else AUTHORS),
    }
    rows = []
    for item, topic in ITEMS:
        text = documented.get(item, AUTHORS)
        status = "documented" if text != AUTHORS else AUTHORS
        rows.append({"item": item, "topic": topic, "status": status, "documentation": text})
    return pd.DataFrame(rows)
