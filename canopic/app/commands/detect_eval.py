"""``canopic detect-eval``: the face-detection experiment (clean, blur, pixelate, CAnOPICs)."""
from __future__ import annotations

from canopic.app.commands.common import add_command


def register(subparsers) -> None:
    """Add ``detect-eval`` to ``subparsers``."""
    parser = add_command(
        subparsers, "detect-eval", func=run, out="output folder", overwrite=True,
        seed="seed of the scenes, the encoders' noise and the detector",
        help="face detection with boxes on encoded scenes (paper's Fig. 6)",
        description="Train a small heat-map face detector on synthetic scenes encoded by each "
                    "configuration and score it (AP@0.5, FDDB discrete ROC). Writes "
                    "OUT/detection.csv (one row per configuration), OUT/roc.csv, "
                    "OUT/fig6a_roc.png, OUT/fig6b_boxes.png and a manifest. Computes on the "
                    "CPU.")
    parser.add_argument("--quick", action="store_true",
                        help="CI-sized profile (192 training / 64 test scenes of 128 px)")
    parser.add_argument("--configs", nargs="+", default=None, metavar="NAME",
                        help="configurations (default: clean blur pixelate and the two "
                             "published alpha=1 CAnOPICs)")
    parser.add_argument("--epochs", type=int, default=None,
                        help="detector training epochs (default: the profile's: 12, "
                             "--quick 6)")
    parser.add_argument("--train-scenes", type=int, default=None,
                        help="training scenes (default: the profile's: 1280, --quick 192)")
    parser.add_argument("--test-scenes", type=int, default=None,
                        help="test scenes (default: the profile's: 200, --quick 64)")
    parser.add_argument("--no-figures", action="store_true", help="skip the PNG figures")


def run(args) -> int:
    """Handler of ``canopic detect-eval``."""
    import dataclasses

    import torch

    from learn.detection.experiment import (CONFIGURATIONS, PROFILES, run_experiment,
                                            write_results)

    if args.epochs is not None and args.epochs < 1:
        raise ValueError(f"--epochs: {args.epochs} is not allowed; need >= 1")
    name = "quick" if args.quick else "full"
    profile = PROFILES[name]
    if args.epochs is not None:
        profile = dataclasses.replace(
            profile, train=dataclasses.replace(profile.train, epochs=args.epochs))
    for flag, attribute in (("train_scenes", "n_train"), ("test_scenes", "n_test")):
        value = getattr(args, flag)
        if value is not None:
            if value < 1:
                raise ValueError(f"--{flag.replace('_', '-')}: {value} is not allowed; need >= 1")
            profile = dataclasses.replace(profile, **{attribute: value})
    profile = dataclasses.replace(profile, seed=args.seed)
    torch.set_num_threads(max(1, min(torch.get_num_threads(), 8)))
    results, test = run_experiment(profile, tuple(args.configs or CONFIGURATIONS),
                                   progress=not args.quiet)
    paths = write_results(args.out, results, test, profile, name, figures=not args.no_figures)
    for result in results:
        print(f"{result.name:40s} AP@0.5 {result.ap50:.3f}  (COCO-101 {result.ap50_coco101:.3f}, "
              f"trained {result.train_seconds:.0f} s)")
    print(f"wrote {paths['detection']}")
    return 0
