"""The board emulator as a separate process serving a pseudo-terminal.

Run ``python -m hil.emulator --flash-dir DIR`` (or ``canopic board-emulator``): it opens a pty,
prints the path of its slave end (the "serial port" the host opens) on the first line of
stdout, and answers the protocol there until killed. ``EmulatorProcess`` starts one from
Python and reads that path. Kill it at any moment: the flash directory keeps the active slots.
"""
from __future__ import annotations

import argparse
import logging
import os
import select
import signal
import subprocess
import sys
import tempfile
import tty
from typing import TYPE_CHECKING, List, Optional

from hil.faults import FaultRates, FrameFaults
from hil.protocol import DEFAULT_MAX_BODY

if TYPE_CHECKING:  # the board (numpy, torch on capture) loads only when serving
    from hil.board import Board, BoardConfig

log = logging.getLogger(__name__)


def default_flash_dir() -> str:
    """Flash directory used when none is given (persists between runs, so flash then capture
    with ``--port emulator`` works)."""
    return os.path.join(tempfile.gettempdir(), "canopic-board-emulator")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The emulator's options (shared by ``python -m hil.emulator`` and the CLI)."""
    parser.add_argument("--flash-dir", default=default_flash_dir(),
                        help="directory standing in for the board's flash (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=1,
                        help="the board's own mismatch seed (default: %(default)s)")
    parser.add_argument("--board-id", default="canopic-emulator",
                        help="the id the board answers HELLO with (default: %(default)s)")
    parser.add_argument("--mask-size", default="1024x1024", metavar="WxH",
                        help="SLM size in pixels (default: %(default)s)")
    parser.add_argument("--mask-levels", type=int, default=256,
                        help="levels the SLM shows, 2..65535 (default: %(default)s)")
    parser.add_argument("--dac-bits", type=int, default=12,
                        help="resolution of the threshold DAC, 1..16 bits (default: %(default)s)")
    parser.add_argument("--max-body", type=int, default=DEFAULT_MAX_BODY,
                        help="largest frame body in bytes (default: %(default)s)")
    parser.add_argument("--camera", default="conv4",
                        help="camera optics: none, conv1, conv4, a published encoder name "
                             "(sensor.published) or a design bundle folder (e.g. the design/ "
                             "of a 'canopic train' run) (default: %(default)s)")
    parser.add_argument("--comparator-offset-sigma", type=float, default=0.002,
                        help="max-pool comparator offset sigma, V (default: %(default)s)")
    parser.add_argument("--adc-mismatch-sigma", type=float, default=0.05,
                        help="ADC threshold mismatch sigma, LSB (default: %(default)s)")
    parser.add_argument("--drop-rate", type=float, default=0.0,
                        help="fault injection: probability in [0, 1) a frame (either way) is "
                             "lost (default: %(default)s)")
    parser.add_argument("--corrupt-rate", type=float, default=0.0,
                        help="fault injection: probability in [0, 1) a frame has bytes changed "
                             "(default: %(default)s)")
    parser.add_argument("--duplicate-rate", type=float, default=0.0,
                        help="fault injection: probability in [0, 1) a frame arrives twice "
                             "(default: %(default)s)")
    parser.add_argument("--fault-seed", type=int, default=0,
                        help="seed of the fault injection (default: %(default)s)")


def config_from_args(args: argparse.Namespace) -> "BoardConfig":
    """A ``BoardConfig`` from the parsed options (``ValueError`` names a bad one)."""
    from hil.board import BoardConfig
    try:
        width, height = (int(v) for v in args.mask_size.lower().split("x"))
    except ValueError:
        raise ValueError(f"--mask-size: {args.mask_size!r} is not WIDTHxHEIGHT") from None
    if not (0 < width <= 16384 and 0 < height <= 16384):
        raise ValueError(f"--mask-size: {width}x{height} is outside 1..16384 a side")
    if args.max_body < 64:
        raise ValueError(f"--max-body: {args.max_body} is below the minimum of 64 bytes")
    for flag, low, high in (("mask_levels", 2, 65535), ("dac_bits", 1, 16),
                            ("seed", 0, None), ("fault_seed", 0, None)):
        value = getattr(args, flag)
        if value < low or (high is not None and value > high):
            allowed = f"{low}..{high}" if high is not None else f">= {low}"
            raise ValueError(f"--{flag.replace('_', '-')}: {value} is outside {allowed}")
    for flag in ("drop_rate", "corrupt_rate", "duplicate_rate"):
        value = getattr(args, flag)
        if not 0.0 <= value < 1.0:
            raise ValueError(f"--{flag.replace('_', '-')}: {value} is outside [0, 1)")
    if os.path.exists(args.flash_dir) and not os.path.isdir(args.flash_dir):
        raise ValueError(f"--flash-dir: {args.flash_dir} is a file; need a folder")
    _check_camera(args.camera)
    camera = {"comparator_offset_sigma": args.comparator_offset_sigma,
              "adc_mismatch_sigma": args.adc_mismatch_sigma}
    builtin = args.camera in ("none", "conv1", "conv4")
    if builtin:
        camera["conv"] = args.camera
    return BoardConfig(board_id=args.board_id, dac_bits=args.dac_bits, mask_width=width,
                       mask_height=height, mask_levels=args.mask_levels,
                       max_body=args.max_body, seed=args.seed, camera=camera,
                       published=None if builtin else args.camera)


