"""Top-1 of the attack suite on clean 64x64 images: is the suite strong enough (>= 70 %)?

    .venv/bin/python benchmarks/bench_clean_suite.py --seed 0 --cnn-epochs 80
    python3 benchmarks/bench_clean_suite.py --seed 1 --cnn-epochs 80 --device cuda

One evaluation seed per process (run seeds side by side as separate processes): the full
profile's attack budget (``learn.table1.FULL``) with ``--cnn-epochs`` for the CNNs, on the
bundled data's evaluation identities, validation for model selection, the test part read once.
Prints each attack's validation and test top-1, the strongest, and the wall time.
"""
from __future__ import annotations

import argparse
import dataclasses
import time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cnn-epochs", type=int, default=None,
                        help="epochs of the CNN attack and the clean recogniser (default: FULL's)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    import torch

    from learn import datasets, table1
    from learn.evaluation import data_from_splits, evaluate_encoder

    torch.set_num_threads(args.threads)
    budget = table1.FULL.budget if args.cnn_epochs is None else dataclasses.replace(
        table1.FULL.budget, cnn_epochs=args.cnn_epochs)
    data = data_from_splits(datasets.default_splits(0)).to(args.device)
    start = time.perf_counter()
    result = evaluate_encoder(table1.baseline_encoder("clean", 0), data, seeds=(args.seed,),
                              budget=budget, n_augment=table1.FULL.n_augment, utility=False,
                              desc=f"clean seed {args.seed}")
    seconds = time.perf_counter() - start
    for score in result.privacy.scores:
        print(f"seed {args.seed} {score.attack:12s} val top-1 {100 * score.val_top1:5.1f} %  "
              f"test top-1 {100 * score.test_top1:5.1f} %  top-5 {100 * score.test_top5:5.1f} %")
    print(f"seed {args.seed}: strongest {result.privacy.strongest} "
          f"{100 * result.privacy.top1.mean:.1f} % (chance {100 * result.privacy.chance_top1:.1f} %); "
          f"budget {budget}; device {args.device}; {seconds:.0f} s")


if __name__ == "__main__":
    main()
