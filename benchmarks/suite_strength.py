"""Is the cheaper evaluation suite as strong as before? The four check encoders, 3 seeds, test split.

Usage
-----
    .venv/bin/python benchmarks/suite_strength.py --out docs/results/studies/suite_strength --workers 2
    .venv/bin/python benchmarks/suite_strength.py --out docs/results/studies/suite_strength --report

The check encoders of the issue that made the suite cheaper: clean images, blur sigma 8 px,
pixelation 8 px and the published Conv(4)+MP+Q alpha = 1 encoder. Each is evaluated at seeds
0, 1, 2 with ``learn.table1.FULL`` (the current budget) through ``learn.evaluation``: the
8x8 outputs (pixelation, Conv(4)) by the whole suite, the 64x64 ones (clean, blur) by the
reconstruction attack and the detector only, since the other attackers' settings did not change
and every attacker seeds itself from the evaluation seed alone, so they give the numbers of
docs/results/table1/full_table1.json bit for bit (the 8x8 rows re-run every attacker and show
it). One JSON line per (encoder, seed) is appended to ``OUT/strength.jsonl`` as it finishes (a
rerun skips those done). ``--report`` writes ``OUT/suite_strength.md``: per encoder, the
strongest attack's test top-1 and the face accuracy, mean +- std over seeds, next to the full
table's (the suite before), and whether each moved by more than max(1 point, 1 std).

The test split of these four reference encoders was already read by the full table; this reads
it again with a suite whose settings were fixed beforehand, to compare suites, never to choose a
design.
"""
from __future__ import annotations

import argparse
import concurrent.futures
import json
import multiprocessing
import statistics
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: check encoder -> (its key in docs/results/table1/full_table1.json, attacks re-run here)
CHECKS = {
    "pixelate 8": ("pixelate", None),
    "conv4_mp_q_a1 published": ("conv4_mp_q_a1_published", None),
    "clean": ("clean", ("reconstruct",)),
    "blur 8": ("blur", ("reconstruct",)),
}
SEEDS = (0, 1, 2)
_SPLITS = {}


def _encoder(name: str):
    from learn.table1_cameras import baseline_encoder, camera_encoder
    from sensor import load_published_camera

    parts = name.split()
    if parts[0] in ("clean", "blur", "pixelate"):
        return baseline_encoder(parts[0], float(parts[1]) if len(parts) > 1 else 0)
    return camera_encoder(load_published_camera(parts[0]))


def run_one(name: str, seed: int) -> dict:
    """Evaluate check encoder ``name`` at ``seed``: per-attack test top-1, face accuracy."""
    import torch

    from learn import datasets
    from learn.attacks import ATTACK_NAMES
    from learn.evaluation import data_from_splits, evaluate_encoder
    from learn.table1_rows import FULL

    torch.set_num_threads(1)
    if "data" not in _SPLITS:
        _SPLITS["data"] = data_from_splits(datasets.default_splits(0))
        _SPLITS["recognisers"] = {}
    attacks = CHECKS[name][1] or ATTACK_NAMES
    start = time.process_time()
    result = evaluate_encoder(_encoder(name), _SPLITS["data"], seeds=(seed,), attacks=attacks,
                              budget=FULL.budget, n_augment=FULL.n_augment, progress=False,
                              recognisers=_SPLITS["recognisers"])
    return {"encoder": name, "seed": seed, "process_s": round(time.process_time() - start, 1),
            "top1": {s.attack: s.test_top1 for s in result.privacy.scores},
            "face": result.utility.test_accuracy.mean}


def _done(path: Path) -> "set[tuple[str, int]]":
    if not path.is_file():
        return set()
    return {(r["encoder"], r["seed"]) for r in map(json.loads, path.read_text().splitlines())}


