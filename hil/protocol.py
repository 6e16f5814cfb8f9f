"""The wire protocol's tables: message types, artifact kinds, error codes, and message bodies.

Every request ``op`` is answered by ``op | 0x80`` (success) or ``Op.ERROR`` (failure), carrying
the request's sequence number. See docs/wire-protocol.md for the full description.
"""
from __future__ import annotations

import enum
import json
import struct
from dataclasses import asdict, dataclass
from typing import Any, Dict

#: Largest frame body a board accepts unless configured otherwise (16 KiB of data + headers).
DEFAULT_MAX_BODY = 16384 + 64
#: Bit set in the type of every answer.
RESPONSE_BIT = 0x80


class Op(enum.IntEnum):
    """Message types (the opcode table). Requests go host -> board; answers add RESPONSE_BIT."""

    HELLO = 0x01      # body: u8 host protocol version  -> JSON capabilities
    SET_BAUD = 0x02   # body: u32 baud                  -> u32 baud (switch after the answer)
    BEGIN = 0x03      # body: u8 kind, u32 length, 32 B SHA-256 -> u8 kind, u32 next offset
    DATA = 0x04       # body: u8 kind, u32 offset, chunk       -> u8 kind, u32 next offset
    END = 0x05        # body: u8 kind                         -> u8 kind, u32 length, SHA-256
    COMMIT = 0x06     # body: u8 kind, SHA-256                -> slot status
    STATUS = 0x07     # body: u8 kind                         -> slot status
    READBACK = 0x08   # body: u8 kind, u32 offset, u32 length  -> u8 kind, u32 offset, data
    CAPTURE = 0x09    # body: u64 noise seed, u16 h, u16 w, u8 c, pixels -> codes + JSON
    ERROR = 0x7F      # answer only: u8 error code, u8 request type, UTF-8 message


class Kind(enum.IntEnum):
    """Artifact kinds the board stores (one A/B slot pair each)."""

    THRESHOLDS = 1
    MASK = 2


class ErrorCode(enum.IntEnum):
    """Codes carried by ``Op.ERROR``."""

    UNKNOWN_OP = 1            # type not in the table
    UNSUPPORTED_VERSION = 2   # header version is not the board's
    MALFORMED = 3             # body too short/long for the message, bad length field
    TOO_LARGE = 4             # frame body or artifact length over the board's limit
    UNKNOWN_KIND = 5          # kind byte not in Kind
    NO_SESSION = 6            # DATA/END without a BEGIN for that kind
    SHA_MISMATCH = 7          # END: received bytes do not hash to BEGIN's SHA-256
    NOT_VERIFIED = 8          # COMMIT of a transfer that END has not verified
    INVALID_ARTIFACT = 9      # the artifact fails the board's validation
    NOTHING_ACTIVE = 10       # STATUS/READBACK of a kind never committed
    BAD_BAUD = 11             # SET_BAUD with an unsupported rate
    BAD_SCENE = 12            # CAPTURE with a scene of the wrong shape
    NO_THRESHOLDS = 13        # CAPTURE before any threshold table was committed
    INTERNAL = 14             # anything else on the board (message says what)
    INCOMPLETE = 15           # END before all BEGIN's bytes arrived


class ProtocolError(RuntimeError):
    """The host could not complete an operation (base class of the client's errors)."""


class BoardError(ProtocolError):
    """The board answered ``Op.ERROR``.

    Attributes
    ----------
    code : ErrorCode or int
        The board's error code.
    """

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


class BoardTimeout(ProtocolError):
    """No valid answer arrived within the retries or the transfer's time budget."""


class CommittedUnverified(ProtocolError):
    """The board committed the new artifact (it now holds it), but reading it back failed.

    Attributes
    ----------
    status : SlotStatus
        The slot the commit reported.
    """

    def __init__(self, message: str, status: "SlotStatus"):
        super().__init__(message)
        self.status = status


class MessageError(ValueError):
    """A message body does not have the layout its type requires."""


# ----------------------------------------------------------------------------- bodies
SHA_SIZE = 32
BEGIN = struct.Struct("<BI32s")
OFFSET = struct.Struct("<BI")              # kind, offset (DATA header, BEGIN/DATA answers)
END_ANSWER = struct.Struct("<BI32s")
KIND_SHA = struct.Struct("<B32s")          # COMMIT request
READBACK = struct.Struct("<BII")
SLOT_STATUS = struct.Struct("<BBBII32s")   # kind, has_active, slot, generation, length, sha
CAPTURE = struct.Struct("<QHHB")
ERROR = struct.Struct("<BB")
U32 = struct.Struct("<I")


