"""Where a learned design loses privacy on the way to hardware, scored on VALIDATION data only.

Learns one camera of a Table 1 row (the full profile's schedule, ``learn.table1.learn_camera``;
the same camera ``canopic table1`` learns for that seed) and evaluates versions of it with
``read_test=False`` (the test part is never read):

* ``ideal``: the design as learned (ideal optics, noise-free pixels and comparators);
* ``noise``: ideal kernel captured as two non-negative PSFs through the physical pixel array,
  comparators and ADC of ``learn.table1.PHYSICAL_CAMERA`` (``physical_twin(masks=None)``);
* ``masks``: the kernel through the designed phase masks (``learn.table1.PHYSICAL_MASKS``,
  dispersion at R, G, B and design error), noise-free (``physical_twin(settings={})``);
* ``physical``: both, as in Table 1's physical columns;
* ``sensor`` and ``analog``: the ``noise`` version with only the pixel array's noise
  (``PHYSICAL_CAMERA["sensor"]``), or only the comparators' offsets and noise and the ADC's
  mismatch and noise, to tell which part of the noise costs the privacy.

``--learn-with two_mask`` learns the design with the two-mask kernel parameterisation
(noise-free); ``--learn-with physical`` learns it through the physical camera (two-mask kernel,
the pixel array's, comparators' and ADC's noise during the encoder steps). ``ideal`` is then
that design with every noise source off: does learning with the noise keep the privacy on
hardware?

Also prints the largest sum of a kernel's positive part (the factor by which
``physical_twin`` scales the captures down so that no capture carries more light than the
scene) and how closely the masks realise the kernel: normalised correlation of the realised
signed PSF with the learned kernel, per filter and colour (1 = exact).

    .venv/bin/python benchmarks/study_physical_gap.py --row conv4_mp_q_a50_learned --seed 0
    .venv/bin/python benchmarks/study_physical_gap.py --variants ideal,noise \
        --photon-scale 20,200,2000,20000 --out /tmp/light.json     # a light sweep, learned once

About 4 min of learning, 1-2 min per mask design and 2-3 min per evaluation on one core.
"""
from __future__ import annotations

import argparse
import time
from typing import Sequence

from study_alternating import finish


def kernel_correlation(realised, kernel) -> "list[list[float]]":
    """Normalised correlation [F][colour] of realised PSFs [F, C, k, k] with a kernel [F, k, k]."""
    from optics.design import normalized_correlation

    realised = realised.detach().double()
    target = kernel.detach().double()[:, None].expand_as(realised)
    return [[round(float(v), 4) for v in row] for row in normalized_correlation(realised, target)]


VARIANTS = ("ideal", "noise", "masks", "physical", "sensor", "analog")


#: The design's camera with every noise source off (``physical_twin`` settings).
NOISE_FREE = dict(sensor=None, comparator_offset_sigma=0.0, comparator_noise_sigma=0.0,
                  adc_mismatch_sigma=0.0, adc_noise_sigma=0.0)


#: Versions whose codes depend on the light (they go through the pixel array's noise).
LIGHT_DEPENDENT = ("noise", "physical", "sensor")


def physical_camera_at(photon_scale: "float | None") -> dict:
    """``PHYSICAL_CAMERA`` at ``photon_scale`` mean photons per pixel for a white scene."""
    from learn import table1

    physical = dict(table1.PHYSICAL_CAMERA)
    if photon_scale is not None:
        physical["sensor"] = {**physical["sensor"], "photon_scale": float(photon_scale)}
    return physical


