"""The emulated board's flash: two slots per artifact kind and an atomically replaced pointer.

Layout of ``directory``::

    <kind>/slot_0.bin, <kind>/slot_1.bin   the A/B slots
    <kind>/active.json                     {"slot", "generation", "length", "sha256"}
    <kind>/staging.json, staging.bin       the transfer in progress (survives a reset)

A commit writes the *inactive* slot (temporary file, fsync, rename), then replaces the pointer
the same way, then fsyncs the directory. The active slot's file is never opened for writing,
so a power loss at any instant leaves the pointer naming either the old slot (old artifact) or
the fully written new one (MCUboot's A/B scheme, with the pointer standing in for its trailer).
``crash_hook(step)`` is called at each step so tests can cut the power there.
"""
from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from typing import Callable, Optional

from hil.protocol import Kind


class PowerLoss(BaseException):
    """Raised by a test's ``crash_hook`` to cut the power at a step of a flash operation."""


@dataclass(frozen=True)
class Staging:
    """A transfer in progress: what BEGIN announced and how much has arrived."""

    length: int
    sha256: bytes
    received: int
    verified: bool


@dataclass(frozen=True)
class Active:
    """The committed artifact of one kind."""

    slot: int
    generation: int
    length: int
    sha256: bytes


class FlashStore:
    """A directory standing in for the board's flash.

    Parameters
    ----------
    directory : str
        Where the slots live (created if missing).
    fsync : bool
        Flush files and the directory to disk at each step (turn off only in unit tests that
        simulate power loss with ``crash_hook``; a killed process loses nothing either way).
    crash_hook : callable, optional
        ``crash_hook(step: str)`` runs at each step; raising ``PowerLoss`` simulates a cut.
    """

    def __init__(self, directory: str, fsync: bool = True,
                 crash_hook: Optional[Callable[[str], None]] = None) -> None:
        self.directory = os.fspath(directory)
        self.fsync = fsync
        self.crash_hook = crash_hook or (lambda step: None)
        for kind in Kind:
            os.makedirs(self._dir(kind), exist_ok=True)

    # ------------------------------------------------------------------ low-level file steps
    def _dir(self, kind: Kind) -> str:
        return os.path.join(self.directory, Kind(kind).name.lower())

    def _path(self, kind: Kind, name: str) -> str:
        return os.path.join(self._dir(kind), name)

    def _sync_dir(self, kind: Kind) -> None:
        if self.fsync:
            fd = os.open(self._dir(kind), os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)

    def _replace(self, kind: Kind, name: str, data: bytes, step: str) -> None:
        """Write ``data`` to ``name`` via a temporary file, fsync and rename."""
        target = self._path(kind, name)
        tmp = target + ".tmp"
        with open(tmp, "wb") as handle:
            half = len(data) // 2
            handle.write(data[:half])
            handle.flush()
            self.crash_hook(f"{step}:partial")
            handle.write(data[half:])
            handle.flush()
            if self.fsync:
                os.fsync(handle.fileno())
        self.crash_hook(f"{step}:written")
        os.replace(tmp, target)
        self._sync_dir(kind)
        self.crash_hook(f"{step}:renamed")

    def _read_json(self, kind: Kind, name: str) -> Optional[dict]:
        try:
            with open(self._path(kind, name), "r", encoding="utf-8") as handle:
                return json.load(handle)
        except (FileNotFoundError, ValueError):
            return None

    # ------------------------------------------------------------------ active slot
    def active(self, kind: Kind) -> Optional[Active]:
        """The committed artifact of ``kind``, or ``None`` if none was ever committed."""
        pointer = self._read_json(kind, "active.json")
        if pointer is None:
            return None
        return Active(int(pointer["slot"]), int(pointer["generation"]), int(pointer["length"]),
                      bytes.fromhex(pointer["sha256"]))

    def read_active(self, kind: Kind) -> Optional[bytes]:
        """Bytes of the active slot (``None`` if nothing is committed)."""
        active = self.active(kind)
        if active is None:
            return None
        with open(self._path(kind, f"slot_{active.slot}.bin"), "rb") as handle:
            return handle.read()

    def commit(self, kind: Kind, data: bytes) -> Active:
        """Write ``data`` to the inactive slot, then point the pointer at it (atomically)."""
        current = self.active(kind)
        slot = 0 if current is None else 1 - current.slot
        generation = 1 if current is None else current.generation + 1
        self._replace(kind, f"slot_{slot}.bin", data, "slot")
        new = Active(slot, generation, len(data), hashlib.sha256(data).digest())
        pointer = {"slot": slot, "generation": generation, "length": len(data),
                   "sha256": new.sha256.hex()}
        self._replace(kind, "active.json", json.dumps(pointer).encode(), "pointer")
        return new

    # ------------------------------------------------------------------ staging
    def staging(self, kind: Kind) -> Optional[Staging]:
        """The transfer in progress for ``kind`` (``None`` if there is none)."""
        meta = self._read_json(kind, "staging.json")
        if meta is None:
            return None
        try:
            received = os.path.getsize(self._path(kind, "staging.bin"))
        except FileNotFoundError:
            received = 0
        return Staging(int(meta["length"]), bytes.fromhex(meta["sha256"]),
                       min(received, int(meta["length"])), bool(meta.get("verified", False)))

    def begin(self, kind: Kind, length: int, sha256: bytes) -> Staging:
        """Start (or resume, if the same artifact is already staging) a transfer."""
        current = self.staging(kind)
        if current is not None and current.length == length and current.sha256 == sha256:
            return current
        self.clear_staging(kind)
        with open(self._path(kind, "staging.bin"), "wb"):
            pass
        self._replace(kind, "staging.json", json.dumps(
            {"length": length, "sha256": sha256.hex(), "verified": False}).encode(), "begin")
        return Staging(length, sha256, 0, False)

    def append(self, kind: Kind, data: bytes) -> None:
        """Append a chunk to the staging file (flushed; a cut may keep any prefix of it)."""
        with open(self._path(kind, "staging.bin"), "ab") as handle:
            half = len(data) // 2
            handle.write(data[:half])
            handle.flush()
            self.crash_hook("append:partial")
            handle.write(data[half:])

    def read_staging(self, kind: Kind) -> bytes:
        """Bytes received so far for ``kind``."""
        try:
            with open(self._path(kind, "staging.bin"), "rb") as handle:
                return handle.read()
        except FileNotFoundError:
            return b""

    def mark_verified(self, kind: Kind) -> None:
        """Record that END checked the staged bytes' SHA-256."""
        current = self.staging(kind)
        if current is None:
            return
        self._replace(kind, "staging.json", json.dumps(
            {"length": current.length, "sha256": current.sha256.hex(),
             "verified": True}).encode(), "verify")

    def clear_staging(self, kind: Kind) -> None:
        """Forget the transfer in progress (metadata first, so a cut never resumes garbage)."""
        for name in ("staging.json", "staging.bin"):
            try:
                os.remove(self._path(kind, name))
            except FileNotFoundError:
                pass
        self.crash_hook("staging:cleared")
