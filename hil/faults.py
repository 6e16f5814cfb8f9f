"""Fault injection on a byte stream, one frame (up to a 0x00 delimiter) at a time.

Used by the in-process link of the unit tests and by the emulator's ``--drop-rate`` style
options (for the benchmark over a pseudo-terminal).
"""
from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True)
class FaultRates:
    """Probabilities per frame, each in [0, 1).

    Attributes
    ----------
    drop : float
        The frame vanishes.
    duplicate : float
        The frame arrives twice.
    corrupt : float
        One to three random bytes of the frame take random values (a zero splits it in two).
    """

    drop: float = 0.0
    duplicate: float = 0.0
    corrupt: float = 0.0

    def __post_init__(self) -> None:
        for name in ("drop", "duplicate", "corrupt"):
            value = getattr(self, name)
            if not 0.0 <= value < 1.0:
                raise ValueError(f"{name}: fault rate {value} is outside [0, 1)")
        if self.drop + self.duplicate + self.corrupt >= 1.0:
            raise ValueError(f"drop + duplicate + corrupt: {self.drop + self.duplicate + self.corrupt}"
                             f" must stay below 1")

    @property
    def any(self) -> bool:
        """True when some rate is non-zero."""
        return bool(self.drop or self.duplicate or self.corrupt)


class FrameFaults:
    """Apply ``FaultRates`` to the frames in a byte stream.

    Parameters
    ----------
    rates : FaultRates
    seed : int
        Seed of the fault pattern.

    Attributes
    ----------
    counts : dict
        Frames passed, dropped, duplicated and corrupted so far.
    """

    def __init__(self, rates: FaultRates, seed: int = 0) -> None:
        self.rates = rates
        self.rng = random.Random(seed)
        self._partial = bytearray()
        self.counts = {"frames": 0, "dropped": 0, "duplicated": 0, "corrupted": 0}

    def apply(self, data: bytes) -> bytes:
        """Return what arrives of ``data`` (an incomplete last frame waits for its end)."""
        if not self.rates.any:
            return data
        self._partial += data
        out = bytearray()
        while True:
            end = self._partial.find(0)
            if end < 0:
                return bytes(out)
            frame = bytes(self._partial[:end + 1])
            del self._partial[:end + 1]
            out += self._one(frame)

    def _one(self, frame: bytes) -> bytes:
        self.counts["frames"] += 1
        r = self.rng.random()
        if r < self.rates.drop:
            self.counts["dropped"] += 1
            return b""
        r -= self.rates.drop
        if r < self.rates.duplicate:
            self.counts["duplicated"] += 1
            return frame + frame
        r -= self.rates.duplicate
        if r < self.rates.corrupt:
            self.counts["corrupted"] += 1
            damaged = bytearray(frame)
            for _ in range(self.rng.randint(1, 3)):
                damaged[self.rng.randrange(len(damaged))] = self.rng.randrange(256)
            return bytes(damaged)
        return frame
