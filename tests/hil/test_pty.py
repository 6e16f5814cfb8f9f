"""End to end over a real pseudo-terminal, with the emulator in another process.

Flash a threshold table and a mask, read them back byte-identical, capture a frame equal to the
simulator's own output for the board's mismatch seed; kill the emulator mid-transfer (a power
cut) and check the active slot and the resumed transfer; garbage and wrong-version frames on a
real line.
"""
import hashlib
import threading
import time

import numpy as np
import serial
import torch

import analog
from hil import protocol as p
from hil.client import BoardClient
from hil.emulator import EmulatorProcess
from hil.flash_store import FlashStore
from hil.framing import FrameReader, encode_frame
from tests.hil.conftest import mask, table

SEED = 7


def emulator_args(flash_dir, *extra):
    return ["--flash-dir", str(flash_dir), "--seed", str(SEED), "--mask-size", "64x48",
            "--mask-levels", "16", *extra]


def test_flash_readback_and_capture_match_the_simulator(tmp_path):
    thresholds = table(3)
    pattern = mask(4, width=64, height=48)
    scene = (np.random.default_rng(5).random((64, 64, 3)) * 255).astype(np.uint8)
    with BoardClient.open("emulator", emulator_args=emulator_args(tmp_path),
                          target_baud=921600, progress=False) as board:
        board.flash_thresholds(thresholds)
        board.flash_mask(pattern)
        assert board.readback(p.Kind.THRESHOLDS) == thresholds.to_bytes()
        assert board.readback(p.Kind.MASK) == pattern.to_bytes()
        codes, meta = board.capture(scene, noise_seed=11)
    assert meta["seed"] == SEED and meta["noise_seed"] == 11
    assert meta["thresholds_sha256"] == hashlib.sha256(thresholds.to_bytes()).hexdigest()

    # the simulator, built here from the published interface with the board's seed
    from sensor import Camera, CameraConfig
    camera = Camera(CameraConfig(conv="conv4", seed=SEED, comparator_offset_sigma=0.002,
                                 adc_mismatch_sigma=0.05))
    camera.set_thresholds(analog.dac_codes_to_thresholds(thresholds.codes, 12, 0.0, 1.0,
                                                         full_scale=15.0))
    # the scene is an sRGB photograph; the board's sensor sees linear light (IEC 61966-2-1)
    srgb = scene.astype(np.float64) / 255.0
    linear = np.where(srgb <= 0.04045, srgb / 12.92, ((srgb + 0.055) / 1.055) ** 2.4)
    images = torch.from_numpy(linear.astype(np.float32)).permute(2, 0, 1)[None]
    with torch.no_grad():
        expected = camera(images.contiguous(), generator=torch.Generator().manual_seed(11))[0]
    assert codes.shape == tuple(expected.shape) == (12, 8, 8)
    np.testing.assert_array_equal(codes, expected.numpy().astype(np.uint8))
    # a real board is never ideal: the mismatch seed changes the frame
    ideal = Camera(CameraConfig(conv="conv4", seed=SEED + 1, comparator_offset_sigma=0.002,
                                adc_mismatch_sigma=0.05))
    ideal.set_thresholds(camera.thresholds)
    with torch.no_grad():
        other = ideal(images.contiguous(), generator=torch.Generator().manual_seed(11))[0]
    assert not torch.equal(other, expected)


def kill_when_staged(emulator, flash_dir, received, limit_s=30.0):
    """SIGKILL the emulator once ``received`` bytes of the mask are staged (mid-transfer)."""
    store = FlashStore(str(flash_dir), fsync=False)
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        staging = store.staging(p.Kind.MASK)
        if staging is not None and staging.received >= received:
            break
        time.sleep(0.001)
    emulator.kill()


def test_kills_mid_transfer_leave_the_old_or_new_artifact_and_resume(tmp_path):
    old, new = mask(10, 64, 48), mask(11, 64, 48)
    hashes = {hashlib.sha256(m.to_bytes()).digest() for m in (old, new)}
    # a small frame size so the transfer spans many round trips
    args = emulator_args(tmp_path, "--max-body", "96")
    with BoardClient.open("emulator", emulator_args=args, progress=False) as board:
        board.flash_mask(old)
    outcomes = []
    for attempt in range(3):
        emulator = EmulatorProcess(args)
        path = emulator.start()
        try:
            board = BoardClient(serial.serial_for_url(path, baudrate=115200, timeout=0.1),
                                progress=False, retries=3)
            board.hello()
            killer = threading.Thread(target=kill_when_staged,
                                      args=(emulator, tmp_path, 500 + 1000 * attempt))
            killer.start()
            try:
                board.flash_mask(new)
                outcomes.append("finished")
            except p.ProtocolError as error:
                assert str(error).startswith("Failed to "), error
                outcomes.append("cut")
            killer.join()
            board.close()
        finally:
            emulator.stop()
        active = FlashStore(str(tmp_path)).read_active(p.Kind.MASK)
        assert hashlib.sha256(active).digest() in hashes
    assert outcomes == ["cut"] * 3
    # after the cuts a fresh emulator resumes (BEGIN answers the persisted offset) and finishes
    staging = FlashStore(str(tmp_path)).staging(p.Kind.MASK)
    with BoardClient.open("emulator", emulator_args=args, progress=False) as board:
        if staging is not None and staging.sha256 == hashlib.sha256(new.to_bytes()).digest():
            begin = board._command(p.Op.BEGIN, p.BEGIN.pack(p.Kind.MASK, staging.length,
                                                            staging.sha256), "begin", 2.0)
            assert p.OFFSET.unpack(begin)[1] == staging.received
        board.flash_mask(new)
        assert board.readback(p.Kind.MASK) == new.to_bytes()


def test_garbage_and_wrong_version_on_a_real_line(tmp_path):
    with EmulatorProcess(emulator_args(tmp_path)) as emulator:
        line = serial.serial_for_url(emulator.path, baudrate=115200, timeout=2.0)
        rng = np.random.default_rng(0)
        line.write(rng.integers(0, 256, 20000, dtype=np.uint8).tobytes())   # noise
        line.write(b"\x00" + encode_frame(p.Op.HELLO, 99, b"\x01", version=9))
        reader = FrameReader(1 << 16)
        deadline = time.monotonic() + 10
        answer = None
        while answer is None and time.monotonic() < deadline:
            for frame in reader.feed(line.read(max(1, line.in_waiting))):
                if frame.seq == 99:
                    answer = frame
        assert answer is not None and answer.op == p.Op.ERROR | p.RESPONSE_BIT
        code, request, message = p.parse_error(answer.body)
        assert code == p.ErrorCode.UNSUPPORTED_VERSION and "version 9" in message
        line.close()
        with BoardClient(serial.serial_for_url(emulator.path, baudrate=115200, timeout=0.1),
                         progress=False) as board:        # still alive and talking
            assert board.hello().board_id == "canopic-emulator"
