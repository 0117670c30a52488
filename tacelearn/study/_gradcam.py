"""Grad-CAM figures of the DLTR CNN for a few patients of each evaluation split."""

from __future__ import annotations

import numpy as np

from ..plotting import GradCamDisplay
from ._figures import save_figure

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


def draw_gradcam_figures(dltr, cohort, options, folder):
    """One figure per evaluation split: T1C and T2 patches with the CNN's Grad-CAM overlay."""
    figures = []
    extractor, encoder = dltr.named_steps["patches"], dltr.named_steps["encoder"]
    names = list(extractor.get_feature_names_out())
    for split in cohort["split"].unique():
        if split == options.train_split:
            continue
        patients = _chosen_patients(cohort, split, options.gradcam_patients,
                                    options.random_state)
        if patients.empty:
            continue
        patches = extractor.transform(patients)
        response = patients["objective_response"].astype(int).map({1: "OR", 0: "NOR"})
        labels = [f"{pid} ({r})" for pid, r in zip(patients["patient_id"], response)]
        display = GradCamDisplay.from_estimator(encoder, patches, channel_names=names,
                                                patient_labels=labels)
        figures.append(save_figure(
            display.figure_, folder / f"gradcam_{split}.png",
            f"Grad-CAM of the DLTR CNN (target: response), {split}", "Explanation"))
    return figures
