"""LFW verification of the reference encoders and the published ones (full profile, 3 seeds).

Every encoder is attacked by the verification protocol of :mod:`learn.verification` (role-A
embeddings trained from scratch at the full profile's budget, thresholds chosen on validation
pairs, the pairsDevTest pairs of role-T people read once per encoder and seed). One JSON line per
(encoder, seed) is appended to ``OUT/verification.jsonl`` as it finishes (a rerun skips those
done), with every test pair's similarity for the ROC curves; ``--report`` then writes
``OUT/lfw_verification.md`` and ``OUT/lfw_verification_roc.png``.

    python benchmarks/study_lfw_verification.py --out docs/results/verification --workers 2
    python benchmarks/study_lfw_verification.py --out docs/results/verification --report

The (encoder, seed) tasks run on the study engine (``learn.study_engine``): local processes by
default, or a Ray cluster with ``--engine ray [--address ADDR] [--cpus-per-task N]``
(docs/cluster.md); the records are appended here, in the calling process, as they arrive.
"""
from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

#: The references: clean images, and blur and pixelation at the paper's strength and twice it.
REFERENCES = [("clean", 0), ("blur", 8.0), ("blur", 16.0), ("pixelate", 8), ("pixelate", 16)]


def encoders() -> "list[str]":
    """Names of every encoder of the study: references, then the published encoders."""
    from sensor.published import published_names

    return [f"{name} {strength:g}" if name != "clean" else "clean"
            for name, strength in REFERENCES] + list(published_names())


def _encoder(name: str):
    """The encoder of a study name ("clean", "blur 8", a published name): names keep their
    spelling of the committed results; ``learn.evaluate_one`` parses them."""
    from learn.evaluate_one import encoder_from_spec

    return encoder_from_spec(name.replace(" ", ":"))[0]


def run_one(name: str, seed: int) -> dict:
    import torch

    from learn.table1_rows import FULL
    from learn.verification import evaluate_verification, verification_data

    torch.set_num_threads(1)
    start = time.perf_counter()
    data = verification_data(seed=seed)
    result = evaluate_verification(_encoder(name), data, seeds=(seed,),
                                   attacks=FULL.verification["attacks"], budget=FULL.budget,
                                   progress=False, keep_similarities=True)
    return {"encoder": name, "seed": seed, "seconds": round(time.perf_counter() - start, 1),
            "data": data.summary(),
            "scores": [vars(score) for score in result.scores],
            "similarities": result.similarities}


def _work(state, task: "tuple[str, int]") -> dict:
    """The engine's work: one (encoder, seed) task (no shared state)."""
    return run_one(*task)


def done(path: Path) -> "set[tuple[str, int]]":
    if not path.is_file():
        return set()
    return {(r["encoder"], r["seed"]) for r in map(json.loads, path.read_text().splitlines())}


def study(out: Path, seeds: int, workers: int, only: "list[str] | None", spec=None) -> None:
    from learn.study_engine import EngineSpec

    out.mkdir(parents=True, exist_ok=True)
    path = out / "verification.jsonl"
    todo = [(name, seed) for name in (only or encoders()) for seed in range(seeds)
            if (name, seed) not in done(path)]
    print(f"{len(todo)} (encoder, seed) tasks to run", flush=True)
    spec = spec or EngineSpec("local", workers)

    def finished(index: int, record: dict) -> None:
        with open(path, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(record) + "\n")
        best = max(record["scores"], key=lambda s: s["test_accuracy"])
        print(f"{record['encoder']} seed {record['seed']}: {best['attack']} "
              f"{100 * best['test_accuracy']:.1f} % AUC {best['test_auc']:.3f} "
              f"({record['seconds']:.0f} s)", flush=True)

    engine = spec.make()
    # one task at a time when local with one worker, in this process; else in workers
    engine.run(todo, _work, finished, names=[f"{name} seed {seed}" for name, seed in todo])
    engine.close()


