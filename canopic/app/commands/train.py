"""``canopic train``: learn a camera by alternating optimisation (learn.runs, learn.alternating)."""
from __future__ import annotations

import argparse
import shutil

from learn.recipes import DEFAULT_RECIPE, RECIPE_CAMERAS, RECIPES  # plain data: no torch
from canopic.app.commands.common import DEVICE_HELP, add_command

#: Help suffix of the options whose value comes from --config when they are left out.
_FROM_CONFIG = " (default: --config's value, else {})"
#: Help suffix of the options a recipe sets (learn.recipes.RECIPE_FIELDS, RECIPE_CAMERA_FIELDS).
_FROM_RECIPE = " (default: --profile's, --config's or else the recipe's value; see --recipe)"

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
    "encoder_faces": ("data", "encoder_faces"),
    "adversary": ("training", "adversary"),
    "select": ("training", "select"),
    "face_target": ("training", "face_target"),
    "utility": ("training", "utility"),
    "psf_sigma": ("camera", "psf_sigma"),
    "psf_parameterisation": ("camera", "psf_parameterisation"),
    "optics_lr": ("training", "optics_lr"),
    "network_input": ("training", "network_input"),
    "judge_people": ("training", "judge_people"),
    "judge_folds": ("training", "judge_folds"),
    "judge_detector_epochs": ("training", "judge_detector_epochs"),
    "closed_form_shots": ("training", "closed_form_shots"),
    "seed": (None, "seed"),
    "device": (None, "device"),
}


