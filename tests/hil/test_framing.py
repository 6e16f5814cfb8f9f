"""Frames: CRC-32 check value, COBS against the reference decoder, resynchronisation."""
import random
import zlib

import pytest
from cobs import cobs

from hil.framing import (HEADER, FrameReader, cobs_max_encoded_size, crc32, decode_frame,
                         encode_frame)


def test_crc32_check_value():
    assert crc32(b"123456789") == 0xCBF43926          # CRC-32/ISO-HDLC catalogue check value


def test_frame_layout_decodes_with_the_reference_cobs_and_zlib():
    wire = encode_frame(0x04, 0xBEEF, b"\x00\x01payload\x00")
    assert wire.startswith(b"\x00") and wire.endswith(b"\x00") and wire.count(0) == 2
    raw = cobs.decode(wire[1:-1])
    version, op, seq, length = HEADER.unpack_from(raw)
    assert (version, op, seq, length) == (1, 0x04, 0xBEEF, 10)
    assert int.from_bytes(raw[-4:], "little") == zlib.crc32(raw[:-4])
    assert len(wire) - 2 <= cobs_max_encoded_size(len(raw))


def test_reader_resyncs_after_garbage_and_rejects_damage():
    rng = random.Random(0)
    good = [encode_frame(1, i, bytes(rng.randrange(256) for _ in range(rng.randrange(300))))
            for i in range(50)]
    stream = bytearray()
    for frame in good:
        stream += bytes(rng.randrange(1, 256) for _ in range(rng.randrange(40))) + b"\x00"
        stream += frame
    reader = FrameReader(512)
    got = []
    for i in range(0, len(stream), 7):            # arbitrary split points
        got += [f.seq for f in reader.feed(bytes(stream[i:i + 7]))]
    assert got == list(range(50))
    damaged = bytearray(good[0])
    damaged[5] ^= 0x10
    with pytest.raises(ValueError, match="CRC-32|COBS"):
        decode_frame(bytes(damaged[1:-1]), 512)


def test_random_garbage_never_raises_and_memory_stays_bounded():
    rng = random.Random(1)
    reader = FrameReader(64)
    for _ in range(2000):
        list(reader.feed(bytes(rng.randrange(256) for _ in range(rng.randrange(200)))))
        assert len(reader._buffer) <= reader.max_encoded
    list(reader.feed(b"\x00" + bytes([0x55]) * 10000))   # an endless frame
    assert len(reader._buffer) == 0
    assert [f.seq for f in reader.feed(b"\x00" + encode_frame(2, 7, b"ok"))] == [7]


def test_length_field_over_the_limit_is_reported_with_a_trusted_header():
    frame = decode_frame(encode_frame(3, 5, bytes(100))[1:-1], max_body=50)
    assert frame.seq == 5 and "limit" in frame.problem
