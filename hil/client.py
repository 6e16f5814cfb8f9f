"""The host's side: ``BoardClient`` flashes artifacts, verifies them and captures frames.

One method, ``BoardClient._command``, does framing and I/O for every request: it sends the
frame, waits for the answer with the request's sequence number, resends the *same* frame
(same sequence number) after a timeout, and turns an ``Op.ERROR`` answer, a timeout or a port
failure into an exception naming the operation: ``Failed to commit thresholds: ...``.

Timeouts scale with size: each request may take ``base_timeout`` plus twice the time its bytes
(and the largest answer) need on the wire at the current baud rate, plus the board's work for
that request (hashing, flash writes, camera). DATA uses an adaptive timeout (smoothed RTT +
4 x its deviation, as TCP does, never below ``min_timeout``) doubling on each retry up to that
bound, so a lost frame costs a few round trips rather than a worst-case timeout.
"""
from __future__ import annotations

import hashlib
import random
import time
from typing import Callable, Optional

import numpy as np

from hil import protocol as p
from hil.artifacts import MaskPattern, ThresholdTable
from hil.framing import PROTOCOL_VERSION, FrameReader, encode_frame

HOST_MAX_BODY = 1 << 20
DEFAULT_BAUD = 115200


class BoardClient:
    """A connection to a board (or emulator) over a serial port.

    Parameters
    ----------
    port : serial.Serial-like
        An open port (pyserial ``Serial``, ``serial_for_url`` object, or ``InProcessLink``).
    retries : int
        Resends of one request before giving up (the same sequence number each time).
    base_timeout : float
        Latency allowance of every request, s.
    min_timeout : float
        Floor of the adaptive DATA timeout, s.
    progress : bool
        Show tqdm progress bars on transfers.
    clock : callable, optional
        Time source, s (defaults to the port's ``clock`` if it has one, else ``time.monotonic``).
    close_port : bool
        Close ``port`` when the client closes.

    Examples
    --------
    >>> from hil.link import InProcessLink
    >>> import tempfile
    >>> with BoardClient(InProcessLink(tempfile.mkdtemp()), progress=False) as board:
    ...     board.hello().threshold_count
    15
    """

    def __init__(self, port, retries: int = 10, base_timeout: float = 0.25,
                 min_timeout: float = 0.005, progress: bool = True,
                 clock: Optional[Callable[[], float]] = None, close_port: bool = True) -> None:
        self.port = port
        self.retries = int(retries)
        self.base_timeout = float(base_timeout)
        self.min_timeout = float(min_timeout)
        self.progress = progress
        self.clock = clock or getattr(port, "clock", None) or time.monotonic
        self.close_port = close_port
        self.reader = FrameReader(HOST_MAX_BODY)
        self.capabilities: Optional[p.Capabilities] = None
        self.seq = random.randrange(1 << 16)
        self.bytes_written = 0
        self.bytes_read = 0
        self.resends = 0
        self._srtt: Optional[float] = None
        self._rttvar = 0.0
        self._cleanup: list = []
        self.last_budget = 0.0
        if hasattr(port, "reset_input_buffer"):
            port.reset_input_buffer()

    # ------------------------------------------------------------------ opening and closing
    @classmethod
    def open(cls, port: str = "auto", baudrate: int = DEFAULT_BAUD,
             target_baud: Optional[int] = None, vid: Optional[int] = None,
             pid: Optional[int] = None, serial_number: Optional[str] = None,
             emulator_args: Optional[list] = None, **options) -> "BoardClient":
        """Open ``port`` and say HELLO (then switch to ``target_baud`` if given).

        Parameters
        ----------
        port : str
            A device path or pyserial URL; ``"auto"`` picks the one USB serial port matching
            ``vid``/``pid``/``serial_number``; ``"emulator"`` starts ``hil.emulator`` in a
            subprocess (extra command-line arguments in ``emulator_args``) and stops it on close.
        baudrate : int
            Rate to open at (the board's boot rate).
        target_baud : int, optional
            Rate to switch to after HELLO.
        """
        import serial

        from hil.ports import choose_port
        cleanup = []
        if port == "emulator":
            from hil.emulator import EmulatorProcess
            emulator = EmulatorProcess(emulator_args or [])
            cleanup.append(emulator.stop)
            port = emulator.start()
        elif port == "auto":
            port = choose_port(vid=vid, pid=pid, serial_number=serial_number)
        try:
            handle = serial.serial_for_url(port, baudrate=baudrate, timeout=0.1)
        except (serial.SerialException, ValueError) as error:
            for step in cleanup:
                step()
            raise RuntimeError(f"Failed to open serial port {port!r}: {error}") from None
        client = cls(handle, **options)
        client._cleanup = cleanup
        try:
            client.hello()
            if target_baud:
                client.set_baud(target_baud)
        except BaseException:
            client.close()
            raise
        return client

    def close(self) -> None:
        """Close the port (if owned) and stop a started emulator."""
        try:
            if self.close_port and getattr(self.port, "is_open", True):
                self.port.close()
        finally:
            for step in self._cleanup:
                step()
            self._cleanup = []

    def __enter__(self) -> "BoardClient":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ------------------------------------------------------------------ timing
    def wire_time(self, count: int) -> float:
        """Seconds ``count`` bytes take on the line at the port's baud rate (10 bits a byte)."""
        return count * 10.0 / float(getattr(self.port, "baudrate", DEFAULT_BAUD) or DEFAULT_BAUD)

    def request_timeout(self, request_bytes: int, answer_bytes: int, work: float = 0.0) -> float:
        """The longest a request of this size may take, s (see the module docstring)."""
        return self.base_timeout + 2.0 * self.wire_time(request_bytes + answer_bytes + 64) + work

    def _adaptive(self, bound: float) -> float:
        if self._srtt is None:
            return bound
        return min(bound, max(self.min_timeout, 2.0 * self._srtt + 4.0 * self._rttvar))

    def _sample_rtt(self, rtt: float) -> None:
        if self._srtt is None:
            self._srtt, self._rttvar = rtt, rtt / 2
        else:
            self._rttvar = 0.75 * self._rttvar + 0.25 * abs(self._srtt - rtt)
            self._srtt = 0.875 * self._srtt + 0.125 * rtt

    # ------------------------------------------------------------------ the one I/O method
    def _command(self, op: p.Op, body: bytes, what: str, timeout: float,
                 adaptive: bool = False, deadline: Optional[float] = None) -> bytes:
        """Send ``op`` with ``body``; return the answer's body or raise naming ``what``.

        Parameters
        ----------
        op : Op
            The request.
        body : bytes
        what : str
            The operation, for errors ("commit thresholds" -> "Failed to commit thresholds").
        timeout : float
            Bound on one try, s.
        adaptive : bool
            Start from the adaptive (RTT-based) timeout, doubling on each retry up to
            ``timeout``.
        deadline : float, optional
            Time (on ``self.clock``) after which no new try starts.
        """
        import serial
        self.seq = (self.seq + 1) & 0xFFFF
        frame = encode_frame(op, self.seq, body)
        wait = self._adaptive(timeout) if adaptive else timeout
        last_problem = "no answer"
        for attempt in range(self.retries + 1):
            if deadline is not None and self.clock() >= deadline:
                raise p.BoardTimeout(f"Failed to {what}: the transfer's time budget ran out "
                                     f"(last problem: {last_problem})")
            if attempt:
                self.resends += 1
            sent_at = self.clock()
            until = sent_at + wait if deadline is None else min(sent_at + wait, deadline)
            try:
                self.port.write(frame)
                self.bytes_written += len(frame)
                answer = self._await(self.seq, until)
            except (serial.SerialException, OSError) as error:
                raise p.ProtocolError(f"Failed to {what}: serial port error: {error}") from None
            if answer is None:
                last_problem = f"no valid answer within {wait:.3g} s"
                if self.reader.errors:
                    last_problem += f" (last bad frame: {self.reader.errors[-1]})"
                wait = min(timeout, wait * 2.0)
                continue
            if adaptive and attempt == 0:
                self._sample_rtt(self.clock() - sent_at)
            if answer.version != PROTOCOL_VERSION:
                raise p.ProtocolError(f"Failed to {what}: the board answered in protocol "
                                      f"version {answer.version}; this host speaks "
                                      f"{PROTOCOL_VERSION}")
            if answer.op == p.Op.ERROR | p.RESPONSE_BIT:
                code, _, message = p.parse_error(answer.body)
                raise p.BoardError(f"Failed to {what}: board error {p.error_name(code)}: "
                                   f"{message}", code)
            if answer.op != op | p.RESPONSE_BIT:
                raise p.ProtocolError(f"Failed to {what}: answer of type 0x{answer.op:02X} to "
                                      f"a request of type 0x{int(op):02X}")
            return answer.body
        raise p.BoardTimeout(f"Failed to {what}: {last_problem}, {self.retries + 1} tries")

    def _await(self, seq: int, deadline: float):
        """Read until a frame answering ``seq`` arrives (returned) or ``deadline`` (None)."""
        while True:
            remaining = deadline - self.clock()
            if remaining <= 0:
                return None
            if self.port.timeout != remaining:
                self.port.timeout = remaining
            data = self.port.read(max(1, self.port.in_waiting))
            self.bytes_read += len(data)
            for frame in self.reader.feed(data):
                if frame.seq == seq and frame.op & p.RESPONSE_BIT and not frame.problem:
                    return frame        # anything else is a stale duplicate: ignore it

    # ------------------------------------------------------------------ commands
    def hello(self) -> p.Capabilities:
        """Exchange HELLO; store and return the board's capabilities."""
        body = self._command(p.Op.HELLO, bytes([PROTOCOL_VERSION]), "say HELLO to the board",
                             self.request_timeout(8, 1024))
        try:
            caps = p.Capabilities.from_json(body)
        except p.MessageError as error:
            raise p.ProtocolError(f"Failed to say HELLO to the board: {error}") from None
        if caps.protocol_version != PROTOCOL_VERSION:
            raise p.ProtocolError(f"Failed to say HELLO to the board: it speaks protocol "
                                  f"version {caps.protocol_version}; this host speaks "
                                  f"{PROTOCOL_VERSION}")
        self.capabilities = caps
        return caps

    def _caps(self) -> p.Capabilities:
        return self.capabilities or self.hello()

    def set_baud(self, rate: int) -> None:
        """Switch both ends to ``rate`` bits/s (then confirm with a HELLO at that rate)."""
        caps = self._caps()
        if rate not in caps.bauds:
            raise ValueError(f"target_baud: {rate} is not one the board supports "
                             f"({', '.join(map(str, caps.bauds))})")
        what = f"switch the baud rate to {rate}"
        self._command(p.Op.SET_BAUD, p.U32.pack(rate), what, self.request_timeout(8, 16))
        time.sleep(0.0 if hasattr(self.port, "clock") else 0.01)
        self.port.baudrate = rate
        try:
            self.hello()
        except p.ProtocolError as error:
            raise p.ProtocolError(f"Failed to {what}: no HELLO at the new rate ({error})") from None

    def status(self, kind: p.Kind, deadline: Optional[float] = None) -> p.SlotStatus:
        """The board's active slot for ``kind``."""
        body = self._command(p.Op.STATUS, bytes([kind]), f"read the {kind.name.lower()} status",
                             self.request_timeout(8, 64), deadline=deadline)
        return p.SlotStatus.unpack(body)

    def _chunk_size(self) -> int:
        room = self._caps().max_body - p.OFFSET.size
        return room // 256 * 256 if room >= 256 else room

    def transfer_budget(self, length: int, verify: bool = True) -> float:
        """Time budget of flashing ``length`` bytes (upload, commit, readback), s.

        Each chunk may take ``6`` times its clean round trip plus ``10 * min_timeout`` (lost
        frames, resends), both ways when verifying; the fixed requests ``4 * base_timeout``
        each; plus the board's hashing and flash writes.
        """
        chunk = self._chunk_size()
        n_chunks = -(-length // chunk) * (2 if verify else 1)
        per_chunk = 6 * self.wire_time(chunk + 96) + 10 * self.min_timeout
        return (24 * self.base_timeout + n_chunks * per_chunk + self._end_work(length)
                + self._commit_work(length))

    def upload(self, kind: p.Kind, data: bytes, label: Optional[str] = None,
               deadline: Optional[float] = None) -> bytes:
        """BEGIN, DATA..., END: stage ``data`` on the board (resuming where it stopped).

        Returns the SHA-256 the board verified. Raises ``ProtocolError`` naming the operation.
        ``deadline`` (on ``self.clock``) defaults to now + ``transfer_budget(len(data),
        verify=False)``.
        """
        data = bytes(data)
        label = label or kind.name.lower()
        sha = hashlib.sha256(data).digest()
        chunk = self._chunk_size()
        data_timeout = self.request_timeout(chunk + 64, 32)
        if deadline is None:
            deadline = self.clock() + self.transfer_budget(len(data), verify=False)
        restarts = 0
        bar = self._bar(len(data), f"flash {label}")
        try:
            while True:
                answer = self._command(p.Op.BEGIN, p.BEGIN.pack(kind, len(data), sha),
                                       f"begin {label} upload", self.request_timeout(64, 32),
                                       deadline=deadline)
                offset = self._offset(answer, kind, len(data), f"begin {label} upload")
                try:
                    self._send_chunks(kind, data, offset, chunk, data_timeout, deadline, bar,
                                      label)
                    answer = self._command(p.Op.END, bytes([kind]), f"end {label} upload",
                                           self.request_timeout(8, 64, self._end_work(len(data))),
                                           deadline=deadline)
                except p.BoardError as error:
                    # the board lost or discarded the transfer (reset, hash mismatch): again
                    if error.code in (p.ErrorCode.NO_SESSION, p.ErrorCode.SHA_MISMATCH,
                                      p.ErrorCode.INCOMPLETE) and restarts < 3:
                        restarts += 1
                        continue
                    raise
                _, length, board_sha = p.unpack(p.END_ANSWER, answer, "END answer")
                if length != len(data) or board_sha != sha:
                    raise p.ProtocolError(f"Failed to end {label} upload: the board verified "
                                          f"{length} bytes with SHA-256 {board_sha.hex()[:16]}..."
                                          f", expected {len(data)} and {sha.hex()[:16]}...")
                return sha
        finally:
            bar.close()

    @staticmethod
    def _end_work(length: int) -> float:
        """Allowance for the board hashing ``length`` bytes, s."""
        return 0.5 + length / 20e6

    @staticmethod
    def _commit_work(length: int) -> float:
        """Allowance for the board validating and writing ``length`` bytes to flash, s."""
        return 1.0 + length / 5e6

    def _offset(self, answer: bytes, kind: p.Kind, length: int, what: str) -> int:
        got_kind, offset = p.unpack(p.OFFSET, answer, what)
        if got_kind != kind or offset > length:
            raise p.ProtocolError(f"Failed to {what}: the board answered offset {offset} of "
                                  f"kind {got_kind} (expected <= {length}, kind {int(kind)})")
        return offset

    def _send_chunks(self, kind, data, offset, chunk, timeout, deadline, bar, label) -> None:
        bar.n = offset
        bar.refresh()
        while offset < len(data):
            what = f"write {label} at byte {offset} of {len(data)}"
            body = p.OFFSET.pack(kind, offset) + data[offset:offset + chunk]
            answer = self._command(p.Op.DATA, body, what, timeout, adaptive=True,
                                   deadline=deadline)
            offset = self._offset(answer, kind, len(data), what)
            bar.n = offset
            bar.refresh()

    def commit(self, kind: p.Kind, sha: bytes, label: Optional[str] = None,
               length: Optional[int] = None, deadline: Optional[float] = None) -> p.SlotStatus:
        """COMMIT the verified transfer with SHA-256 ``sha`` (``length`` bytes; default the
        board's largest) to the inactive slot and flip the active one."""
        label = label or kind.name.lower()
        what = f"commit {label}"
        length = self._caps().max_artifact if length is None else length
        body = self._command(p.Op.COMMIT, p.KIND_SHA.pack(kind, sha), what,
                             self.request_timeout(40, 64, self._commit_work(length)),
                             deadline=deadline)
        status = p.SlotStatus.unpack(body)
        if not status.has_active or status.sha256 != sha:
            raise p.ProtocolError(f"Failed to {what}: the active slot holds SHA-256 "
                                  f"{status.sha256.hex()[:16]}..., not {sha.hex()[:16]}...")
        return status

    def readback(self, kind: p.Kind, label: Optional[str] = None,
                 deadline: Optional[float] = None) -> bytes:
        """The bytes of the board's active slot for ``kind``."""
        label = label or kind.name.lower()
        status = self.status(kind, deadline)
        if not status.has_active:
            raise p.BoardError(f"Failed to read back {label}: nothing committed",
                               p.ErrorCode.NOTHING_ACTIVE)
        chunk = self._chunk_size()
        out = bytearray()
        timeout = self.request_timeout(16, chunk + 64)
        bar = self._bar(status.length, f"verify {label}")
        try:
            while len(out) < status.length:
                offset = len(out)
                what = f"read back {label} at byte {offset} of {status.length}"
                size = min(chunk, status.length - offset)
                answer = self._command(p.Op.READBACK, p.READBACK.pack(kind, offset, size), what,
                                       timeout, adaptive=True, deadline=deadline)
                got_kind, got_offset = p.unpack(p.OFFSET, answer, what, exact=False)
                piece = answer[p.OFFSET.size:]
                if got_kind != kind or got_offset != offset or len(piece) != size:
                    raise p.ProtocolError(f"Failed to {what}: answer for kind {got_kind} at "
                                          f"{got_offset} with {len(piece)} bytes")
                out += piece
                bar.update(len(piece))
        finally:
            bar.close()
        if hashlib.sha256(out).digest() != status.sha256:
            raise p.ProtocolError(f"Failed to read back {label}: the bytes read do not hash to "
                                  f"the slot's SHA-256")
        return bytes(out)

    def flash(self, kind: p.Kind, data: bytes, verify: bool = True,
              label: Optional[str] = None) -> p.SlotStatus:
        """Upload, commit and (by default) read back ``data`` byte for byte, all within
        ``transfer_budget(len(data))`` seconds (kept in ``last_budget``)."""
        label = label or kind.name.lower()
        self.last_budget = self.transfer_budget(len(data), verify)
        deadline = self.clock() + self.last_budget
        sha = self.upload(kind, data, label, deadline)
        status = self.commit(kind, sha, label, len(data), deadline)
        if verify:
            try:
                back = self.readback(kind, label, deadline)
            except (p.ProtocolError, p.MessageError) as error:
                raise p.CommittedUnverified(
                    f"Failed to verify {label}: committed to slot {status.slot} (generation "
                    f"{status.generation}), so the board now holds the new {label}, but reading "
                    f"it back failed: {error}", status) from None
            if back != data:
                first = next(i for i, (a, b) in enumerate(zip(back, data)) if a != b) \
                    if len(back) == len(data) else min(len(back), len(data))
                raise p.CommittedUnverified(
                    f"Failed to verify {label}: committed to slot {status.slot} (generation "
                    f"{status.generation}), so the board now holds it, but the readback differs "
                    f"from the file at byte {first}", status)
        return status

    def check_fits(self, table: "ThresholdTable | None" = None,
                   mask: "MaskPattern | None" = None) -> None:
        """Raise ValueError unless every given artifact fits this board (its HELLO geometry).

        Called for all artifacts of a flash before any is written, so a flash of several files
        is refused whole rather than half done.
        """
        caps = self._caps()
        if table is not None:
            table.check_against(caps.dac_bits, caps.threshold_count, caps.v_ref_low,
                                caps.v_ref_high, caps.full_scale, caps.min_threshold_spacing)
        if mask is not None:
            mask.check_against(caps.mask_width, caps.mask_height, caps.mask_levels)

    def flash_thresholds(self, table: ThresholdTable, verify: bool = True) -> p.SlotStatus:
        """Check ``table`` against the board (ValueError if it does not fit), then flash it."""
        self.check_fits(table=table)
        return self.flash(p.Kind.THRESHOLDS, table.to_bytes(), verify, "thresholds")

    def flash_mask(self, mask: MaskPattern, verify: bool = True) -> p.SlotStatus:
        """Check ``mask`` against the board's SLM (ValueError if it does not fit), then flash."""
        self.check_fits(mask=mask)
        return self.flash(p.Kind.MASK, mask.to_bytes(), verify, "mask")

    def capture(self, scene: np.ndarray, noise_seed: int = 0) -> "tuple[np.ndarray, dict]":
        """Show ``scene`` (uint8 [H, W, 3]) to the board's camera; return (codes uint8
        [C, H/8, W/8], metadata)."""
        from hil.board import parse_capture_answer
        scene = np.asarray(scene)
        if scene.dtype != np.uint8 or scene.ndim != 3 or scene.shape[2] != 3:
            raise ValueError(f"scene: expected uint8 [H, W, 3], got {scene.dtype} "
                             f"{list(scene.shape)}")
        height, width, _ = scene.shape
        body = p.CAPTURE.pack(int(noise_seed), height, width, 3) + scene.tobytes()
        answer = self._command(p.Op.CAPTURE, body, "capture a frame",
                               self.request_timeout(len(body), 64 << 10, 60.0))
        try:
            return parse_capture_answer(answer)
        except p.MessageError as error:
            raise p.ProtocolError(f"Failed to capture a frame: {error}") from None

    def _bar(self, total: int, desc: str):
        from tqdm import tqdm
        return tqdm(total=total, desc=desc, unit="B", unit_scale=True, leave=False,
                    disable=not self.progress)


__all__ = ["BoardClient", "DEFAULT_BAUD"]
