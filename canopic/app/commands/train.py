"""``canopic train``: learn a camera by alternating optimisation (learn.runs, learn.alternating)."""
from __future__ import annotations

import argparse

from canopic.app.commands.common import add_command

#: CLI flags that override a run setting: flag -> (config section or None for the top, key).
_OVERRIDES = {
    "conv": ("camera", "conv"),
    "kernel_mode": ("camera", "kernel_mode"),
    "alpha": ("training", "alpha"),
    "alternations": ("training", "alternations"),
    "encoder_epochs": ("training", "encoder_epochs"),
    "recogniser_epochs": ("training", "recogniser_epochs"),
    "detector_epochs": ("training", "detector_epochs"),
    "steps_per_epoch": ("training", "steps_per_epoch"),
    "batch_size": ("training", "batch_size"),
    "faces": ("data", "faces"),
    "nonfaces": ("data", "nonfaces"),
    "seed": (None, "seed"),
    "device": (None, "device"),
}


def register(subparsers) -> None:
    """Add ``canopic train`` to ``subparsers``."""
    parser = add_command(
        subparsers, "train", func=run, out="run folder", defaults_in_help=True,
        help="learn the camera (kernels, ADC thresholds) by alternating optimisation",
        description="Alternating optimisation of the paper's eq. (1): the camera against a "
                    "recognition and a detection network. Writes OUT/config.json, "
                    "OUT/checkpoint.pt (every alternation), OUT/metrics.jsonl and the design "
                    "bundle OUT/design/ (psf.npz, thresholds.npz, design.json). An alpha sweep "
                    "is one process per alpha: for a in 0 1 10 100; do canopic train --alpha $a "
                    "--out runs/alpha_$a & done; wait")
    parser.add_argument("--config", help="run config (.json or .toml; sections camera, training, "
                                         "data; keys seed, device); flags below override it")
    parser.add_argument("--resume", action="store_true",
                        help="continue the run in --out from its last checkpoint")
    parser.add_argument("--profile", choices=("paper", "quick"), default=None,
                        help="training schedule: 'paper' (the authors': 20 alternations, about "
                             "hours on CPU) or 'quick' (a few minutes on 2 CPU cores)")
    parser.add_argument("--conv", choices=("conv1", "conv4"), help="Conv(1) 63x63 or Conv(4) 11x11 PSFs")
    parser.add_argument("--kernel-mode", choices=("free", "nonnegative", "two_mask"),
                        help="kernel parameterisation (physical: nonnegative or two_mask)")
    parser.add_argument("--alpha", type=float, help="privacy weight, per 100 nats of identity entropy")
    parser.add_argument("--alternations", type=int, help="number of alternations")
    parser.add_argument("--encoder-epochs", type=int, help="camera epochs per alternation")
    parser.add_argument("--recogniser-epochs", type=int, help="max recogniser epochs per alternation")
    parser.add_argument("--detector-epochs", type=int, help="detector epochs per alternation")
    parser.add_argument("--steps-per-epoch", type=int, help="cap on optimiser steps per epoch")
    parser.add_argument("--batch-size", type=int, help="images per batch (even)")
    parser.add_argument("--faces", help="faces: bundled name, .npz, or folder (one sub-folder per identity)")
    parser.add_argument("--nonfaces", help="no-face images: bundled name, .npz, or folder")
    parser.add_argument("--seed", type=int, help="seed of the networks, batch order and noise")
    parser.add_argument("--device", help="auto (CUDA when present), cpu, cuda, cuda:N")
    parser.add_argument("--threads", type=int, help="torch CPU threads (default: torch's choice; "
                                                    "1 is faster on a shared, loaded machine)")
    parser.add_argument("--quiet", action="store_true", help="no progress bars or summary lines")


def build_config(args: argparse.Namespace):
    """The RunConfig of ``args``: config file (or defaults), then profile, then flags."""
    from learn.runs import PROFILES, RunConfig, load_run_config

    config = load_run_config(args.config) if args.config else RunConfig()
    if args.profile:
        config = config.updated("training", **PROFILES[args.profile])
    for flag, (section, key) in _OVERRIDES.items():
        value = getattr(args, flag, None)
        if value is not None:
            config = config.updated(section, **{key: value})
    return config


def run(args: argparse.Namespace) -> int:
    """Handler of ``canopic train``."""
    from learn.runs import summary_line, train

    config = build_config(args)
    if args.threads is not None:
        if args.threads < 1:
            raise ValueError(f"--threads: {args.threads} is not allowed; need an integer >= 1")
        import torch

        torch.set_num_threads(args.threads)
    result = train(config, args.out, resume=args.resume, progress=not args.quiet)
    if result.metrics:
        print(summary_line(result.metrics[-1], config.training.alternations))
    print(f"design bundle: {result.out_dir / 'design'}")
    return 0
