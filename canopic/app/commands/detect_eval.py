"""``canopic detect-eval``: the face-detection experiment (clean, blur, pixelate, CAnOPICs)."""
from __future__ import annotations

from canopic.app.commands.common import add_command


def register(subparsers) -> None:
    """Add ``detect-eval`` to ``subparsers``."""
    parser = add_command(
        subparsers, "detect-eval", func=run, out="output folder", help="face detection with boxes on encoded scenes (paper's Fig. 6)",
        description="Train a small heat-map face detector on synthetic scenes encoded by each "
                    "configuration and score it (AP@0.5, FDDB discrete ROC). Writes "
                    "OUT/detection.csv (one row per configuration), OUT/roc.csv, "
                    "OUT/fig6a_roc.png, OUT/fig6b_boxes.png and a manifest.")
    parser.add_argument("--quick", action="store_true",
                        help="CI-sized profile (192 training / 64 test scenes of 128 px)")
    parser.add_argument("--configs", nargs="+", default=None, metavar="NAME",
                        help="configurations (default: clean blur pixelate and the two "
                             "published alpha=1 CAnOPICs)")
    parser.add_argument("--seed", type=int, default=None, help="seed (default 0)")
    parser.add_argument("--epochs", type=int, default=None, help="override training epochs")
    parser.add_argument("--train-scenes", type=int, default=None, help="override")
    parser.add_argument("--test-scenes", type=int, default=None, help="override")
    parser.add_argument("--no-figures", action="store_true", help="skip the PNG figures")


def run(args) -> int:
    """Handler of ``canopic detect-eval``."""
    import dataclasses

    import torch

    from learn.detection.experiment import (CONFIGURATIONS, PROFILES, run_experiment,
                                            write_results)

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
    if args.seed is not None:
        profile = dataclasses.replace(profile, seed=args.seed)
    torch.set_num_threads(max(1, min(torch.get_num_threads(), 8)))
    results, test = run_experiment(profile, tuple(args.configs or CONFIGURATIONS), progress=True)
    paths = write_results(args.out, results, test, profile, name, figures=not args.no_figures)
    for result in results:
        print(f"{result.name:40s} AP@0.5 {result.ap50:.3f}  (COCO-101 {result.ap50_coco101:.3f}, "
              f"trained {result.train_seconds:.0f} s)")
    print(f"wrote {paths['detection']}")
    return 0