def unpack(layout: struct.Struct, body: bytes, what: str, exact: bool = True) -> tuple:
    """Unpack ``body`` with ``layout``; raise ``MessageError`` naming ``what`` if it does not fit."""
    if len(body) < layout.size or (exact and len(body) != layout.size):
        raise MessageError(f"{what}: body of {len(body)} bytes, expected "
                           f"{'' if exact else 'at least '}{layout.size}")
    return layout.unpack_from(body)


def kind_of(value: int) -> Kind:
    """Return ``Kind(value)`` or raise ``MessageError``."""
    try:
        return Kind(value)
    except ValueError:
        raise MessageError(f"kind: {value} is not one of "
                           f"{', '.join(f'{k.value} ({k.name})' for k in Kind)}") from None


@dataclass(frozen=True)
class Capabilities:
    """What HELLO tells the host about the board.

    Attributes
    ----------
    protocol_version : int
    board_id : str
    max_body : int
        Largest frame body the board accepts, bytes.
    dac_bits : int
        Resolution of the threshold DACs.
    threshold_count : int
        Thresholds per table (15 for a 4-bit flash ADC).
    v_ref_low, v_ref_high : float
        DAC reference range, V.
    full_scale : float
        ADC input full scale the thresholds are expressed in (15.0).
    mask_width, mask_height, mask_levels : int
        SLM size (pixels) and the most phase/height levels it shows.
    max_artifact : int
        Largest artifact the board stores, bytes.
    bauds : tuple of int
        Baud rates SET_BAUD accepts.
    min_threshold_spacing : float
        Smallest gap the ADC allows between neighbouring thresholds, ADC input units.
    """

    protocol_version: int
    board_id: str
    max_body: int
    dac_bits: int
    threshold_count: int
    v_ref_low: float
    v_ref_high: float
    full_scale: float
    mask_width: int
    mask_height: int
    mask_levels: int
    max_artifact: int
    bauds: tuple
    min_threshold_spacing: float = 0.0

    def to_json(self) -> bytes:
        """Encode as the HELLO answer's body (UTF-8 JSON)."""
        values = asdict(self)
        values["bauds"] = list(self.bauds)
        return json.dumps(values, separators=(",", ":")).encode()

    @classmethod
    def from_json(cls, body: bytes) -> "Capabilities":
        """Decode a HELLO answer; raise ``MessageError`` if fields are missing or mistyped."""
        try:
            values: Dict[str, Any] = json.loads(body.decode("utf-8"))
            values["bauds"] = tuple(int(b) for b in values["bauds"])
            return cls(**{name: values[name] for name in cls.__dataclass_fields__})
        except (UnicodeDecodeError, ValueError, KeyError, TypeError) as error:
            raise MessageError(f"HELLO answer: not a capabilities record ({error})") from None


@dataclass(frozen=True)
class SlotStatus:
    """The board's active slot for one artifact kind (answer to STATUS and COMMIT)."""

    kind: Kind
    has_active: bool
    slot: int
    generation: int
    length: int
    sha256: bytes

    def pack(self) -> bytes:
        return SLOT_STATUS.pack(int(self.kind), int(self.has_active), self.slot,
                                self.generation, self.length, self.sha256)

    @classmethod
    def unpack(cls, body: bytes) -> "SlotStatus":
        kind, has_active, slot, generation, length, sha = unpack(SLOT_STATUS, body, "slot status")
        return cls(kind_of(kind), bool(has_active), slot, generation, length, sha)


def error_body(code: int, request_op: int, message: str) -> bytes:
    """Body of an ``Op.ERROR`` answer (message truncated to 400 bytes of UTF-8)."""
    return ERROR.pack(int(code), request_op & 0xFF) + message.encode("utf-8")[:400]


def parse_error(body: bytes) -> "tuple[int, int, str]":
    """Return ``(code, request_op, message)`` of an ``Op.ERROR`` body."""
    code, request_op = unpack(ERROR, body, "ERROR", exact=False)
    return code, request_op, body[ERROR.size:].decode("utf-8", errors="replace")


def error_name(code: int) -> str:
    """Name of an error code, or ``code <n>`` for one not in the table."""
    try:
        return ErrorCode(code).name
    except ValueError:
        return f"code {code}"
