"""The board's side of the protocol: bytes in, bytes out, the flash store and the camera.

``Board.receive(data)`` is all a transport needs: it consumes bytes from the line and returns
the bytes to send back. The same object serves a pseudo-terminal (``hil.emulator``) and the
in-process link of the unit tests (``hil.link``). Nothing a host sends can crash it: bad frames
are dropped (bad CRC) or answered with ``Op.ERROR`` (good CRC, bad content); an unexpected
exception becomes ``ErrorCode.INTERNAL``.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import struct
from typing import Callable, Dict, Optional

import numpy as np

from hil import protocol as p
from hil.artifacts import MaskPattern, ThresholdTable
from hil.flash_store import FlashStore
from hil.framing import PROTOCOL_VERSION, Frame, FrameReader, crc32, encode_frame

CAPTURE_ANSWER = struct.Struct("<HHHI")   # channels, height, width, metadata length


@dataclasses.dataclass
class BoardConfig:
    """What the emulated board is: its identity, DACs, SLM, limits and camera.

    Attributes
    ----------
    board_id : str
    dac_bits : int
        Threshold DAC resolution, bits.
    threshold_count : int
        Flash-ADC thresholds (15 for 4 bits).
    v_ref_low, v_ref_high : float
        DAC reference range, V.
    full_scale : float
        ADC input full scale of the thresholds.
    mask_width, mask_height, mask_levels : int
        SLM pixels and levels.
    max_body : int
        Largest frame body accepted, bytes.
    max_artifact : int
        Largest artifact stored, bytes.
    bauds : tuple of int
        Rates SET_BAUD accepts.
    seed : int
        The board's own mismatch seed (comparator offsets, ADC threshold mismatch, sensor FPN).
    camera : dict
        ``sensor.CameraConfig`` fields of the simulated camera (``seed`` is set from ``seed``).
    published : str or None
        Use ``sensor.load_published_camera(published, **camera)`` instead, or, for a folder,
        the design bundle there (``sensor.design_bundle``, e.g. a learned camera).
    """

    board_id: str = "canopic-emulator"
    dac_bits: int = 12
    threshold_count: int = 15
    v_ref_low: float = 0.0
    v_ref_high: float = 1.0
    full_scale: float = 15.0
    mask_width: int = 1024
    mask_height: int = 1024
    mask_levels: int = 256
    max_body: int = p.DEFAULT_MAX_BODY
    max_artifact: int = 4 << 20
    bauds: tuple = (115200, 230400, 460800, 921600, 1000000, 2000000, 3000000)
    seed: int = 1
    camera: dict = dataclasses.field(default_factory=lambda: {
        "conv": "conv4", "comparator_offset_sigma": 0.002, "adc_mismatch_sigma": 0.05})
    published: Optional[str] = None

    def capabilities(self) -> p.Capabilities:
        """The HELLO answer for this board."""
        return p.Capabilities(PROTOCOL_VERSION, self.board_id, self.max_body, self.dac_bits,
                              self.threshold_count, self.v_ref_low, self.v_ref_high,
                              self.full_scale, self.mask_width, self.mask_height,
                              self.mask_levels, self.max_artifact, tuple(self.bauds),
                              self.min_threshold_spacing)

    @property
    def min_threshold_spacing(self) -> float:
        """The camera ADC's smallest threshold gap (``CameraConfig.min_threshold_spacing``)."""
        return float(self.camera.get("min_threshold_spacing", 0.05))


def build_camera(config: BoardConfig):
    """The simulated camera the board captures with (its mismatch fixed by ``config.seed``)."""
    from sensor import Camera, CameraConfig, load_published_camera
    settings = dict(config.camera, seed=config.seed)
    if config.published and os.path.isdir(config.published):
        from sensor.design_bundle import load_design_bundle
        return load_design_bundle(config.published).make_camera(**settings)
    if config.published:
        return load_published_camera(config.published, **settings)
    return Camera(CameraConfig(**settings))


def validate_artifact(kind: p.Kind, data: bytes, config: BoardConfig) -> None:
    """Raise ``ValueError`` unless ``data`` is a valid artifact of ``kind`` for this board."""
    if kind == p.Kind.THRESHOLDS:
        ThresholdTable.from_bytes(data).check_against(
            config.dac_bits, config.threshold_count, config.v_ref_low, config.v_ref_high,
            config.full_scale, config.min_threshold_spacing)
    else:
        MaskPattern.from_bytes(data).check_against(config.mask_width, config.mask_height,
                                                   config.mask_levels)


