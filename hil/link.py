"""An in-process serial link to an emulated board, on a virtual clock, with fault injection.

``InProcessLink`` looks like a pyserial port to ``hil.client.BoardClient``: ``write`` hands the
bytes (through ``FrameFaults``) to a ``Board`` and queues its answer; ``read`` returns queued
bytes, or, when there are none, advances the virtual clock by ``timeout`` and returns nothing.
Bytes cost ``10 / baudrate`` seconds each. Thousands of transfers with timeouts therefore run
in seconds, and time budgets are checked exactly, without sleeping.

Power cuts: with ``crash_rate`` each flash step (see ``FlashStore``) cuts the power with that
probability; with ``reboot_rate`` the board resets before a write reaches it. Either way the
board is rebuilt from its flash directory, losing everything in RAM, like a real reset.
"""
from __future__ import annotations

import random
from typing import Optional

from hil.board import Board, BoardConfig
from hil.faults import FaultRates, FrameFaults
from hil.flash_store import FlashStore, PowerLoss


class InProcessLink:
    """A virtual serial port wired to a ``Board`` in this process.

    Parameters
    ----------
    flash_dir : str
        The board's flash directory.
    config : BoardConfig, optional
    to_board, to_host : FaultRates, optional
        Faults on each direction.
    crash_rate : float
        Probability of a power cut at each flash step.
    reboot_rate : float
        Probability of a reset before each write reaches the board.
    seed : int
        Seed of every fault.
    baudrate : int
        Initial line rate (bits/s; 10 bits per byte).
    """

    def __init__(self, flash_dir: str, config: Optional[BoardConfig] = None,
                 to_board: FaultRates = FaultRates(), to_host: FaultRates = FaultRates(),
                 crash_rate: float = 0.0, reboot_rate: float = 0.0, seed: int = 0,
                 baudrate: int = 115200) -> None:
        self.flash_dir = flash_dir
        self.config = config or BoardConfig()
        self.rng = random.Random(seed)
        self.to_board = FrameFaults(to_board, seed + 1)
        self.to_host = FrameFaults(to_host, seed + 2)
        self.crash_rate = crash_rate
        self.reboot_rate = reboot_rate
        self.baudrate = baudrate
        self.timeout: Optional[float] = 0.1
        self.now = 0.0
        self.is_open = True
        self.resets = 0
        self._rx = bytearray()
        self.board = self._boot()

    def _crash_hook(self, step: str) -> None:
        if self.crash_rate and self.rng.random() < self.crash_rate:
            raise PowerLoss(step)

    def _boot(self) -> Board:
        store = FlashStore(self.flash_dir, fsync=False, crash_hook=self._crash_hook)
        return Board(store, self.config, on_baud=None)

    def reset_board(self) -> None:
        """Power-cycle the board: a fresh ``Board`` on the same flash directory."""
        self.resets += 1
        self.board = self._boot()

    def clock(self) -> float:
        """The virtual time, s."""
        return self.now

    def _wire(self, count: int) -> None:
        self.now += count * 10.0 / self.baudrate

    # ------------------------------------------------------------------ pyserial subset
    def write(self, data: bytes) -> int:
        self._wire(len(data))
        arriving = self.to_board.apply(bytes(data))
        if self.reboot_rate and self.rng.random() < self.reboot_rate:
            self.reset_board()
        if self.board.baudrate != self.baudrate:
            arriving = b""  # the two ends disagree on the rate: nothing intelligible arrives
        try:
            answer = self.board.receive(arriving)
        except PowerLoss:
            self.reset_board()
            answer = b""
        answer = self.to_host.apply(answer)
        self._wire(len(answer))
        self._rx += answer
        return len(data)

    def read(self, size: int = 1) -> bytes:
        if not self._rx:
            self.now += self.timeout or 0.0
            return b""
        out = bytes(self._rx[:size])
        del self._rx[:size]
        return out

    @property
    def in_waiting(self) -> int:
        return len(self._rx)

    def reset_input_buffer(self) -> None:
        self._rx.clear()

    def flush(self) -> None:
        pass

    def close(self) -> None:
        self.is_open = False