def register(subparsers) -> None:
    """Add ``canopic train`` to ``subparsers``."""
    parser = add_command(
        subparsers, "train", func=run, out="run folder (an existing run is resumed)",
        overwrite=True, resumes=True,
        seed="seed of the networks, batch order and noise" + _FROM_CONFIG.format(0),
        seed_default=None, device=DEVICE_HELP + _FROM_CONFIG.format("auto"),
        device_default=None,
        help="learn the camera (kernels, ADC thresholds) by alternating optimisation",
        description="Alternating optimisation of the paper's eq. (1): the camera against a "
                    "recognition and a detection network, by default with the closed-form "
                    "recipe (--recipe, learn.recipes). Writes OUT/config.json, "
                    "OUT/checkpoint.pt (every alternation), OUT/metrics.jsonl and the design "
                    "bundle OUT/design/ (psf.npz, thresholds.npz, design.json). Run again, "
                    "it resumes from OUT/checkpoint.pt (--overwrite starts over). Options left "
                    "out take their value from --config, else the recipe's (--recipe), else "
                    "learn.runs.RunConfig's default. "
                    "An alpha sweep "
                    "is one process per alpha: for a in 0 1 10 100; do canopic train --alpha $a "
                    "--out runs/alpha_$a & done; wait")
    parser.add_argument("--config", help="run config (.json or .toml; sections camera, training, "
                                         "data; keys seed, device); flags below override it "
                                         "(default: none: the recipe's settings, else "
                                         "learn.runs.RunConfig's defaults)")
    parser.add_argument("--resume", action="store_true",
                        help="insist on resuming: an error if --out holds no run (without it, "
                             "a run in --out is resumed, else a new one starts)")
    parser.add_argument("--recipe", choices=sorted(RECIPES), default=None,
                        help="learning method (learn.recipes): 'closed_form' (a ridge adversary "
                             "refitted on every batch, alpha 500, D on hard codes, factorised "
                             "PSFs, the most private alternation reaching face accuracy 0.9 on "
                             "validation) or 'paper' (the authors' recogniser, alpha 1, the "
                             "PSFs' own taps, the last alternation); "
                             "--config and the flags below override its values "
                             f"(default: {DEFAULT_RECIPE})")
    parser.add_argument("--profile", choices=("paper", "quick"), default=None,
                        help="training schedule: 'paper' (the authors': 20 alternations, about "
                             "hours on CPU) or 'quick' (a few minutes on 2 CPU cores) "
                             "(default: --config's schedule, else the recipe's)")
    parser.add_argument("--conv", choices=("conv1", "conv4"),
                        help="Conv(1): one 63x63 PSF; Conv(4): four PSFs, 31x31 when factorised "
                             "(the closed_form recipe), 11x11 with their own taps"
                             + _FROM_CONFIG.format("conv1"))
    parser.add_argument("--kernel-mode", choices=("free", "nonnegative", "two_mask"),
                        help="kernel parameterisation (physical: nonnegative or two_mask; "
                             "factorised PSFs take free or two_mask)"
                             + _FROM_CONFIG.format("free"))
    parser.add_argument("--alpha", type=float, help="privacy weight, per 100 nats of identity "
                                                    "entropy" + _FROM_RECIPE)
    parser.add_argument("--alternations", type=int,
                        help="number of alternations" + _FROM_RECIPE)
    parser.add_argument("--encoder-epochs", type=int, help="camera epochs per alternation"
                        + _FROM_RECIPE)
    parser.add_argument("--recogniser-epochs", type=int, help="max recogniser epochs per "
                        "alternation" + _FROM_CONFIG.format("100; quick: 15"))
    parser.add_argument("--detector-epochs", type=int, help="detector epochs per alternation"
                        + _FROM_RECIPE)
    parser.add_argument("--steps-per-epoch", type=int, help="cap on optimiser steps per epoch"
                        + _FROM_CONFIG.format("no cap; quick: 25"))
    parser.add_argument("--batch-size", type=int, help="images per batch (even)"
                        + _FROM_CONFIG.format(32))
    parser.add_argument("--faces", help="faces: bundled name, .npz, or folder (one sub-folder "
                                        "per identity)" + _FROM_CONFIG.format("faces64_wide"))
    parser.add_argument("--nonfaces", help="no-face images: bundled name, .npz, or folder"
                        + _FROM_CONFIG.format("nonfaces64"))
    parser.add_argument("--encoder-faces", choices=("auto", "lfw-e", "faces"),
                        help="labelled faces the encoder learns to hide: 'lfw-e' (LFW role E, "
                             "572 people), 'faces' (the face set's own encoder identities) or "
                             "'auto' (lfw-e for the bundled face sets, faces for your own; "
                             "the default)")
    parser.add_argument("--adversary", choices=("frozen", "fresh", "closed_form"),
                        help="privacy term's adversary: 'frozen' (the paper's R, never "
                             "re-initialised), 'fresh' (re-initialised CNN + linear recognisers "
                             "trained on hard codes every alternation, scored on held-out faces) "
                             "or 'closed_form' (ridge regression refitted on every batch); "
                             "learn.alternating" + _FROM_RECIPE)
    parser.add_argument("--select", choices=("last", "validation"),
                        help="design returned: the last alternation, or the most private one "
                             "meeting --face-target on validation data (never the test parts)"
                             + _FROM_RECIPE)
    parser.add_argument("--face-target", type=float,
                        help="face vs no-face validation accuracy (0..1) a design must reach "
                             "under --select validation, or holds under --utility constraint"
                             + _FROM_RECIPE)
    parser.add_argument("--utility", choices=("weighted", "constraint"),
                        help="utility term: 'weighted' (detection loss of weight 1; alpha "
                             "trades privacy for utility) or 'constraint' (a Lagrange multiplier "
                             "holds the detector's validation accuracy at --face-target)"
                             + _FROM_RECIPE)
    parser.add_argument("--psf-sigma", type=float,
                        help="sigma (px) of Conv(1)'s starting Gaussian PSF (taps only: "
                             "factorised PSFs start from their seeded factors)"
                             + _FROM_CONFIG.format(8.0))
    parser.add_argument("--psf-parameterisation", choices=("taps", "factorised"),
                        help="how the PSFs learn: their own taps, or products of small "
                             "dilated kernels (optics.factorised; 31 px support; Conv(1) or "
                             "Conv(4), whose four PSFs then grow to 31 px; with --kernel-mode "
                             "free or two_mask)" + " (default: --config's value, else the "
                             "recipe's: " + ", ".join(f"{camera['psf_parameterisation']} for "
                                                      f"{name}" for name, camera
                                                      in sorted(RECIPE_CAMERAS.items())) + ")")
    parser.add_argument("--network-input", choices=("soft", "hard"),
                        help="codes R and D learn from: the soft quantiser at the alternation's "
                             "hardness (the authors') or the hard one the evaluation scores"
                             + _FROM_RECIPE)
    parser.add_argument("--optics-lr", type=float,
                        help="give the PSF its own Adam step, this fraction of its largest "
                             "starting parameter per step (the peak tap; with factorised PSFs "
                             "the largest factor weight) (e.g. 0.003; 0 holds the PSF and learns "
                             "the ADC thresholds alone); without it the PSF shares the "
                             "encoder's SGD, which the per-frame gain leaves blind to the "
                             "PSF's scale" + _FROM_CONFIG.format("none"))
    parser.add_argument("--judge-people", type=int,
                        help="encoder people taken out of the loop to judge --select validation"
                             + _FROM_CONFIG.format(100))
    parser.add_argument("--judge-folds", type=int,
                        help="0: the judge's people are a random choice scored on one held-out "
                             "image each; k >= 2: the people with the most images, scored by "
                             "k-fold cross-validation over all their images"
                             + _FROM_CONFIG.format(0))
    parser.add_argument("--judge-detector-epochs", type=int,
                        help="0: --select validation reads the in-loop detector's accuracy; k: "
                             "that of a copy trained k more epochs on the alternation's hard codes "
                             "(reads less low)" + _FROM_CONFIG.format(0))
    parser.add_argument("--closed-form-shots", type=int,
                        help="--adversary closed_form: fit images a person of the ridge (k >= 1; "
                             "only people with k + 1 training images are drawn)"
                             + _FROM_CONFIG.format(1))
    parser.add_argument("--restarts", type=int, default=1,
                        help="learn N designs (seeds SEED, SEED+1000, ...; OUT/restart<k>/) and "
                             "keep the one chosen on the evaluation identities' validation images "
                             "by attackers not in the loop (learn.restarts; default 1: one run)")
    parser.add_argument("--restart-face-target", type=float, default=None,
                        help="--restarts: validation face accuracy (0..1) the kept design must "
                             "reach; the most private that does is kept (default 0.92)")
    parser.add_argument("--threads", type=int, help="torch CPU threads (default: torch's choice; "
                                                    "1 is faster on a shared, loaded machine)")