class Fault(Exception):
    """Raised by a handler to answer ``Op.ERROR`` with ``code``."""

    def __init__(self, code: p.ErrorCode, message: str) -> None:
        super().__init__(message)
        self.code = code


class Board:
    """One emulated board.

    Parameters
    ----------
    store : FlashStore
        Its flash.
    config : BoardConfig
        What it is.
    on_baud : callable, optional
        ``on_baud(rate)`` is called after the SET_BAUD answer has been returned.

    Attributes
    ----------
    baudrate : int
        The current line rate.
    """

    def __init__(self, store: FlashStore, config: Optional[BoardConfig] = None,
                 on_baud: Optional[Callable[[int], None]] = None) -> None:
        self.store = store
        self.config = config or BoardConfig()
        self.on_baud = on_baud
        self.baudrate = self.config.bauds[0]
        self.reader = FrameReader(self.config.max_body)
        self._last: Optional[tuple] = None          # (seq, op, body crc) -> answer bytes
        self._last_answer = b""
        self._pending_baud: Optional[int] = None
        self._camera = None
        self._camera_thresholds_sha: Optional[bytes] = None
        self._readback_cache: Optional[tuple] = None
        self.frames_captured = 0
        self._handlers: Dict[int, Callable[[bytes], bytes]] = {
            p.Op.HELLO: self._hello, p.Op.SET_BAUD: self._set_baud, p.Op.BEGIN: self._begin,
            p.Op.DATA: self._data, p.Op.END: self._end, p.Op.COMMIT: self._commit,
            p.Op.STATUS: self._status, p.Op.READBACK: self._readback,
            p.Op.CAPTURE: self._capture}

    # ------------------------------------------------------------------ transport side
    def receive(self, data: bytes) -> bytes:
        """Consume bytes from the line; return the bytes to send back."""
        out = bytearray()
        for frame in self.reader.feed(data):
            out += self.answer(frame)
            if self._pending_baud is not None:
                rate, self._pending_baud = self._pending_baud, None
                self.baudrate = rate
                if self.on_baud is not None:
                    self.on_baud(rate)
        return bytes(out)

    def answer(self, frame: Frame) -> bytes:
        """The encoded answer to one decoded frame (a retry gets the cached answer)."""
        key = (frame.seq, frame.op, crc32(frame.body), frame.version, frame.problem)
        if key == self._last:
            return self._last_answer
        if frame.problem:
            code = p.ErrorCode.TOO_LARGE if "limit" in frame.problem else p.ErrorCode.MALFORMED
            encoded = self._error(frame, code, frame.problem)
        elif frame.version != PROTOCOL_VERSION:
            encoded = self._error(frame, p.ErrorCode.UNSUPPORTED_VERSION,
                                  f"protocol version {frame.version} is not supported; this "
                                  f"board speaks version {PROTOCOL_VERSION}")
        elif frame.op not in self._handlers:
            encoded = self._error(frame, p.ErrorCode.UNKNOWN_OP,
                                  f"message type 0x{frame.op:02X} is not a request")
        else:
            try:
                body = self._handlers[frame.op](frame.body)
                encoded = encode_frame(frame.op | p.RESPONSE_BIT, frame.seq, body)
            except Fault as fault:
                encoded = self._error(frame, fault.code, str(fault))
            except p.MessageError as error:
                encoded = self._error(frame, p.ErrorCode.MALFORMED, str(error))
            except Exception as error:  # the board must never die on input
                encoded = self._error(frame, p.ErrorCode.INTERNAL,
                                      f"{type(error).__name__}: {error}")
        self._last, self._last_answer = key, encoded
        return encoded

    @staticmethod
    def _error(frame: Frame, code: p.ErrorCode, message: str) -> bytes:
        return encode_frame(p.Op.ERROR | p.RESPONSE_BIT, frame.seq,
                            p.error_body(code, frame.op, message))

    # ------------------------------------------------------------------ handlers
    def _hello(self, body: bytes) -> bytes:
        return self.config.capabilities().to_json()

    def _set_baud(self, body: bytes) -> bytes:
        (rate,) = p.unpack(p.U32, body, "SET_BAUD")
        if rate not in self.config.bauds:
            raise Fault(p.ErrorCode.BAD_BAUD, f"baud {rate} is not one of {list(self.config.bauds)}")
        self._pending_baud = rate
        return p.U32.pack(rate)

    def _begin(self, body: bytes) -> bytes:
        kind, length, sha = p.unpack(p.BEGIN, body, "BEGIN")
        kind = p.kind_of(kind)
        if not 0 < length <= self.config.max_artifact:
            raise Fault(p.ErrorCode.TOO_LARGE, f"length {length} is outside 1.."
                                               f"{self.config.max_artifact} bytes")
        staging = self.store.begin(kind, length, sha)
        return p.OFFSET.pack(kind, staging.received)

    def _session(self, kind: p.Kind):
        staging = self.store.staging(kind)
        if staging is None:
            raise Fault(p.ErrorCode.NO_SESSION, f"no transfer of {kind.name.lower()} in "
                                                f"progress; send BEGIN first")
        return staging

    def _data(self, body: bytes) -> bytes:
        kind, offset = p.unpack(p.OFFSET, body, "DATA", exact=False)
        kind = p.kind_of(kind)
        chunk = body[p.OFFSET.size:]
        staging = self._session(kind)
        expected = staging.received
        if offset == expected and chunk:
            if expected + len(chunk) > staging.length:
                raise Fault(p.ErrorCode.MALFORMED, f"chunk at {offset} of {len(chunk)} bytes "
                                                   f"overruns the {staging.length}-byte artifact")
            self.store.append(kind, chunk)
            expected += len(chunk)
        return p.OFFSET.pack(kind, expected)

    def _end(self, body: bytes) -> bytes:
        (kind,) = p.unpack(struct.Struct("<B"), body, "END")
        kind = p.kind_of(kind)
        staging = self._session(kind)
        if staging.received < staging.length:
            raise Fault(p.ErrorCode.INCOMPLETE, f"END after {staging.received} of "
                                                f"{staging.length} bytes")
        data = self.store.read_staging(kind)
        digest = hashlib.sha256(data).digest()
        if digest != staging.sha256:
            self.store.clear_staging(kind)
            raise Fault(p.ErrorCode.SHA_MISMATCH, f"received bytes hash to {digest.hex()[:16]}..., "
                                                  f"BEGIN announced {staging.sha256.hex()[:16]}...;"
                                                  f" transfer discarded, start again")
        self._validate(kind, data)
        self.store.mark_verified(kind)
        return p.END_ANSWER.pack(kind, len(data), digest)

    def _validate(self, kind: p.Kind, data: bytes) -> None:
        try:
            validate_artifact(kind, data, self.config)
        except ValueError as error:
            self.store.clear_staging(kind)
            raise Fault(p.ErrorCode.INVALID_ARTIFACT, str(error)) from None

    def _slot_status(self, kind: p.Kind) -> p.SlotStatus:
        active = self.store.active(kind)
        if active is None:
            return p.SlotStatus(kind, False, 0, 0, 0, bytes(32))
        return p.SlotStatus(kind, True, active.slot, active.generation, active.length,
                            active.sha256)

    def _commit(self, body: bytes) -> bytes:
        kind, sha = p.unpack(p.KIND_SHA, body, "COMMIT")
        kind = p.kind_of(kind)
        active = self.store.active(kind)
        staging = self.store.staging(kind)
        if active is not None and active.sha256 == sha:       # a retry after success
            if staging is not None and staging.sha256 == sha:
                self.store.clear_staging(kind)
            return self._slot_status(kind).pack()
        if staging is None or staging.sha256 != sha or not staging.verified:
            raise Fault(p.ErrorCode.NOT_VERIFIED, f"no verified transfer of "
                                                  f"{kind.name.lower()} with SHA-256 "
                                                  f"{sha.hex()[:16]}...; send BEGIN..END first")
        data = self.store.read_staging(kind)
        if hashlib.sha256(data).digest() != sha:
            self.store.clear_staging(kind)
            raise Fault(p.ErrorCode.SHA_MISMATCH, "staged bytes changed since END; start again")
        self._validate(kind, data)
        self.store.commit(kind, data)
        self.store.clear_staging(kind)
        return self._slot_status(kind).pack()

    def _status(self, body: bytes) -> bytes:
        (kind,) = p.unpack(struct.Struct("<B"), body, "STATUS")
        return self._slot_status(p.kind_of(kind)).pack()

    def _active_bytes(self, kind: p.Kind) -> bytes:
        active = self.store.active(kind)
        if active is None:
            raise Fault(p.ErrorCode.NOTHING_ACTIVE, f"no {kind.name.lower()} committed yet")
        key = (kind, active.slot, active.generation)
        if self._readback_cache is None or self._readback_cache[0] != key:
            self._readback_cache = (key, self.store.read_active(kind))
        return self._readback_cache[1]

    def _readback(self, body: bytes) -> bytes:
        kind, offset, length = p.unpack(p.READBACK, body, "READBACK")
        kind = p.kind_of(kind)
        limit = self.config.max_body - p.OFFSET.size
        if length > limit:
            raise Fault(p.ErrorCode.TOO_LARGE, f"READBACK length {length} exceeds {limit}")
        data = self._active_bytes(kind)
        return p.OFFSET.pack(kind, offset) + data[offset:offset + length]

    def _capture(self, body: bytes) -> bytes:
        noise_seed, height, width, channels = p.unpack(p.CAPTURE, body, "CAPTURE", exact=False)
        pixels = body[p.CAPTURE.size:]
        block = int(self.config.camera.get("block", 8))
        if channels != 3 or height % block or width % block or not height or not width:
            raise Fault(p.ErrorCode.BAD_SCENE, f"scene {height}x{width}x{channels}: need 3 "
                                               f"colour channels and sides that are non-zero "
                                               f"multiples of {block}")
        if len(pixels) != height * width * channels:
            raise Fault(p.ErrorCode.BAD_SCENE, f"scene {height}x{width}x{channels} needs "
                                               f"{height * width * channels} bytes, got "
                                               f"{len(pixels)}")
        active = self.store.active(p.Kind.THRESHOLDS)
        if active is None:
            raise Fault(p.ErrorCode.NO_THRESHOLDS, "no threshold table committed; flash one "
                                                   "first (canopic flash --thresholds FILE)")
        import torch

        from sensor.colour import images_to_scenes
        camera = self._camera_with(active.sha256)
        scene = np.frombuffer(pixels, np.uint8).reshape(height, width, 3)
        images = images_to_scenes(scene[None])          # sRGB photograph -> linear light
        generator = torch.Generator().manual_seed(int(noise_seed))
        with torch.no_grad():
            codes = camera(images.contiguous(), mode="hard", generator=generator)[0]
        codes = codes.round().clamp(0, 255).to(torch.uint8).numpy()
        self.frames_captured += 1
        meta = json.dumps({"board_id": self.config.board_id, "seed": self.config.seed,
                           "noise_seed": int(noise_seed), "frame": self.frames_captured,
                           "thresholds_sha256": active.sha256.hex(),
                           "thresholds_generation": active.generation,
                           "camera": dict(self.config.camera),
                           "published": self.config.published}).encode()
        return CAPTURE_ANSWER.pack(*codes.shape, len(meta)) + meta + codes.tobytes()

    def _camera_with(self, thresholds_sha: bytes):
        if self._camera is None:
            self._camera = build_camera(self.config)
        if self._camera_thresholds_sha != thresholds_sha:
            table = ThresholdTable.from_bytes(self.store.read_active(p.Kind.THRESHOLDS))
            self._camera.set_thresholds(table.thresholds())
            self._camera_thresholds_sha = thresholds_sha
        return self._camera


def parse_capture_answer(body: bytes) -> "tuple[np.ndarray, dict]":
    """Split a CAPTURE answer into codes (uint8 [C, h, w]) and its metadata dict."""
    channels, height, width, meta_length = p.unpack(CAPTURE_ANSWER, body, "CAPTURE answer",
                                                    exact=False)
    start = CAPTURE_ANSWER.size
    expected = start + meta_length + channels * height * width
    if len(body) != expected:
        raise p.MessageError(f"CAPTURE answer: {len(body)} bytes, expected {expected}")
    try:
        meta = json.loads(body[start:start + meta_length].decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as error:
        raise p.MessageError(f"CAPTURE answer: bad metadata ({error})") from None
    codes = np.frombuffer(body, np.uint8, offset=start + meta_length).reshape(
        channels, height, width).copy()
    return codes, meta
