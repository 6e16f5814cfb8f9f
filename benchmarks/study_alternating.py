"""Study of the alternating optimisation's hyper-parameters, scored on VALIDATION data only.

For every (alpha, encoder learning rate, seed) it learns a camera of one Table 1 configuration
with the full profile's schedule (``learn.table1.FULL.alternating``, overrides allowed), then runs
the evaluation protocol with ``read_test=False``: the attackers and the detector are trained on
the evaluation identities and scored on their validation part, and the test part is never read.
Use it to choose alpha or a schedule before ``canopic table1`` touches the test split.

    .venv/bin/python benchmarks/study_alternating.py --alphas 1,50 --encoder-lrs 0.01,0.03,0.1
    .venv/bin/python benchmarks/study_alternating.py --alphas 10 --seeds 1 --out runs/study.json

Prints, per camera: learning time, the thresholds (min, max, distinct levels they leave), the
final recogniser / detector validation accuracy on hard codes of the encoder identities, and
the evaluation's validation top-1 of each attack and the detector's face vs no-face accuracy.
About 4 min of learning and 2 min of evaluation per camera on one core (logistic + MLP).
"""
from __future__ import annotations

import argparse
import json
import time


def _numbers(text: str, kind=float) -> list:
    return [kind(item) for item in text.split(",") if item.strip()]


def finish(records, out: "str | None", start: float) -> None:
    """Print the wall time since ``start`` (``time.perf_counter``) and write ``records`` as JSON
    to ``out`` when given (the common end of the study scripts)."""
    print(f"wall time {time.perf_counter() - start:.0f} s")
    if out:
        with open(out, "w") as handle:
            json.dump(records, handle, indent=1)


def distinct_levels(thresholds, tolerance: float = 0.25) -> int:
    """Output levels that thresholds ``tolerance`` LSB or more apart can tell apart (+1)."""
    values = sorted(float(t) for t in thresholds)
    gaps = sum(1 for low, high in zip(values, values[1:]) if high - low >= tolerance)
    return gaps + 2 if values else 1


def summary_line(record: dict) -> str:
    """One printed line of a study record."""
    def fmt(value, spec):
        return "-" if value is None else format(value, spec)

    thresholds = record["thresholds"]
    span = f"{min(thresholds):.2f}..{max(thresholds):.2f}" if thresholds else "-"
    return (f"{record['camera']:28s} learn {record['learn_s']:5.0f} s  thresholds {span} "
            f"({record['levels']} levels)  R/D hard {fmt(record['R_val_hard'], '.3f')}/"
            f"{fmt(record['D_val_hard'], '.3f')}  val ID strongest "
            f"{max(record['val_top1'].values()):.1f} % {record['val_top1']}  "
            f"face val {record['face_val']:.1f} %")


def study(config: str, alphas, encoder_lrs, seeds, attacks, overrides: dict) -> list:
    from learn import datasets, table1
    from learn.evaluation import data_from_splits, evaluate_encoder

    splits = datasets.default_splits(0)
    data = data_from_splits(splits)
    template = next(row for row in table1.ROWS if row.key == f"{config}_unlearned")
    records = []
    cases = [(None, None, 0)] + [(a, lr, s) for a in alphas for lr in encoder_lrs for s in seeds]
    for alpha, encoder_lr, seed in cases:
        log: list = []
        start = time.perf_counter()
        if alpha is None:
            camera, name = table1.row_camera(template, splits, table1.FULL), "unlearned"
        else:
            row = table1.Row(f"{config}_a{alpha:g}_learned", template.label, "learned",
                             template.camera, alpha)
            settings = {**table1.FULL.alternating, **overrides, "encoder_lr": encoder_lr}
            camera = table1.learn_camera(row, splits, settings, seed=seed, log=log)
            name = f"alpha={alpha:g} lr={encoder_lr:g} seed={seed}"
        learn_s = time.perf_counter() - start
        result = evaluate_encoder(table1.camera_encoder(camera), data, seeds=(seed,),
                                  attacks=attacks, budget=table1.FULL.budget,
                                  n_augment=table1.FULL.n_augment, desc=name, read_test=False)
        thresholds = [] if camera.thresholds is None else camera.thresholds.tolist()
        record = {
            "camera": name, "alpha": alpha, "encoder_lr": encoder_lr, "seed": seed,
            "learn_s": round(learn_s, 1), "eval_s": round(time.perf_counter() - start - learn_s, 1),
            "thresholds": [round(t, 3) for t in thresholds],
            "levels": distinct_levels(thresholds),
            "negative_taps": (None if camera.psf is None else
                              round(float((camera.psf < 0).float().mean()), 3)),
            "R_val_hard": log[-1].get("recogniser_val_acc_hard") if log else None,
            "D_val_hard": log[-1].get("detector_val_acc_hard") if log else None,
            "val_top1": {attack: round(100 * spread["val_top1"].mean, 2)
                         for attack, spread in result.privacy.per_attack().items()},
            "face_val": round(100 * result.utility.val_accuracy.mean, 2),
        }
        records.append(record)
        print(summary_line(record), flush=True)
    return records


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="conv4_mp_q",
                        help="Table 1 configuration (row key without _learned)")
    parser.add_argument("--alphas", default="1,50")
    parser.add_argument("--encoder-lrs", default=None,
                        help="comma-separated encoder SGD learning rates (default: the full "
                             "profile's; the authors used 0.01)")
    parser.add_argument("--seeds", type=int, default=1, help="seeds 0..N-1 per configuration")
    parser.add_argument("--attacks", default="logistic,mlp",
                        help="attacks (the strongest on 8x8 codes in the claim study)")
    parser.add_argument("--alternating", action="append", default=[], metavar="KEY=VALUE",
                        help="override a field of the full profile's schedule (JSON value)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", help="write the records as JSON here")
    args = parser.parse_args(argv)

    import torch

    torch.set_num_threads(args.threads)
    overrides = {}
    for item in args.alternating:
        key, _, value = item.partition("=")
        overrides[key] = json.loads(value)
    start = time.perf_counter()
    from learn import table1

    encoder_lrs = (_numbers(args.encoder_lrs) if args.encoder_lrs
                   else [table1.FULL.alternating["encoder_lr"]])
    records = study(args.config, _numbers(args.alphas), encoder_lrs,
                    range(args.seeds), tuple(_numbers(args.attacks, str)), overrides)
    finish(records, args.out, start)


if __name__ == "__main__":
    main()
