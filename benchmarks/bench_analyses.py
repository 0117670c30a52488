"""Benchmark of tacelearn.stats and tacelearn.survival: ratios measured side by side in one run.

1. ``baseline_table`` on a paper-sized cohort (473 patients, 4 splits, every clinical column) vs
   the bare ``tableone.TableOne`` call on the same columns: the cost of the recoding, the checks
   and the Monte Carlo Fisher-Freeman-Halton tests (shown with ``fisher_rxc`` on and off).
2. ``kaplan_meier`` + ``logrank_test`` (two groups) vs lifelines' ``KaplanMeierFitter`` and
   ``logrank_test`` called directly, at N = 473 and N = 20 000: the cost of validation and the
   tidy tables.
3. ``concordance_index`` (scikit-survival) vs ``lifelines.utils.concordance_index`` and vs the
   naive double loop over patient pairs (N = 473 only for the loop). scikit-survival compares
   each event with every patient (O(n x events)), lifelines sorts (O(n log n)): expect lifelines
   to pull ahead as N grows.
4. ``cox_hazard_ratio`` vs ``lifelines.CoxPHFitter`` called directly (N = 473, 2 covariates).

Run ``python benchmarks/bench_analyses.py`` (well under a minute) or add ``--quick``. Timings are
medians of repeats; "ratio" is ours over the reference (below 1: tacelearn is faster).
"""

from __future__ import annotations

import argparse
import os
import platform
import time
import warnings
from functools import partial

import numpy as np
import pandas as pd
from lifelines import CoxPHFitter, KaplanMeierFitter
from lifelines.statistics import logrank_test as lifelines_logrank
from lifelines.utils import concordance_index as lifelines_concordance
from tableone import TableOne

from tacelearn.datasets import CLINICAL_COLUMNS, categorical_columns, continuous_columns
from tacelearn.datasets._synthetic_clinical import simulate_clinical
from tacelearn.stats import DEFAULT_NONNORMAL, baseline_table
from tacelearn.survival import concordance_index, cox_hazard_ratio, kaplan_meier, logrank_test


def median_time(function, repeats):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def report(name, ours, reference, reference_name):
    print(f"  {name:<46} ours {1e3 * ours:9.2f} ms   {reference_name} "
          f"{1e3 * reference:9.2f} ms   ratio {ours / reference:6.2f}")


def survival_data(n, rng):
    score = rng.random(n)
    time_ = rng.exponential(12 * (0.5 + score))
    event = (rng.random(n) < 0.7).astype(int)
    return time_, event, score


def bench_baseline_table(cohort, repeats):
    print("1. Table 1, 473 patients x 4 splits x 24 clinical columns")
    continuous = continuous_columns()
    categorical = categorical_columns()
    frame = cohort[list(CLINICAL_COLUMNS) + ["split"]].copy()
    for column in categorical:
        frame[column] = frame[column].astype(str)

    def raw():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            TableOne(frame, columns=list(CLINICAL_COLUMNS), categorical=categorical,
                     continuous=continuous, groupby="split", pval=True,
                     nonnormal=[c for c in continuous if c in DEFAULT_NONNORMAL])

    reference = median_time(raw, repeats)
    for fisher in (False, True):
        ours = median_time(lambda f=fisher: baseline_table(cohort, dichotomise_labs=False,
                                                           fisher_rxc=f), repeats)
        report(f"baseline_table(fisher_rxc={fisher})", ours, reference, "TableOne")


def ours_kaplan_meier(time_, event, groups):
    kaplan_meier(time_, event, groups)
    logrank_test(time_, event, groups)


def lifelines_kaplan_meier(time_, event, groups):
    high = groups == "high"
    for member in (high, ~high):
        KaplanMeierFitter().fit(time_[member], event[member])
    lifelines_logrank(time_[high], time_[~high], event[high], event[~high])


def bench_kaplan_meier(repeats, rng):
    print("2. Kaplan-Meier + log-rank, two groups")
    for n in (473, 20_000):
        time_, event, score = survival_data(n, rng)
        groups = np.where(score >= score.mean(), "high", "low")

        ours = median_time(partial(ours_kaplan_meier, time_, event, groups), repeats)
        raw = median_time(partial(lifelines_kaplan_meier, time_, event, groups), repeats)
        report(f"N = {n}", ours, raw, "lifelines")


def naive_concordance(time_, event, risk):
    concordant = comparable = 0.0
    for i in range(len(time_)):
        if not event[i]:
            continue
        for j in range(len(time_)):
            if time_[i] < time_[j]:
                comparable += 1
                concordant += 1.0 if risk[i] > risk[j] else 0.5 if risk[i] == risk[j] else 0.0
    return concordant / comparable


def bench_concordance(repeats, rng, quick):
    print("3. Concordance index")
    for n in (473, 20_000):
        time_, event, score = survival_data(n, rng)
        ours = median_time(partial(concordance_index, time_, event, score), repeats)
        reference = median_time(partial(lifelines_concordance, time_, score, event), repeats)
        report(f"N = {n}", ours, reference, "lifelines")
        if n == 473:
            loops = 1 if quick else 3
            naive = median_time(partial(naive_concordance, time_, event, -score), loops)
            report(f"N = {n}", ours, naive, "pair loop")


def bench_cox(repeats, rng):
    print("4. Cox hazard ratios, N = 473, 2 covariates")
    n = 473
    covariates = pd.DataFrame({"score": rng.random(n), "pvi": rng.integers(0, 2, n)})
    time_ = rng.exponential(10 * np.exp(covariates["score"]))
    event = (rng.random(n) < 0.7).astype(int)
    frame = covariates.assign(T=time_, E=event)
    ours = median_time(lambda: cox_hazard_ratio(time_, event, covariates), repeats)
    reference = median_time(lambda: CoxPHFitter().fit(frame, "T", "E"), repeats)
    report("cox_hazard_ratio", ours, reference, "CoxPHFitter")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats (a few seconds)")
    args = parser.parse_args()
    repeats = 3 if args.quick else 11
    print(f"machine: {platform.platform()}, python {platform.python_version()}, "
          f"os.cpu_count() = {os.cpu_count()}")
    print(f"medians of {repeats} repeats\n")
    rng = np.random.default_rng(0)
    cohort = simulate_clinical((210, 189, 74), rng)
    bench_baseline_table(cohort, repeats)
    bench_kaplan_meier(repeats, rng)
    bench_concordance(repeats, rng, args.quick)
    bench_cox(repeats, rng)


if __name__ == "__main__":
    main()
