"""Commands: ``canopic export-tables``, ``flash``, ``capture``, ``board-emulator``, ``ports``."""
from __future__ import annotations

import argparse

from canopic.app.commands.common import add_command, add_deprecated_alias

PORT_HELP = ("serial device (e.g. /dev/ttyUSB0, COM3), a pyserial URL, 'auto' (the one USB "
             "serial port matching --vid/--pid/--serial-number) or 'emulator' (start a board "
             "emulator for this command)")


def _add_connection(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--port", required=True, help=PORT_HELP)
    parser.add_argument("--baud", type=int, default=115200,
                        help="rate the board boots at (default: %(default)s)")
    parser.add_argument("--target-baud", type=int, default=None,
                        help="switch to this rate after HELLO, e.g. 921600 (default: stay at "
                             "--baud)")
    _add_usb_filters(parser, " for --port auto")
    parser.add_argument("--emulator-flash-dir", default=None,
                        help="flash directory of the emulator that --port emulator starts "
                             "(default: the emulator's, a folder in the system's temp dir)")
    parser.add_argument("--emulator-seed", type=int, default=None,
                        help="mismatch seed of the emulator that --port emulator starts "
                             "(default: the emulator's, 1)")


def _add_usb_filters(parser: argparse.ArgumentParser, suffix: str = "") -> None:
    parser.add_argument("--vid", help=f"USB vendor id filter{suffix} (hex; default: any)")
    parser.add_argument("--pid", help=f"USB product id filter{suffix} (hex; default: any)")
    parser.add_argument("--serial-number",
                        help=f"USB serial number filter{suffix} (default: any)")


def _connection(args: argparse.Namespace) -> dict:
    from hil.ports import parse_usb_id
    for flag in ("baud", "target_baud"):
        value = getattr(args, flag, None)
        if value is not None and value <= 0:
            raise ValueError(f"--{flag.replace('_', '-')}: {value} is not allowed; need a "
                             f"positive rate in baud")
    if args.emulator_seed is not None and args.emulator_seed < 0:
        raise ValueError(f"--emulator-seed: {args.emulator_seed} is not allowed; need an "
                         f"integer >= 0")
    emulator_args = []
    if args.emulator_flash_dir:
        emulator_args += ["--flash-dir", args.emulator_flash_dir]
    if args.emulator_seed is not None:
        emulator_args += ["--seed", str(args.emulator_seed)]
    return dict(baudrate=args.baud, vid=parse_usb_id(args.vid, "--vid"),
                pid=parse_usb_id(args.pid, "--pid"), serial_number=args.serial_number,
                emulator_args=emulator_args)


def _flash(args: argparse.Namespace) -> int:
    from hil.api import flash_and_verify
    if not args.thresholds and not args.mask:
        raise ValueError("--thresholds, --mask: give at least one file to flash")
    connection = _connection(args)
    results = flash_and_verify(args.port, args.thresholds, args.mask,
                               target_baud=args.target_baud, progress=not args.quiet,
                               **connection)
    for name, status in results.items():
        print(f"{name}: committed to slot {status.slot} (generation {status.generation}), "
              f"{status.length} bytes, SHA-256 {status.sha256.hex()}, verified by readback")
    return 0


def read_scene(path: "str | None", size: int):
    """uint8 [size, size, 3] RGB from an image file or .npy (a built-in test scene if None)."""
    import numpy as np
    if path is None:
        y, x = np.mgrid[0:size, 0:size] / max(size - 1, 1)
        checker = ((np.floor(x * 8) + np.floor(y * 8)) % 2)
        scene = np.stack([x, y, 0.3 + 0.5 * checker], axis=-1)
        return np.round(scene * 255).astype(np.uint8)
    import os

    if not os.path.isfile(path):
        raise ValueError(f"--scene: {path} " + ("is a folder; expected an image file"
                                                if os.path.isdir(path) else "does not exist"))
    if path.lower().endswith(".npy"):
        from canopic.core.files import read_npy

        scene = read_npy(path, "--scene")
    else:
        import cv2
        bgr = cv2.imread(path, cv2.IMREAD_COLOR)
        if bgr is None:
            raise ValueError(f"--scene: cannot read {path!r} as an image")
        scene = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    if scene.dtype != np.uint8 or scene.ndim != 3 or scene.shape[2] != 3:
        raise ValueError(f"--scene: expected an RGB image (uint8 HxWx3), got {scene.dtype} "
                         f"{list(scene.shape)}")
    if scene.shape[:2] != (size, size):
        import cv2
        scene = cv2.resize(scene, (size, size), interpolation=cv2.INTER_AREA)
    return scene


def _capture(args: argparse.Namespace) -> int:
    import json

    from canopic.core import files
    from hil.api import capture
    if args.scene_size <= 0 or args.scene_size % 8:
        raise ValueError(f"--scene-size: {args.scene_size} must be a positive multiple of 8")
    scene = read_scene(args.scene, args.scene_size)
    connection = _connection(args)
    codes, metadata = capture(args.port, scene, noise_seed=args.seed,
                              return_metadata=True, **connection)
    files.save_npz(args.out, codes=codes, scene=scene[None],
                   metadata=json.dumps(metadata[0]))
    print(f"captured codes {list(codes.shape)} (values {codes.min()}..{codes.max()}) -> "
          f"{args.out}")
    return 0


def _board_emulator(args: argparse.Namespace) -> int:
    from hil.emulator import run
    return run(args)


def _ports(args: argparse.Namespace) -> int:
    from hil.ports import describe, find_ports, parse_usb_id
    found = find_ports(parse_usb_id(args.vid, "--vid"), parse_usb_id(args.pid, "--pid"),
                       args.serial_number, usb_only=not args.all)
    if not found:
        print("no serial ports found" + ("" if args.all else " (USB only; --all lists every "
                                                             "port)"))
    for info in found:
        print(describe(info))
    return 0


def _export_tables(args: argparse.Namespace) -> int:
    from canopic.core.units import parse_quantity
    from hil.tables import export_tables

    formats = [f.strip() for f in str(args.formats).split(",") if f.strip()]
    manifest = export_tables(args.design, args.out, dac_bits=args.dac_bits,
                             v_ref_low=parse_quantity(args.v_ref_low, "V", "--v-ref-low"),
                             v_ref_high=parse_quantity(args.v_ref_high, "V", "--v-ref-high"),
                             formats=formats, overwrite=args.overwrite)
    print(f"{len(manifest['codes'])} thresholds as {manifest['dac']['bits']}-bit DAC codes "
          f"{manifest['codes']}; largest quantisation error {manifest['max_error']:.3g} "
          f"(ADC input units)")
    for entry in manifest["files"]:
        print(f"{entry['path']}: {entry['bytes']} bytes, SHA-256 {entry['sha256']}")
    print(f"tables and manifest.json written to {args.out}")
    return 0


def register(subparsers) -> None:
    """Add export-tables, flash, capture, board-emulator and ports to the ``canopic`` command."""
    from hil.tables import TABLE_FORMATS

    tables = add_command(
        subparsers, "export-tables", func=_export_tables, out="folder to write", overwrite=True,
        help="flashable ADC threshold tables of a learned design",
        description="Quantise a learned design's ADC thresholds to DAC codes and write them in "
                    "every board format (binary .bin, .json, Intel HEX .hex), each read back "
                    "and compared, with manifest.json (codes, realised thresholds, sha256).",
        epilog="Example: canopic export-tables runs/c4/design --out runs/c4/tables; then "
               "canopic flash --port emulator --thresholds runs/c4/tables/thresholds.bin")
    tables.add_argument("design", help="a design bundle folder ('canopic train' writes "
                                       "OUT/design)")
    tables.add_argument("--dac-bits", type=int, default=12,
                        help="the board DAC's resolution, 1..16 bits (default: %(default)s)")
    tables.add_argument("--v-ref-low", default="0V",
                        help="DAC reference voltage of code 0 (default: %(default)s)")
    tables.add_argument("--v-ref-high", default="1V",
                        help="DAC reference voltage of the top code (default: %(default)s)")
    tables.add_argument("--formats", default=",".join(TABLE_FORMATS),
                        help="comma-separated subset of " + ", ".join(TABLE_FORMATS)
                             + " (default: %(default)s)")

    flash = add_command(
        subparsers, "flash", func=_flash, help="flash a threshold table and/or mask pattern to a board, verified",
        description="Send artifacts to a board (BEGIN/DATA/END, COMMIT to the inactive slot) "
                    "and read them back byte for byte. Threshold tables: binary (.bin), .json "
                    "or Intel HEX (.hex); masks: binary (.cmask) or .npz (levels, level_count).")
    _add_connection(flash)
    flash.add_argument("--thresholds", help="threshold table file (default: none; give it "
                                            "and/or --mask)")
    flash.add_argument("--mask", help="mask pattern file (default: none)")
    add_deprecated_alias(flash, "--no-progress", "--quiet", dest="quiet")

    capture = add_command(
        subparsers, "capture", func=_capture, out="output .npz file", out_is="file",
        overwrite=True, seed="seed of the frame's temporal noise",
        help="capture a frame of codes from a board",
        description="Show a scene to the board's camera and save the codes it returns "
                    "(.npz: codes uint8 [1, C, h, w], scene, metadata JSON).")
    _add_connection(capture)
    capture.add_argument("--scene", help="scene image (PNG/JPEG, or .npy uint8 HxWx3) "
                                         "(default: a built-in test pattern)")
    capture.add_argument("--scene-size", type=int, default=64,
                         help="scene side in pixels (default: %(default)s)")
    add_deprecated_alias(capture, "--noise-seed", "--seed", dest="seed", type=int)

    from hil.emulator import add_arguments
    emulator = add_command(
        subparsers, "board-emulator", func=_board_emulator, help="emulate a prototype board on a pseudo-terminal",
        description="Serve the board protocol on a new pty; prints its path (open it with "
                    "--port PATH), keeps its flash in --flash-dir, runs until interrupted.")
    add_arguments(emulator)

    ports = add_command(subparsers, "ports", func=_ports, help="list candidate serial ports",
                        description="List serial ports (USB ones unless --all).")
    _add_usb_filters(ports)
    ports.add_argument("--all", action="store_true", help="include non-USB ports")


__all__ = ["register", "read_scene"]
