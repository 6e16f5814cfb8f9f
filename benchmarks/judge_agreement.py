"""How well do selection's judges agree with the evaluation? (issue 31's learning study)

Usage
-----
    .venv/bin/python benchmarks/judge_agreement.py --study docs/results/learning_study --workers 2

For every learned design the study kept (``STUDY/designs``, with its validation identity accuracy
in ``STUDY/records.jsonl``), four judges score its hard codes of LFW role E people (encoder
people, never an evaluation person):

* ``holdout``: the judge of ``select="validation"`` by default: 100 people (the same seeded
  choice), a logistic regression fitted on their training images, scored on their held-out ones;
* ``cv2_random100`` / ``cv5_random100``: the same 100 people, 2- / 5-fold cross-validated over
  all their images;
* ``cv5_richest50``: the 50 people with the most images, 5-fold cross-validated
  (``judge_folds=5``).

Printed: each judge's Pearson correlation with the evaluation's identity accuracy over all
designs, and within a recipe (each recipe's mean removed; recipes with >= 2 seeds). The designs
learned without the richest people taken out of the loop learned from them, which flatters
``cv5_richest50``'s agreement somewhat. One JSON line per design in ``--out``.
"""
from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

JUDGES = ("holdout", "cv2_random100", "cv5_random100", "cv5_richest50")


def _state():
    import numpy as np
    import torch

    from learn import datasets
    from learn.alternating import _split_off_judge
    from learn.encoder_faces import with_encoder_faces

    torch.set_num_threads(1)
    splits = with_encoder_faces(datasets.default_splits(0), "lfw-e", seed=0)
    train, val = splits.encoder_train, splits.encoder_val
    people = {}
    for name, count, pick in (("random100", 100, "random"), ("richest50", 50, "most_images")):
        _, _, judge_train, judge_val = _split_off_judge(train, val, count, pick)
        people[name] = (datasets.to_tensor(judge_train.images), torch.tensor(judge_train.labels),
                        datasets.to_tensor(judge_val.images), torch.tensor(judge_val.labels),
                        judge_train.num_classes)
    return people


def score(people: dict, folder: str) -> dict:
    """The four judges' accuracies (fractions) of the design bundle in ``folder``."""
    import torch

    from learn.selection import cross_validated_accuracy, logistic_accuracy
    from sensor.design_bundle import load_design_bundle

    camera = load_design_bundle(folder).make_camera().eval()

    def encode(images):
        with torch.no_grad():
            generator = torch.Generator().manual_seed(0)
            return torch.cat([camera(images[i:i + 256], mode="hard", generator=generator)
                              for i in range(0, len(images), 256)])

    out = {}
    for name, (train, train_labels, val, val_labels, classes) in people.items():
        codes_train, codes_val = encode(train), encode(val)
        codes, labels = torch.cat([codes_train, codes_val]), torch.cat([train_labels, val_labels])
        if name == "random100":
            out["holdout"] = logistic_accuracy(codes_train, train_labels, codes_val, val_labels,
                                               classes)
            out["cv2_random100"] = cross_validated_accuracy(codes, labels, classes, 2)
        out[f"cv5_{name}"] = cross_validated_accuracy(codes, labels, classes, 5)
    return out


_PEOPLE = None


def _work(job: tuple) -> dict:
    global _PEOPLE
    if _PEOPLE is None:
        _PEOPLE = _state()
    record, folder = job
    return {"name": record["name"], "seed": record["seed"], "identity": record["identity"],
            **score(_PEOPLE, folder)}


def agreement(rows: "list[dict]", judge: str) -> "tuple[float, float, int]":
    """(correlation over all rows, within recipes, rows within) of ``judge`` with identity."""
    groups: "dict[str, list]" = {}
    for row in rows:
        groups.setdefault(row["name"], []).append(row)
    xs, ys = [], []
    for group in groups.values():
        if len(group) < 2:
            continue
        mx = statistics.fmean(r[judge] for r in group)
        my = statistics.fmean(r["identity"] for r in group)
        xs += [r[judge] - mx for r in group]
        ys += [r["identity"] - my for r in group]
    return (statistics.correlation([r[judge] for r in rows], [r["identity"] for r in rows]),
            statistics.correlation(xs, ys), len(xs))


def main() -> None:
    from multiprocessing import Pool

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--study", type=Path, default=Path("docs/results/learning_study"))
    parser.add_argument("--out", type=Path, default=None,
                        help="JSON lines (default: STUDY/judge_agreement.jsonl)")
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    out = args.out or args.study / "judge_agreement.jsonl"
    records = [json.loads(line) for line in (args.study / "records.jsonl").read_text().splitlines()
               if line.strip()]
    jobs = []
    for record in records:
        folder = args.study / "designs" / record["name"].replace(" ", "_") / f"seed{record['seed']}"
        if record["task"][0] == "learn" and folder.is_dir():
            jobs.append((record, str(folder)))
    with Pool(args.workers) as pool:
        rows = pool.map(_work, jobs)
    out.write_text("".join(json.dumps(row) + "\n" for row in rows))
    print(f"{len(rows)} designs ({out})")
    for judge in JUDGES:
        overall, within, count = agreement(rows, judge)
        print(f"{judge:>14}: correlation with the evaluation's identity {overall:.2f} overall, "
              f"{within:.2f} within a recipe ({count} designs)")


if __name__ == "__main__":
    main()
