"""Patients per second of TumourPatchExtractor: n_jobs=1, n_jobs=2 and from its cache.

Generates the default synthetic cohort (473 patients, 128 x 128 x 24 volumes) into a temporary
folder, or reuses one given with ``--cohort``, then times side by side in one run:

* cold, ``n_jobs=1``: every patient read and computed in this process;
* cold, ``n_jobs=2``: joblib's default process backend (loky), its two workers started
  beforehand (their one-time start-up is printed apart), and the threading backend;
* cached: a second pass with ``memory`` set to the cache folder, after a first pass that
  filled it: every patient read from the content store on disk (safetensors + JSON, checked),
  as a new process (a re-run) does;
* cached, repeated in this process: the same pass through a ``ContentStore`` that keeps the
  entries last used in memory (what the candidates of a grid search see).

Each timing is the median of ``--repeats`` runs; the OS file cache is warm for all of them, so
"cold" means "not in the patch cache". Targets: n_jobs=2 >= 1.6x n_jobs=1; cached >= 20x cold.

    .venv/bin/python benchmarks/bench_patches.py            # about 2-3 minutes
    .venv/bin/python benchmarks/bench_patches.py --quick    # 150 patients, under a minute
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import tempfile
import time
from contextlib import nullcontext
from pathlib import Path

import nibabel as nib
import numpy as np
import scipy
from joblib import parallel_config

from tacelearn.datasets import make_tace_cohort, read_cohort
from tacelearn.transformers import TumourPatchExtractor
from tacelearn.utils import ContentStore

QUICK_CENTER_SIZES = (60, 50, 40)


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


def seconds(make_extractor, cohort, backend=None):
    """Wall time of one ``transform`` (``fit`` reads no image and is left out)."""
    extractor = make_extractor().fit(cohort)
    # joblib's default backend outside any parallel_config: entering one for loky would give
    # a differently configured executor, and switching back and forth respawns the workers.
    context = nullcontext() if backend is None else parallel_config(backend=backend)
    with context:
        start = time.perf_counter()
        extractor.transform(cohort)
        return time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help=f"{sum(QUICK_CENTER_SIZES)} patients instead of 473")
    parser.add_argument("--cohort", type=Path,
                        help="an existing cohort.csv (from make_tace_cohort) to use instead")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    others = busy_share_of_others()
    print(f"machine: {platform.platform()}, os.cpu_count()={os.cpu_count()}, "
          f"load average {os.getloadavg()[0]:.1f}, CPU used by other processes {others:.0%}")
    print(f"python {platform.python_version()}, numpy {np.__version__}, scipy {scipy.__version__}")
    with tempfile.TemporaryDirectory(prefix="bench_patches_") as tmp:
        if args.cohort is not None:
            cohort = read_cohort(args.cohort)
        else:
            start = time.perf_counter()
            cohort = make_tace_cohort(Path(tmp) / "cohort",
                                      n_per_center=QUICK_CENTER_SIZES if args.quick else None,
                                      n_jobs=os.cpu_count())
            print(f"generated {len(cohort)} patients in {time.perf_counter() - start:.0f} s")
        n = len(cohort)
        shape = nib.load(cohort["t1c_path"].iloc[0]).shape
        print(f"cohort: {n} patients, volumes {shape}; patches (2, 128, 128), "
              f"median of {args.repeats}\n")

        cache = Path(tmp) / "patch_cache"
        configurations = {
            "cold, n_jobs=1": (lambda: TumourPatchExtractor(n_jobs=1), None),
            "cold, n_jobs=2 (loky, workers started)": (lambda: TumourPatchExtractor(n_jobs=2),
                                                       None),
            "cold, n_jobs=2 (threading)": (lambda: TumourPatchExtractor(n_jobs=2), "threading"),
            "cached, n_jobs=1": (lambda: TumourPatchExtractor(n_jobs=1, memory=cache), None),
        }
        in_memory = []
        startup = seconds(lambda: TumourPatchExtractor(n_jobs=2), cohort.head(4))
        filling = seconds(lambda: TumourPatchExtractor(n_jobs=1, memory=cache), cohort)
        recent = ContentStore(cache, memory_bytes=512 * 2**20)
        seconds(lambda: TumourPatchExtractor(n_jobs=1, memory=recent), cohort)  # into memory
        # Round robin: on a shared machine every configuration sees the same load.
        runs = {name: [] for name in configurations}
        for _ in range(args.repeats):
            for name, (make_extractor, backend) in configurations.items():
                runs[name].append(seconds(make_extractor, cohort, backend))
            # A repeated pass in the same process: the patches are still in memory.
            in_memory.append(seconds(lambda: TumourPatchExtractor(n_jobs=1, memory=recent),
                                     cohort))

    medians = {name: statistics.median(times) for name, times in runs.items()}
    for name, times in [*runs.items(), ("cached, repeated in this process", in_memory),
                        ("first pass filling the cache, n_jobs=1", [filling])]:
        print(f"{name:42s} {n / statistics.median(times):8.1f} patients/s   runs (s): "
              f"{', '.join(f'{t:.2f}' for t in times)}")
    serial = medians["cold, n_jobs=1"]
    loky = medians["cold, n_jobs=2 (loky, workers started)"]
    threads = medians["cold, n_jobs=2 (threading)"]
    cached = medians["cached, n_jobs=1"]
    print(f"\nloky worker start-up (once per session, includes importing tacelearn): "
          f"{startup:.1f} s")
    print(f"ratio n_jobs=2 / n_jobs=1 (loky):       {serial / loky:5.2f}x   (target >= 1.6x)")
    print(f"ratio n_jobs=2 / n_jobs=1 (threading):  {serial / threads:5.2f}x")
    print(f"ratio n_jobs=2 / n_jobs=1 (loky, start-up included): "
          f"{serial / (loky + startup):5.2f}x")
    print(f"ratio cached / cold n_jobs=1:           {serial / cached:5.1f}x   (target >= 20x)")
    print(f"ratio in memory / cold n_jobs=1:        "
          f"{serial / statistics.median(in_memory):5.1f}x   (same process, second pass)")
    print(f"cost of filling the cache: {filling / serial:4.2f}x a cold pass")
    others = max(others, busy_share_of_others())
    if others > 0.1:
        print(f"\nwarning: other processes used {others:.0%} of the CPU; the kernel shares the "
              "CPU between sessions (autogroup), so the n_jobs=2 ratios understate the speed-up; "
              "rerun on a quiet machine")


if __name__ == "__main__":
    main()
