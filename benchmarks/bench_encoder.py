"""CNNEncoder speed, measured side by side with the raw timm model in one run.

1. Inference: ``CNNEncoder.transform`` (pre-logit embedding) in images/s against the timm model's
   ``forward_features`` + ``forward_head(pre_logits=True)`` on the same tensors and batch size,
   the limit any wrapper can reach. Target: ratio >= 0.9.
2. Training: seconds per epoch of ``CNNEncoder.fit`` per backbone (ResNet18, ResNet50,
   DenseNet169, Swin-T), with and without augmentation, against a plain torch loop (same
   model, Adam, batch size and data, no augmentation): skorch's and our overhead.
3. The optimizer step: fused Adam (what CNNEncoder uses) against the per-parameter loop.

Usage::

    python benchmarks/bench_encoder.py            # CPU, about 3 minutes on 2 cores
    python benchmarks/bench_encoder.py --quick    # CPU, about a minute
    python benchmarks/bench_encoder.py --threads 1   # steadier on a shared machine
    python benchmarks/bench_encoder.py --device cuda --amp   # GPU: float16 autocast both sides

On CUDA, CNNEncoder always trains and predicts with float16 autocast and channels-last memory;
``--amp`` gives the raw baseline the same, without it the baseline runs in float32 and the
ratio includes the mixed-precision gain. Medians of repeats; the machine is printed first.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time

import numpy as np
import timm
import torch

from tacelearn.transformers import CNNEncoder

BACKBONES = ("resnet18", "resnet50", "densenet169", "swin_tiny_patch4_window7_224")


def _synchronise(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _median_time(function, repeats, device):
    times = []
    for _ in range(repeats):
        _synchronise(device)
        start = time.perf_counter()
        function()
        _synchronise(device)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _patches(n, size, seed=0):
    rng = np.random.default_rng(seed)
    y = np.tile([0, 1], n // 2)
    X = rng.normal(size=(n, 2, size, size)).astype(np.float32)
    X[y == 1, :, size // 4:size // 2, size // 4:size // 2] += 1.0
    return X, y


def bench_inference(backbone, n, size, batch_size, repeats, device, amp):
    X, y = _patches(n, size)
    encoder = CNNEncoder(backbone=backbone, max_epochs=1, batch_size=batch_size, augment=False,
                         device=str(device), random_state=0).fit(X[:batch_size], y[:batch_size])
    model = encoder.net_.module_.backbone.eval()
    source = torch.from_numpy(X)
    memory = torch.channels_last if amp else torch.contiguous_format

    def raw():
        outputs = []
        with torch.inference_mode(), torch.autocast(device.type, dtype=torch.float16,
                                                    enabled=amp):
            for start in range(0, n, batch_size):
                batch = source[start:start + batch_size].to(device).contiguous(
                    memory_format=memory)
                features = model.forward_features(batch)
                outputs.append(model.forward_head(features, pre_logits=True).float().cpu())
        return torch.cat(outputs)

    def ours():
        return encoder.transform(X)

    # Warm-up (allocator, kernels, cudnn autotuning) and a check that both compute the same.
    np.testing.assert_allclose(ours(), raw().numpy(), rtol=1e-2, atol=1e-2)
    raw_times, our_times = [], []
    for _ in range(repeats):  # interleaved, so drifting load hits both alike
        raw_times.append(_median_time(raw, 1, device))
        our_times.append(_median_time(ours, 1, device))
    raw_rate = n / statistics.median(raw_times)
    our_rate = n / statistics.median(our_times)
    print(f"  {backbone:30s} {size:4d}px  batch {batch_size:3d}: CNNEncoder.transform "
          f"{our_rate:8.1f} img/s, raw timm {raw_rate:8.1f} img/s, ratio {our_rate / raw_rate:.2f}")


def _plain_torch_epoch(backbone, X, y, batch_size, device, amp, seed=0):
    """One epoch of the simplest correct loop, for comparison."""
    torch.manual_seed(seed)
    kwargs = {"img_size": X.shape[2:]} if "swin" in backbone else {}
    model = timm.create_model(backbone, in_chans=X.shape[1], num_classes=2, **kwargs).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=5e-4, weight_decay=5e-4,
                                 fused=True)
    scaler = torch.amp.GradScaler("cuda", enabled=amp)
    loss_function = torch.nn.CrossEntropyLoss()
    data, labels = torch.from_numpy(X), torch.from_numpy(y.astype(np.int64))
    order = torch.randperm(len(data))

    def epoch():
        model.train()
        for start in range(0, len(data), batch_size):
            index = order[start:start + batch_size]
            batch, target = data[index].to(device), labels[index].to(device)
            with torch.autocast(device.type, dtype=torch.float16, enabled=amp):
                loss = loss_function(model(batch).float(), target)
            optimizer.zero_grad()
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()

    epoch()  # warm-up epoch, as the encoder's first
    return _median_time(epoch, 2, device)


def bench_training(backbone, n, size, batch_size, device, amp):
    X, y = _patches(n, size)
    times = {}
    for augment in (True, False):
        encoder = CNNEncoder(backbone=backbone, max_epochs=3, batch_size=batch_size,
                             augment=augment, device=str(device), random_state=0).fit(X, y)
        # skorch times each epoch; the first pays one-off allocations.
        times[augment] = statistics.median(encoder.net_.history[1:, "dur"])
    plain = _plain_torch_epoch(backbone, X, y, batch_size, device, amp)
    print(f"  {backbone:30s} {size:4d}px  {n} images, batch {batch_size}: "
          f"{times[True]:6.2f} s/epoch (augmented), {times[False]:6.2f} s/epoch (not), "
          f"plain torch {plain:6.2f} s/epoch, ratio (not augmented / plain) "
          f"{times[False] / plain:.2f}")


def bench_optimizer_step(repeats):
    model = timm.create_model("resnet18", num_classes=2, in_chans=2)
    for parameter in model.parameters():
        parameter.grad = torch.randn_like(parameter)
    timings = {}
    for label, kwargs in (("per-parameter loop", {"foreach": False}), ("fused", {"fused": True})):
        optimizer = torch.optim.Adam(model.parameters(), lr=5e-4, weight_decay=5e-4, **kwargs)
        optimizer.step()
        timings[label] = _median_time(optimizer.step, repeats, torch.device("cpu"))
    print(f"  ResNet18 Adam step (CPU): loop {timings['per-parameter loop'] * 1e3:.1f} ms, "
          f"fused {timings['fused'] * 1e3:.1f} ms, speed-up "
          f"{timings['per-parameter loop'] / timings['fused']:.1f}x")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    parser.add_argument("--amp", action="store_true",
                        help="CUDA only: float16 autocast and channels-last for the raw baseline")
    parser.add_argument("--quick", action="store_true", help="fewer images and backbones")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch CPU threads (default: torch's choice); 1 is steadier on a "
                             "shared machine")
    args = parser.parse_args()
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    if args.amp and args.device != "cuda":
        parser.error("--amp needs --device cuda (CNNEncoder uses mixed precision on CUDA only)")
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        parser.error("--device cuda but CUDA is not available")

    print(f"machine: {platform.processor() or platform.machine()}, os.cpu_count()="
          f"{os.cpu_count()}, torch threads={torch.get_num_threads()}, torch {torch.__version__}, "
          f"timm {timm.__version__}")
    if device.type == "cuda":
        print(f"device: {torch.cuda.get_device_name(device)}, amp baseline={args.amp}")

    gpu = device.type == "cuda"
    repeats = 3 if args.quick else 5
    print("inference (median of interleaved repeats):")
    inference = ([("resnet18", 64, 64)] if args.quick
                 else [("resnet18", 128, 64), ("densenet169", 128, 32)])
    for backbone, size, n in inference:
        bench_inference(backbone, n=512 if gpu else n, size=size, batch_size=32,
                        repeats=repeats, device=device, amp=args.amp)

    print("training (seconds per epoch):")
    size = 128 if gpu else 64
    n = 512 if gpu else (32 if args.quick else 64)
    for backbone in (BACKBONES[:2] if args.quick else BACKBONES):
        bench_training(backbone, n=n, size=size, batch_size=32, device=device, amp=args.amp)

    print("optimizer:")
    bench_optimizer_step(repeats)


if __name__ == "__main__":
    main()
