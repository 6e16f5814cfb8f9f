"""``canopic simulate``: encode images, folders or videos with a simulated camera."""
from __future__ import annotations

import argparse

from canopic.app.commands.common import DEVICE_HELP, add_command


def register(subparsers) -> None:
    """Add ``simulate`` to the ``canopic`` command."""
    parser = add_command(
        subparsers, "simulate", func=run_simulate, out="output folder (codes.npz, previews/, "
        "fig4.png)", overwrite=True, seed="seed of the camera's noise", device=DEVICE_HELP,
        help="encode images, folders or videos with a simulated camera",
        description="Run scenes through a simulated CAnOPIC camera (optics -> sensor -> "
                    "comparator-tree max-pool -> ADC) and write the 4-bit codes (.npz), "
                    "upscaled PNG previews and a figure like the paper's Fig. 4 (scene, after "
                    "optics, after max-pooling, after the ADC) for a face and a no-face example.",
        epilog="Examples: canopic simulate photo.jpg --out runs/sim; canopic simulate "
               "frames/ --encoder Learned_Conv4_Maxpool_Quantize_alpha1 --out runs/sim4; "
               "canopic simulate clip.mp4 --config camera.json --out runs/video")
    parser.add_argument("inputs", nargs="*",
                        help="image files, folders of images, or video files (opencv); none = a "
                             "face and a no-face image from the bundled data")
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--encoder", default="Learned_Conv1_Maxpool_Quantize_alpha1",
                        help="a published encoder name or .npz path (default: %(default)s), or a "
                             "design bundle folder (psf.npz, thresholds.npz, design.json)")
    source.add_argument("--config", help="a camera config JSON (sensor.CameraConfig fields) "
                                         "instead of --encoder (default: use --encoder)")
    parser.add_argument("--size", type=int, default=64,
                        help="scenes are centre-cropped square and resized to SIZE x SIZE pixels "
                             "(a multiple of 8; default %(default)s)")
    parser.add_argument("--batch", type=int, default=256, help="frames per batch")
    parser.add_argument("--max-frames", type=int, default=10000,
                        help="stop reading a video after this many frames")


def run_simulate(args: argparse.Namespace) -> int:
    from sensor.simulate import simulate_files

    for flag in ("batch", "max_frames"):
        if getattr(args, flag) < 1:
            raise ValueError(f"--{flag.replace('_', '-')}: {getattr(args, flag)} is not allowed; "
                             f"need an integer >= 1")
    summary = simulate_files(args.inputs, out_dir=args.out, encoder=None if args.config else args.encoder,
                             config_path=args.config, size=args.size, seed=args.seed,
                             batch=args.batch, max_frames=args.max_frames,
                             overwrite=args.overwrite, device=args.device,
                             progress=not args.quiet)
    print(f"encoded {summary['frames']} frames -> {summary['codes']}; previews in "
          f"{summary['previews']}; figure {summary['figure']}")
    return 0
