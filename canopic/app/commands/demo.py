"""``canopic demo``: the main job, from bundled data to fabrication files, a flashed board and a
report (:func:`canopic.app.demo.run_demo`)."""
from __future__ import annotations

from learn.recipes import DEFAULT_RECIPE, RECIPE_CAMERAS, RECIPES  # plain data: no torch
from canopic.app.commands.common import DEVICE_HELP, add_command, add_deprecated_alias

DEMO_SUMMARY = ("The main job: learn a Conv(1) and a Conv(4) camera, design their phase masks, "
                "write fabrication files and threshold tables, flash a board, capture frames back, "
                "evaluate privacy and utility, and write a report.")
#: Profiles of :data:`canopic.app.demo.PROFILES` (kept here so that --help imports no torch).
PROFILE_NAMES = ("full", "quick", "tiny")


def register(subparsers) -> None:
    """Add ``demo`` to the ``canopic`` command."""
    parser = add_command(
        subparsers, "demo", func=_run, out="run folder (an existing one is resumed)",
        out_default="runs/demo", overwrite=True, resumes=True,
        seed="seed of training, splits and noise",
        device=DEVICE_HELP + " (training; the evaluation runs on the CPU)",
        help="the main job: learn, design masks, export, flash, capture, evaluate, report",
        description=DEMO_SUMMARY + " Writes one run folder with report.html and "
                    "summary.json; re-running resumes (finished stages are kept).")
    parser.add_argument("--full", action="store_true",
                        help="the full profile (longer training, 3 evaluation seeds); same as "
                             "--profile full")
    parser.add_argument("--profile", choices=PROFILE_NAMES, default="quick",
                        help="quick (minutes), full (hours), tiny (CI-sized smoke run)")
    parser.add_argument("--port", default="emulator",
                        help="board port: 'emulator' (a board emulator in another process), a "
                             "device such as /dev/ttyACM0, or 'auto'")
    parser.add_argument("--recipe", choices=sorted(RECIPES), default=DEFAULT_RECIPE,
                        help="learning method (learn.recipes): 'closed_form' (ridge adversary "
                             "refitted on every batch, selection on validation) or 'paper' (the "
                             "authors' recogniser, alpha 1)")
    parser.add_argument("--alpha", type=float, default=None,
                        help="privacy weight per 100 nats (default: the recipe's: " + ", ".join(
                            f"{RECIPES[name]['alpha']:g} for {name}" for name in sorted(RECIPES))
                        + ")")
    parser.add_argument("--psf-parameterisation", choices=("taps", "factorised"), default=None,
                        help="how the PSFs learn: their own taps, or products of small dilated "
                             "kernels (optics.factorised; free or two_mask kernels) (default: "
                             "the recipe's: " + ", ".join(
                                 f"{camera['psf_parameterisation']} for {name}"
                                 for name, camera in sorted(RECIPE_CAMERAS.items())) + ")")
    parser.add_argument("--kernel-mode", default="two_mask", choices=("two_mask", "nonnegative", "free"),
                        help="kernel parameterisation; two_mask and nonnegative are physical "
                             "(nonnegative needs --psf-parameterisation taps)")
    parser.add_argument("--board-seed", type=int, default=7,
                        help="the emulated board's own mismatch seed")
    add_deprecated_alias(parser, "--fresh", "--overwrite", dest="overwrite")


def _run(args) -> int:
    from canopic.app.demo import run_demo

    run_demo(args.out, profile="full" if args.full else args.profile, port=args.port,
             seed=args.seed, recipe=args.recipe, alpha=args.alpha, kernel_mode=args.kernel_mode,
             psf_parameterisation=args.psf_parameterisation,
             board_seed=args.board_seed, fresh=args.overwrite, device=args.device,
             progress=not args.quiet)
    return 0