def study(out: Path, workers: int) -> None:
    out.mkdir(parents=True, exist_ok=True)
    path = out / "strength.jsonl"
    todo = [(name, seed) for name in CHECKS for seed in SEEDS if (name, seed) not in _done(path)]
    print(f"{len(todo)} (encoder, seed) tasks to run", flush=True)
    with concurrent.futures.ProcessPoolExecutor(
            workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        futures = [pool.submit(run_one, *task) for task in todo]
        for future in concurrent.futures.as_completed(futures):
            record = future.result()
            with open(path, "a", encoding="utf-8") as handle:
                handle.write(json.dumps(record) + "\n")
            print(f"{record['encoder']} seed {record['seed']}: {record['process_s']} s", flush=True)


def _spread(values: "list[float]") -> "tuple[float, float]":
    return statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else 0.0


def report(out: Path) -> str:
    """Write ``OUT/suite_strength.md`` from ``OUT/strength.jsonl`` and the full table."""
    records = [json.loads(line) for line in (out / "strength.jsonl").read_text().splitlines()]
    before = {row["key"]: row for row in json.loads(
        (ROOT / "docs/results/table1/full_table1.json").read_text())["rows"]}

    def moved(a: float, b: float, std: float) -> str:
        return "yes" if abs(a - b) > max(1.0, std) else "no"

    lines = ["| encoder | identity before (attack) | identity after (attack) | moved? | "
             "face before | face after | moved? |", "| --- | --- | --- | --- | --- | --- | --- |"]
    attack_lines = ["| encoder | attack | before | after |", "| --- | --- | --- | --- |"]
    for name, (key, rerun) in CHECKS.items():
        mine = sorted((r for r in records if r["encoder"] == name), key=lambda r: r["seed"])
        if len(mine) < len(SEEDS):
            continue
        row = before[key]
        old = {a: float(v) for a, v in (item.split("=") for item in row["per_attack_top1"].split())}
        new = dict(old)  # attackers not re-run: their settings and seeds did not change
        new.update({a: statistics.fmean(100 * r["top1"][a] for r in mine) for a in mine[0]["top1"]})
        strongest = max(new, key=new.get)
        if strongest in mine[0]["top1"]:
            after, after_std = _spread([100 * r["top1"][strongest] for r in mine])
        else:
            after, after_std = float(row["id_top1_mean"]), float(row["id_top1_std"])
        face, face_std = _spread([100 * r["face"] for r in mine])
        id_before, id_std = float(row["id_top1_mean"]), float(row["id_top1_std"])
        face_before, face_before_std = float(row["face_acc_mean"]), float(row["face_acc_std"])
        lines.append(f"| {name} | {id_before:.1f} +- {id_std:.1f} ({row['strongest_attack']}) | "
                     f"{after:.1f} +- {after_std:.1f} ({strongest}) | "
                     f"{moved(after, id_before, id_std)} | {face_before:.1f} +- "
                     f"{face_before_std:.1f} | {face:.1f} +- {face_std:.1f} | "
                     f"{moved(face, face_before, face_before_std)} |")
        for attack in old:
            rerun_here = attack in mine[0]["top1"]
            attack_lines.append(f"| {name} | {attack} | {old[attack]:.2f} | "
                                f"{new[attack]:.2f}{'' if rerun_here else ' (not re-run)'} |")
    text = ("Strongest attack's identity accuracy (test top-1 %) and face accuracy (%), mean +- "
            "std over seeds 0-2; before: docs/results/table1/full_table1.json.\n\n"
            + "\n".join(lines) + "\n\nEvery attack, mean over seeds:\n\n"
            + "\n".join(attack_lines) + "\n")
    (out / "suite_strength.md").write_text(text, encoding="utf-8")
    return text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="results folder")
    parser.add_argument("--workers", type=int, default=1, help="processes (one per core)")
    parser.add_argument("--report", action="store_true", help="only write the report")
    args = parser.parse_args()
    if not args.report:
        study(args.out, args.workers)
    print(report(args.out))


if __name__ == "__main__":
    main()
