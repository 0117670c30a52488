"""The report's lesion table: every lesion's own CNN score and its weight in its patient's."""

from __future__ import annotations

import pandas as pd

from ..estimators import lesion_table
from ._presentation import display_model, display_split
from ._settings import CNN_MODELS

__all__ = ["lesion_model", "lesion_summary", "study_lesion_table"]


def lesion_model(fitted):
    """The CNN model whose lesions are tabulated: DLTR when fitted (its score is the CNN's),
    else the first fitted fusion model (its image branch); None without a CNN model."""
    return next((name for name in CNN_MODELS if name in fitted), None)


def study_lesion_table(fitted, cohort, settings):
    """One row per lesion of every patient: split, lesion, volume, own score and weight.

    The lesions are the mask's connected components, largest first; under the paper's rule
    (``lesion_aggregation="largest"``) the other lesions are scored by the same CNN for the
    table with weight 0.
    """
    name = lesion_model(fitted)
    if name is None:
        return pd.DataFrame()
    table = lesion_table(fitted[name], cohort)
    splits = cohort.drop_duplicates("patient_id").set_index("patient_id")["split"]
    table.insert(1, "split", table["patient_id"].map(splits).to_numpy())
    return table.assign(model=name, rule=settings.lesion_aggregation)


def lesion_summary(table, settings):
    """Per split: patients, lesions, multifocal patients and how the score is shared."""
    if table.empty:
        return pd.DataFrame()
    rows = []
    for split, lesions in table.groupby("split", sort=False):
        per_patient = lesions.groupby("patient_id", sort=False)
        counts = per_patient.size()
        largest = lesions[lesions["lesion"] == 0]
        multifocal = counts.index[counts > 1]
        others = lesions[lesions["patient_id"].isin(multifocal) & (lesions["lesion"] > 0)]
        rows.append({
            "Split": display_split(split, settings.train_split),
            "Patients": len(counts),
            "Lesions": len(lesions),
            "Multifocal patients": len(multifocal),
            "Largest lesion's weight, mean": largest["weight"].mean(),
            # How the CNN scores a multifocal patient's smaller lesions against its largest
            # one: the mean difference of their probabilities (0 when they look alike).
            "Other lesions' score minus the largest's, mean": (
                others["lesion_score"].to_numpy()
                - largest.set_index("patient_id").loc[others["patient_id"], "lesion_score"]
                .to_numpy()).mean() if len(others) else float("nan"),
        })
    frame = pd.DataFrame(rows)
    frame.attrs["model"] = display_model(table["model"].iloc[0])
    return frame
