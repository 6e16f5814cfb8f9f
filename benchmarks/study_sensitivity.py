"""How far apart two learnings of the same camera end, when they should be the same.

Learns one Table 1 row's camera (the full profile's schedule, ``learn.table1.FULL.alternating``)
three times with the same seed, the same data order and the same networks' initialisation:

* ``reference``: as the row is defined (the free kernel of the learned rows);
* ``perturbed``: the initial taps multiplied by ``1 + eps * N(0, 1)`` (``--perturbation``, default
  1e-7 relative: float32 rounding is about 6e-8);
* ``two_mask`` (``--mode``): the kernel in another parameterisation that, in exact arithmetic,
  learns the same taps (``optics.kernels``: the noise-free two-mask kernel gives the free
  kernel's codes and gradients; only the rounding differs).

After each alternation it prints how far the designs are from the reference: relative L2
distance of the kernels (each scaled to unit L1 norm, since the per-frame gain ignores the
scale) and the largest threshold difference (LSB). No evaluation, no test data.

    .venv/bin/python benchmarks/study_sensitivity.py --row conv4_mp_q_a50_learned --alternations 2

If ``perturbed`` moves as far as ``two_mask``, the schedule amplifies rounding differences and
a single learned design is a sample, not the parameterisation's answer. About 2 min of learning
per camera and alternation on one core.
"""
from __future__ import annotations

import argparse
import json
import time


def kernel_distance(kernel, reference) -> float:
    """Relative L2 distance of two PSF stacks [F, C, k, k], each scaled to unit L1 norm."""
    a = reference / reference.abs().sum()
    b = kernel / kernel.abs().sum()
    return float((a - b).norm() / a.norm())


def study(row_key: str, seed: int, alternations: int, perturbation: float, mode: str) -> list:
    import torch
    from learn import datasets, table1
    from learn.alternating import AlternatingSettings, AlternatingTrainer, TrainingData
    from sensor import Camera, CameraConfig

    row = next((r for r in table1.ROWS if r.key == row_key), None)
    if row is None or row.kind != "learned":
        raise SystemExit(f"--row: {row_key!r} is not a learned Table 1 row; choose from "
                         f"{[r.key for r in table1.ROWS if r.kind == 'learned']}")
    settings = dict(table1.FULL.alternating, alternations=alternations)
    data = TrainingData.from_splits(datasets.default_splits(0))
    variants = {"reference": (row.camera, 0.0), "perturbed": (row.camera, perturbation),
                mode: ({**row.camera, "kernel_mode": mode}, 0.0)}
    trainers = {}
    for name, (camera_settings, eps) in variants.items():
        camera = Camera(CameraConfig(**camera_settings, seed=seed))
        if eps:
            with torch.no_grad():
                noise = torch.randn(camera.optics.taps.shape,
                                    generator=torch.Generator().manual_seed(seed + 1000))
                camera.optics.taps.mul_(1.0 + eps * noise)
        trainers[name] = AlternatingTrainer(camera, data, AlternatingSettings(alpha=row.alpha,
                                                                              **settings),
                                            seed=seed)
    records = []
    for alternation in range(alternations):
        start = time.perf_counter()
        for trainer in trainers.values():
            trainer.run_alternation(alternation)
        reference = trainers["reference"].camera
        record = {"alternation": alternation, "seconds": round(time.perf_counter() - start, 1)}
        for name in ("perturbed", mode):
            camera = trainers[name].camera
            record[name] = {"kernel_distance": round(kernel_distance(camera.psf, reference.psf), 4),
                            "threshold_max_diff_lsb": round(float(
                                (camera.thresholds - reference.thresholds).abs().max()), 4)}
        records.append(record)
        print(f"alternation {alternation}: " + "; ".join(
            f"{name} kernel distance {record[name]['kernel_distance']:.3g}, thresholds up to "
            f"{record[name]['threshold_max_diff_lsb']:.3g} LSB apart" for name in ("perturbed", mode))
            + f" ({record['seconds']:.0f} s)", flush=True)
    return records


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--row", default="conv4_mp_q_a50_learned", help="learned Table 1 row key")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--alternations", type=int, default=2,
                        help="alternations to learn (the full profile has 6)")
    parser.add_argument("--perturbation", type=float, default=1e-7,
                        help="relative perturbation of the perturbed copy's initial taps")
    parser.add_argument("--mode", choices=("two_mask",), default="two_mask",
                        help="the parameterisation compared with the reference's free kernel")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", help="write the records as JSON here")
    args = parser.parse_args(argv)
    if args.alternations < 1:
        parser.error("--alternations: must be at least 1")
    if not args.perturbation > 0:
        parser.error("--perturbation: must be positive")

    import torch

    torch.set_num_threads(args.threads)
    records = study(args.row, args.seed, args.alternations, args.perturbation, args.mode)
    if args.out:
        with open(args.out, "w") as handle:
            json.dump(records, handle, indent=1)


if __name__ == "__main__":
    main()
