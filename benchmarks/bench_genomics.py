"""Radiogenomics: our functions against the naive way or the raw library, side by side.

Usage: python benchmarks/bench_genomics.py [--quick] [--repeats 5]

1. differential_expression (one vectorised scipy call) against a loop of scipy tests gene by
   gene, Welch and Mann-Whitney: time ratio.
2. gsea_prerank against calling gseapy.prerank directly on the same inputs: overhead ratio.
3. deconvolve (CIBERSORT-style nu-SVR) against non-negative least squares (scipy.optimize.nnls,
   renormalised) on synthetic tumours with a non-immune background and noise: time per
   sample and Pearson r with the true fractions.
Times are medians of the repeats.
"""

import argparse
import os
import platform
import statistics
import time

import gseapy
import numpy as np
import pandas as pd
from scipy import optimize, stats

from tacelearn.genomics import (
    deconvolve,
    differential_expression,
    gsea_prerank,
    make_tace_expression,
)


def _median_time(function, repeats):
    """Median wall time of ``repeats`` calls, and the last call's result."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        result = function()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def _cohort(n, seed=0):
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"patient_id": [f"P{i:04d}" for i in range(n)],
                         "tumour_biology": rng.standard_normal(n)})


def bench_differential(n_samples, n_genes, repeats):
    data = make_tace_expression(_cohort(n_samples), n_genes=n_genes)
    expression = data.expression
    groups = np.where(_cohort(n_samples)["tumour_biology"] > 0, "high", "low")
    values = expression.to_numpy()
    high, low = values[groups == "high"], values[groups == "low"]
    print(f"\n1. differential expression, {n_samples} samples x {n_genes} genes")
    tests = {
        "welch": lambda a, b: stats.ttest_ind(a, b, equal_var=False),
        "mannwhitney": stats.mannwhitneyu,
    }
    for method, scipy_test in tests.items():
        ours, _ = _median_time(lambda m=method: differential_expression(expression, groups,
                                                                        method=m), repeats)
        loop, _ = _median_time(
            lambda t=scipy_test: [t(high[:, j], low[:, j]) for j in range(n_genes)], repeats)
        print(f"   {method:<12} ours {ours * 1e3:8.1f} ms   gene-by-gene loop "
              f"{loop * 1e3:8.1f} ms   speed-up {loop / ours:6.1f}x")


def bench_gsea(n_genes, n_sets, permutations, repeats):
    rng = np.random.default_rng(1)
    genes = [f"G{i:05d}" for i in range(n_genes)]
    ranking = pd.Series(rng.standard_normal(n_genes), index=genes)
    gene_sets = {f"SET_{k:03d}": list(rng.choice(genes, 40, replace=False))
                 for k in range(n_sets)}
    print(f"\n2. pre-ranked GSEA, {n_genes} genes, {n_sets} sets of 40, "
          f"{permutations} permutations, 1 thread")
    ours, _ = _median_time(lambda: gsea_prerank(ranking, gene_sets, permutations=permutations,
                                                random_state=0), repeats)
    raw, _ = _median_time(lambda: gseapy.prerank(
        rnk=ranking.copy(), gene_sets=gene_sets, outdir=None, no_plot=True, threads=1,
        permutation_num=permutations, seed=0, min_size=15, max_size=500), repeats)
    print(f"   ours {ours:6.2f} s   gseapy.prerank {raw:6.2f} s   overhead ratio "
          f"{ours / raw:5.2f}")


def bench_deconvolution(n_samples, repeats):
    data = make_tace_expression(_cohort(n_samples, seed=2), n_genes=600)
    linear = np.exp2(data.expression[data.signature.index]) - 1.0
    truth = data.fractions.to_numpy().ravel()
    signature = data.signature.to_numpy()

    def nnls():
        weights = np.array([optimize.nnls(signature, row)[0] for row in linear.to_numpy()])
        return weights / weights.sum(axis=1, keepdims=True)

    print(f"\n3. deconvolution, {n_samples} synthetic tumours, {signature.shape[0]} signature "
          f"genes x {signature.shape[1]} cell types")
    results = {}
    for name, function in (("nu-SVR (ours)", lambda: deconvolve(linear, data.signature)),
                           ("NNLS", nnls)):
        seconds, estimate = _median_time(function, repeats)
        estimate = np.asarray(estimate).ravel()
        results[name] = seconds
        print(f"   {name:<14} {seconds / n_samples * 1e3:7.2f} ms/sample   Pearson r with the "
              f"truth {stats.pearsonr(estimate, truth).statistic:.3f}")
    print(f"   time ratio nu-SVR / NNLS {results['nu-SVR (ours)'] / results['NNLS']:6.1f}")


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="smaller problems, 3 repeats")
    parser.add_argument("--repeats", type=int, default=None)
    args = parser.parse_args()
    repeats = args.repeats or (3 if args.quick else 5)
    print(f"machine: {platform.platform()}, {os.cpu_count()} cores, python "
          f"{platform.python_version()}, gseapy {gseapy.__version__}; medians of {repeats}")
    if args.quick:
        bench_differential(100, 2000, repeats)
        bench_gsea(5000, 20, 200, repeats)
        bench_deconvolution(40, repeats)
    else:
        bench_differential(370, 2000, repeats)
        # gseapy's permutations dominate: three repeats keep the script under 3 minutes.
        bench_gsea(10000, 50, 1000, min(repeats, 3))
        bench_deconvolution(150, repeats)


if __name__ == "__main__":
    main()
