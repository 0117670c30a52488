"""Time to generate the default synthetic cohort (473 patients, 128 x 128 x 24 volumes).

Usage: python benchmarks/bench_cohort.py [--repeats 3]

Prints the wall time with one worker and with every core, their ratio, and the size on disk.
"""

import argparse
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from tacelearn.datasets import make_tace_cohort


def _generate(n_jobs):
    folder = Path(tempfile.mkdtemp(prefix="bench_cohort_"))
    try:
        start = time.perf_counter()
        cohort = make_tace_cohort(folder, n_jobs=n_jobs)
        elapsed = time.perf_counter() - start
        size = sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())
        return elapsed, len(cohort), size
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    print(f"machine: {os.cpu_count()} cores")
    medians = {}
    for n_jobs in (1, -1):
        runs = [_generate(n_jobs) for _ in range(args.repeats)]
        medians[n_jobs] = statistics.median(r[0] for r in runs)
        n, size = runs[0][1], runs[0][2]
        print(f"n_jobs={n_jobs:>2}: median {medians[n_jobs]:6.1f} s for {n} patients "
              f"({n / medians[n_jobs]:5.1f} patients/s), {size / 1e6:.0f} MB on disk")
    print(f"speed-up of all cores over one: {medians[1] / medians[-1]:.2f}x "
          "(target: the default cohort in under 60 s on 2 cores)")


if __name__ == "__main__":
    main()
