"""The board's side: malformed input never crashes it, retries are answered idempotently, a
reset resumes a transfer, and invalid artifacts are refused by the board itself."""
import hashlib
import random

import numpy as np
import pytest

from hil import protocol as p
from hil.artifacts import ThresholdTable
from hil.board import Board
from hil.client import BoardClient
from hil.flash_store import FlashStore
from hil.framing import FrameReader, encode_frame
from hil.link import InProcessLink
from tests.hil.conftest import mask, table


def ask(board: Board, op: int, body: bytes = b"", seq: int = 1, version: int = 1):
    """Send one frame; return the decoded answers."""
    return list(FrameReader(1 << 20).feed(board.receive(encode_frame(op, seq, body, version))))


def error_of(frames):
    assert len(frames) == 1 and frames[0].op == p.Op.ERROR | p.RESPONSE_BIT, frames
    code, _, message = p.parse_error(frames[0].body)
    return code, message


@pytest.fixture
def board(tmp_path, small_board):
    return Board(FlashStore(str(tmp_path), fsync=False), small_board)


def test_wrong_version_unknown_op_and_bad_bodies_are_answered(board):
    assert error_of(ask(board, p.Op.HELLO, b"\x01", version=2))[0] == p.ErrorCode.UNSUPPORTED_VERSION
    assert error_of(ask(board, 0x42, seq=2))[0] == p.ErrorCode.UNKNOWN_OP
    seq = 10
    for op in p.Op:
        if op in (p.Op.HELLO, p.Op.ERROR):
            continue
        for body in (b"", b"\x09", bytes(3)):
            seq += 1
            code, message = error_of(ask(board, op, body, seq=seq))
            assert code in (p.ErrorCode.MALFORMED, p.ErrorCode.UNKNOWN_KIND,
                            p.ErrorCode.UNKNOWN_OP, p.ErrorCode.NO_SESSION,
                            p.ErrorCode.NOTHING_ACTIVE), (op, body, code, message)
    code, message = error_of(ask(board, p.Op.BEGIN, p.BEGIN.pack(9, 10, bytes(32)), seq=99))
    assert code == p.ErrorCode.MALFORMED and "kind: 9" in message
    code, message = error_of(ask(board, p.Op.BEGIN, p.BEGIN.pack(1, 1 << 30, bytes(32)), seq=98))
    assert code == p.ErrorCode.TOO_LARGE
    # a frame whose body is over the board's limit is dropped (it cannot be buffered) ...
    assert ask(board, p.Op.DATA, bytes(4000), seq=97) == []
    # ... and the board still answers
    assert ask(board, p.Op.HELLO, b"\x01", seq=96)[0].op == p.Op.HELLO | p.RESPONSE_BIT


def test_random_garbage_and_random_valid_frames_never_crash_the_board(board):
    rng = random.Random(3)
    for i in range(3000):
        if i % 2:
            board.receive(bytes(rng.randrange(256) for _ in range(rng.randrange(100))))
        else:
            op = rng.randrange(256)
            body = bytes(rng.randrange(256) for _ in range(rng.randrange(60)))
            answers = ask(board, op, body, seq=i & 0xFFFF)
            assert len(answers) <= 1
            if answers:
                assert answers[0].op != p.Op.ERROR | p.RESPONSE_BIT or \
                    p.parse_error(answers[0].body)[0] != p.ErrorCode.INTERNAL
    assert ask(board, p.Op.HELLO, b"\x01", seq=5)[0].op == p.Op.HELLO | p.RESPONSE_BIT


