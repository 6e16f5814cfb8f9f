"""Benchmark of the detection experiment on CPU.

Prints (medians of repeated runs): scenes per second through encoding (camera or baseline) +
detector inference for each configuration, and the wall time of the quick evaluation
(`canopic detect-eval --quick`). With --full it also times the full evaluation once.

    .venv/bin/python benchmarks/bench_detection.py [--repeats 5] [--evaluation-runs 1] [--full]
"""
from __future__ import annotations

import argparse
import statistics
import tempfile
import time

import torch


def scenes_per_second(name: str, scenes, repeats: int) -> float:
    from learn.detection.detector import CenterNetDetector, predict
    from learn.detection.experiment import encode_scenes, make_encoding

    encoding = make_encoding(name)
    probe = encode_scenes(encoding, scenes, seed=0)
    model = CenterNetDetector(probe.shape[1], encoding.input_stride,
                              input_scale=encoding.input_scale).eval()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        predict(model, encode_scenes(encoding, scenes, seed=1))
        times.append(time.perf_counter() - start)
    return len(scenes) / statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--evaluation-runs", type=int, default=1,
                        help="timed runs of the quick evaluation (median printed; 0 skips it)")
    parser.add_argument("--full", action="store_true", help="also time the full evaluation once")
    args = parser.parse_args()
    from canopic.app.cli import main as canopic_main
    from learn.datasets import default_splits
    from learn.detection.experiment import CONFIGURATIONS, PROFILES
    from learn.detection.scenes import detection_scene_sets

    profile = PROFILES["quick"]
    _, test = detection_scene_sets(default_splits(0), 1, 64, profile.scenes, seed=0)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; "
          f"{len(test)} scenes of {profile.scenes.size} px")
    for name in CONFIGURATIONS:
        rate = scenes_per_second(name, test, args.repeats)
        print(f"  {name:40s} {rate:8.1f} scenes/s (encode + detect, median of {args.repeats})")
    timed = [("quick", ["--quick"])] if args.evaluation_runs > 0 else []
    for label, flags in timed + ([("full", [])] if args.full else []):
        runs = 1 if label == "full" else args.evaluation_runs
        times = []
        for _ in range(runs):
            with tempfile.TemporaryDirectory() as out:
                start = time.perf_counter()
                canopic_main(["detect-eval", *flags, "--out", out, "--overwrite", "--no-figures"])
                times.append(time.perf_counter() - start)
        print(f"{label} evaluation: {statistics.median(times):.1f} s (median of {runs})")


if __name__ == "__main__":
    main()
