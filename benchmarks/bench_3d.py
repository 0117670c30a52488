"""3D against 2D and 2.5D CNN training: seconds per epoch of CNNEncoder.fit, side by side.

The same patients, the same number of patches per epoch, the same batch size and augmentation;
only the input geometry and the network differ:

* 2D: ``(n, 2, 32, 32)``, timm ResNet18 (T1C and T2 of the lesion's largest slice);
* 2.5D: ``(n, 6, 32, 32)``, timm ResNet18 (one neighbouring slice on each side);
* 3D: ``(n, 2, 16, 32, 32)``, MONAI ResNet18 and ResNet10 (full width), and a thin ResNet10
  (``widen_factor=0.25``, a 3 x 7 x 7 stem of stride 2 in depth) at the size the docs'
  comparison uses.

Each configuration trains ``--epochs`` epochs (the first epoch is dropped as warm-up) and the
seconds per epoch are the median over epochs and repeats, repeats interleaved across the
configurations so that a change of machine load hits them alike. The machine, the torch
threads and the load average are printed first: on a shared machine quote them with the
numbers.

Usage::

    python benchmarks/bench_3d.py               # about 5 minutes on 2 quiet cores
    python benchmarks/bench_3d.py --quick       # a smoke run, under a minute
    python benchmarks/bench_3d.py --threads 2   # the 2 cores of the project's reference
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time

import numpy as np
import torch

from tacelearn.transformers import CNNEncoder

THIN_RESNET = {"widen_factor": 0.25, "conv1_t_size": 3, "conv1_t_stride": 2}


def _configurations(quick):
    configurations = {
        "2D resnet18 (2 x 32 x 32)": ("resnet18", None, (2, 32, 32)),
        "2.5D resnet18 (6 x 32 x 32)": ("resnet18", None, (6, 32, 32)),
        "3D thin monai:resnet10 (2 x 16 x 32 x 32)": ("monai:resnet10", THIN_RESNET,
                                                     (2, 16, 32, 32)),
        "3D monai:resnet10 (2 x 16 x 32 x 32)": ("monai:resnet10", None, (2, 16, 32, 32)),
    }
    if not quick:
        configurations["3D monai:resnet18 (2 x 16 x 32 x 32)"] = ("monai:resnet18", None,
                                                                  (2, 16, 32, 32))
    return configurations


def _patches(n, shape, seed=0):
    rng = np.random.default_rng(seed)
    y = np.tile([0, 1], n // 2)
    X = rng.normal(size=(n, *shape)).astype(np.float32)
    return X, y


def seconds_per_epoch(backbone, params, shape, n, batch_size, epochs):
    """Median seconds of the epochs after the first, from skorch's own epoch timing."""
    X, y = _patches(n, shape)
    encoder = CNNEncoder(backbone=backbone, backbone_params=params, max_epochs=epochs,
                         batch_size=batch_size, scheduler=None, device="cpu", random_state=0)
    start = time.perf_counter()
    encoder.fit(X, y)
    total = time.perf_counter() - start
    durations = encoder.net_.history[:, "dur"]
    return statistics.median(durations[1:] if len(durations) > 1 else durations), total


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer patches and epochs")
    parser.add_argument("--threads", type=int, default=None, help="torch threads")
    parser.add_argument("--repeats", type=int, default=None)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    n, epochs = (32, 2) if args.quick else (64, 4)
    repeats = args.repeats or (1 if args.quick else 3)
    batch_size = 16
    print(f"machine: {platform.processor() or platform.machine()}, os.cpu_count()="
          f"{os.cpu_count()}, torch {torch.__version__} with {torch.get_num_threads()} "
          f"threads, load average {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    print(f"{n} patches per epoch, batch {batch_size}, augmentation on, {epochs} epochs "
          f"(first dropped), {repeats} interleaved repeat(s)")
    configurations = _configurations(args.quick)
    timings = {name: [] for name in configurations}
    for _ in range(repeats):
        for name, (backbone, params, shape) in configurations.items():
            per_epoch, _ = seconds_per_epoch(backbone, params, shape, n, batch_size, epochs)
            timings[name].append(per_epoch)
    baseline = statistics.median(timings[next(iter(configurations))])
    print("training, seconds per epoch (median):")
    for name, values in timings.items():
        median = statistics.median(values)
        print(f"  {name:45s} {median:7.2f} s   {median / baseline:5.2f} x 2D")
    print(f"load average after: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")


if __name__ == "__main__":
    main()
