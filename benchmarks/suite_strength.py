"""Is the cheaper evaluation suite as strong as before? The four check encoders, 3 seeds, test split.

Usage
-----
    .venv/bin/python benchmarks/suite_strength.py --out docs/results/studies/suite_strength --workers 2
    .venv/bin/python benchmarks/suite_strength.py --out docs/results/studies/suite_strength --report

The check encoders of the issue that made the suite cheaper: clean images, blur sigma 8 px,
pixelation 8 px and the published Conv(4)+MP+Q alpha = 1 encoder. Only the reconstruction
attack's decoder changed (``learn.table1.FULL``: 32 channels and 6 epochs instead of 64 and 15);
every other attacker and the detector keep their code, settings and seeds, and each seeds
itself from the evaluation seed alone, so they give the numbers of
docs/results/table1/full_table1.json. This re-runs the reconstruction attack on each check
encoder at seeds 0, 1, 2 (the clean recognisers first, once per seed, kept in
``OUT/recognisers``, which is not a result) and appends one JSON line per (encoder, seed) to
``OUT/strength.jsonl`` as it finishes (a rerun skips those done). ``--report`` writes
``OUT/suite_strength.md``: the reconstruction attack before and after, and the strongest attack
with it, which must not move by more than max(1 point, 1 std).

The test split of these four reference encoders was already read by the full table; this reads
it again with a suite whose settings were fixed beforehand, to compare suites, never to choose a
design.
"""
from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: check encoder -> (its key in docs/results/table1/full_table1.json, attacks re-run here)
CHECKS = {
    "pixelate:8": "pixelate",
    "Learned_Conv4_Maxpool_Quantize_alpha1": "conv4_mp_q_a1_published",
    "clean": "clean",
    "blur:8": "blur",
}
SEEDS = (0, 1, 2)


def _state(out: str):
    """A worker's state: the evaluation data and the clean recognisers of the study (on disk in
    ``OUT/recognisers``, shared by the workers; not part of the results)."""
    import torch

    from learn import datasets
    from learn.evaluation import data_from_splits
    from learn.recogniser_store import RecogniserStore
    from learn.table1_rows import FULL

    torch.set_num_threads(1)
    budget = FULL.budget
    return (data_from_splits(datasets.default_splits(0)),
            RecogniserStore(Path(out) / "recognisers", f"suite-strength {budget.cnn_epochs} "
                            f"{budget.cnn_width} {budget.patience} {FULL.n_augment}"))


def warm_recogniser(state, seed: int) -> int:
    """Train seed ``seed``'s clean recogniser into the store, exactly as the attack would."""
    from learn.attacks import AttackData, ReconstructionAttack
    from learn.evaluation import _training_scenes
    from learn.table1_rows import FULL

    data, recognisers = state
    scenes, _ = _training_scenes(data.id_train, FULL.n_augment, seed)
    labels = data.id_train.labels.repeat(FULL.n_augment + 1)
    attack = ReconstructionAttack(FULL.budget, recognisers)
    attack._clean_recogniser(AttackData(scenes, labels, data.id_val.images, data.id_val.labels,
                                        data.num_classes, scenes, data.id_val.images), seed)
    return seed


def run_one(state, name: str, seed: int) -> dict:
    """Evaluate check encoder ``name`` at ``seed``: per-attack test top-1, face accuracy."""
    import torch

    from learn.evaluate_one import encoder_from_spec
    from learn.evaluation import evaluate_encoder
    from learn.table1_rows import FULL

    data, recognisers = state
    start = time.process_time()
    result = evaluate_encoder(encoder_from_spec(name)[0], data, seeds=(seed,),
                              attacks=("reconstruct",), budget=FULL.budget,
                              n_augment=FULL.n_augment, utility=False, progress=False,
                              recognisers=recognisers)
    return {"encoder": name, "seed": seed, "process_s": round(time.process_time() - start, 1),
            "top1": {s.attack: s.test_top1 for s in result.privacy.scores}}


def _done(path: Path) -> "set[tuple[str, int]]":
    if not path.is_file():
        return set()
    return {(r["encoder"], r["seed"]) for r in map(json.loads, path.read_text().splitlines())}


