"""Features per second of RadiomicsExtractor: PyRadiomics in a loop, n_jobs=1, n_jobs=2, cache.

Generates a synthetic cohort into a temporary folder (or reads one given with ``--cohort``),
then times side by side in one run, with the default settings
(:func:`tacelearn.transformers.default_radiomics_settings`: T1C and T2, shape once):

* PyRadiomics called directly in a loop, as its users write it: one
  ``RadiomicsFeatureExtractor`` per settings, ``execute(image_path, mask_path)`` per patient
  and sequence (shape features on the first sequence only, as the extractor does);
* ``RadiomicsExtractor`` with ``n_jobs=1`` and ``n_jobs=2`` (joblib's loky backend, its
  workers started beforehand: their one-time start-up is printed apart);
* a cached pass: ``memory`` set, after a first pass that filled the cache, read from disk as
  a new process would.

Each timing is the median of ``--repeats`` runs, taken round robin so that every
configuration sees the same load; the OS file cache is warm for all of them, so "cold"
means "not in the feature cache". Targets: n_jobs=2 >= 1.7x the direct loop; cached >= 20x
a cold pass.

    .venv/bin/python benchmarks/bench_radiomics.py            # 60 patients, a few minutes
    .venv/bin/python benchmarks/bench_radiomics.py --quick    # 9 small patients, a smoke test
"""

from __future__ import annotations

import argparse
import logging
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from tacelearn.datasets import make_tace_cohort, read_cohort
from tacelearn.transformers import RadiomicsExtractor, default_radiomics_settings

FULL = {"n_per_center": (30, 15, 15), "image_shape": (128, 128, 24)}
QUICK = {"n_per_center": (5, 2, 2), "image_shape": (64, 64, 16)}


def machine_line():
    """Cores, load and the share of CPU time other processes take while this one sleeps."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    load = " / ".join(f"{x:.1f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "?"
    others = float("nan")
    if os.path.exists("/proc/stat"):
        def ticks():
            with open("/proc/stat") as stat:
                values = [int(v) for v in stat.readline().split()[1:]]
            return sum(values) - values[3] - values[4], sum(values)   # busy, total

        busy_0, total_0 = ticks()
        time.sleep(1.0)
        busy_1, total_1 = ticks()
        others = (busy_1 - busy_0) / max(total_1 - total_0, 1)
    return (f"{platform.processor() or platform.machine()}, {cores} cores, load average "
            f"{load}, CPU used by other processes {others:.0%}"), others


def pyradiomics_loop(cohort, settings):
    """The features of every patient by PyRadiomics itself, one call per sequence."""
    from radiomics.featureextractor import RadiomicsFeatureExtractor

    without_shape = {**settings, "featureClass": {
        name: features for name, features in settings["featureClass"].items()
        if name not in ("shape", "shape2D")}}
    with_shape = RadiomicsFeatureExtractor(settings)
    no_shape = RadiomicsFeatureExtractor(without_shape)
    n_values = 0
    for row in cohort.itertuples():
        for extractor, path in ((with_shape, row.t1c_path), (no_shape, row.t2_path)):
            result = extractor.execute(os.path.abspath(path), os.path.abspath(row.mask_path))
            n_values += sum(not name.startswith("diagnostics_") for name in result)
    return n_values


def timed(function):
    start = time.perf_counter()
    function()
    return time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a small cohort: a smoke test")
    parser.add_argument("--cohort", type=Path, help="an existing cohort.csv to use instead")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    import radiomics

    # The direct loop would otherwise print PyRadiomics' INFO log through a root handler.
    logging.getLogger("radiomics").setLevel(logging.WARNING)
    line, others = machine_line()
    print(f"machine: {line}")
    print(f"python {platform.python_version()}, numpy {np.__version__}, "
          f"pyradiomics {radiomics.__version__}")
    settings = default_radiomics_settings()
    with tempfile.TemporaryDirectory(prefix="bench_radiomics_") as tmp:
        if args.cohort is not None:
            cohort = read_cohort(args.cohort)
        else:
            sizes = QUICK if args.quick else FULL
            cohort = make_tace_cohort(Path(tmp) / "cohort", random_state=0, **sizes)
        n = len(cohort)
        cache = Path(tmp) / "cache"

        def ours(n_jobs, memory=None):
            return lambda: RadiomicsExtractor(settings=settings, n_jobs=n_jobs,
                                              memory=memory).fit_transform(cohort)

        startup = timed(lambda: RadiomicsExtractor(settings=settings, n_jobs=2)
                        .fit_transform(cohort.head(2)))
        filling = timed(ours(1, cache))
        n_features = len(RadiomicsExtractor(settings=settings, memory=cache).fit(cohort)
                         .get_feature_names_out())
        configurations = {
            "PyRadiomics directly, in a loop": lambda: pyradiomics_loop(cohort, settings),
            "RadiomicsExtractor, n_jobs=1": ours(1),
            "RadiomicsExtractor, n_jobs=2 (loky)": ours(2),
            "RadiomicsExtractor, cached": ours(1, cache),
        }
        runs = {name: [] for name in configurations}
        for _ in range(args.repeats):
            for name, function in configurations.items():
                runs[name].append(timed(function))
    print(f"cohort: {n} patients, {n_features} features each, median of {args.repeats}\n")

    medians = {name: statistics.median(times) for name, times in runs.items()}
    for name, times in [*runs.items(), ("first pass filling the cache", [filling])]:
        seconds = statistics.median(times)
        print(f"{name:38s} {n / seconds:8.2f} patients/s {n * n_features / seconds:10.0f} "
              f"features/s   runs (s): {', '.join(f'{t:.2f}' for t in times)}")
    direct = medians["PyRadiomics directly, in a loop"]
    serial = medians["RadiomicsExtractor, n_jobs=1"]
    parallel = medians["RadiomicsExtractor, n_jobs=2 (loky)"]
    cached = medians["RadiomicsExtractor, cached"]
    print(f"\nloky worker start-up (once per session, imports tacelearn and PyRadiomics): "
          f"{startup:.1f} s")
    print(f"ratio n_jobs=1 / direct loop:  {direct / serial:5.2f}x   (the same work: below 1, "
          "the cost of our checks and conversions)")
    print(f"ratio n_jobs=2 / direct loop:  {direct / parallel:5.2f}x   (target >= 1.7x)")
    print(f"ratio n_jobs=2 / n_jobs=1:     {serial / parallel:5.2f}x")
    print(f"ratio cached / cold n_jobs=1:  {serial / cached:5.1f}x   (target >= 20x)")
    print(f"cost of filling the cache: {filling / serial:4.2f}x a cold pass")
    others = max(others, machine_line()[1])
    if others > 0.1:
        print(f"\nwarning: other processes used {others:.0%} of the CPU; the n_jobs=2 ratios "
              "understate the speed-up; rerun on a quiet machine")


if __name__ == "__main__":
    main()