def report(out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    from canopic.core.files import write_text
    from learn.verification import VerificationResult, VerificationScore

    records = [json.loads(line) for line in (out / "verification.jsonl").read_text().splitlines()]
    order = [name for name in encoders() if any(r["encoder"] == name for r in records)]
    lines = ["# LFW verification of unseen people", "",
             "Strongest of three verification attacks (raw-code cosine, MLP and Inception "
             "embeddings trained from scratch on role-A people; thresholds chosen on validation "
             "pairs) on the 946 pairsDevTest pairs of role-T people (473 matched, 473 "
             "mismatched; chance 50 %), mean +- std over seeds "
             "(`python benchmarks/study_lfw_verification.py`; docs/evaluation.md, "
             "\"Verification\").", "",
             "| encoder | accuracy % | AUC | strongest | cosine | MLP | Inception | seeds | s per seed |",
             "|---|---|---|---|---|---|---|---|---|"]
    figure, axis = plt.subplots(figsize=(6.4, 5.6))
    for name in order:
        mine = [r for r in records if r["encoder"] == name]
        result = VerificationResult([VerificationScore(**s) for r in mine for s in r["scores"]])
        table = result.per_attack()
        cells = [f"{100 * table[a]['test_accuracy'].mean:.1f}" if a in table else "-"
                 for a in ("cosine", "mlp", "inception")]
        lines.append(f"| {name} | {100 * result.accuracy.mean:.1f} +- "
                     f"{100 * result.accuracy.std:.1f} | {result.auc.mean:.3f} +- "
                     f"{result.auc.std:.3f} | {result.strongest} | {' | '.join(cells)} | "
                     f"{len(mine)} | {np.mean([r['seconds'] for r in mine]):.0f} |")
        if name in ("clean", "blur 8", "pixelate 8") or name.startswith("Learned_"):
            first = min(mine, key=lambda r: r["seed"])
            kept = first["similarities"][f"{result.strongest} seed {first['seed']}"]
            similarity, same = np.asarray(kept["similarity"]), np.asarray(kept["same"], bool)
            cuts = np.r_[np.inf, np.sort(similarity)[::-1]]
            tpr = [(similarity[same] >= c).mean() for c in cuts]
            fpr = [(similarity[~same] >= c).mean() for c in cuts]
            axis.plot(fpr, tpr, lw=1.2, label=f"{name} ({result.strongest})",
                      ls="-" if not name.startswith("Learned_") else "--")
    axis.plot([0, 1], [0, 1], color="grey", lw=0.8, ls=":", label="chance")
    axis.set(xlabel="false accept rate (mismatched pairs called same)",
             ylabel="true accept rate (matched pairs called same)",
             title="LFW verification ROC, strongest attack, first seed")
    axis.legend(fontsize=6.5, loc="lower right")
    figure.tight_layout()
    figure.savefig(out / "lfw_verification_roc.png", dpi=130)
    lines += ["", "![ROC curves](lfw_verification_roc.png)", ""]
    write_text(out / "lfw_verification.md", "\n".join(lines) + "\n")
    print("\n".join(lines))


def main() -> None:
    from canopic.app.commands.engine_flags import add_engine_flags, engine_spec

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default="docs/results/verification", help="output folder")
    parser.add_argument("--seeds", type=int, default=3, help="seeds 0..N-1 (default 3)")
    parser.add_argument("--workers", type=int, default=None,
                        help="local: processes, one thread each (default: one per core); ray: "
                             "actors (default: as many as the cluster holds)")
    parser.add_argument("--only", default=None, help="comma-separated encoder names")
    parser.add_argument("--report", action="store_true", help="write the table and the ROC plot")
    add_engine_flags(parser)
    args = parser.parse_args()
    if args.report:
        report(Path(args.out))
        return
    if args.engine == "local" and args.workers is None:
        args.workers = max(1, os.cpu_count() or 2)
    out = Path(args.out).resolve()
    study(out, args.seeds, args.workers, args.only.split(",") if args.only else None,
          engine_spec(args, folder=out))


if __name__ == "__main__":
    main()