def _check_camera(camera: str) -> None:
    """Refuse a ``--camera`` that names no camera (without loading one: no torch here)."""
    from canopic.core.paths import reference_encoder_dir

    if camera in ("none", "conv1", "conv4"):
        return
    if os.path.isdir(camera):
        if not os.path.isfile(os.path.join(camera, "design.json")):
            raise ValueError(f"--camera: {camera} is a folder without design.json (not a "
                             f"design bundle)")
    elif not (os.path.isfile(camera) or (reference_encoder_dir() / f"{camera}.npz").is_file()):
        raise ValueError(f"--camera: {camera!r} is none of none, conv1, conv4, a published "
                         f"encoder name (data/reference_encoders) or a design bundle folder")


def serve_pty(board: "Board", rates: FaultRates = FaultRates(), fault_seed: int = 0,
              announce=None) -> None:
    """Serve ``board`` on a new pseudo-terminal until the process is killed.

    ``announce(path)`` is called with the slave path once it is ready (default: print it).
    """
    master, slave = os.openpty()
    tty.setraw(slave)                  # no echo, no line editing: a raw 8-bit line
    path = os.ttyname(slave)
    inbound, outbound = FrameFaults(rates, fault_seed), FrameFaults(rates, fault_seed + 1)
    (announce or (lambda p: print(p, flush=True)))(path)
    while True:
        ready, _, _ = select.select([master], [], [], 1.0)
        if not ready:
            continue
        try:
            data = os.read(master, 1 << 16)
        except OSError:                 # no slave open right now (EIO): wait
            select.select([], [], [], 0.05)
            continue
        answer = outbound.apply(board.receive(inbound.apply(data)))
        view = memoryview(answer)
        while view:
            _, writable, _ = select.select([], [master], [], 1.0)
            if not writable:            # nobody reads: drop it, the host will retry
                break
            written = os.write(master, view)
            view = view[written:]


def main(argv: Optional[List[str]] = None) -> int:
    """Entry point of ``python -m hil.emulator``."""
    parser = argparse.ArgumentParser(prog="python -m hil.emulator",
                                     description="Emulate a CAnOPIC prototype board on a pty.")
    add_arguments(parser)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    return run(parser.parse_args(argv))


def run(args: argparse.Namespace) -> int:
    """Build the board from ``args`` and serve it (blocks until killed)."""
    from hil.board import Board
    from hil.flash_store import FlashStore
    config = config_from_args(args)
    rates = FaultRates(drop=args.drop_rate, duplicate=args.duplicate_rate,
                       corrupt=args.corrupt_rate)
    board = Board(FlashStore(args.flash_dir), config)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))

    def announce(path: str) -> None:
        print(path, flush=True)
        log.info("board emulator %s: serving %s; flash %s; seed %s", config.board_id, path,
                 args.flash_dir, config.seed)
    try:
        serve_pty(board, rates, args.fault_seed, announce)
    except KeyboardInterrupt:
        pass
    return 0


class EmulatorProcess:
    """Start ``python -m hil.emulator`` in a subprocess and learn its pty path.

    Parameters
    ----------
    args : list of str
        Extra command-line options (e.g. ``["--flash-dir", d, "--seed", "3"]``).
    start_timeout : float
        Seconds to wait for the path line.
    """

    def __init__(self, args: Optional[List[str]] = None, start_timeout: float = 30.0) -> None:
        self.args = list(args or [])
        self.start_timeout = start_timeout
        self.process: Optional[subprocess.Popen] = None
        self.path: Optional[str] = None

    def start(self) -> str:
        """Start the process; return the pty path it serves."""
        self.process = subprocess.Popen([sys.executable, "-m", "hil.emulator", *self.args],
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                        text=True)
        ready, _, _ = select.select([self.process.stdout], [], [], self.start_timeout)
        line = self.process.stdout.readline().strip() if ready else ""
        if not line.startswith("/"):
            self.stop()
            error = self.process.stderr.read() if self.process.stderr else ""
            raise RuntimeError(f"Failed to start the board emulator: {error.strip() or line}")
        self.path = line
        return line

    def kill(self) -> None:
        """SIGKILL: a power cut at an arbitrary instant."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def stop(self) -> None:
        """Terminate and reap the process."""
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        for stream in (self.process.stdout, self.process.stderr):
            if stream:
                stream.close()

    def __enter__(self) -> "EmulatorProcess":
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


if __name__ == "__main__":
    sys.exit(main())
