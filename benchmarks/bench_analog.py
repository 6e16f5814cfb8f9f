"""Benchmark the analog stages on the camera's shapes (batch 256, 3x64x64 -> 3x8x8), CPU.

Prints medians of repeated runs; the comparator tree is compared with torch's max_pool2d (its
ideal peer) in the same process.

    .venv/bin/python benchmarks/bench_analog.py [--repeats 20] [--threads 1]
"""
from __future__ import annotations

import argparse

import torch
import torch.nn.functional as F

import analog
from timing import median_seconds



def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: default)")
    args = parser.parse_args()
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    gen = torch.Generator().manual_seed(0)
    x = torch.rand((args.batch, 3, 64, 64), generator=gen)
    pool = analog.ComparatorTreeMaxPool(offset_sigma=0.002, noise_sigma=0.002, seed=0)
    pooled = F.max_pool2d(x, 8)
    gain, adc = analog.GainStage(), analog.FlashADC(mismatch_sigma=0.02, noise_sigma=0.05)
    y = gain(pooled)
    soft_input = y.clone().requires_grad_(True)

    def soft_adc_step():
        adc.zero_grad()
        soft_input.grad = None
        adc(soft_input, mode="soft", hardness=10.0).sum().backward()

    cases = {
        "max_pool2d (peer)": lambda: F.max_pool2d(x, 8),
        "comparator tree, ideal": lambda: analog.comparator_tree_max(x, 8),
        "comparator tree, offsets+noise": lambda: pool(x, generator=gen),
        "gain stage per frame": lambda: gain(pooled),
        "flash ADC hard (noise)": lambda: adc(y, generator=gen),
        "flash ADC soft fwd+bwd": soft_adc_step,
    }
    results = {name: median_seconds(fn, args.repeats) for name, fn in cases.items()}
    print(f"batch {args.batch} x 3 x 64 x 64, torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads, median of {args.repeats}")
    for name, seconds in results.items():
        print(f"  {name:32s} {seconds * 1e3:9.3f} ms  {args.batch / seconds:12.0f} frames/s")
    ratio = results["comparator tree, ideal"] / results["max_pool2d (peer)"]
    print(f"  comparator tree (ideal) / max_pool2d: {ratio:.2f}x")


if __name__ == "__main__":
    main()
