"""Optimism-corrected validation: ``bootstrap_validate`` against a naive loop, and the CNN weights
cache across bootstrap validations of the image models, in one run.

1. The clinical model (:func:`tacelearn.estimators.make_clinical_model`, univariate screening
   included) on the training split of the synthetic cohort, B = 200 bootstrap resamples, AUC,
   calibration slope, calibration-in-the-large and Brier score, side by side:

   - naive: a Python loop that refits a clone per resample and scores it with scikit-learn's
     ``roc_auc_score`` and two statsmodels GLMs per evaluation (what one writes by hand);
   - ``bootstrap_validate(n_jobs=1)`` and ``bootstrap_validate(n_jobs=2)`` (joblib's loky
     processes).

   The same seed draws the same resamples in every arm, so the optimism must agree to the
   GLMs' convergence tolerance; the largest difference is printed. Target: under 10 s on 2
   cores. First, where one refit spends its time: milliseconds per pipeline step, each
   step's ``fit_transform`` on its own input (the univariate screening used to take 70% of a
   refit in ``pd.crosstab``; it now counts with numpy).

2. DLTR_LR (tiny: ResNet18, 16 px patches, 1 epoch, out-of-fold fusion on 2 folds) validated
   three times on the same resamples, as a study does when it compares heads and models:
   DLTR_LR, DLTR_LR with another head ``C``, then DLTR; without and with the CNN weights cache
   (``encoder_params={"memory": folder}``). CNN trainings are counted (calls of the skorch
   net's ``fit``): with the cache, only the first validation trains; the others load every
   network, since the same resample gives the same patches, labels and settings.

Usage::

    python benchmarks/bench_validation.py            # part 1 B = 200, part 2 B = 3
    python benchmarks/bench_validation.py --quick    # B = 20 and B = 2, a smoke test
    python benchmarks/bench_validation.py --part 1   # one part only

The machine and its load are printed first; BLAS threads are limited to 1 per process (loky
does the same in its workers), so the arms compare like with like on a shared machine.
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
import sklearn
import statsmodels.api as sm
from scipy.special import logit
from sklearn.base import clone
from sklearn.metrics import roc_auc_score
from threadpoolctl import threadpool_limits

from tacelearn.datasets import make_tace_cohort
from tacelearn.estimators import make_clinical_model
from tacelearn.validation import bootstrap_validate

METRICS = ("auc", "calibration_slope", "calibration_intercept", "brier")
IMAGE_SHAPE = (16, 16, 4)


def machine():
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    load = " / ".join(f"{x:.1f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "?"
    return (f"{platform.processor() or platform.machine()}, {cores} cores, scikit-learn "
            f"{sklearn.__version__}, load average {load}")


def naive_metrics(y, p):
    lp = logit(np.clip(p, 1e-8, 1 - 1e-8))
    slope = sm.GLM(y, sm.add_constant(lp), family=sm.families.Binomial()).fit().params[1]
    intercept = sm.GLM(y, np.ones((y.size, 1)), family=sm.families.Binomial(),
                       offset=lp).fit().params[0]
    return np.array([roc_auc_score(y, p), slope, intercept, np.mean((p - y) ** 2)])


def naive_bootstrap(estimator, X, y, n_bootstraps, seed):
    """Harrell's bootstrap as a loop: refit, score on the resample and on the original data."""
    rng = np.random.RandomState(seed)
    apparent = naive_metrics(y, clone(estimator).fit(X, y).predict_proba(X)[:, 1])
    optimism = []
    for _ in range(n_bootstraps):
        index = rng.randint(0, y.size, y.size)
        if len(np.unique(y[index])) < 2:
            continue
        model = clone(estimator).fit(X.iloc[index], y[index])
        p = model.predict_proba(X)[:, 1]
        optimism.append(naive_metrics(y[index], p[index]) - naive_metrics(y, p))
    return apparent, np.mean(optimism, axis=0)


def timed(function, *args, **kwargs):
    start = time.perf_counter()
    result = function(*args, **kwargs)
    return time.perf_counter() - start, result


def refit_breakdown(model, X, y, n_refits=10, seed=0):
    """Mean milliseconds of a refit on a bootstrap resample, whole and per pipeline step."""
    rng = np.random.RandomState(seed)
    names = [name for name, _ in model.steps]
    totals = dict.fromkeys(["whole refit", *names], 0.0)
    for _ in range(n_refits):
        index = rng.randint(0, y.size, y.size)
        X_resample, y_resample = X.iloc[index], y[index]
        totals["whole refit"] += timed(clone(model).fit, X_resample, y_resample)[0]
        transformed = X_resample
        for name, step in clone(model).steps[:-1]:
            seconds, transformed = timed(step.fit_transform, transformed, y_resample)
            totals[name] += seconds
        totals[names[-1]] += timed(clone(model.steps[-1][1]).fit, transformed, y_resample)[0]
    return {name: 1000.0 * seconds / n_refits for name, seconds in totals.items()}