def _work(state, task: tuple):
    """The engine's work: ``("warm", seed)`` or ``(encoder, seed)``."""
    if task[0] == "warm":
        return warm_recogniser(state, task[1])
    return run_one(state, *task)


def study(out: Path, spec) -> None:
    """Run the tasks not yet in ``OUT/strength.jsonl`` on the engine ``spec``
    (``learn.study_engine.EngineSpec``), the clean recognisers first (one task per seed, so
    that no two workers train the same one)."""
    out.mkdir(parents=True, exist_ok=True)
    path = out / "strength.jsonl"
    todo = [(name, seed) for seed in SEEDS for name in CHECKS if (name, seed) not in _done(path)]
    print(f"{len(todo)} (encoder, seed) tasks to run", flush=True)

    def finished(index: int, record: dict) -> None:
        with open(path, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(record) + "\n")
        print(f"{record['encoder']} seed {record['seed']}: {record['process_s']} s", flush=True)

    engine = spec.make(_state, (str(out),), threads=1)
    try:
        if todo:
            engine.run([("warm", seed) for seed in SEEDS], _work, lambda index, seed: None,
                       names=[f"clean recogniser seed {seed}" for seed in SEEDS])
        engine.run(todo, _work, finished, names=[f"{name} seed {seed}" for name, seed in todo])
    finally:
        engine.close()


def _spread(values: "list[float]") -> "tuple[float, float]":
    return statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else 0.0


def report(out: Path) -> str:
    """Write ``OUT/suite_strength.md`` from ``OUT/strength.jsonl`` and the full table."""
    records = [json.loads(line) for line in (out / "strength.jsonl").read_text().splitlines()]
    before = {row["key"]: row for row in json.loads(
        (ROOT / "docs/results/table1/full_table1.json").read_text())["rows"]}
    lines = ["| encoder | strongest before (attack) | reconstruct before | reconstruct after | "
             "strongest after (attack) | moved? |", "| --- | --- | --- | --- | --- | --- |"]
    for name, key in CHECKS.items():
        mine = [r for r in records if r["encoder"] == name]
        if len(mine) < len(SEEDS):
            continue
        row = before[key]
        per_attack = {a: float(v) for a, v in
                      (item.split("=") for item in row["per_attack_top1"].split())}
        old_reconstruct = per_attack["reconstruct"]
        per_attack["reconstruct"], spread = _spread([100 * r["top1"]["reconstruct"] for r in mine])
        strongest = max(per_attack, key=per_attack.get)
        id_before, id_std = float(row["id_top1_mean"]), float(row["id_top1_std"])
        after = per_attack[strongest]
        moved = "yes" if abs(after - id_before) > max(1.0, id_std) else "no"
        lines.append(f"| {name} | {id_before:.1f} +- {id_std:.1f} ({row['strongest_attack']}) | "
                     f"{old_reconstruct:.1f} | {per_attack['reconstruct']:.1f} +- {spread:.1f} | "
                     f"{after:.1f} ({strongest}) | {moved} |")
    text = ("Identity accuracy (test top-1 %, mean over seeds 0-2) of the reconstruction attack "
            "with the smaller decoder, against the full table's (docs/results/table1/"
            "full_table1.json: decoder 64 channels, 15 epochs), and the strongest attack with it. "
            "Every other attacker and the detector are unchanged (same code, settings and "
            "seeds), so their figures, and the face accuracy, are the table's.\n\n"
            + "\n".join(lines) + "\n")
    (out / "suite_strength.md").write_text(text, encoding="utf-8")
    return text


def main() -> None:
    from canopic.app.commands.engine_flags import add_engine_flags, engine_spec

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="results folder")
    parser.add_argument("--workers", type=int, default=None,
                        help="local: processes, one thread each (default 1); ray: actors")
    parser.add_argument("--report", action="store_true", help="only write the report")
    add_engine_flags(parser)
    args = parser.parse_args()
    if not args.report:
        out = args.out.resolve()
        study(out, engine_spec(args, folder=out))
    print(report(args.out))


if __name__ == "__main__":
    main()
