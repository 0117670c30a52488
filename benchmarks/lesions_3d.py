"""2D vs 2.5D vs 3D input and the lesion aggregation rules, compared on the synthetic cohort.

Every number of ``docs/lesions-3d.md`` comes from this script. It runs two comparisons with
:func:`tacelearn.estimators.compare_backbones` (pooled out-of-fold probabilities of every
patient, the same folds for every candidate, DeLong intervals and tests) and one lesion-level
check:

1. input geometry: a 2D patch of the lesion's largest slice, a 2.5D patch (one neighbouring
   slice on each side as channels) and a 3D box around the same centre, each with a network
   for it (timm ResNet18 for 2D and 2.5D, a thin MONAI ResNet10 for 3D);
2. lesion aggregation: the largest lesion alone (the paper) against every lesion pooled by
   ``"max"``, ``"volume_mean"`` and ``"attention"`` inside the CNN;
3. lesion scores against the generator's lesion biology (``lesions.csv``): an attention model
   fitted on centre 1 scores the lesions of centres 2 and 3; Spearman's correlation of lesion
   log-odds with lesion biology, over all lesions and within multifocal patients.

The sizes are CPU-friendly (small volumes, a few epochs, from random weights), far from the
paper's 128 px DenseNet169 fine-tuned from ImageNet: the numbers compare the options with each
other on this cohort, they do not estimate what any of them reaches on real data.

Usage::

    python benchmarks/lesions_3d.py            # the docs' numbers (about 40 min on 2 cores)
    python benchmarks/lesions_3d.py --quick    # a smoke run of every step (a few minutes)
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from scipy import stats
from sklearn.model_selection import StratifiedKFold

from tacelearn.datasets import make_tace_cohort
from tacelearn.estimators import compare_backbones, lesion_table, make_dltr
from tacelearn.metrics import delong_roc_test

THIN_RESNET = {"widen_factor": 0.25, "conv1_t_size": 3, "conv1_t_stride": 2}


def geometry_candidates(size):
    return {
        "2D (resnet18)": {"backbone": "resnet18"},
        "2.5D (resnet18, 1 slice each side)": {"backbone": "resnet18",
                                               "extractor_params": {"context_slices": 1}},
        "3D (monai:resnet10, thin)": {
            "backbone": "monai:resnet10", "patch_size": (size, size, size // 2),
            "extractor_params": {"mode": "3d"},
            "encoder_params": {"backbone_params": THIN_RESNET}},
    }


def aggregation_candidates():
    return {f"2D resnet18, {rule}": {"backbone": "resnet18", "lesion_aggregation": rule}
            for rule in ("largest", "max", "volume_mean", "attention")}


def markdown(table):
    lines = ["| candidate | AUC (95% CI) | fold AUC mean (SD) | training s | P vs best |",
             "|---|---|---|---|---|"]
    for name, row in table.iterrows():
        pvalue = "best" if np.isnan(row["pvalue_vs_best"]) else f"{row['pvalue_vs_best']:.3f}"
        lines.append(f"| {name} | {row['auc']:.3f} ({row['auc_ci_low']:.3f}-"
                     f"{row['auc_ci_high']:.3f}) | {row['fold_auc_mean']:.3f} "
                     f"({row['fold_auc_sd']:.3f}) | {row['training_seconds']:.0f} | {pvalue} |")
    return "\n".join(lines)


def pairwise(scores, y, pairs):
    lines = []
    for first, second in pairs:
        result = delong_roc_test(y, scores[first], scores[second])
        lines.append(f"  {first} vs {second}: AUC difference "
                     f"{result.auc_1 - result.auc_2:+.3f}, z = {result.statistic:.2f}, "
                     f"P = {result.pvalue:.3f}")
    return "\n".join(lines)


def lesion_biology(cohort, folder, settings, epochs):
    """Attention model fitted on centre 1; its lesion scores on centres 2 and 3 vs biology."""
    truth = pd.read_csv(Path(folder) / "lesions.csv")
    train = cohort["center"] == "center_1"
    model = make_dltr(lesion_aggregation="attention", **settings,
                      encoder_params={"max_epochs": epochs, "batch_size": 32})
    model.fit(cohort[train], cohort.loc[train, "objective_response"].astype(int))
    table = lesion_table(model, cohort[~train])
    merged = table.merge(truth.dropna(subset=["lesion"]).astype({"lesion": int}),
                         on=["patient_id", "lesion"], validate="1:1")
    rho, pvalue = stats.spearmanr(merged["lesion_log_odds"], merged["biology"])
    within = []
    for _, lesions in merged.groupby("patient_id"):
        if len(lesions) >= 3:
            within.append(stats.spearmanr(lesions["lesion_log_odds"],
                                          lesions["biology"]).statistic)
    concordant = np.mean([r > 0 for r in within if np.isfinite(r)]) if within else np.nan
    print(f"lesion scores vs lesion biology, {len(merged)} lesions of "
          f"{merged['patient_id'].nunique()} patients of centres 2 and 3: Spearman rho = "
          f"{rho:.3f} (P = {pvalue:.2g}); within the {len(within)} patients with 3 or more "
          f"lesions, the lesion order agrees with biology (rho > 0) in {concordant:.0%}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a smoke run of every step")
    parser.add_argument("--folder", default=None, help="where to write the cohort")
    args = parser.parse_args()
    n_per_center, shape, size, epochs = (((16, 8, 8), (32, 32, 8), 24, 1) if args.quick
                                         else (None, (64, 64, 16), 32, 8))
    torch.manual_seed(0)
    print(f"machine: {platform.processor() or platform.machine()}, os.cpu_count()="
          f"{os.cpu_count()}, torch {torch.__version__} with {torch.get_num_threads()} "
          f"threads, load average {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    folder = Path(args.folder or tempfile.mkdtemp(prefix="lesions_3d_"))
    cohort = make_tace_cohort(folder, n_per_center=n_per_center, image_shape=shape,
                              random_state=0, n_jobs=-1)
    y = cohort["objective_response"].astype(int).to_numpy()
    sizes = cohort["center"].value_counts(sort=False).tolist()
    print(f"cohort: {len(cohort)} patients ({sizes} per centre), {shape} volumes, "
          f"{y.mean():.0%} responders; {int(cohort['tumour_number'].gt(1).sum())} multifocal")
    settings = {"patch_size": size, "random_state": 0,
                "extractor_params": {"memory": str(folder / "patch_cache"), "n_jobs": -1}}
    folds = StratifiedKFold(3, shuffle=True, random_state=0)
    shared = {"cv": folds, "encoder_params": {"max_epochs": epochs, "batch_size": 32},
              "return_scores": True, **settings}

    start = time.perf_counter()
    table, scores = compare_backbones(cohort, y, backbones=geometry_candidates(size), **shared)
    print(f"\n1. input geometry ({epochs} epochs, {time.perf_counter() - start:.0f} s)")
    print(markdown(table))
    names = list(table.index)
    print(pairwise(scores, y, [(names[2], names[0]), (names[2], names[1]),
                               (names[1], names[0])]))

    start = time.perf_counter()
    table, scores = compare_backbones(cohort, y, backbones=aggregation_candidates(), **shared)
    print(f"\n2. lesion aggregation ({epochs} epochs, {time.perf_counter() - start:.0f} s)")
    print(markdown(table))
    names = list(table.index)
    print(pairwise(scores, y, [(name, names[0]) for name in names[1:]]))

    print("\n3. lesion level")
    lesion_biology(cohort, folder, {"backbone": "resnet18", **settings}, epochs)
    print(f"\nload average after: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")


if __name__ == "__main__":
    main()
