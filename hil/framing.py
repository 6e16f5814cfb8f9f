"""Frames on the serial line: header + body + CRC-32, COBS-encoded, delimited by 0x00.

Layout of one frame before encoding (all integers little-endian)::

    offset size field
    0      1    protocol version (1)
    1      1    message type (see ``hil.protocol.Op``)
    2      2    sequence number (uint16; a retry reuses it)
    4      4    body length in bytes
    8      n    body
    8+n    4    CRC-32 (ISO-HDLC, as ``zlib.crc32``) over bytes 0 .. 8+n-1

The encoded frame is ``b"\\x00" + cobs.encode(raw) + b"\\x00"``: COBS removes every zero byte
from the frame, so a 0x00 can only be a delimiter. The leading one ends whatever garbage the
receiver had buffered (line noise, a half frame from before a reset), the trailing one ends the
frame; empty frames between two delimiters are ignored (as SLIP's 0xC0 does in esptool).
"""
from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass
from typing import Iterator, List

from cobs import cobs

#: Frame delimiter.
DELIMITER = b"\x00"
#: struct format of the header: version, type, sequence, body length.
HEADER = struct.Struct("<BBHI")
#: Bytes of CRC after the body.
CRC_SIZE = 4
#: The protocol version this package speaks.
PROTOCOL_VERSION = 1


def crc32(data: bytes) -> int:
    """CRC-32/ISO-HDLC of ``data`` (check value: ``crc32(b"123456789") == 0xCBF43926``)."""
    return zlib.crc32(data) & 0xFFFFFFFF


def cobs_max_encoded_size(raw_size: int) -> int:
    """Largest COBS encoding of ``raw_size`` bytes, delimiter excluded (one code byte per 254)."""
    return raw_size + raw_size // 254 + 1


@dataclass(frozen=True)
class Frame:
    """One decoded frame.

    Attributes
    ----------
    version : int
        Protocol version in the header.
    op : int
        Message type byte.
    seq : int
        Sequence number, 0..65535.
    body : bytes
        Message body.
    problem : str
        Empty for a good frame. Otherwise the CRC held (so the header can be trusted and an
        error can be answered to ``seq``) but the length field is wrong or over the limit.
    """

    version: int
    op: int
    seq: int
    body: bytes
    problem: str = ""


class FrameError(ValueError):
    """A frame could not be decoded (COBS, size, length field or CRC)."""


def encode_frame(op: int, seq: int, body: bytes = b"", version: int = PROTOCOL_VERSION) -> bytes:
    """Return the bytes to put on the wire for one message, delimiter included.

    Parameters
    ----------
    op : int
        Message type, 0..255.
    seq : int
        Sequence number, 0..65535.
    body : bytes
        Message body.
    version : int
        Protocol version written in the header (tests send others on purpose).
    """
    if not 0 <= op <= 0xFF:
        raise ValueError(f"op: {op} is outside 0..255")
    if not 0 <= seq <= 0xFFFF:
        raise ValueError(f"seq: {seq} is outside 0..65535")
    raw = HEADER.pack(version, op, seq, len(body)) + bytes(body)
    raw += struct.pack("<I", crc32(raw))
    return DELIMITER + cobs.encode(raw) + DELIMITER


def decode_frame(encoded: bytes, max_body: int) -> Frame:
    """Decode one frame (without delimiters); raise ``FrameError`` if it is not valid.

    The version is returned as found, not checked: answering a wrong version with an error is
    the receiver's job. A frame whose CRC holds but whose length field is wrong or over
    ``max_body`` comes back with ``problem`` set and an empty body.
    """
    try:
        raw = cobs.decode(encoded)
    except cobs.DecodeError as error:
        raise FrameError(f"bad COBS encoding: {error}") from None
    if len(raw) < HEADER.size + CRC_SIZE:
        raise FrameError(f"frame of {len(raw)} bytes is shorter than header + CRC "
                         f"({HEADER.size + CRC_SIZE})")
    (expected,) = struct.unpack_from("<I", raw, len(raw) - CRC_SIZE)
    if crc32(raw[:-CRC_SIZE]) != expected:
        raise FrameError("CRC-32 mismatch")
    version, op, seq, length = HEADER.unpack_from(raw)
    body = raw[HEADER.size:-CRC_SIZE]
    if length != len(body):
        return Frame(version, op, seq, b"",
                     f"length field {length} does not match the {len(body)}-byte body")
    if length > max_body:
        return Frame(version, op, seq, b"", f"body of {length} bytes exceeds the limit of "
                                            f"{max_body}")
    return Frame(version, op, seq, body)


class FrameReader:
    """Split a byte stream into frames at 0x00 delimiters, surviving any garbage.

    Parameters
    ----------
    max_body : int
        Largest body accepted, bytes. Anything that cannot fit (after COBS) is discarded up to
        the next delimiter without being buffered, so garbage cannot exhaust memory.

    Attributes
    ----------
    errors : list of str
        Why each discarded frame was discarded (newest last, at most 100 kept).
    bytes_in : int
        Bytes fed so far.
    """

    def __init__(self, max_body: int) -> None:
        self.max_body = int(max_body)
        self.max_encoded = cobs_max_encoded_size(HEADER.size + self.max_body + CRC_SIZE)
        self._buffer = bytearray()
        self._overflow = False
        self.errors: List[str] = []
        self.bytes_in = 0

    def _reject(self, reason: str) -> None:
        self.errors.append(reason)
        del self.errors[:-100]

    def feed(self, data: bytes) -> Iterator[Frame]:
        """Consume ``data``; yield each valid frame it completes.

        A caller that stops iterating early loses the rest of ``data``: the host does so once
        its answer has arrived (anything after it is stale).
        """
        self.bytes_in += len(data)
        start = 0
        while start < len(data):
            end = data.find(0, start)
            piece = data[start:] if end < 0 else data[start:end]
            if not self._overflow:
                self._buffer += piece
                if len(self._buffer) > self.max_encoded:
                    self._overflow = True
                    self._buffer.clear()
            if end < 0:
                return
            start = end + 1
            encoded, overflow = bytes(self._buffer), self._overflow
            self._buffer.clear()           # reset before yielding: the caller may stop here
            self._overflow = False
            if overflow:
                self._reject(f"frame longer than {self.max_encoded} encoded bytes")
            elif encoded:
                try:
                    frame = decode_frame(encoded, self.max_body)
                except FrameError as error:
                    self._reject(str(error))
                    continue
                yield frame
