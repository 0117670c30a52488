"""Grid search over a DLTR fusion head: cached CNN against naive re-fitting, in one run.

``GridSearchCV`` over the head of DLTR_LR (in-sample fusion ``cv=None``, no screening; ResNet18,
80 patients, 32 px patches, 5 epochs) with 24 candidates (12 values of ``C`` x 2 class
weightings) on 5 stratified folds, side by side:

1. naive: the pipeline as it comes; every candidate re-trains the CNN on every fold;
2. cached: :func:`tacelearn.estimators.make_cached_grid_search`; each fold trains its CNN
   once (weights cache), and the other candidates of the fold reuse the fitted feature step
   and its outputs on the training patients (in-memory feature cache);
3. with ``--all-arms``, also the weights cache alone (``encoder_params={"memory": ...}``):
   the CNN trains once per fold, but every candidate loads it and runs it over the fold's
   patients again.

Every arm reads patches through a patch cache of its own, and every cache starts empty, so the
cached arms pay for their own trainings. The CNN trainings of each arm are counted (calls of
the skorch net's ``fit``); the speed-up cannot exceed the ratio of trainings,
``(candidates x folds + 1) / (folds + 1)`` (20.2 for 24 candidates, 10.2 for 12). The arms must
agree on every score.

Usage::

    python benchmarks/bench_gridsearch.py              # about 8 minutes on 2 cores
    python benchmarks/bench_gridsearch.py --quick      # about 3 minutes; smaller ratio
    python benchmarks/bench_gridsearch.py --all-arms   # adds the weights-only arm (+1 min)
    python benchmarks/bench_gridsearch.py --threads 1  # steadier on a shared machine

The machine is printed first. The naive arm dominates the run time.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from sklearn.model_selection import GridSearchCV, StratifiedKFold

from tacelearn.datasets import make_tace_cohort
from tacelearn.estimators import make_cached_grid_search, make_dltr_lr
from tacelearn.transformers import CNNEncoder, _encoder_net

SETTINGS = {
    # Patients per centre, volume shape, patch side, epochs.
    # Few patients and several epochs: the CNN's training, the cost the cache saves, dominates
    # a fit as it does with real MRI, and the naive arm still ends within minutes on 2 cores.
    "full": {"n_per_center": (40, 20, 20), "image_shape": (48, 48, 12), "patch_size": 32,
             "max_epochs": 5},
    "quick": {"n_per_center": (30, 15, 15), "image_shape": (32, 32, 8), "patch_size": 32,
              "max_epochs": 2},
}
BACKBONE = "resnet18"
BATCH_SIZE = 32
N_FOLDS = 5
C_VALUES = np.logspace(-3, 3, 12)


@contextlib.contextmanager
def counted_trainings():
    """Count CNN trainings (calls of the skorch net's ``fit``) inside the block."""
    calls = []
    fit = _encoder_net.EncoderNet.fit

    def counted_fit(self, *args, **kwargs):
        calls.append(1)
        return fit(self, *args, **kwargs)

    _encoder_net.EncoderNet.fit = counted_fit
    try:
        yield calls
    finally:
        _encoder_net.EncoderNet.fit = fit


def machine():
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    load = " / ".join(f"{x:.1f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "?"
    return (f"{platform.processor() or platform.machine()}, {cores} cores, torch "
            f"{torch.__version__} with {torch.get_num_threads()} threads, load average {load}")


def head_grid(n_candidates):
    if n_candidates == 12:
        return {"classifier__C": list(C_VALUES)}
    return {"classifier__C": list(C_VALUES), "classifier__class_weight": [None, "balanced"]}


def model(settings, patch_cache, cnn_cache=None):
    encoder_params = {"max_epochs": settings["max_epochs"], "batch_size": BATCH_SIZE}
    if cnn_cache is not None:
        encoder_params["memory"] = str(cnn_cache)
    # Without the univariate screening: its Fisher test on tables larger than 2 x 2 is a Monte
    # Carlo test in SciPy >= 1.15, so two fits of the same data may keep different factors and
    # the arms could not be compared score for score.
    return make_dltr_lr(cv=None, screen=False, backbone=BACKBONE,
                        patch_size=settings["patch_size"], random_state=0,
                        encoder_params=encoder_params,
                        extractor_params={"memory": str(patch_cache)})


def run(search, cohort, y):
    with counted_trainings() as trainings:
        start = time.perf_counter()
        search.fit(cohort, y)
        seconds = time.perf_counter() - start
    return seconds, len(trainings), search


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer patients, smaller volumes")
    parser.add_argument("--threads", type=int, help="torch threads (default: torch's choice)")
    parser.add_argument("--candidates", type=int, choices=(12, 24), default=24,
                        help="head candidates (12 cannot reach 10x: ceiling 10.2x)")
    parser.add_argument("--all-arms", action="store_true",
                        help="also time the weights cache without the feature cache")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    settings = SETTINGS["quick" if args.quick else "full"]
    grid = head_grid(args.candidates)
    n_candidates = int(np.prod([len(values) for values in grid.values()]))
    folds = StratifiedKFold(N_FOLDS, shuffle=True, random_state=0)

    print(f"machine: {machine()}")
    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        cohort = make_tace_cohort(scratch / "cohort", n_per_center=settings["n_per_center"],
                                  image_shape=settings["image_shape"], random_state=0)
        y = cohort["objective_response"].astype(int)
        print(f"cohort: {len(cohort)} patients, volumes {settings['image_shape']}; DLTR_LR "
              f"(cv=None, screen=False), {BACKBONE}, {settings['patch_size']} px patches, "
              f"{settings['max_epochs']} epochs, batch {BATCH_SIZE}")
        print(f"grid: {n_candidates} head candidates x {N_FOLDS} folds "
              f"({', '.join(grid)}), scoring roc_auc, n_jobs=1")
        # Warm-up outside the timings: first-call costs of torch and timm.
        patches = np.random.default_rng(0).normal(size=(16, 2, 32, 32)).astype(np.float32)
        CNNEncoder(backbone=BACKBONE, max_epochs=1, batch_size=8, random_state=0).fit(
            patches, np.tile([0, 1], 8))

        search_params = {"cv": folds, "scoring": "roc_auc", "error_score": "raise"}
        arms = {
            "naive": GridSearchCV(model(settings, scratch / "naive"), grid, **search_params),
            "cached (make_cached_grid_search)": make_cached_grid_search(
                model(settings, scratch / "cached"), grid, memory=scratch / "cached",
                **search_params),
        }
        if args.all_arms:
            arms["weights cache only"] = GridSearchCV(
                model(settings, scratch / "weights", cnn_cache=scratch / "weights"), grid,
                **search_params)
        results = {}
        for name, search in arms.items():
            results[name] = run(search, cohort, y)
            seconds, trainings, _ = results[name]
            print(f"  {name:<34} {seconds:8.1f} s  {trainings:4d} CNN trainings", flush=True)

    naive_seconds, naive_trainings, naive = results["naive"]
    print(f"\nceiling of the ratio ((candidates x folds + 1) / (folds + 1)): "
          f"{(n_candidates * N_FOLDS + 1) / (N_FOLDS + 1):.1f}x")
    for name in list(results)[1:]:
        seconds, trainings, search = results[name]
        difference = np.max(np.abs(search.cv_results_["mean_test_score"]
                                   - naive.cv_results_["mean_test_score"]))
        print(f"measured speed-up, {name}: {naive_seconds / seconds:.1f}x "
              f"({naive_trainings} -> {trainings} trainings; largest difference in mean "
              f"test AUC from naive: {difference:.1e})")
    per_training = naive_seconds / naive_trainings
    print(f"(naive arm: {per_training:.1f} s per candidate-fold fit, CNN training included)")


if __name__ == "__main__":
    main()
