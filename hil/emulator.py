"""The board emulator as a separate process serving a pseudo-terminal.

Run ``python -m hil.emulator --flash-dir DIR`` (or ``canopic board-emulator``): it opens a pty,
prints the path of its slave end (the "serial port" the host opens) on the first line of
stdout, and answers the protocol there until killed. ``EmulatorProcess`` starts one from
Python and reads that path. Kill it at any moment: the flash directory keeps the active slots.
"""
from __future__ import annotations

import argparse
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
    parser.add_argument("--board-id", default="canopic-emulator")
    parser.add_argument("--mask-size", default="1024x1024", metavar="WxH",
                        help="SLM size in pixels (default: %(default)s)")
    parser.add_argument("--mask-levels", type=int, default=256)
    parser.add_argument("--dac-bits", type=int, default=12)
    parser.add_argument("--max-body", type=int, default=DEFAULT_MAX_BODY,
                        help="largest frame body in bytes (default: %(default)s)")
    parser.add_argument("--camera", default="conv4",
                        help="camera optics: none, conv1, conv4, a published encoder name "
                             "(sensor.published) or a design bundle folder (e.g. the design/ "
                             "of a 'canopic train' run)")
    parser.add_argument("--comparator-offset-sigma", type=float, default=0.002,
                        help="max-pool comparator offset sigma, V (default: %(default)s)")
    parser.add_argument("--adc-mismatch-sigma", type=float, default=0.05,
                        help="ADC threshold mismatch sigma, LSB (default: %(default)s)")
    parser.add_argument("--drop-rate", type=float, default=0.0,
                        help="fault injection: probability a frame (either way) is lost")
    parser.add_argument("--corrupt-rate", type=float, default=0.0)
    parser.add_argument("--duplicate-rate", type=float, default=0.0)
    parser.add_argument("--fault-seed", type=int, default=0)


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
    camera = {"comparator_offset_sigma": args.comparator_offset_sigma,
              "adc_mismatch_sigma": args.adc_mismatch_sigma}
    builtin = args.camera in ("none", "conv1", "conv4")
    if builtin:
        camera["conv"] = args.camera
    return BoardConfig(board_id=args.board_id, dac_bits=args.dac_bits, mask_width=width,
                       mask_height=height, mask_levels=args.mask_levels,
                       max_body=args.max_body, seed=args.seed, camera=camera,
                       published=None if builtin else args.camera)


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
        print(f"board emulator {config.board_id}: serving {path}; flash {args.flash_dir}; "
              f"seed {config.seed}", file=sys.stderr, flush=True)
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
