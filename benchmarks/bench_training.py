"""Training throughput (images/s) of each step of the alternating optimisation, and the wall
time of the quick profile.

    .venv/bin/python benchmarks/bench_training.py                 # step throughput, CPU
    .venv/bin/python benchmarks/bench_training.py --quick-profile # + full quick runs (minutes)
    .venv/bin/python benchmarks/bench_training.py --device cuda   # on a GPU

Each figure is the median over ``--repeats`` runs of ``--steps`` optimiser steps (batch 32) on
the bundled data (encoding: 256 images).
"""
from __future__ import annotations

import argparse
import statistics
import tempfile
import time

import torch


def _trainer(conv: str, steps: int, device: str):
    from learn import alternating, runs
    from sensor import Camera

    config = runs.RunConfig.from_dict({
        "camera": {"conv": conv}, "device": device,
        "training": {"encoder_epochs": 1, "recogniser_epochs": 1, "detector_epochs": 1,
                     "steps_per_epoch": steps}})
    data = runs._training_data(config, torch.device(device), 0, 1)
    return alternating.AlternatingTrainer(Camera(config.camera), data, config.training,
                                          device=device)


def _time(step, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        step(0)
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _network_steps(trainer, net, steps: int) -> None:
    """``steps`` Adam steps of ``net`` on pre-encoded codes (what a network epoch costs)."""
    codes = trainer._encode_all(trainer.data.faces[:32], "soft", 5.0)
    labels = trainer.data.face_labels[:32] % net.num_classes
    optimiser = trainer._adam(net)
    net.train()
    for _ in range(steps):
        optimiser.zero_grad()
        torch.nn.functional.cross_entropy(net(codes), labels).backward()
        optimiser.step()


def step_throughput(conv: str, steps: int, repeats: int, device: str) -> dict:
    """Images/s (medians) of: the encoder step (camera soft forward+backward through frozen R
    and D), encoding (camera soft forward, no grad, what step 1 does once per step), and the
    recogniser's and detector's training on codes."""
    trainer = _trainer(conv, steps, device)
    batch = trainer.settings.batch_size
    images = trainer.data.faces[:256]
    trainer.encoder_step(0)  # warm-up
    seconds = {
        "encoder step": _time(trainer.encoder_step, repeats),
        "encode (soft, no grad)": _time(lambda _: trainer._encode_all(images, "soft", 5.0), repeats),
        "recogniser on codes": _time(lambda _: _network_steps(trainer, trainer.recogniser, steps),
                                     repeats),
        "detector on codes": _time(lambda _: _network_steps(trainer, trainer.detector, steps),
                                   repeats)}
    counts = {"encoder step": steps * batch, "encode (soft, no grad)": len(images),
              "recogniser on codes": steps * batch, "detector on codes": steps * batch}
    return {name: counts[name] / seconds[name] for name in seconds}


def quick_profile_seconds(conv: str, device: str) -> float:
    """Wall time of one quick-profile training run (the demo's profile)."""
    from learn import runs

    config = runs.RunConfig.from_dict({"camera": {"conv": conv}, "device": device,
                                       "training": runs.PROFILES["quick"]})
    with tempfile.TemporaryDirectory() as out:
        start = time.perf_counter()
        result = runs.train(config, out, progress=False)
        seconds = time.perf_counter() - start
    last = result.metrics[-1]
    print(f"  quick {conv}: R val acc (hard) {last['recogniser_val_acc_hard']:.3f}, "
          f"D val acc (hard) {last['detector_val_acc_hard']:.3f}")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=10, help="optimiser steps per timing")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch CPU threads (1 is much faster on a shared, loaded machine)")
    parser.add_argument("--quick-profile", action="store_true",
                        help="also time a full quick-profile run of Conv(1) and Conv(4)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"device {args.device}, torch {torch.__version__}, threads {torch.get_num_threads()}, "
          f"batch 32, {args.steps} steps, median of {args.repeats}")
    for conv in ("conv1", "conv4"):
        rates = step_throughput(conv, args.steps, args.repeats, args.device)
        print(f"{conv}: " + ", ".join(f"{k} {v:,.0f} img/s" for k, v in rates.items()))
    if args.quick_profile:
        for conv in ("conv1", "conv4"):
            print(f"quick profile {conv}: {quick_profile_seconds(conv, args.device):.1f} s wall")


if __name__ == "__main__":
    main()
