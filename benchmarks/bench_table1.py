"""Wall time of Table 1 (quick or full profile) and of each attacker on the bundled data.

Usage
-----
    nice -n 10 .venv/bin/python benchmarks/bench_table1.py --attacks-only --repeats 3
    nice -n 10 .venv/bin/python benchmarks/bench_table1.py --profile quick --out /tmp/t1q
    nice -n 10 .venv/bin/python benchmarks/bench_table1.py --profile full --seeds 3 --workers 2 --out /tmp/t1
    python3 benchmarks/bench_table1.py --profile full --seeds 3 --workers 8 --device cuda --out /tmp/t1 \
        -- --no-physical --rows clean,conv4_mp_q_unlearned   # extra canopic table1 flags after --

``--attacks-only`` prints the median fit time of every attacker (and the detector) on one seed of
the encoded evaluation split, for a clean 64x64 input and a Conv(1)+MP+Quantize 8x8 code, plus the
clean-image top-1 of the suite (the >= 70 % requirement). Without it, the whole table runs once
and its wall time is printed (goal: the full profile under 2 h on CPU).
"""
from __future__ import annotations

import argparse
import dataclasses
import statistics
import time


def bench_attacks(repeats: int, epochs: "int | None") -> None:
    import torch

    from learn import datasets
    from learn.attacks import ATTACK_NAMES, AttackBudget, AttackData, accuracy, make_attack
    from learn.evaluation import (data_from_splits, encode, encoded_training_set,
                                  online_augmentation)
    from learn.table1 import baseline_encoder, camera_encoder
    from sensor import Camera, CameraConfig

    budget = AttackBudget() if epochs is None else dataclasses.replace(
        AttackBudget(), cnn_epochs=epochs, flat_epochs=epochs, decoder_epochs=epochs)
    data = data_from_splits(datasets.default_splits(0))
    encoders = {"clean 64x64": baseline_encoder("clean", 0),
                "conv1+mp+q 8x8": camera_encoder(Camera(CameraConfig(conv="conv1")))}
    print(f"eval split: train {len(data.id_train.labels)}, val {len(data.id_val.labels)}, "
          f"test {len(data.id_test.labels)}, {data.num_classes} identities "
          f"(chance {100 / data.num_classes:.1f} %); budget {budget}")
    for label, encoder in encoders.items():
        codes, labels, scenes = encoded_training_set(encoder, data.id_train, 1, 0)
        val = encode(encoder, data.id_val.images, torch.Generator().manual_seed(1))
        test = encode(encoder, data.id_test.images, torch.Generator().manual_seed(2))
        attack_data = AttackData(codes, labels, val, data.id_val.labels, data.num_classes,
                                 scenes, data.id_val.images,
                                 augment=online_augmentation(codes, scenes))
        for name in ATTACK_NAMES:
            times, top1 = [], []
            for _ in range(repeats):
                recognisers: dict = {}
                start = time.perf_counter()
                attack = make_attack(name, budget, recognisers).fit(attack_data, seed=0)
                times.append(time.perf_counter() - start)
                top1.append(accuracy(attack.scores(test), data.id_test.labels))
            print(f"{label:16s} {name:12s} fit median {statistics.median(times):7.1f} s "
                  f"(n={repeats})  test top-1 {100 * statistics.median(top1):5.1f} %  "
                  f"val top-1 {100 * attack.record.val_top1:5.1f} %", flush=True)


def bench_table(profile_name: str, seeds: int, out: str, workers: int = 1, device: str = "cpu",
                extra: "list[str] | None" = None) -> None:
    import torch

    from canopic.app.cli import main

    start = time.perf_counter()
    argv = ["table1", "--out", out, "--seeds", str(seeds), "--quiet", "--threads",
            str(torch.get_num_threads()), "--workers", str(workers), "--overwrite",
            "--device", device] + list(extra or [])
    if profile_name == "quick":
        argv.append("--quick")
    code = main(argv)
    print(f"table1 --profile {profile_name} --seeds {seeds} --workers {workers} --device {device} "
          f"{' '.join(extra or [])}: exit {code}, wall time "
          f"{time.perf_counter() - start:.0f} s; results in {out}/table1.md")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--attacks-only", action="store_true")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--epochs", type=int, default=None, help="override every epoch budget")
    parser.add_argument("--profile", choices=("quick", "full"), default="quick")
    parser.add_argument("--seeds", type=int, default=1)
    parser.add_argument("--out", default="/tmp/canopic_table1")
    parser.add_argument("--workers", type=int, default=1, help="row-parallel processes (CPU cores)")
    parser.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N (the table only)")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch CPU threads (one is fastest for these small nets on a shared CPU)")
    args, extra = parser.parse_known_args()
    if extra and extra[0] == "--":
        extra = extra[1:]
    import torch

    torch.set_num_threads(args.threads)
    if args.attacks_only:
        bench_attacks(args.repeats, args.epochs)
    else:
        bench_table(args.profile, args.seeds, args.out, args.workers, args.device, extra)


if __name__ == "__main__":
    main()
