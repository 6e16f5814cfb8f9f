"""Learned cameras of ``canopic demo``'s quick profile under other learning settings.

Each variant learns the demo's two cameras (Conv(1), Conv(4); physical mode, seed 0) with the
demo's own train stage, then scores each design exactly as the demo's evaluate stage does (the
quick profile's attacks and budget, the test split of split seed 0, one evaluation seed) and
appends one JSON line per camera to ``--out`` (``identity``: strongest attack's top-1,
``face``: face vs no-face accuracy, ``train_s``: training seconds). The demo's own learned rows
(the default recipe) are in a demo run's ``summary.json`` (stages.evaluate.rows).

    .venv/bin/python benchmarks/demo_variants.py --out docs/results/demo/demo_variants.jsonl \\
        taps_a200 fpsf_a200 fpsf_a500_full_steps

About 4-9 min of training and 1-2 min of evaluation per camera on one CPU core.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import tempfile
import time
from pathlib import Path

import torch

from canopic.app.demo import CONVS, PROFILES, DemoRun, train_stage
from learn import datasets, table1
from learn.attacks import AttackBudget
from learn.evaluation import data_from_splits, evaluate_encoder
from sensor.design_bundle import load_design_bundle

QUICK = PROFILES["quick"]
#: variant -> (demo profile, alpha, psf_parameterisation); the recipe is closed_form
VARIANTS = {
    "default": (QUICK, 500.0, "factorised"),
    "taps_a200": (QUICK, 200.0, "taps"),
    "fpsf_a200": (QUICK, 200.0, "factorised"),
    "fpsf_a500_full_steps": (dataclasses.replace(
        QUICK, training={**QUICK.training, "steps_per_epoch": None}), 500.0, "factorised"),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("variants", nargs="+", choices=sorted(VARIANTS))
    parser.add_argument("--out", required=True, help="JSON lines file results are appended to")
    args = parser.parse_args()
    torch.set_num_threads(1)
    splits = datasets.make_splits(datasets.load_faces(), datasets.load_nonfaces(), seed=0)
    data = data_from_splits(splits, QUICK.max_per_part)
    with tempfile.TemporaryDirectory() as work:
        for name in args.variants:
            profile, alpha, parameterisation = VARIANTS[name]
            run = DemoRun(Path(work) / name, {})
            run.progress = False
            for conv in CONVS:
                start = time.perf_counter()
                train_stage(run, conv, profile, 0, "closed_form", alpha, "two_mask",
                            parameterisation)
                seconds = time.perf_counter() - start
                camera = load_design_bundle(run.out / conv / "design").make_camera()
                result = evaluate_encoder(table1.camera_encoder(camera), data, seeds=QUICK.seeds,
                                          attacks=QUICK.attacks,
                                          budget=AttackBudget(**QUICK.budget),
                                          n_augment=QUICK.n_augment, desc=name, recognisers={},
                                          progress=False)
                row = {"variant": name, "conv": conv, "identity": result.privacy.top1.mean,
                       "face": result.utility.test_accuracy.mean, "train_s": round(seconds)}
                print(row, flush=True)
                with open(args.out, "a") as out:
                    out.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()
