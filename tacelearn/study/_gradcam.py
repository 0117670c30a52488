"""Grad-CAM figures of the DLTR CNN for a few patients of each evaluation split."""

from __future__ import annotations

import numpy as np

from ..plotting import GradCamDisplay
from ._figures import save_figure
from ._presentation import display_split

__all__ = ["draw_gradcam_figures"]


def _chosen_patients(cohort, split, n, random_state):
    """Responders and non-responders alike, drawn reproducibly."""
    rows = cohort[(cohort["split"] == split) & cohort["objective_response"].notna()]
    rng = np.random.default_rng(random_state)
    picked = []
    for _, group in rows.groupby("objective_response"):
        count = min(len(group), (n + 1) // 2)
        picked += list(rng.choice(group.index.to_numpy(), size=count, replace=False))
    return cohort.loc[sorted(picked)[:n]]


#: How the panels name the sequences behind the cohort's image columns.
SEQUENCE_LABELS = {"t1c_path": "T1C", "t2_path": "T2"}


def _channel_label(name):
    """``"T1C"`` for ``"t1c_path"``, ``"T1C [z-1]"`` for ``"t1c_path[z-1]"``."""
    column, bracket, rest = name.partition("[")
    label = SEQUENCE_LABELS.get(column, column.removesuffix("_path").upper())
    return f"{label} [{rest}" if bracket else label


def draw_gradcam_figures(dltr, cohort, settings, folder):
    """One figure per evaluation split: T1C and T2 patches with the CNN's Grad-CAM overlay."""
    figures = []
    extractor, encoder = dltr.named_steps["patches"], dltr.named_steps["encoder"]
    names = [_channel_label(n) for n in extractor.get_feature_names_out()]
    for split in cohort["split"].unique():
        if split == settings.train_split:
            continue
        patients = _chosen_patients(cohort, split, settings.gradcam_patients,
                                    settings.random_state)
        if patients.empty:
            continue
        patches = extractor.transform(patients)
        response = patients["objective_response"].astype(int).map({1: "OR", 0: "NOR"})
        labels = [f"{pid} ({r})" for pid, r in zip(patients["patient_id"], response)]
        display = GradCamDisplay.from_estimator(encoder, patches, channel_names=names,
                                                patient_labels=labels)
        figures.append(save_figure(
            display.figure_, folder / f"gradcam_{split}.png",
            f"Grad-CAM of the DLTR CNN (target: response), {display_split(split)}",
            "Explanation"))
    return figures
