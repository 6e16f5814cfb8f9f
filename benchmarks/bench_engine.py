"""The price of the study engine: tasks per second and per-task overhead, local vs Ray.

Usage
-----
    .venv/bin/python benchmarks/bench_engine.py                      # trivial tasks, ~2 min
    .venv/bin/python benchmarks/bench_engine.py --table              # and the quick table, ~6 min

**Trivial tasks** (``work`` hands its input back): each engine runs N = 20 and N = 1000 tasks,
``--repeats`` times each (a fresh engine each time, as a study gets one); the median walls give
``wall = start + N * per_task``: the engine's start (processes spawned / actors started, each
building its state) and the per-task overhead, and tasks per second at N = 1000. Each
engine's workers set one torch thread (so they import torch, as a study's do). Engines: local 1
(this process), local 2 (two spawned processes), ray (a Ray instance of this machine with 2
CPUs, one actor per CPU; ``ray.init`` is timed once, apart: a study pays it once).

**The quick table** (``--table``): ``learn.table1.run_table1`` with the quick profile on the
bundled data (``--rows``, one seed, no physical twins, pixelation 8 px as the sweep) on local 2
and on ray (2 actors), median wall of ``--table-repeats``, and their ratio in the same run.
Ray needs ``pip install "canopic[cluster]"``; without it only the local engines run.
"""
from __future__ import annotations

import argparse
import dataclasses
import functools
import os
import statistics
import time

SIZES = (20, 1000)


def _echo(state, task):
    """The trivial task."""
    return task


def _fresh(kind: str, workers: int):
    from learn.study_engine import make_engine

    return make_engine(kind, workers=workers, initializer=dict, initargs=(), threads=1)


def _wall(kind: str, workers: int, count: int) -> float:
    engine = _fresh(kind, workers)
    got = []
    start = time.perf_counter()
    engine.run(list(range(count)), _echo, lambda index, result: got.append(result))
    wall = time.perf_counter() - start
    engine.close()
    assert sorted(got) == list(range(count))
    return wall


def trivial(engines, repeats: int) -> None:
    print(f"trivial tasks: median of {repeats} runs per size, a fresh engine each run")
    print(f"{'engine':10} {'N=20 s':>9} {'N=1000 s':>9} {'start s':>8} {'per task us':>12} "
          f"{'tasks/s (N=1000)':>17}")
    rows = {}
    for label, kind, workers in engines:
        _wall(kind, workers, 4)  # warm-up: imports, worker binaries, caches
        walls = [statistics.median(_wall(kind, workers, n) for _ in range(repeats))
                 for n in SIZES]
        per_task = (walls[1] - walls[0]) / (SIZES[1] - SIZES[0])
        start = walls[0] - SIZES[0] * per_task
        rows[label] = walls
        print(f"{label:10} {walls[0]:9.4f} {walls[1]:9.4f} {start:8.3f} {1e6 * per_task:12.1f} "
              f"{SIZES[1] / walls[1]:17.0f}", flush=True)
    if "ray" in rows and "local 2" in rows:
        print(f"ray / local 2 wall: N=20 {rows['ray'][0] / rows['local 2'][0]:.2f}x, "
              f"N=1000 {rows['ray'][1] / rows['local 2'][1]:.2f}x")


def quick_table(engines, repeats: int, rows_text: str) -> None:
    from learn import datasets, table1

    keys = rows_text.split(",")
    rows = [row for row in table1.ROWS if row.key in keys]
    profile = dataclasses.replace(table1.QUICK, physical=False, blur_sigmas_px=(),
                                  pixelate_blocks=(8,))
    tasks = len(table1.table_tasks(rows, profile, (0,)))
    load = functools.partial(datasets.default_splits, 0)
    splits = load()
    print(f"\nquick table: rows {','.join(keys)} + pixelation 8 px sweep, 1 seed, no physical "
          f"twins ({tasks} tasks); median of {repeats} runs, a fresh engine each run")
    walls = {}
    for label, kind, workers in engines:
        if kind == "local" and workers == 1:
            continue
        times, csvs = [], set()
        for _ in range(repeats):
            start = time.perf_counter()
            results, _ = table1.run_table1(load if kind == "local" else splits, profile,
                                           seeds=(0,), rows=rows, progress=False,
                                           workers=workers, threads=1, engine=kind)
            times.append(time.perf_counter() - start)
            csvs.add(tuple(table1.csv_record(dataclasses.replace(item, seconds=0.0), None)
                           .get("id_top1_mean") for item in results))
        walls[label] = statistics.median(times)
        print(f"{label:10} wall {walls[label]:6.1f} s (runs: "
              f"{', '.join(f'{t:.1f}' for t in times)}), {tasks / walls[label]:.3f} tasks/s, "
              f"{'same numbers every run' if len(csvs) == 1 else 'NUMBERS DIFFER'}", flush=True)
    if "ray" in walls and "local 2" in walls:
        print(f"ray / local 2 wall: {walls['ray'] / walls['local 2']:.2f}x "
              f"({walls['ray'] - walls['local 2']:+.1f} s per study)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="runs per measurement (median)")
    parser.add_argument("--table", action="store_true", help="also time the quick table")
    parser.add_argument("--table-repeats", type=int, default=3, help="runs of the quick table")
    parser.add_argument("--rows", default="clean,blur,mp_unlearned",
                        help="rows of the quick table (comma-separated keys)")
    args = parser.parse_args()
    import torch

    torch.set_num_threads(1)
    engines = [("local 1", "local", 1), ("local 2", "local", 2)]
    try:
        import ray
    except ImportError:
        print("ray is not installed: local engines only (pip install \"canopic[cluster]\")")
    else:
        start = time.perf_counter()
        ray.init(address="local", num_cpus=2, include_dashboard=False, logging_level="WARNING")
        print(f"ray.init (a Ray instance of this machine, 2 CPUs): "
              f"{time.perf_counter() - start:.1f} s, once per study")
        engines.append(("ray", "ray", 2))
    print(f"{os.cpu_count()} CPUs here; torch {torch.__version__}"
          + (f"; ray {ray.__version__}" if len(engines) == 3 else ""))
    trivial(engines, args.repeats)
    if args.table:
        quick_table(engines, args.table_repeats, args.rows)


if __name__ == "__main__":
    main()
