"""Where one full-profile evaluation spends its time: each fit's process seconds and epochs.

Usage
-----
    .venv/bin/python benchmarks/profile_evaluation.py q          # Quantize only: 64x64 codes
    .venv/bin/python benchmarks/profile_evaluation.py conv1_mp_q # Conv(1)+MP+Quantize: 8x8 codes
    .venv/bin/python benchmarks/profile_evaluation.py q conv1_mp_q --before 9186444
                                                   # the same, at a git revision and here, in turn

Runs ``learn.evaluation.evaluate_encoder`` once (seed 0, one torch thread, ``learn.table1.FULL``
budget, the whole suite and the detector) on the bundled data for the unlearned camera of that
Table 1 configuration, and prints every classifier and decoder fit as it ends (network, training
tensor shape, epochs run, best epoch, process seconds), then the total. Process time (CPU
seconds of this process, ``time.process_time``) is the cost measure: with one torch thread it is
what the evaluation costs one core, whatever else runs on the machine. The reconstruction
attack's clean recogniser (a 64x64 Inception fit) is trained once per seed in a table run
(``learn.recogniser_store``): the last line gives the total with and without it, and the
comparison uses the evaluation without it (a table task's cost). Last, the
number of evaluations per seed in the full Table 1 by the side of the encoded output.

``--before REV`` checks REV out into a temporary git worktree and runs this same script there
(its code, this script) and here, one configuration after another (the clean recogniser, the
same network in both when the CNN budget is, is trained once and kept in a temporary folder), then prints each
configuration's process seconds (without the clean recogniser) before and after and their
ratio. The accuracy line of
each run (seed 0's test top-1 per attack, face accuracy) comes with it: one seed, for the eye
only; the strength comparison over seeds is ``benchmarks/suite_strength.py``.
"""
from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def profile(config: str) -> None:
    """Evaluate the unlearned camera of ``config`` once and print every fit's process time."""
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
            start = time.process_time()
            result = fit(model, x, *args, **kwargs)
            print(f"{type(model).__name__:20s} {str(tuple(x.shape)):20s} {describe(result):17s}  "
                  f"{time.process_time() - start:7.1f} s", flush=True)
            return result
        return wrapper

    attacks.train_classifier = evaluation.train_classifier = timed(
        fit_classifier, lambda record: f"epochs {record.epochs_run:3d} (best {record.best_epoch:3d})")
    attacks.train_decoder = timed(fit_decoder, lambda error: f"val L1 {error:.4f}")
    clean_recogniser, recogniser_seconds = attacks.ReconstructionAttack._clean_recogniser, []

    def timed_recogniser(self, data, seed):
        start = time.process_time()
        try:
            return clean_recogniser(self, data, seed)
        finally:
            recogniser_seconds.append(time.process_time() - start)
            print(f"  (the fit above is the clean recogniser: once per seed in a table run)")

    attacks.ReconstructionAttack._clean_recogniser = timed_recogniser
    encoder = camera_encoder(Camera(CameraConfig(**rows[f"{config}_unlearned"].camera)))
    data = evaluation.data_from_splits(datasets.default_splits(0))
    recognisers: dict = {}
    if os.environ.get("CANOPIC_PROFILE_RECOGNISERS"):  # shared by the runs of --before
        from learn.recogniser_store import RecogniserStore

        recognisers = RecogniserStore(os.environ["CANOPIC_PROFILE_RECOGNISERS"],
                                      f"profile-evaluation {FULL.budget.cnn_epochs} "
                                      f"{FULL.budget.cnn_width} {FULL.budget.patience}")
    start = time.process_time()
    result = evaluation.evaluate_encoder(encoder, data, seeds=(0,), budget=FULL.budget,
                                         n_augment=FULL.n_augment, progress=False,
                                         recognisers=recognisers)
    total = time.process_time() - start
    print(f"clean recogniser {sum(recogniser_seconds):.1f} s; total {total:.1f} s process time, "
          f"evaluation {total - sum(recogniser_seconds):.1f} s without the clean recogniser; "
          f"test top-1 "
          + " ".join(f"{s.attack}={100 * s.test_top1:.1f}" for s in result.privacy.scores)
          + f"; face {100 * result.utility.test_accuracy.mean:.1f} %", flush=True)


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


def _run_in(tree: Path, config: str) -> "tuple[float, str]":
    """Run :func:`profile` of ``config`` on the code of ``tree``: (process seconds of the
    evaluation without the clean recogniser, output)."""
    env = dict(os.environ, PYTHONPATH=str(tree), OMP_NUM_THREADS="1",
               CANOPIC_PROFILE_RECOGNISERS=str(Path(tempfile.gettempdir())
                                               / "canopic-profile-recognisers"))
    done = subprocess.run([sys.executable, str(Path(__file__).resolve()), config, "--only"],
                          cwd=tree, env=env, capture_output=True, text=True)
    output = done.stdout + done.stderr
    if done.returncode != 0:
        raise SystemExit(f"profile of {config} in {tree} failed:\n{output}")
    total = re.search(r"evaluation ([0-9.]+) s without the clean recogniser", output)
    return float(total.group(1)), output


def compare(configs: "list[str]", revision: str) -> None:
    """Profile each configuration at ``revision`` (a temporary worktree) and here, in turn."""
    with tempfile.TemporaryDirectory(prefix="canopic-before-") as folder:
        tree = Path(folder) / "tree"
        subprocess.run(["git", "worktree", "add", "--detach", "-q", str(tree), revision],
                       cwd=ROOT, check=True)
        try:
            rows = []
            for config in configs:
                for label, where in (("before", tree), ("after", ROOT)):
                    total, output = _run_in(where, config)
                    print(f"== {config} {label} ({revision if label == 'before' else 'this tree'})"
                          f"\n{output}", flush=True)
                    rows.append((config, label, total))
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(tree)], cwd=ROOT)
    print("| configuration | before (s) | after (s) | ratio |\n| --- | --- | --- | --- |")
    for config in configs:
        before, after = (total for c, _, total in rows if c == config)
        print(f"| {config} | {before:.0f} | {after:.0f} | {before / after:.1f}x |")


def main(argv: "list[str] | None" = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("configs", nargs="*", default=["conv1_mp_q"],
                        help="Table 1 configurations (default: conv1_mp_q)")
    parser.add_argument("--before", metavar="REV",
                        help="also profile git revision REV, in turn with this tree")
    parser.add_argument("--only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.before:
        compare(args.configs, args.before)
        return
    for config in args.configs:
        profile(config)
    if not args.only:
        evaluation_counts()


if __name__ == "__main__":
    main()
