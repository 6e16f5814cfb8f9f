"""Where one full-profile evaluation spends its time: each fit's seconds and epochs.

Usage
-----
    .venv/bin/python benchmarks/profile_evaluation.py q          # Quantize only: 64x64 codes
    .venv/bin/python benchmarks/profile_evaluation.py conv1_mp_q # Conv(1)+MP+Quantize: 8x8 codes

Runs ``learn.evaluation.evaluate_encoder`` once (seed 0, one torch thread, ``learn.table1.FULL``
budget, the whole suite and the detector) on the bundled data for the unlearned camera of that
Table 1 configuration, and prints every classifier and decoder fit as it ends (network, training
tensor shape, epochs run, best epoch, seconds), then the total. The reconstruction attack's
clean recogniser (the 64x64 Inception fit after the flat models) is trained once per seed in a
table run (``learn.recogniser_store``): subtract it for a table task's cost. Last, the number of
evaluations per seed in the full Table 1 by the side of the encoded output (physical twins
included, rows that reuse another row's result left out), to scale these figures to the table.
"""
from __future__ import annotations

import sys
import time


def main(config: str) -> None:
    import torch

    import learn.attacks as attacks
    import learn.evaluation as evaluation
    from learn import datasets
    from learn.table1 import FULL, ROWS, camera_encoder
    from sensor import Camera, CameraConfig

    torch.set_num_threads(1)
    rows = {row.key: row for row in ROWS}
    if f"{config}_unlearned" not in rows:
        raise SystemExit(f"config: {config!r} is not a Table 1 configuration")
    fit_classifier, fit_decoder = attacks.train_classifier, attacks.train_decoder

    def timed(fit, describe):
        """``fit`` that prints its network, training shape, ``describe(result)`` and seconds."""
        def wrapper(model, x, *args, **kwargs):
            start = time.perf_counter()
            result = fit(model, x, *args, **kwargs)
            print(f"{type(model).__name__:20s} {str(tuple(x.shape)):20s} {describe(result):17s}  "
                  f"{time.perf_counter() - start:7.1f} s", flush=True)
            return result
        return wrapper

    attacks.train_classifier = evaluation.train_classifier = timed(
        fit_classifier, lambda record: f"epochs {record.epochs_run:3d} (best {record.best_epoch:3d})")
    attacks.train_decoder = timed(fit_decoder, lambda error: f"val L1 {error:.4f}")
    encoder = camera_encoder(Camera(CameraConfig(**rows[f"{config}_unlearned"].camera)))
    data = evaluation.data_from_splits(datasets.default_splits(0))
    start = time.perf_counter()
    result = evaluation.evaluate_encoder(encoder, data, seeds=(0,), budget=FULL.budget,
                                         n_augment=FULL.n_augment, progress=False)
    print(f"total {time.perf_counter() - start:.1f} s; test top-1 "
          + " ".join(f"{s.attack}={100 * s.test_top1:.1f}" for s in result.privacy.scores)
          + f"; face {100 * result.utility.test_accuracy.mean:.1f} %")


def evaluation_counts() -> None:
    """Print the full Table 1's evaluations per seed by encoded-output side, and its learned rows."""
    from collections import Counter

    from learn.table1 import FULL, ROWS, table_tasks

    sides, learned = Counter(), 0
    for task in table_tasks(ROWS, FULL, (0,)):
        if task[0] == "sweep":
            sides[64 if task[1] == "blur" else 64 // int(task[2])] += 1
        elif task[0] == "row":
            row = task[1]
            pooled = row.key == "pixelate" or bool(row.camera and row.camera.get("maxpool"))
            sides[8 if pooled else 64] += 2 if FULL.physical and row.quantises else 1
            learned += row.kind == "learned"
    print("full Table 1, per seed: evaluations by output side "
          + ", ".join(f"{side} px: {count}" for side, count in sorted(sides.items(), reverse=True))
          + f"; {learned} learned cameras")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "conv1_mp_q")
    evaluation_counts()
