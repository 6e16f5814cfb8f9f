"""Reconstruction decoder on full-size outputs: full resolution vs folded, on VALIDATION data only.

The reconstruction attack decodes a camera output back to a 64x64 image and hands it to a
recogniser trained on clean images (``learn.attacks.ReconstructionAttack``). For full-size
outputs (blurred or pixelated images, the un-pooled Quantize rows) the decoder either convolves
at full resolution (``decoder_cells=64``, the design before this study: receptive field 7 px)
or first folds the image onto a 16x16 grid without loss (``decoder_cells=16``: each 4x4 block
of pixels becomes 48 channels; receptive field of several blocks; the unfolded image joins again
at full resolution). This script trains both on
the same encoded data with the same seed and the same clean recogniser and prints, per encoder
and design: the decoder's validation L1 error, the attack's validation top-1 and the decoder's
training time. The test part is never read (``read_test`` semantics: model selection only).

    .venv/bin/python benchmarks/study_decoder.py              # clean, blur 8 and 16, pixelate 8
    .venv/bin/python benchmarks/study_decoder.py --encoders blur:4 --cells 64,16,8 --seed 1

One core: the clean recogniser 2-3 min (30 CNN epochs), then per encoder about 9 min at full
resolution and 3 min folded (15 decoder epochs, the full profile's budget).
"""
from __future__ import annotations

import argparse
import dataclasses
import time

import torch


def parse_encoders(text: str) -> "list[tuple[str, float]]":
    """``"clean,blur:8,pixelate:8"`` -> [("clean", 0.0), ("blur", 8.0), ("pixelate", 8.0)]."""
    encoders = []
    for item in text.split(","):
        name, _, strength = item.partition(":")
        if name == "clean" and not strength:
            strength = "0"
        if name not in ("clean", "blur", "pixelate") or not strength:
            raise SystemExit(f"--encoders: {item!r} is not allowed; use clean, blur:SIGMA or "
                             "pixelate:BLOCK")
        encoders.append((name, float(strength)))
    return encoders


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--encoders", default="clean,blur:8,blur:16,pixelate:8",
                        help="comma-separated clean / blur:SIGMA_PX / pixelate:BLOCK_PX")
    parser.add_argument("--cells", default="64,16",
                        help="decoder grids to compare (64: full resolution)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cnn-epochs", type=int, default=30,
                        help="budget of the clean recogniser (the claim study's 30)")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    from learn import table1
    from learn.attacks import AttackData, ReconstructionAttack
    from learn.datasets import default_splits
    from learn.evaluation import data_from_splits, encode, encoded_training_set

    budget = dataclasses.replace(table1.FULL.budget, cnn_epochs=args.cnn_epochs)
    data = data_from_splits(default_splits(0))
    recognisers: dict = {}
    cells = [int(c) for c in args.cells.split(",")]
    header = f"{'encoder':14s} {'cells':>5s} {'val L1':>7s} {'val top-1 %':>11s} {'fit s':>7s}"
    for name, strength in parse_encoders(args.encoders):
        encoder = table1.baseline_encoder(name, strength)
        codes, labels, scenes = encoded_training_set(encoder, data.id_train,
                                                     table1.FULL.n_augment, args.seed)
        val_codes = encode(encoder, data.id_val.images,
                           torch.Generator().manual_seed(10_000 + args.seed))
        attack_data = AttackData(codes, labels, val_codes, data.id_val.labels, data.num_classes,
                                 scenes, data.id_val.images)
        if args.seed not in recognisers:  # depends on the clean scenes only: train it once
            start = time.perf_counter()
            ReconstructionAttack(budget, recognisers)._clean_recogniser(attack_data, args.seed)
            print(f"clean recogniser (seed {args.seed}, {args.cnn_epochs} CNN epochs): "
                  f"{time.perf_counter() - start:.0f} s", flush=True)
        if header:
            print(header)
            header = ""
        for grid in cells:
            attack = ReconstructionAttack(dataclasses.replace(budget, decoder_cells=grid),
                                          recognisers)
            start = time.perf_counter()
            attack.fit(attack_data, args.seed)
            seconds = time.perf_counter() - start
            label = name if name == "clean" else f"{name} {strength:g}"
            print(f"{label:14s} {grid:5d} "
                  f"{attack.decoder_val_l1:7.4f} {100 * attack.record.val_top1:11.1f} "
                  f"{seconds:7.0f}", flush=True)


if __name__ == "__main__":
    main()
