"""Bad input to every ``canopic`` subcommand: one line on stderr naming what is wrong, exit 1.

Each case of :data:`CASES` runs ``canopic.app.cli.main(argv)`` in-process on a file or flag
that is wrong in one way (a truncated .npz, a JSON threshold table with text codes, a folder
where a file goes, an out-of-range number, ...). The command must refuse it before computing
anything: exit code 1, exactly one non-empty line on stderr, no traceback, and the line names
the offending file or option. The heavy steps of each command (training, the Table 1 run, the
detection scenes, the emulator, mask design) are replaced by a sentinel that fails the case as
"accepted": bad input must be refused before them.

Run ``python -m tests.canopic.test_bad_inputs`` for the tally (clear / traceback / accepted).
"""
from __future__ import annotations

import json
import shutil
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from canopic.app.cli import main


class Reached(BaseException):
    """A command got past validation to its computation (the bad input was accepted)."""


@dataclass(frozen=True)
class Case:
    id: str
    argv: str            # split on spaces; {d}: the folder of bad files, {out}: a fresh path
    names: str           # what the error line must name (the file or the option)


#: Every case: (id, command line, the text the one error line must contain).
CASES = [Case(*row) for row in [
    # ---------------------------------------------------------------- simulate
    ("simulate-missing-input", "simulate {d}/missing.png --out {out}", "missing.png"),
    ("simulate-size-not-8", "simulate --size 60 --out {out}", "size"),
    ("simulate-size-zero", "simulate --size 0 --out {out}", "size"),
    ("simulate-unknown-encoder", "simulate --encoder nope --out {out}", "nope"),
    ("simulate-encoder-truncated", "simulate --encoder {d}/enc_trunc.npz --out {out}",
     "enc_trunc.npz"),
    ("simulate-encoder-not-zip", "simulate --encoder {d}/enc_notzip.npz --out {out}",
     "enc_notzip.npz"),
    ("simulate-encoder-no-kernels", "simulate --encoder {d}/enc_nokernels.npz --out {out}",
     "kernels"),
    ("simulate-encoder-1d-kernels", "simulate --encoder {d}/enc_1d.npz --out {out}", "kernels"),
    ("simulate-encoder-text-thresholds", "simulate --encoder {d}/enc_strthr.npz --out {out}",
     "thresholds"),
    ("simulate-encoder-no-json", "simulate --encoder {d}/enc_nojson.npz --out {out}",
     "enc_nojson"),
    ("simulate-encoder-bad-json", "simulate --encoder {d}/enc_badjson.npz --out {out}",
     "enc_badjson.json"),
    ("simulate-encoder-not-a-bundle", "simulate --encoder {d}/adir --out {out}", "adir"),
    ("simulate-config-missing", "simulate --config {d}/missing.json --out {out}",
     "missing.json"),
    ("simulate-config-not-json", "simulate --config {d}/broken.json --out {out}", "broken.json"),
    ("simulate-config-a-list", "simulate --config {d}/list.json --out {out}", "list.json"),
    ("simulate-config-unknown-key", "simulate --config {d}/unknown_key.json --out {out}",
     "nope"),
    ("simulate-config-bad-value", "simulate --config {d}/camera_badvalue.json --out {out}",
     "conv"),
    ("simulate-config-a-folder", "simulate --config {d}/adir --out {out}", "adir"),
    ("simulate-input-not-an-image", "simulate {d}/text.png --out {out}", "text.png"),
    ("simulate-input-empty-folder", "simulate {d}/adir --out {out}", "adir"),
    ("simulate-batch-zero", "simulate --batch 0 --out {out}", "--batch"),
    ("simulate-max-frames-zero", "simulate --max-frames 0 --out {out}", "--max-frames"),
    ("simulate-negative-seed", "simulate --seed -1 --out {out}", "--seed"),
    ("simulate-out-exists", "simulate --out {d}/exists", "exists"),
    ("simulate-device-unknown", "simulate --device tpu --out {out}", "--device"),
    # ---------------------------------------------------------------- design-mask
    ("design-mask-unknown-kernel", "design-mask nope --out {out}", "nope"),
    ("design-mask-truncated-npz", "design-mask {d}/kernel_trunc.npz --out {out}",
     "kernel_trunc.npz"),
    ("design-mask-not-zip-npz", "design-mask {d}/kernel_notzip.npz --out {out}",
     "kernel_notzip.npz"),
    ("design-mask-two-arrays", "design-mask {d}/kernel_two.npz --out {out}", "kernel_two.npz"),
    ("design-mask-1d-kernel", "design-mask {d}/kernel_1d.npz --out {out}", "kernel"),
    ("design-mask-text-npy", "design-mask {d}/kernel_str.npy --out {out}", "kernel_str.npy"),
    ("design-mask-5d-npy", "design-mask {d}/kernel_5d.npy --out {out}", "kernel"),
    ("design-mask-garbage-npy", "design-mask {d}/kernel_garbage.npy --out {out}",
     "kernel_garbage.npy"),
    ("design-mask-pickled-npy", "design-mask {d}/kernel_pickle.npy --out {out}",
     "kernel_pickle.npy"),
    ("design-mask-empty-npy", "design-mask {d}/kernel_empty.npy --out {out}", "kernel"),
    ("design-mask-txt", "design-mask {d}/text.txt --out {out}", "text.txt"),
    ("design-mask-a-folder", "design-mask {d}/adir --out {out}", "adir"),
    ("design-mask-bad-wavelengths", "design-mask gaussian63 --wavelengths abc --out {out}",
     "wavelengths"),
    ("design-mask-mask-size-zero", "design-mask gaussian63 --mask-size 0 --out {out}",
     "mask"),
    ("design-mask-gs-iterations-zero", "design-mask bars11 --gs-iterations 0 --out {out}",
     "gs-iterations"),
    ("design-mask-learning-rate-nan", "design-mask bars11 --learning-rate nan --out {out}",
     "learning"),
    ("design-mask-negative-seed", "design-mask bars11 --seed -1 --out {out}", "--seed"),
    ("design-mask-out-exists", "design-mask bars11 --out {d}/exists", "exists"),
    # ---------------------------------------------------------------- export-mask
    ("export-mask-missing-design", "export-mask {d}/missing --out {out}", "missing"),
    ("export-mask-not-a-design", "export-mask {d}/adir --out {out}", "adir"),
    ("export-mask-design-json-broken", "export-mask {d}/mdesign_badjson --out {out}",
     "design.json"),
    ("export-mask-design-json-a-list", "export-mask {d}/mdesign_list --out {out}",
     "design.json"),
    ("export-mask-other-schema", "export-mask {d}/mdesign_schema --out {out}", "schema"),
    ("export-mask-no-files-entry", "export-mask {d}/mdesign_nofiles --out {out}", "files"),
    ("export-mask-truncated-npz", "export-mask {d}/mdesign_trunc --out {out}", "design.npz"),
    ("export-mask-out-exists", "export-mask {d}/mdesign_good --out {d}/exists", "exists"),
    # ---------------------------------------------------------------- train
    ("train-config-missing", "train --config {d}/missing.json --out {out}", "missing.json"),
    ("train-config-yaml", "train --config {d}/config.yaml --out {out}", "config.yaml"),
    ("train-config-not-json", "train --config {d}/broken.json --out {out}", "broken.json"),
    ("train-config-a-list", "train --config {d}/list.json --out {out}", "list.json"),
    ("train-config-unknown-key", "train --config {d}/unknown_key.json --out {out}", "nope"),
    ("train-config-a-folder", "train --config {d}/adir --out {out}", "adir"),
    ("train-alternations-zero", "train --alternations 0 --out {out}", "alternations"),
    ("train-odd-batch", "train --batch-size 3 --out {out}", "batch_size"),
    ("train-negative-alpha", "train --alpha -1 --out {out}", "alpha"),
    ("train-psf-sigma-zero", "train --psf-sigma 0 --out {out}", "psf_sigma"),
    ("train-psf-sigma-conv4", "train --conv conv4 --psf-sigma 4 --out {out}", "psf_sigma"),
    ("train-factorised-nonnegative", "train --psf-parameterisation factorised --kernel-mode "
                                     "nonnegative --out {out}", "psf_parameterisation"),
    ("train-device-unknown", "train --device tpu --out {out}", "device"),
    ("train-faces-truncated", "train --faces {d}/faces_trunc.npz --out {out}",
     "faces_trunc.npz"),
    ("train-faces-unknown", "train --faces nope_set --out {out}", "nope_set"),
    ("train-negative-seed", "train --seed -1 --out {out}", "seed"),
    ("train-threads-zero", "train --threads 0 --out {out}", "--threads"),
    ("train-resume-nothing", "train --resume --out {out}", "checkpoint"),
    ("train-out-a-file", "train --out {d}/afile.txt", "afile.txt"),
    # ---------------------------------------------------------------- table1
    ("table1-seeds-zero", "table1 --quick --seeds 0 --out {out}", "--seeds"),
    ("table1-workers-zero", "table1 --quick --workers 0 --out {out}", "--workers"),
    ("table1-threads-negative", "table1 --quick --threads -1 --out {out}", "--threads"),
    ("table1-unknown-row", "table1 --quick --rows nope --out {out}", "--rows"),
    ("table1-unknown-attack", "table1 --quick --attacks nope --out {out}", "--attacks"),
    ("table1-blur-sigmas-text", "table1 --quick --blur-sigmas abc --out {out}",
     "--blur-sigmas"),
    ("table1-pixelate-zero", "table1 --quick --pixelate-blocks 0 --out {out}",
     "--pixelate-blocks"),
    ("table1-pixelate-too-big", "table1 --quick --pixelate-blocks 64 --rows clean --out {out}",
     "--pixelate-blocks"),
    ("table1-alternating-unknown", "table1 --quick --alternating foo=1 --out {out}",
     "--alternating"),
    ("table1-alternating-bad-value", "table1 --quick --alternating encoder_epochs=-3 --out {out}",
     "encoder_epochs"),
    ("table1-budget-text", "table1 --quick --budget cnn_epochs=x --out {out}", "--budget"),
    ("table1-camera-without-learned", "table1 --quick --camera min_threshold_spacing=0.5 "
     "--rows clean --out {out}", "--camera"),
    ("table1-device-unknown", "table1 --quick --device tpu --out {out}", "device"),
    ("table1-faces-truncated", "table1 --quick --faces {d}/faces_trunc.npz --rows clean "
     "--out {out}", "faces_trunc.npz"),
    ("table1-out-a-file", "table1 --quick --rows clean --out {d}/afile.txt", "afile.txt"),
    # ---------------------------------------------------------------- evaluate
    ("evaluate-unknown-encoder", "evaluate nope --quick --out {out}", "nope"),
    ("evaluate-blur-not-a-number", "evaluate blur:abc --quick --out {out}", "blur:abc"),
    ("evaluate-not-a-bundle", "evaluate {d}/adir --quick --out {out}", "adir"),
    ("evaluate-truncated-bundle", "evaluate {d}/bundle_trunc --quick --out {out}",
     "thresholds.npz"),
    ("evaluate-seeds-zero", "evaluate clean --quick --seeds 0 --out {out}", "--seeds"),
    ("evaluate-threads-negative", "evaluate clean --quick --threads -1 --out {out}",
     "--threads"),
    ("evaluate-negative-seed", "evaluate clean --quick --seed -1 --out {out}", "--seed"),
    ("evaluate-device-unknown", "evaluate clean --quick --device tpu --out {out}", "device"),
    ("evaluate-out-exists", "evaluate clean --quick --out {d}/exists", "exists"),
    # ---------------------------------------------------------------- detect-eval
    ("detect-eval-unknown-config", "detect-eval --quick --configs sepia --out {out}", "sepia"),
    ("detect-eval-truncated-encoder", "detect-eval --quick --configs {d}/enc_trunc.npz "
     "--out {out}", "enc_trunc.npz"),
    ("detect-eval-train-scenes-zero", "detect-eval --quick --train-scenes 0 --out {out}",
     "--train-scenes"),
    ("detect-eval-test-scenes-zero", "detect-eval --quick --test-scenes 0 --out {out}",
     "--test-scenes"),
    ("detect-eval-epochs-zero", "detect-eval --quick --epochs 0 --out {out}", "--epochs"),
    ("detect-eval-negative-seed", "detect-eval --quick --seed -1 --out {out}", "--seed"),
    ("detect-eval-out-a-file", "detect-eval --quick --out {d}/afile.txt", "afile.txt"),
    # ---------------------------------------------------------------- export-tables
    ("export-tables-missing-design", "export-tables {d}/missing --out {out}", "missing"),
    ("export-tables-not-a-bundle", "export-tables {d}/adir --out {out}", "adir"),
    ("export-tables-json-broken", "export-tables {d}/bundle_badjson --out {out}",
     "design.json"),
    ("export-tables-json-a-list", "export-tables {d}/bundle_list --out {out}", "design.json"),
    ("export-tables-other-schema", "export-tables {d}/bundle_schema --out {out}", "schema"),
    ("export-tables-listed-file-missing", "export-tables {d}/bundle_missing --out {out}",
     "thresholds.npz"),
    ("export-tables-truncated-npz", "export-tables {d}/bundle_trunc --out {out}",
     "thresholds.npz"),
    ("export-tables-dac-bits-zero", "export-tables {d}/bundle_good --dac-bits 0 --out {out}",
     "dac"),
    ("export-tables-bad-unit", "export-tables {d}/bundle_good --v-ref-low 1parsec --out {out}",
     "--v-ref-low"),
    ("export-tables-refs-reversed", "export-tables {d}/bundle_good --v-ref-low 2V --out {out}",
     "v_ref"),
    ("export-tables-unknown-format", "export-tables {d}/bundle_good --formats pdf --out {out}",
     "pdf"),
    ("export-tables-out-exists", "export-tables {d}/bundle_good --out {d}/exists", "exists"),
    # ---------------------------------------------------------------- flash
    ("flash-nothing", "flash --port emulator", "--thresholds"),
    ("flash-codes-text", "flash --port emulator --thresholds {d}/codes_text.json",
     "codes_text.json"),
    ("flash-codes-null", "flash --port emulator --thresholds {d}/codes_null.json",
     "codes_null.json"),
    ("flash-table-a-list", "flash --port emulator --thresholds {d}/list.json", "list.json"),
    ("flash-dac-bits-text", "flash --port emulator --thresholds {d}/dacbits_text.json",
     "dacbits_text.json"),
    ("flash-table-empty", "flash --port emulator --thresholds {d}/empty.json", "empty.json"),
    ("flash-table-not-utf8", "flash --port emulator --thresholds {d}/latin1.json",
     "latin1.json"),
    ("flash-table-a-folder", "flash --port emulator --thresholds {d}/adir", "adir"),
    ("flash-table-missing", "flash --port emulator --thresholds {d}/missing.bin", "missing.bin"),
    ("flash-table-garbage-bin", "flash --port emulator --thresholds {d}/garbage.bin",
     "garbage.bin"),
    ("flash-table-garbage-hex", "flash --port emulator --thresholds {d}/garbage.hex",
     "garbage.hex"),
    ("flash-mask-truncated-npz", "flash --port emulator --mask {d}/mask_trunc.npz",
     "mask_trunc.npz"),
    ("flash-mask-not-zip", "flash --port emulator --mask {d}/mask_notzip.npz",
     "mask_notzip.npz"),
    ("flash-mask-no-level-count", "flash --port emulator --mask {d}/mask_nolevel.npz",
     "mask_nolevel.npz"),
    ("flash-mask-level-count-two", "flash --port emulator --mask {d}/mask_lc2.npz",
     "mask_lc2.npz"),
    ("flash-mask-1d-levels", "flash --port emulator --mask {d}/mask_1d.npz", "mask_1d.npz"),
    ("flash-mask-float-levels", "flash --port emulator --mask {d}/mask_float.npz",
     "mask_float.npz"),
    ("flash-mask-unknown-kind", "flash --port emulator --mask {d}/mask_kind.npz",
     "mask_kind.npz"),
    ("flash-mask-text-pitch", "flash --port emulator --mask {d}/mask_textpitch.npz",
     "mask_textpitch.npz"),
    ("flash-mask-pickled", "flash --port emulator --mask {d}/mask_pickle.npz",
     "mask_pickle.npz"),
    ("flash-mask-garbage-binary", "flash --port emulator --mask {d}/garbage.cmask",
     "garbage.cmask"),
    ("flash-mask-a-folder", "flash --port emulator --mask {d}/adir", "adir"),
    ("flash-bad-vid", "flash --port auto --vid zz --thresholds {d}/good.json", "--vid"),
    ("flash-no-such-port", "flash --port {d}/no_such_tty --thresholds {d}/good.json",
     "no_such_tty"),
    ("flash-baud-zero", "flash --port emulator --baud 0 --thresholds {d}/good.json", "--baud"),
    # ---------------------------------------------------------------- capture
    ("capture-scene-size-60", "capture --port emulator --scene-size 60 --out {out}.npz",
     "--scene-size"),
    ("capture-scene-missing", "capture --port emulator --scene {d}/missing.png --out {out}.npz",
     "missing.png"),
    ("capture-scene-garbage-npy", "capture --port emulator --scene {d}/kernel_garbage.npy "
     "--out {out}.npz", "kernel_garbage.npy"),
    ("capture-scene-pickled-npy", "capture --port emulator --scene {d}/kernel_pickle.npy "
     "--out {out}.npz", "kernel_pickle.npy"),
    ("capture-scene-float-npy", "capture --port emulator --scene {d}/kernel_5d.npy "
     "--out {out}.npz", "--scene"),
    ("capture-scene-a-folder", "capture --port emulator --scene {d}/adir --out {out}.npz",
     "adir"),
    ("capture-negative-seed", "capture --port emulator --seed -1 --out {out}.npz", "--seed"),
    ("capture-out-exists", "capture --port emulator --out {d}/exists.npz", "exists.npz"),
    # ---------------------------------------------------------------- board-emulator
    ("board-emulator-mask-size-text", "board-emulator --flash-dir {out} --mask-size abc",
     "--mask-size"),
    ("board-emulator-mask-size-zero", "board-emulator --flash-dir {out} --mask-size 0x10",
     "--mask-size"),
    ("board-emulator-max-body-small", "board-emulator --flash-dir {out} --max-body 10",
     "--max-body"),
    ("board-emulator-mask-levels-one", "board-emulator --flash-dir {out} --mask-levels 1",
     "mask-levels"),
    ("board-emulator-dac-bits-99", "board-emulator --flash-dir {out} --dac-bits 99",
     "dac-bits"),
    ("board-emulator-drop-rate-2", "board-emulator --flash-dir {out} --drop-rate 2",
     "drop-rate"),
    ("board-emulator-unknown-camera", "board-emulator --flash-dir {out} --camera nope", "nope"),
    ("board-emulator-flash-dir-a-file", "board-emulator --flash-dir {d}/afile.txt",
     "afile.txt"),
    # ---------------------------------------------------------------- ports
    ("ports-bad-vid", "ports --vid zz", "--vid"),
    ("ports-pid-too-big", "ports --pid 123456", "--pid"),
    # ---------------------------------------------------------------- demo
    ("demo-negative-seed", "demo --profile tiny --seed -1 --out {out}", "--seed"),
    ("demo-alpha-nan", "demo --profile tiny --alpha nan --out {out}", "alpha"),
    ("demo-alpha-negative", "demo --profile tiny --alpha -1 --out {out}", "alpha"),
    ("demo-no-such-port", "demo --profile tiny --port {d}/no_such_tty --out {out}",
     "no_such_tty"),
    ("demo-out-a-file", "demo --profile tiny --out {d}/afile.txt", "afile.txt"),
    ("demo-device-unknown", "demo --profile tiny --device tpu --out {out}", "device"),
]]


