"""Benchmark of tacelearn.metrics: ratios measured side by side in one run.

1. DeLong variance (fast midrank) vs the naive O(m * n) placement matrix, N = 1e3, 1e4, 2e4.
2. The paired DeLong test of two models at N = 1e6 with ties vs one ``roc_auc_score`` call.
3. ``binary_metrics_ci`` bootstrap (2000 resamples, N = 1e4) vs a per-resample Python loop, and
   vs a vectorised resampling of patient indices.

Run ``python benchmarks/bench_metrics.py`` (about a minute) or add ``--quick`` (a few seconds).
Timings are medians of repeats; ratios > 1 mean tacelearn is faster, except for (2), where the
ratio is our time over roc_auc_score's (target <= 2).
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import numpy as np
import sklearn
from sklearn.metrics import roc_auc_score

from tacelearn.metrics import binary_metrics_ci, delong_roc_test, delong_roc_variance


def median_time(function, repeats, *args):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function(*args)
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def naive_delong_variance(is_case, scores, chunk=1000):
    """DeLong et al. (1988) literally: the m x n placement kernel, computed in row chunks."""
    cases, controls = scores[is_case], scores[~is_case]
    case_placements = np.empty(cases.size)
    control_sums = np.zeros(controls.size)
    for start in range(0, cases.size, chunk):
        block = cases[start:start + chunk, None]
        psi = (block > controls[None, :]) + 0.5 * (block == controls[None, :])
        case_placements[start:start + chunk] = psi.mean(axis=1)
        control_sums += psi.sum(axis=0)
    control_placements = control_sums / cases.size
    auc = case_placements.mean()
    return auc, (np.var(case_placements, ddof=1) / cases.size
                 + np.var(control_placements, ddof=1) / controls.size)


def looped_bootstrap(is_case, scores, threshold, n_resamples, seed):
    """The usual Python loop: resample patients (stratified), recount, store the metrics."""
    rng = np.random.default_rng(seed)
    cases, controls = np.flatnonzero(is_case), np.flatnonzero(~is_case)
    positive = scores >= threshold
    values = np.empty((n_resamples, 5))
    for b in range(n_resamples):
        index = np.concatenate([rng.choice(cases, cases.size), rng.choice(controls, controls.size)])
        truth, called = is_case[index], positive[index]
        tp = np.sum(truth & called)
        fp = np.sum(~truth & called)
        tn = np.sum(~truth & ~called)
        fn = np.sum(truth & ~called)
        values[b] = [(tp + tn) / index.size, tp / (tp + fn), tn / (tn + fp),
                     tp / (tp + fp) if tp + fp else np.nan, tn / (tn + fn) if tn + fn else np.nan]
    return np.nanpercentile(values, [2.5, 97.5], axis=0)


def index_matrix_bootstrap(is_case, scores, threshold, n_resamples, seed, chunk=250):
    """Vectorised resampling of patient indices (n_resamples x N), in chunks to bound memory."""
    rng = np.random.default_rng(seed)
    cases, controls = np.flatnonzero(is_case), np.flatnonzero(~is_case)
    positive = scores >= threshold
    values = []
    for start in range(0, n_resamples, chunk):
        size = min(chunk, n_resamples - start)
        called_cases = positive[rng.choice(cases, (size, cases.size))]
        called_controls = positive[rng.choice(controls, (size, controls.size))]
        tp, fp = called_cases.sum(axis=1), called_controls.sum(axis=1)
        fn, tn = cases.size - tp, controls.size - fp
        with np.errstate(invalid="ignore", divide="ignore"):
            values.append(np.column_stack([(tp + tn) / positive.size, tp / cases.size,
                                           tn / controls.size, tp / (tp + fp), tn / (tn + fn)]))
    return np.nanpercentile(np.vstack(values), [2.5, 97.5], axis=0)


def tied_scores(rng, n, decimals=3):
    is_case = rng.random(n) < 0.35
    scores = np.round(np.clip(rng.normal(0.4 + 0.2 * is_case, 0.2), 0, 1), decimals)
    return is_case, scores


def bench_variance(quick):
    print("\n1. DeLong variance: fast midrank vs naive O(m*n) placements")
    rng = np.random.default_rng(0)
    for n in (1_000, 10_000, 20_000):
        is_case, scores = tied_scores(rng, n)
        ours = delong_roc_variance(is_case, scores)
        naive = naive_delong_variance(is_case, scores)
        assert np.allclose(ours, naive, rtol=1e-10), (ours, naive)
        repeats = 3 if quick else 7
        t_ours = median_time(delong_roc_variance, repeats * 5, is_case, scores)
        t_naive = median_time(naive_delong_variance, repeats, is_case, scores)
        print(f"   N = {n:>6}: ours {t_ours * 1e3:8.3f} ms, naive {t_naive * 1e3:9.1f} ms, "
              f"speed-up {t_naive / t_ours:8.0f}x  (target >= 100x at N = 2e4)")


def bench_paired_test(quick):
    n = 200_000 if quick else 1_000_000
    print(f"\n2. Paired DeLong test of two models, N = {n:.0e} with ties, vs one roc_auc_score")
    rng = np.random.default_rng(1)
    is_case, first = tied_scores(rng, n)
    second = np.round(np.clip(first + rng.normal(0, 0.1, n), 0, 1), 3)
    result = delong_roc_test(is_case, first, second)
    assert np.isclose(result.auc_1, roc_auc_score(is_case, first), rtol=1e-12)
    repeats = 3 if quick else 7
    t_test = median_time(lambda: delong_roc_test(is_case, first, second), repeats)
    t_auc = median_time(lambda: roc_auc_score(is_case, first), repeats)
    print(f"   delong_roc_test {t_test * 1e3:7.1f} ms, roc_auc_score {t_auc * 1e3:7.1f} ms, "
          f"ratio {t_test / t_auc:5.2f}  (target <= 2)")


def bench_bootstrap(quick):
    n, n_resamples = 10_000, 2000
    print(f"\n3. binary_metrics_ci bootstrap, {n_resamples} resamples, N = {n:.0e}")
    rng = np.random.default_rng(2)
    is_case, scores = tied_scores(rng, n)

    def ours():
        return binary_metrics_ci(is_case, scores, method="bootstrap", stratified=True,
                                 n_resamples=n_resamples, random_state=0)

    table = ours()
    loop = looped_bootstrap(is_case, scores, 0.5, 200 if quick else n_resamples, seed=0)
    assert np.allclose(table[["low", "high"]].to_numpy(), loop.T, atol=0.01)
    repeats = 3 if quick else 5
    t_ours = median_time(ours, repeats * 5)
    loop_resamples = 200 if quick else n_resamples
    t_loop = median_time(
        lambda: looped_bootstrap(is_case, scores, 0.5, loop_resamples, seed=0), 1 if quick else 3
    ) * n_resamples / loop_resamples
    t_matrix = median_time(
        lambda: index_matrix_bootstrap(is_case, scores, 0.5, n_resamples, seed=0), repeats
    )
    extrapolated = " (extrapolated from 200 resamples)" if quick else ""
    print(f"   ours {t_ours * 1e3:7.2f} ms, Python loop {t_loop * 1e3:8.1f} ms{extrapolated}, "
          f"speed-up {t_loop / t_ours:7.0f}x  (target >= 10x)")
    print(f"   vectorised index resampling {t_matrix * 1e3:8.1f} ms, "
          f"speed-up {t_matrix / t_ours:7.0f}x")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes, fewer repeats")
    args = parser.parse_args()
    print(f"machine: {platform.processor() or platform.machine()}, os.cpu_count() = "
          f"{os.cpu_count()}, numpy {np.__version__}, scikit-learn {sklearn.__version__}, "
          f"python {platform.python_version()}")
    bench_variance(args.quick)
    bench_paired_test(args.quick)
    bench_bootstrap(args.quick)


if __name__ == "__main__":
    main()