def study(row_key: str, seed: int, attacks, names=VARIANTS,
          photon_scales: "Sequence[float] | None" = None, learn_with: str = "ideal") -> dict:
    """Learn ``row_key``'s camera for ``seed`` and score each version in ``names`` on validation.

    Versions that go through the pixel array (:data:`LIGHT_DEPENDENT`) are scored at each of
    ``photon_scales`` (mean photons per pixel per exposure for a white scene; default
    ``PHYSICAL_CAMERA``'s), and recorded as ``"<version> <photons>"`` when there are several.
    """
    from learn import datasets, table1
    from learn.evaluation import data_from_splits, evaluate_encoder

    scales = [None] if not photon_scales else [float(s) for s in photon_scales]
    if learn_with == "physical" and len(scales) > 1:
        raise ValueError("--learn-with physical learns at one light level: give one --photon-scale")
    splits = datasets.default_splits(0)
    data = data_from_splits(splits)
    row = next(r for r in table1.ROWS if r.key == row_key)
    physical = physical_camera_at(scales[0])
    if learn_with != "ideal":  # two-mask kernel; "physical": two captures with all the noise
        import dataclasses

        extra = physical if learn_with == "physical" else {}
        row = dataclasses.replace(row, key=f"{row.key}_{learn_with}",
                                  camera={**row.camera, "kernel_mode": "two_mask", **extra})
    start = time.perf_counter()
    camera = table1.row_camera(row, splits, table1.FULL, seed=seed)
    record = {"row": row.key, "seed": seed, "learn_s": round(time.perf_counter() - start, 1),
              "photon_scales": [physical_camera_at(s)["sensor"]["photon_scale"] for s in scales],
              "variants": {}}
    if camera.psf is not None:  # the twins divide the captures' light by about this
        record["kernel_plus_sum_max"] = round(float(camera.psf.detach().clamp(min=0.0)
                                                    .sum(dim=(-1, -2)).max()), 4)
        print(f"{row.key} seed {seed}: largest sum of a kernel's positive part "
              f"{record['kernel_plus_sum_max']}", flush=True)
    if camera.adc is not None:
        record["thresholds"] = [round(float(t), 3) for t in camera.thresholds]
        print(f"{row.key} seed {seed}: learned thresholds {record['thresholds']}", flush=True)
    analog_only = {k: v for k, v in physical.items() if k != "sensor"}
    variants = {
        "ideal": lambda lit: (table1.physical_twin(camera, masks=None, settings=NOISE_FREE)
                              if learn_with == "physical" else camera),
        "noise": lambda lit: table1.physical_twin(camera, masks=None, settings=lit),
        "masks": lambda lit: table1.physical_twin(camera, settings={}),
        "physical": lambda lit: table1.physical_twin(camera, settings=lit),
        "sensor": lambda lit: table1.physical_twin(camera, masks=None,
                                                   settings={"sensor": lit["sensor"]}),
        "analog": lambda lit: table1.physical_twin(camera, masks=None, settings=analog_only),
    }
    runs = [(name if len(scales) == 1 or name not in LIGHT_DEPENDENT else
             f"{name} {physical_camera_at(scale)['sensor']['photon_scale']:g}", name, scale)
            for name in names for scale in (scales if name in LIGHT_DEPENDENT else scales[:1])]
    for label, name, scale in runs:
        start = time.perf_counter()
        variant = variants[name](physical_camera_at(scale))
        result = evaluate_encoder(table1.camera_encoder(variant), data, seeds=(seed,),
                                  attacks=attacks, budget=table1.FULL.budget,
                                  n_augment=table1.FULL.n_augment,
                                  desc=f"{row.key} {label}", read_test=False)
        entry = {"val_top1": {attack: round(100 * spread["val_top1"].mean, 2)
                              for attack, spread in result.privacy.per_attack().items()},
                 "face_val": round(100 * result.utility.val_accuracy.mean, 2),
                 "seconds": round(time.perf_counter() - start, 1)}
        if name in ("masks", "physical") and camera.psf is not None:
            entry["kernel_correlation"] = kernel_correlation(variant.psf, camera.psf[:, 0])
        record["variants"][label] = entry
        print(f"{row.key} seed {seed} {label:9s} val ID strongest "
              f"{max(entry['val_top1'].values()):5.1f} % {entry['val_top1']}  face val "
              f"{entry['face_val']:.1f} %" + (f"  kernel correlation {entry['kernel_correlation']}"
                                              if "kernel_correlation" in entry else ""),
              flush=True)
    return record


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--row", default="conv4_mp_q_a50_learned", help="Table 1 row key")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--attacks", default="logistic,mlp",
                        help="attacks (the strongest on 8x8 codes in the claim study)")
    parser.add_argument("--variants", default=",".join(VARIANTS),
                        help=f"versions to evaluate, comma-separated (default: all of {VARIANTS})")
    parser.add_argument("--photon-scale", default=None,
                        help="mean photons per pixel per exposure for a white scene in the noisy "
                             "versions; comma-separated for a light sweep (the design is learned "
                             "once; default: PHYSICAL_CAMERA's 2000)")
    parser.add_argument("--learn-with", choices=("ideal", "two_mask", "physical"),
                        default="ideal",
                        help="camera the design is learned through: the row's own (ideal), the "
                             "two-mask kernel (noise-free), or the two-mask kernel through "
                             "PHYSICAL_CAMERA (noise in the loop; 'ideal' is then that design "
                             "with the noise off)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", help="write the record as JSON here")
    args = parser.parse_args(argv)

    import torch

    torch.set_num_threads(args.threads)
    start = time.perf_counter()
    names = tuple(v for v in args.variants.split(",") if v)
    unknown = sorted(set(names) - set(VARIANTS))
    if unknown:
        parser.error(f"--variants: unknown {unknown}; choose from {VARIANTS}")
    scales = None
    if args.photon_scale is not None:
        try:
            scales = [float(v) for v in args.photon_scale.split(",") if v.strip()]
        except ValueError:
            scales = []
        if not scales or min(scales) <= 0:
            parser.error(f"--photon-scale: {args.photon_scale!r}; need comma-separated numbers > 0")
    if args.learn_with == "physical" and scales and len(scales) > 1:
        parser.error("--learn-with physical learns at one light level: give one --photon-scale")
    record = study(args.row, args.seed, tuple(a for a in args.attacks.split(",") if a), names,
                   scales, args.learn_with)
    finish(record, args.out, start)


if __name__ == "__main__":
    main()
