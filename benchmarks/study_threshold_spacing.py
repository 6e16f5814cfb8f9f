"""How the ADC's minimum threshold spacing shapes what alternating optimisation learns.

For every (spacing, alpha, seed) it takes the learned camera of a Table 1 row with that
``min_threshold_spacing`` -- read from a ``canopic table1`` task file when ``--tasks`` holds one
(``row-<key>-seed<N>.pt``, the row key with ``learn.table1.camera_override_row``'s suffix unless
the spacing is the default; read through ``learn.table1.TaskCache`` as plain data, never
unpickled, whatever settings the run had), else learned here exactly as table1 learns it (full
profile schedule, one torch thread: the same camera to the last digit) -- and prints:

* its thresholds and the levels they leave 0.25 LSB apart (``study_alternating.distinct_levels``);
* how the codes of real faces use the levels: the hard codes of the evaluation identities'
  VALIDATION images (the test split is not read), the entropy of their level histogram in bits
  (4 for a uniform 4-bit code) and the levels that hold at least 1 % of the codes;
* the fraction of negative kernel taps.

Privacy and utility of the same cameras come from ``canopic table1 --camera
min_threshold_spacing=S`` (docs/evaluation.md, "Minimum threshold spacing").

    .venv/bin/python benchmarks/study_threshold_spacing.py --spacings 0.05,0.5 --alphas 1,50 \\
        --seeds 3 --tasks runs/spacing05/tasks --out runs/spacing_study.json
"""
from __future__ import annotations

import argparse
import math
import time
from pathlib import Path

from study_alternating import _numbers, distinct_levels, finish


def code_usage(codes, levels: int) -> dict:
    """Entropy (bits) and used levels (>= 1 % of the codes) of integer ADC codes (any shape)."""
    import torch

    counts = torch.bincount(codes.reshape(-1).round().long().clamp(0, levels - 1),
                            minlength=levels).double()
    share = counts / counts.sum()
    entropy = -sum(float(p) * math.log2(float(p)) for p in share if p > 0)
    return {"entropy_bits": round(entropy, 3), "levels_used_1pct": int((share >= 0.01).sum()),
            "share_per_level": [round(float(p), 4) for p in share]}


def cached_camera(tasks: "Path | None", row, seed: int):
    """The learned camera of ``row`` (a ``learn.table1.Row``) at ``seed`` in the ``canopic
    table1`` tasks folder ``tasks`` (task ``row-<key>-seed<seed>``, whatever settings wrote it),
    or None."""
    if tasks is None:
        return None
    from learn import table1

    saved = table1.TaskCache(tasks, {}).load(("row", row, seed), any_settings=True)
    return saved.camera if isinstance(saved, table1.RowResult) else None


def study(config: str, spacings, alphas, seeds, tasks: "Path | None") -> list:
    import torch

    from learn import datasets, table1
    from learn.evaluation import data_from_splits
    from sensor import CameraConfig

    splits = datasets.default_splits(0)
    faces = data_from_splits(splits).id_val.images
    records = []
    for spacing in spacings:
        for alpha in alphas:
            base = next(row for row in table1.ROWS if row.key == f"{config}_a{alpha:g}_learned")
            overrides = ({} if spacing == CameraConfig.min_threshold_spacing
                         else {"min_threshold_spacing": spacing})
            row = table1.camera_override_row(base, overrides)
            for seed in seeds:
                start = time.perf_counter()
                camera = cached_camera(tasks, row, seed)
                source = "task file"
                if camera is None:
                    camera = table1.learn_camera(row, splits, table1.FULL.alternating, seed=seed,
                                                 progress=False)
                    source = "learned here"
                camera = camera.cpu().eval()
                with torch.no_grad():
                    codes = camera(faces, mode="hard", generator=torch.Generator().manual_seed(0))
                thresholds = camera.thresholds.detach().tolist()
                record = {"key": row.key, "spacing": spacing, "alpha": alpha, "seed": seed,
                          "source": source, "seconds": round(time.perf_counter() - start, 1),
                          "thresholds": [round(t, 3) for t in thresholds],
                          "levels_025": distinct_levels(thresholds),
                          "negative_taps": (None if camera.psf is None else
                                            round(float((camera.psf < 0).float().mean()), 3)),
                          **code_usage(codes, camera.config.levels)}
                records.append(record)
                print(f"spacing {spacing:g} alpha {alpha:g} seed {seed} ({source}, "
                      f"{record['seconds']:.0f} s): thresholds {thresholds[0]:.2f} .. "
                      f"{thresholds[-1]:.2f}, {record['levels_025']} levels 0.25 LSB apart; "
                      f"codes {record['entropy_bits']:.2f} bits, {record['levels_used_1pct']} "
                      f"levels >= 1 %; {100 * (record['negative_taps'] or 0):.0f} % negative taps",
                      flush=True)
    return records


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="conv4_mp_q",
                        help="Table 1 configuration (row key without _a<alpha>_learned)")
    parser.add_argument("--spacings", default="0.05,0.5",
                        help="comma-separated min_threshold_spacing values (LSB)")
    parser.add_argument("--alphas", default="1,50")
    parser.add_argument("--seeds", type=int, default=3, help="seeds 0..N-1")
    parser.add_argument("--tasks", default=None,
                        help="a canopic table1 OUT/tasks folder to read learned cameras from")
    parser.add_argument("--out", help="write the records as JSON here")
    args = parser.parse_args(argv)

    import torch

    torch.set_num_threads(1)  # as canopic table1 learns: the same cameras to the last digit
    start = time.perf_counter()
    records = study(args.config, _numbers(args.spacings), _numbers(args.alphas),
                    range(args.seeds), Path(args.tasks) if args.tasks else None)
    finish(records, args.out, start)


if __name__ == "__main__":
    main()
