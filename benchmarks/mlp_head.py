"""Which head makes DLTR_MLP calibrated out of the box? Candidates side by side on one run.

The fused features (the CNN's out-of-fold log-odds, standardised, and every clinical
variable) are computed once, through the same caches as the demo; every candidate head is then
fitted on the training split and scored on each evaluation split: AUC, calibration slope and
intercept, Brier. The choice made in ``tacelearn.estimators.make_dltr_mlp`` is the one that
keeps the external slopes within 0.75-1.3 without losing AUC (issue 14).

    .venv/bin/python benchmarks/mlp_head.py tacelearn-demo            # the full demo's folder
    .venv/bin/python benchmarks/mlp_head.py tacelearn-demo --quick    # a quick demo's folder
"""

from __future__ import annotations

import argparse
import os
import warnings
from pathlib import Path

import numpy as np
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import roc_auc_score
from sklearn.neural_network import MLPClassifier

from tacelearn.datasets import read_cohort
from tacelearn.estimators import make_dltr_mlp
from tacelearn.metrics import calibration_metrics
from tacelearn.study import DEMO_SETTINGS, QUICK_SETTINGS
from tacelearn.validation import LogisticRecalibrator

LABEL = "objective_response"


def candidates(seed):
    """The heads compared, by name."""
    big = {"hidden_layer_sizes": (512, 512), "max_iter": 500, "random_state": seed}
    return {
        "512-512, alpha 1 (tacelearn 0.1)": MLPClassifier(alpha=1.0, **big),
        "512-512, alpha 1, early stopping": MLPClassifier(alpha=1.0, early_stopping=True,
                                                          n_iter_no_change=10, **big),
        "64, alpha 1, early stopping": MLPClassifier(
            hidden_layer_sizes=(64,), alpha=1.0, early_stopping=True, n_iter_no_change=10,
            max_iter=500, random_state=seed),
        "64, alpha 10": MLPClassifier(hidden_layer_sizes=(64,), alpha=10.0, max_iter=500,
                                      random_state=seed),
        "64, alpha 20": MLPClassifier(hidden_layer_sizes=(64,), alpha=20.0, max_iter=500,
                                      random_state=seed),
        "512-512, alpha 10": MLPClassifier(alpha=10.0, **big),
        "512-512 + out-of-fold recalibration": LogisticRecalibrator(
            MLPClassifier(alpha=1.0, **big), method="intercept+slope", cv=5),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("demo", type=Path, help="a demo folder (cohort/ and cache/)")
    parser.add_argument("--quick", action="store_true", help="the quick demo's settings")
    args = parser.parse_args()
    settings = (QUICK_SETTINGS if args.quick else DEMO_SETTINGS)["study"]
    cohort = read_cohort(args.demo / "cohort" / "cohort.csv")
    cache = str(args.demo / "cache")
    model = make_dltr_mlp(
        backbone=settings.backbone, patch_size=settings.patch_size, cv=settings.fusion_cv,
        random_state=settings.random_state,
        extractor_params={"memory": cache, "n_jobs": os.cpu_count()},
        encoder_params={"memory": cache, "max_epochs": settings.max_epochs,
                        "batch_size": settings.batch_size, "lr": settings.lr})
    labelled = cohort[cohort[LABEL].notna()]
    train = labelled[labelled["split"] == settings.train_split]
    features = model.named_steps["features"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fused_train = features.fit_transform(train, train[LABEL].astype(int))  # out-of-fold
        fused = {split: (features.transform(rows), rows[LABEL].astype(int).to_numpy())
                 for split, rows in labelled.groupby("split") if split != settings.train_split}
    y_train = train[LABEL].astype(int).to_numpy()
    print(f"{len(train)} training patients, {fused_train.shape[1]} fused features\n")
    print("| head | split | AUC | slope | intercept | Brier |\n|---|---|---|---|---|---|")
    for name, head in candidates(settings.random_state).items():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            fitted = clone(head).fit(fused_train, y_train)
        for split, (X, y) in fused.items():
            p = fitted.predict_proba(X)[:, 1]
            table = calibration_metrics(y, p, n_resamples=10, random_state=0).table["estimate"]
            print(f"| {name} | {split} | {roc_auc_score(y, p):.3f} | "
                  f"{table['calibration_slope']:.2f} | {table['calibration_intercept']:.2f} | "
                  f"{table['brier']:.3f} |")
    print("\nshare of scores below 0.02 or above 0.98 (all evaluated patients):")
    for name, head in candidates(settings.random_state).items():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            fitted = clone(head).fit(fused_train, y_train)
        p = np.concatenate([fitted.predict_proba(X)[:, 1] for X, _ in fused.values()])
        print(f"- {name}: {np.mean((p < 0.02) | (p > 0.98)):.0%}")


if __name__ == "__main__":
    main()