def part_clinical(cohort, n_bootstraps):
    development = cohort[cohort["split"] == "train"].reset_index(drop=True)
    y = development["objective_response"].astype(int).to_numpy()
    model = make_clinical_model()
    print(f"\n1. clinical model with screening, {len(development)} training patients "
          f"({y.sum()} responders), B = {n_bootstraps}")
    model.fit(development, y)  # warm-up: first-call imports and caches
    breakdown = refit_breakdown(model, development, y)
    print("  one refit, ms: " + ", ".join(f"{name} {ms:.1f}" for name, ms in breakdown.items()),
          flush=True)
    naive_seconds, (_, naive_optimism) = timed(naive_bootstrap, model, development, y,
                                               n_bootstraps, 0)
    print(f"  naive loop (roc_auc_score + statsmodels GLMs)   {naive_seconds:7.1f} s", flush=True)
    # loky keeps its worker processes between calls: start them outside the timings, as any
    # session does once, and say what that cost.
    startup, _ = timed(bootstrap_validate, model, development, y, n_bootstraps=2, n_jobs=2)
    print(f"  (starting 2 loky workers, once per session:        {startup:7.1f} s)")
    for n_jobs in (1, 2):
        seconds, result = timed(bootstrap_validate, model, development, y,
                                n_bootstraps=n_bootstraps, metrics=METRICS, random_state=0,
                                n_jobs=n_jobs)
        difference = np.max(np.abs(result.table["optimism"].to_numpy() - naive_optimism))
        print(f"  bootstrap_validate(n_jobs={n_jobs})                   {seconds:7.1f} s  "
              f"{naive_seconds / seconds:4.1f}x  (largest optimism difference "
              f"{difference:.1e}; {result.n_failed} resamples skipped)", flush=True)
    print(result.table.round(3).to_string())
    print(result.estimates_632plus[["apparent", "out_of_bag", "estimate"]].round(3).to_string())


@contextlib.contextmanager
def counted_trainings():
    """Count CNN trainings (calls of the skorch net's ``fit``) inside the block."""
    from tacelearn.transformers import _encoder_net

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


def image_models(scratch, weights_cache):
    from tacelearn.estimators import make_dltr, make_dltr_lr

    encoder_params = {"max_epochs": 1, "batch_size": 16}
    if weights_cache is not None:
        encoder_params["memory"] = str(weights_cache)
    common = {"backbone": "resnet18", "patch_size": 16, "random_state": 0,
              "encoder_params": encoder_params,
              "extractor_params": {"memory": str(scratch / "patches")}}
    return {
        "DLTR_LR": make_dltr_lr(cv=2, screen=False, C=1.0, **common),
        "DLTR_LR, C = 0.1": make_dltr_lr(cv=2, screen=False, C=0.1, **common),
        "DLTR": make_dltr(**common),
    }


def has_tumour(mask_path):
    """Whether the mask has a tumour voxel: tiny synthetic grids can lose a small lesion."""
    import nibabel

    return bool(np.asarray(nibabel.load(mask_path).dataobj).any())


def part_image_models(cohort, n_patients, n_bootstraps, scratch):
    first_centre = cohort[cohort["center"] == cohort["center"].iloc[0]]
    visible = first_centre["mask_path"].map(has_tumour)
    development = first_centre[visible].head(n_patients).reset_index(drop=True)
    y = development["objective_response"].astype(int).to_numpy()
    print(f"\n2. image models on {len(development)} patients of one centre, B = {n_bootstraps}, "
          "n_jobs=1 (ResNet18, 16 px, 1 epoch; DLTR_LR with 2 out-of-fold folds)")
    for arm, cache in (("without cache", None), ("with weights cache", scratch / "weights")):
        total_seconds, total_trainings = 0.0, 0
        for name, model in image_models(scratch, cache).items():
            with counted_trainings() as trainings:
                seconds, result = timed(bootstrap_validate, model, development, y,
                                        n_bootstraps=n_bootstraps, random_state=0)
            total_seconds += seconds
            total_trainings += len(trainings)
            print(f"  {arm:<19} {name:<17} {seconds:7.1f} s  {len(trainings):3d} CNN trainings"
                  f"  (corrected AUC {result.table.loc['auc', 'corrected']:.3f})", flush=True)
        print(f"  {arm:<19} {'all three':<17} {total_seconds:7.1f} s  {total_trainings:3d} "
              "CNN trainings")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="few resamples: a smoke test")
    parser.add_argument("--part", type=int, choices=(1, 2), help="run one part only")
    parser.add_argument("--image-shape", type=int, nargs=3, default=IMAGE_SHAPE,
                        metavar=("X", "Y", "Z"), help="voxel grid of the synthetic volumes")
    args = parser.parse_args()
    image_shape = tuple(args.image_shape)
    print(f"machine: {machine()}")
    with tempfile.TemporaryDirectory() as scratch, threadpool_limits(1):
        scratch = Path(scratch)
        cohort = make_tace_cohort(scratch / "cohort", image_shape=image_shape, random_state=0)
        print(f"synthetic cohort: {len(cohort)} patients, volumes {image_shape}")
        if args.part in (None, 1):
            part_clinical(cohort, 20 if args.quick else 200)
        if args.part in (None, 2):
            part_image_models(cohort, 30 if args.quick else 40, 2 if args.quick else 3, scratch)


if __name__ == "__main__":
    main()