# ----------------------------------------------------------------------------- bad files
def _truncated(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _npz(path: Path, truncate: bool = False, **arrays) -> Path:
    np.savez(path, **arrays)
    if truncate:
        _truncated(path)
    return path


def _encoder_json(path: Path) -> None:
    from canopic.core.paths import reference_encoder_dir

    shutil.copy(reference_encoder_dir() / "Learned_Conv1_Maxpool_Quantize_alpha1.json",
                path.with_suffix(".json"))


def _design_bundle(folder: Path, manifest, thresholds_bytes: "bytes | None" = None) -> None:
    from canopic.core.files import sha256_file

    folder.mkdir()
    if thresholds_bytes is not None:
        (folder / "thresholds.npz").write_bytes(thresholds_bytes)
        manifest["files"] = {"thresholds.npz": {"sha256": sha256_file(folder / "thresholds.npz")}}
    text = manifest if isinstance(manifest, str) else json.dumps(manifest)
    (folder / "design.json").write_text(text)


def make_bad_files(d: Path) -> None:
    """Write every bad file the cases name into ``d``."""
    from hil.artifacts import ThresholdTable
    from optics.realise import DESIGN_SCHEMA
    from sensor.design_bundle import SCHEMA, SCHEMA_VERSION

    d.mkdir(parents=True, exist_ok=True)
    (d / "adir").mkdir()
    (d / "exists").mkdir()
    (d / "exists" / "keep.txt").write_text("do not overwrite")
    (d / "exists.npz").write_bytes(b"an earlier capture")
    (d / "afile.txt").write_text("a file where a folder goes")
    (d / "text.png").write_text("not an image")
    (d / "text.txt").write_text("not a kernel")
    (d / "broken.json").write_text("{")
    (d / "list.json").write_text("[1, 2, 3]")
    (d / "unknown_key.json").write_text('{"nope": 1}')
    (d / "camera_badvalue.json").write_text('{"conv": "conv9"}')
    (d / "config.yaml").write_text("seed: 1\n")
    ThresholdTable(np.arange(1, 16) * 200, 12, 0.0, 1.0).save(d / "good.json")
    table = {"dac_bits": 12, "v_ref_low": 0, "v_ref_high": 1}
    (d / "codes_text.json").write_text(json.dumps({**table, "codes": ["a", "b"]}))
    (d / "codes_null.json").write_text(json.dumps({**table, "codes": None}))
    (d / "dacbits_text.json").write_text(json.dumps({**table, "dac_bits": "twelve",
                                                     "codes": [1, 2]}))
    (d / "empty.json").write_text("")
    (d / "latin1.json").write_bytes(b"\xff\xfe{}")
    (d / "garbage.bin").write_bytes(b"\x00garbage" * 8)
    (d / "garbage.hex").write_text("hello\n")
    (d / "garbage.cmask").write_bytes(b"\x01mask?" * 8)
    levels = np.zeros((4, 4), dtype=np.int64)
    _npz(d / "mask_trunc.npz", True, levels=levels, level_count=4)
    (d / "mask_notzip.npz").write_text("not a zip archive")
    _npz(d / "mask_nolevel.npz", levels=levels)
    _npz(d / "mask_lc2.npz", levels=levels, level_count=np.array([4, 4]))
    _npz(d / "mask_1d.npz", levels=np.zeros(4, dtype=np.int64), level_count=4)
    _npz(d / "mask_float.npz", levels=levels.astype(float), level_count=4)
    _npz(d / "mask_kind.npz", levels=levels, level_count=4, kind="sepia")
    _npz(d / "mask_textpitch.npz", levels=levels, level_count=4, pixel_pitch="wide")
    _npz(d / "mask_pickle.npz", levels=np.array([{"a": 1}], dtype=object), level_count=4)
    kernels = np.ones((1, 1, 5, 5))
    for name, arrays, truncate in [
            ("enc_trunc", dict(kernels=kernels, thresholds=np.arange(15.0)), True),
            ("enc_nokernels", dict(thresholds=np.arange(15.0)), False),
            ("enc_1d", dict(kernels=np.ones(5), thresholds=np.arange(15.0)), False),
            ("enc_strthr", dict(kernels=kernels, thresholds=np.array(["x"] * 15)), False),
            ("enc_badjson", dict(kernels=kernels, thresholds=np.arange(15.0)), False)]:
        _encoder_json(_npz(d / f"{name}.npz", truncate, **arrays))
    (d / "enc_badjson.json").write_text("{")
    (d / "enc_notzip.npz").write_text("not a zip archive")
    _encoder_json(d / "enc_notzip.npz")
    _npz(d / "enc_nojson.npz", kernels=kernels, thresholds=np.arange(15.0))
    _npz(d / "kernel_trunc.npz", True, kernels=kernels)
    (d / "kernel_notzip.npz").write_text("not a zip archive")
    _npz(d / "kernel_two.npz", a=np.ones((5, 5)), b=np.ones((5, 5)))
    _npz(d / "kernel_1d.npz", kernels=np.ones(5))
    np.save(d / "kernel_str.npy", np.array([["a", "b"], ["c", "d"]]))
    np.save(d / "kernel_5d.npy", np.ones((1, 2, 3, 4, 5)))
    (d / "kernel_garbage.npy").write_bytes(b"\x93NUMPY garbage")
    np.save(d / "kernel_pickle.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    np.save(d / "kernel_empty.npy", np.zeros((0,)))
    _npz(d / "faces_trunc.npz", True, images=np.zeros((4, 64, 64, 3), np.uint8),
         labels=np.arange(4))
    # mask-design folders (export-mask)
    for name, text in [("mdesign_badjson", "{"), ("mdesign_list", "[1]"),
                       ("mdesign_schema", json.dumps({"schema": "other"})),
                       ("mdesign_nofiles", json.dumps({"schema": DESIGN_SCHEMA})),
                       ("mdesign_trunc", json.dumps({"schema": DESIGN_SCHEMA, "files": []}))]:
        (d / name).mkdir()
        (d / name / "design.json").write_text(text)
    _npz(d / "mdesign_trunc" / "design.npz", True, heights=np.zeros((1, 8, 8)))
    _mask_design(d / "mdesign_good")
    # design bundles (export-tables)
    good = {"schema": SCHEMA, "schema_version": SCHEMA_VERSION, "camera_config": {},
            "alpha": 1.0, "seed": 0}
    _design_bundle(d / "bundle_badjson", "{")
    _design_bundle(d / "bundle_list", "[1]")
    _design_bundle(d / "bundle_schema", {"schema": "other"})
    _design_bundle(d / "bundle_missing", {**good, "files": {"thresholds.npz": {"sha256": "0"}}})
    npz = _npz(d / "thresholds_trunc.npz", True, thresholds=np.arange(15.0)).read_bytes()
    _design_bundle(d / "bundle_trunc", dict(good), thresholds_bytes=npz)
    npz = _npz(d / "thresholds_good.npz", thresholds=np.arange(15.0) + 0.5).read_bytes()
    _design_bundle(d / "bundle_good", dict(good), thresholds_bytes=npz)


def _mask_design(folder: Path) -> None:
    """A small valid design folder (what design-mask writes, as far as export-mask reads)."""
    from canopic.core.files import sha256_file
    from optics.design import MaskGeometry
    from optics.realise import DESIGN_SCHEMA, geometry_to_dict

    folder.mkdir()
    _npz(folder / "design.npz", heights=np.zeros((1, 64, 64)), targets=np.ones((1, 5, 5)) / 25,
         kernel=np.ones((1, 5, 5)) / 25, names=np.array(["f0"]), filters=np.array([0]),
         parts=np.array(["single"]))
    report = {"schema": DESIGN_SCHEMA, "geometry": geometry_to_dict(MaskGeometry(mask_size=64)),
              "files": [{"path": "design.npz", "sha256": sha256_file(folder / "design.npz")}]}
    (folder / "design.json").write_text(json.dumps(report))


# ----------------------------------------------------------------------------- running one
def _sentinel(what: str):
    def reached(*args, **kwargs):
        raise Reached(what)
    return reached


def guard_computation(monkeypatch) -> None:
    """Replace each command's heavy step by a sentinel: bad input must stop before it."""
    import hil.emulator
    import learn.alternating
    import learn.detection.experiment
    import learn.table1
    import optics.design
    import optics.realise
    import canopic.app.demo
    import learn.evaluate_one

    monkeypatch.setattr(learn.evaluate_one, "evaluate_one", _sentinel("evaluation"))
    monkeypatch.setattr(learn.alternating.AlternatingTrainer, "run_alternation",
                        _sentinel("training"))
    monkeypatch.setattr(learn.table1, "run_table1", _sentinel("table1"))
    monkeypatch.setattr(learn.detection.experiment, "detection_scene_sets",
                        _sentinel("detection scenes"))
    monkeypatch.setattr(hil.emulator, "serve_pty", _sentinel("emulator serving"))
    monkeypatch.setattr(hil.emulator.EmulatorProcess, "start", _sentinel("emulator start"))
    monkeypatch.setattr(optics.realise, "realise", _sentinel("mask design"))
    monkeypatch.setattr(optics.design, "design_psf", _sentinel("mask export"))
    monkeypatch.setattr(canopic.app.demo, "train_stage", _sentinel("demo training"))


def argv_of(case: Case, d: Path, out: Path) -> "list[str]":
    return [part.format(d=d, out=out) for part in case.argv.split()]


def run_case(case: Case, d: Path, out: Path, capsys) -> dict:
    """Run one case; return its outcome: kind (clear, traceback, accepted, other), code, err.

    ``capsys`` is pytest's capsys or capfd (capfd also sees what C libraries write to fd 2).
    """
    capsys.readouterr()
    argv = argv_of(case, d, out)
    try:
        code = main(argv)
    except Reached as reached:
        return {"kind": "accepted", "detail": f"reached {reached}", "err": ""}
    except SystemExit as exit_info:
        err = capsys.readouterr().err
        return {"kind": "other", "detail": f"SystemExit({exit_info.code})", "err": err}
    except Exception as error:  # noqa: BLE001 - what the user would see as a traceback
        return {"kind": "traceback", "detail": f"{type(error).__name__}: {error}", "err": ""}
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    if code == 0:
        return {"kind": "accepted", "detail": "exit 0", "err": err}
    if "Traceback" in err:
        return {"kind": "traceback", "detail": err[-300:], "err": err}
    if code == 1 and len(lines) == 1 and "(unexpected;" in lines[0]:
        # the boundary caught an exception nobody anticipated: a traceback in all but form
        return {"kind": "traceback", "detail": lines[0], "err": err}
    if code == 1 and len(lines) == 1:
        return {"kind": "clear", "named": case.names in lines[0], "detail": lines[0], "err": err}
    return {"kind": "other", "detail": f"exit {code}, {len(lines)} lines", "err": err}


@pytest.fixture(scope="module")
def bad_files(tmp_path_factory):
    d = tmp_path_factory.mktemp("bad")
    make_bad_files(d)
    return d


def test_the_table_is_large_and_covers_every_command():
    from canopic.app.cli import build_parser

    assert len(CASES) >= 60
    assert len({case.id for case in CASES}) == len(CASES)
    commands = {case.argv.split()[0] for case in CASES}
    parser = build_parser()
    subparsers = next(a for a in parser._actions if a.dest == "command")
    assert commands == set(subparsers.choices)


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_bad_input_is_one_clear_line(case, bad_files, tmp_path, capfd, monkeypatch):
    guard_computation(monkeypatch)
    outcome = run_case(case, bad_files, tmp_path / "out", capfd)
    assert outcome["kind"] == "clear", outcome["detail"]
    assert outcome["named"], f"the error does not name {case.names!r}: {outcome['detail']}"
    assert (bad_files / "exists" / "keep.txt").read_text() == "do not overwrite"


def test_debug_shows_the_traceback(bad_files, tmp_path):
    with pytest.raises(ValueError, match="mask_notzip.npz"):
        main(["flash", "--port", "emulator", "--mask", str(bad_files / "mask_notzip.npz"),
              "--debug"])


def test_an_interrupt_is_one_line_and_exit_130(monkeypatch, capsys):
    import hil.ports

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt
    monkeypatch.setattr(hil.ports, "find_ports", interrupted)
    assert main(["ports"]) == 130
    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert lines == ["canopic ports: interrupted"]


def test_an_unexpected_error_is_one_line_naming_its_type(monkeypatch, capsys):
    import hil.ports

    def broken(*args, **kwargs):
        raise ZeroDivisionError("division by zero")
    monkeypatch.setattr(hil.ports, "find_ports", broken)
    assert main(["ports"]) == 1
    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(lines) == 1 and "ZeroDivisionError: division by zero" in lines[0]
    assert "--debug" in lines[0]


def tally(cases=CASES) -> "dict[str, list]":
    """Run every case outside pytest; outcomes grouped by kind (for the tally in reports)."""
    import tempfile

    class Capsys:
        """Just enough of pytest's capsys: stderr captured per case."""

        def __init__(self):
            import io
            import sys
            self.sys, self.io = sys, io
            self.err = io.StringIO()
            self.sys.stderr = self.err

        def readouterr(self):
            class Result:
                pass
            result = Result()
            result.err, self.err = self.err.getvalue(), self.io.StringIO()
            self.sys.stderr = self.err
            return result

    class Patch:
        def __init__(self):
            self.undo = []

        def setattr(self, target, name, value):
            self.undo.append((target, name, target.__dict__.get(name)))
            setattr(target, name, value)

    import sys
    import io
    import contextlib
    groups: "dict[str, list]" = {}
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp) / "bad"
        make_bad_files(d)
        stderr = sys.stderr
        patch = Patch()
        guard_computation(patch)
        try:
            for index, case in enumerate(cases):
                capsys = Capsys()
                with contextlib.redirect_stdout(io.StringIO()):
                    outcome = run_case(case, d, Path(tmp) / f"out{index}", capsys)
                sys.stderr = stderr
                kind = outcome["kind"]
                if kind == "clear" and not outcome["named"]:
                    kind = "clear, not naming " + case.names
                groups.setdefault(kind, []).append((case.id, outcome["detail"][:160]))
        finally:
            sys.stderr = stderr
    return groups


if __name__ == "__main__":
    import logging

    logging.disable(logging.CRITICAL)
    for kind, items in sorted(tally().items()):
        print(f"== {kind}: {len(items)}")
        for case_id, detail in items:
            print(f"   {case_id}: {detail}")