def build_config(args: argparse.Namespace):
    """The RunConfig of ``args``: the recipe (``--recipe``, else
    :data:`learn.recipes.DEFAULT_RECIPE`), then what the config file sets, then profile, then
    flags.

    The recipe's camera fields (how the PSFs learn) apply last, and only where neither the
    config file nor a flag chose the parameterisation and the camera has PSFs to learn (Conv(1)
    or Conv(4)); a camera the recipe's factorised PSFs cannot serve (e.g. ``--psf-sigma`` or
    ``--kernel-mode nonnegative``) is refused with the flag that learns the taps instead."""
    from learn.recipes import DEFAULT_RECIPE, recipe, recipe_camera, refused_camera
    from learn.runs import PROFILES, RunConfig, merge_run_config, read_config_values
    from sensor.camera import FACTORISED_CONVS

    name = getattr(args, "recipe", None) or DEFAULT_RECIPE
    config = RunConfig().updated("training", **recipe(name))
    chosen = set()        # camera fields the config file or a flag set
    if args.config:
        values = read_config_values(args.config)
        config = merge_run_config(values, config, source=args.config)
        camera = values.get("camera") if isinstance(values, dict) else None
        chosen |= set(camera) if isinstance(camera, dict) else set()
    if args.profile:
        config = config.updated("training", **PROFILES[args.profile])
    changes: "dict[str | None, dict]" = {}    # a section's flags at once: no half-set state
    for flag, (section, key) in _OVERRIDES.items():
        value = getattr(args, flag, None)
        if value is not None:
            changes.setdefault(section, {})[key] = value
    for section, values in changes.items():
        config = config.updated(section, **values)
    chosen |= set(changes.get("camera", {}))
    method_camera = {key: value for key, value in recipe_camera(name).items()
                     if key not in chosen}
    if method_camera and config.camera.conv in FACTORISED_CONVS:
        try:
            config = config.updated("camera", **method_camera)
        except ValueError as error:
            raise refused_camera(error, name) from None
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
    from pathlib import Path

    checkpoint = Path(args.out) / "checkpoint.pt"
    if args.overwrite and args.resume:
        raise ValueError("--overwrite and --resume: choose one (start over, or continue the run)")
    from learn.restarts import DEFAULT_RESTART_FACE_TARGET, check_restart_settings

    restarts = getattr(args, "restarts", 1)
    target = getattr(args, "restart_face_target", None)
    if target is not None and restarts == 1:
        raise ValueError("--restart-face-target: only with --restarts N (N >= 2)")
    target = DEFAULT_RESTART_FACE_TARGET if target is None else target
    check_restart_settings(restarts, target)  # before --overwrite deletes anything
    holds_restarts = any((Path(args.out) / name).exists() for name in ("restarts.json", "restart0"))
    if restarts == 1 and not args.overwrite and holds_restarts:
        raise ValueError(f"--out: {args.out!r} holds restarts (restart0/); pass the same "
                         f"--restarts N to continue them, or --overwrite for a single run")
    if args.overwrite:  # start over: nothing of the old run may pass for the new one's
        checkpoint.unlink(missing_ok=True)
        shutil.rmtree(Path(args.out) / "design", ignore_errors=True)
        for old in Path(args.out).glob("restart*"):
            shutil.rmtree(old, ignore_errors=True) if old.is_dir() else old.unlink()
    if restarts > 1:
        from learn.restarts import train_with_restarts

        if checkpoint.is_file():
            raise ValueError(f"--out: {args.out!r} holds a single run (checkpoint.pt); choose "
                             f"another folder for --restarts, or pass --overwrite")
        result = train_with_restarts(config, args.out, restarts, target,
                                     progress=not args.quiet)
        print(f"kept restart {result.out_dir.name} (OUT/restarts.json)")
        print(f"design bundle: {Path(args.out) / 'design'}")
        return 0
    result = train(config, args.out, resume=args.resume or checkpoint.is_file(),
                   progress=not args.quiet)
    if result.metrics:
        print(summary_line(result.metrics[-1], config.training.alternations))
    print(f"design bundle: {result.out_dir / 'design'}")
    return 0
