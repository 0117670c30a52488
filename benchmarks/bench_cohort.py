"""Time to generate the default synthetic cohort (473 patients, 128 x 128 x 24 volumes).

Usage: python benchmarks/bench_cohort.py [--repeats 3] [--quick]

Generates the cohort with one worker and with two (``n_jobs=1`` and ``n_jobs=2``), alternating
them, and prints the median wall time of each, their ratio and the size on disk, with the
machine and the load of other processes. Target: the default cohort in under 60 s on 2 cores
(``n_jobs=-1`` on a 2-core machine is ``n_jobs=2``). ``--quick`` generates 90 patients instead,
for a smoke run.
"""

import argparse
import os
import platform
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from tacelearn.datasets import make_tace_cohort

QUICK_CENTER_SIZES = (30, 30, 30)
WORKERS = (1, 2)


def busy_share_of_others(interval=1.0):
    """Share of the machine's CPU time used by other processes while this one sleeps."""
    def ticks():
        with open("/proc/stat") as stat:
            values = [int(v) for v in stat.readline().split()[1:]]
        return sum(values) - values[3] - values[4], sum(values)   # busy, total

    if not os.path.exists("/proc/stat"):
        return float("nan")
    busy_0, total_0 = ticks()
    time.sleep(interval)
    busy_1, total_1 = ticks()
    return (busy_1 - busy_0) / max(total_1 - total_0, 1)


def _generate(n_jobs, n_per_center):
    folder = Path(tempfile.mkdtemp(prefix="bench_cohort_"))
    try:
        start = time.perf_counter()
        cohort = make_tace_cohort(folder, n_per_center=n_per_center, n_jobs=n_jobs)
        elapsed = time.perf_counter() - start
        size = sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())
        return elapsed, len(cohort), size
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quick", action="store_true",
                        help=f"{sum(QUICK_CENTER_SIZES)} patients instead of 473")
    args = parser.parse_args()
    n_per_center = QUICK_CENTER_SIZES if args.quick else None
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores; "
          f"other processes use {busy_share_of_others():.0%} of the CPU")
    runs = {n_jobs: [] for n_jobs in WORKERS}
    for _ in range(args.repeats):
        for n_jobs in WORKERS:   # alternate, so that a change of load hits both alike
            runs[n_jobs].append(_generate(n_jobs, n_per_center))
    medians = {}
    for n_jobs, results in runs.items():
        medians[n_jobs] = statistics.median(r[0] for r in results)
        n, size = results[0][1], results[0][2]
        print(f"n_jobs={n_jobs}: median {medians[n_jobs]:6.1f} s for {n} patients "
              f"({n / medians[n_jobs]:5.1f} patients/s), {size / 1e6:.0f} MB on disk")
    print(f"speed-up of 2 workers over 1: {medians[1] / medians[2]:.2f}x "
          "(target: the default cohort in under 60 s on 2 cores)")
    print(f"other processes used {busy_share_of_others():.0%} of the CPU at the end")


if __name__ == "__main__":
    main()
