"""The report's conclusions in words: which model beats which, on each external split."""

from __future__ import annotations

import pandas as pd

from ..utils import format_number, format_pvalue
from ._presentation import display_split
from ._settings import MODEL_LABELS

__all__ = ["COMPARISONS", "comparison_statements"]

#: (model, reference) pairs the report states an answer for, when both were fitted: does
#: fusion beat the clinical model and the image model alone, does deep learning beat
#: radiomics.
COMPARISONS = (
    ("dltr_lr", "clinical"), ("dltr_lr", "dltr"),
    ("dltr_mlp", "clinical"), ("dltr_mlp", "dltr"),
    ("dltr", "radiomics"),
)
_ALPHA = 0.05


def _auc(performance, model, split):
    rows = performance[(performance["model"] == model) & (performance["cohort"] == split)
                       & (performance["metric"] == "auc")]
    return float(rows["estimate"].iloc[0]) if len(rows) else float("nan")


def _pair(delong, split, model, reference):
    rows = delong[(delong["split"] == split) & (
        ((delong["model_1"] == model) & (delong["model_2"] == reference))
        | ((delong["model_1"] == reference) & (delong["model_2"] == model)))]
    if rows.empty:
        return float("nan"), float("nan")
    return float(rows["pvalue"].iloc[0]), float(rows["pvalue_holm"].iloc[0])


def _verdict(auc, reference_auc, holm):
    if holm < _ALPHA:
        return "beats" if auc > reference_auc else "is worse than"
    return "does not differ significantly from"


def comparison_statements(performance, delong, splits, models):
    """One sentence per external split and pair of :data:`COMPARISONS`.

    The verdict uses the Holm-adjusted DeLong P value (over all pairs of the split) at 0.05;
    the raw P value is given too.

    Returns
    -------
    statements : pandas.DataFrame
        ``split, model, reference, auc, reference_auc, pvalue, pvalue_holm, statement``.
    """
    rows = []
    for split in splits:
        for model, reference in COMPARISONS:
            if model not in models or reference not in models:
                continue
            auc, reference_auc = _auc(performance, model, split), _auc(performance,
                                                                        reference, split)
            pvalue, holm = _pair(delong, split, model, reference)
            if pvalue != pvalue:  # NaN: no test on this split
                continue
            text = (f"On {display_split(split)}, {MODEL_LABELS[model]} (AUC "
                    f"{format_number(auc)}) "
                    f"{_verdict(auc, reference_auc, holm)} {MODEL_LABELS[reference]} "
                    f"(AUC {format_number(reference_auc)}): DeLong {format_pvalue(pvalue)}, "
                    f"Holm-adjusted {format_pvalue(holm)}.")
            rows.append({"split": split, "model": model, "reference": reference, "auc": auc,
                         "reference_auc": reference_auc, "pvalue": pvalue,
                         "pvalue_holm": holm, "statement": text})
    columns = ["split", "model", "reference", "auc", "reference_auc", "pvalue", "pvalue_holm",
               "statement"]
    return pd.DataFrame(rows, columns=columns)
