"""Training-step time of each network in NCHW and in channels-last (NHWC) memory layout.

    .venv/bin/python benchmarks/bench_layout.py                 # CPU, 1 thread (a table1 worker)
    .venv/bin/python benchmarks/bench_layout.py --threads 2 --repeats 9
    .venv/bin/python benchmarks/bench_layout.py --device cuda   # the same comparison on a GPU
    .venv/bin/python benchmarks/bench_layout.py --row conv4_mp_q_unlearned   # + one Table 1 row

With ``--row KEY`` it also evaluates that Table 1 row end to end for one seed (the full profile
with ``--cnn-epochs``, ideal columns only) in each layout, and prints both wall times, their ratio
and each attack's test top-1 (the two runs differ by round-off, which training amplifies).

Each figure is the median over ``--repeats`` AdamW steps (forward, backward, update) of one
batch of 64 random inputs, after a warm-up step; the ratio is NCHW time / channels-last time, so
a ratio above 1 means channels-last is faster. ``learn.layout`` picks channels-last on the CPU
from these figures.
"""
from __future__ import annotations

import argparse
import time

import torch
from torch.nn import functional as F

from timing import median_seconds


def _networks(batch: int):
    """(name, network factory, input [batch, C, H, W], target, loss)."""
    from learn.attack_networks import CodeDecoder, InceptionClassifier
    from learn.networks import make_detector, make_recogniser

    labels = torch.randint(0, 30, (batch,))
    images = torch.rand(batch, 3, 64, 64)
    codes12 = torch.randint(0, 16, (batch, 12, 8, 8)).float()
    codes3 = torch.randint(0, 16, (batch, 3, 8, 8)).float()
    return [
        ("inception, 64x64 image (clean recogniser)", lambda: InceptionClassifier(3, 30, 64),
         images, labels, F.cross_entropy),
        ("inception, 12x8x8 code (adversary)", lambda: InceptionClassifier(12, 30, 8),
         codes12, labels, F.cross_entropy),
        ("inception, 3x8x8 code (adversary)", lambda: InceptionClassifier(3, 30, 8),
         codes3, labels, F.cross_entropy),
        ("decoder, 12x8x8 code -> 64x64", lambda: CodeDecoder(12, 8, 64),
         codes12, images, F.l1_loss),
        ("decoder, 64x64 -> 64x64, full resolution", lambda: CodeDecoder(3, 64, 64, cells=64),
         images, images, F.l1_loss),
        ("decoder, 64x64 -> 64x64, folded to 16x16", lambda: CodeDecoder(3, 64, 64, cells=16),
         images, images, F.l1_loss),
        ("resnet recogniser, 12x8x8 code", lambda: make_recogniser(12, 30, 8),
         codes12, labels, F.cross_entropy),
        ("resnet detector, 12x8x8 code", lambda: make_detector(12, 8),
         codes12, labels % 2, F.cross_entropy),
    ]


def step_seconds(factory, x, target, loss_fn, memory_format, device, repeats: int) -> float:
    """Median seconds of one training step of a fresh network in ``memory_format``."""
    torch.manual_seed(0)
    model = factory().to(device=device, memory_format=memory_format)
    x = x.to(device).contiguous(memory_format=memory_format)
    target = target.to(device)
    optimiser = torch.optim.AdamW(model.parameters(), lr=1e-3)
    model.train()

    def step():
        optimiser.zero_grad(set_to_none=True)
        loss_fn(model(x), target).backward()
        optimiser.step()
        if device.type == "cuda":
            torch.cuda.synchronize()

    return median_seconds(step, repeats)


def row_seconds(key: str, seed: int, cnn_epochs: int, memory_format) -> "tuple[float, dict]":
    """Wall seconds of one seed of Table 1 row ``key`` in ``memory_format``, and its scores."""
    import dataclasses

    from learn import layout, table1
    from learn.attacks import ATTACK_NAMES
    from learn.datasets import default_splits

    profile = dataclasses.replace(
        table1.FULL, physical=False,
        budget=dataclasses.replace(table1.FULL.budget, cnn_epochs=cnn_epochs))
    row = next((r for r in table1.ROWS if r.key == key), None)
    if row is None:
        raise SystemExit(f"--row: {key!r} is not a Table 1 row; choose from "
                         f"{[r.key for r in table1.ROWS]}")
    chosen = layout.preferred_format
    layout.preferred_format = lambda device: memory_format
    try:
        evaluator = table1._Evaluator(default_splits(0), profile, ATTACK_NAMES)
        start = time.perf_counter()
        item = evaluator.row(row, seed)
        seconds = time.perf_counter() - start
    finally:
        layout.preferred_format = chosen
    scores = {s.attack: 100 * s.test_top1 for s in item.result.privacy.scores}
    scores["face"] = 100 * item.result.utility.test_accuracy.mean
    return seconds, scores


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch threads (table1 workers use 1)")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--row", help="also time one seed of this Table 1 row in each layout")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cnn-epochs", type=int, default=30)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    print(f"device {device}, {args.threads} thread(s), batch {args.batch}, "
          f"median of {args.repeats} steps")
    print(f"{'network':45s} {'NCHW ms':>9s} {'NHWC ms':>9s} {'ratio':>6s}")
    for name, factory, x, target, loss_fn in _networks(args.batch):
        nchw = step_seconds(factory, x, target, loss_fn, torch.contiguous_format, device,
                            args.repeats)
        nhwc = step_seconds(factory, x, target, loss_fn, torch.channels_last, device,
                            args.repeats)
        print(f"{name:45s} {1e3 * nchw:9.1f} {1e3 * nhwc:9.1f} {nchw / nhwc:6.2f}")
    if args.row:
        if device.type != "cpu":
            raise SystemExit("--row: times the CPU path only")
        timed = {name: row_seconds(args.row, args.seed, args.cnn_epochs, memory_format)
                 for name, memory_format in (("NCHW", torch.contiguous_format),
                                             ("NHWC", torch.channels_last))}
        print(f"\nrow {args.row}, seed {args.seed}, CNN budget {args.cnn_epochs} epochs "
              "(ideal columns; test top-1 % per attack, face %)")
        for name, (seconds, scores) in timed.items():
            cells = ", ".join(f"{k} {v:.1f}" for k, v in scores.items())
            print(f"  {name}: {seconds:7.1f} s   {cells}")
        print(f"  ratio NCHW / NHWC: {timed['NCHW'][0] / timed['NHWC'][0]:.2f}")


if __name__ == "__main__":
    main()