def test_retries_with_the_same_sequence_number_are_idempotent(board):
    data = mask(1).to_bytes()
    sha = hashlib.sha256(data).digest()
    ask(board, p.Op.BEGIN, p.BEGIN.pack(p.Kind.MASK, len(data), sha), seq=1)
    frame = encode_frame(p.Op.DATA, 2, p.OFFSET.pack(p.Kind.MASK, 0) + data[:100])
    first, second = board.receive(frame), board.receive(frame)
    assert first == second
    assert board.store.staging(p.Kind.MASK).received == 100     # written once
    # the same chunk under a new sequence number is answered with the expected offset
    again = ask(board, p.Op.DATA, p.OFFSET.pack(p.Kind.MASK, 0) + data[:100], seq=3)
    assert p.OFFSET.unpack(again[0].body) == (p.Kind.MASK, 100)


def test_a_reset_resumes_at_the_persisted_offset(tmp_path, small_board):
    data = mask(2).to_bytes()
    sha = hashlib.sha256(data).digest()
    link = InProcessLink(str(tmp_path), small_board)
    client = BoardClient(link, progress=False)
    client._command(p.Op.BEGIN, p.BEGIN.pack(p.Kind.MASK, len(data), sha), "begin", 1.0)
    for offset in (0, 120):
        client._command(p.Op.DATA, p.OFFSET.pack(p.Kind.MASK, offset) +
                        data[offset:offset + 120], "data", 1.0)
    link.reset_board()
    answer = client._command(p.Op.BEGIN, p.BEGIN.pack(p.Kind.MASK, len(data), sha), "begin", 1.0)
    assert p.OFFSET.unpack(answer) == (p.Kind.MASK, 240)
    client.upload(p.Kind.MASK, data)                 # finishes from there
    status = client.commit(p.Kind.MASK, sha)
    assert status.sha256 == sha and link.board.store.read_active(p.Kind.MASK) == data


@pytest.mark.parametrize("codes, bits, match", [
    (np.arange(15)[::-1] * 100, 12, "not strictly increasing"),
    (np.arange(14) * 250 + 100, 12, "count: the table has 14"),
    (np.arange(15) * 60 + 100, 10, "dac_bits: the table is for a 10-bit DAC"),
    (np.arange(15) * 10 + 100, 12, "needs at least 0.05"),
])
def test_the_board_refuses_invalid_tables_itself(tmp_path, small_board, codes, bits, match):
    link = InProcessLink(str(tmp_path), small_board)
    client = BoardClient(link, progress=False)
    if codes[0] > codes[-1]:          # not constructible as a ThresholdTable: forge the bytes
        good = table(0).to_bytes()
        body = bytearray(good[:34] + np.asarray(codes, "<u2").tobytes())
        from hil.framing import crc32
        data = bytes(body) + crc32(bytes(body)).to_bytes(4, "little")
    else:
        bad = ThresholdTable(codes, bits, 0.0, 1.0)
        with pytest.raises(ValueError, match=match):       # the host refuses first ...
            client.flash_thresholds(bad)
        data = bad.to_bytes()
    with pytest.raises(p.BoardError, match="Failed to end thresholds upload: board error "
                                           "INVALID_ARTIFACT: .*" + match) as caught:
        client.flash(p.Kind.THRESHOLDS, data, label="thresholds")   # ... and so does the board
    assert caught.value.code == p.ErrorCode.INVALID_ARTIFACT
    assert link.board.store.active(p.Kind.THRESHOLDS) is None
    assert client.status(p.Kind.THRESHOLDS).has_active is False


def test_commit_without_a_verified_transfer_is_refused(tmp_path, small_board):
    client = BoardClient(InProcessLink(str(tmp_path), small_board), progress=False)
    with pytest.raises(p.BoardError, match="Failed to commit mask: board error NOT_VERIFIED"):
        client.commit(p.Kind.MASK, bytes(32), "mask")


def test_baud_switch_then_flash(tmp_path, small_board):
    link = InProcessLink(str(tmp_path), small_board)
    client = BoardClient(link, progress=False)
    client.set_baud(921600)
    assert link.baudrate == link.board.baudrate == 921600
    client.flash_thresholds(table(1))
    with pytest.raises(ValueError, match="target_baud: 12345"):
        client.set_baud(12345)
