"""hil.tables and ``canopic export-tables``: a learned design's thresholds as flashable tables."""
from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest

from canopic.app.cli import main
from hil.artifacts import ThresholdTable
from hil.tables import export_tables
from sensor import Camera, CameraConfig
from sensor.design_bundle import save_design_bundle

#: Thresholds in ADC input units, chosen so that each lands between DAC codes.
THRESHOLDS = [0.4, 1.3, 2.2, 3.1, 4.05, 5.5, 6.7, 7.25, 8.1, 9.9, 10.3, 11.6, 12.45, 13.8, 14.6]


@pytest.fixture
def design(tmp_path):
    camera = Camera(CameraConfig(conv="none", thresholds=THRESHOLDS))
    save_design_bundle(camera, tmp_path / "design", alpha=1.0, seed=0)
    return tmp_path / "design"


def test_codes_follow_the_dac_transfer_and_every_file_reads_back(design, tmp_path):
    manifest = export_tables(design, tmp_path / "tables", dac_bits=12, v_ref_low=0.0,
                             v_ref_high=1.0)
    # the ideal DAC by hand: input t of full scale 15 over 0..1 V, LSB = 1 V / 4096
    expected = np.rint(np.array(THRESHOLDS) / 15.0 * 4096).astype(int)
    assert manifest["codes"] == expected.tolist()
    assert manifest["max_error"] <= 15.0 / 4096 / 2 + 1e-12
    np.testing.assert_allclose(manifest["thresholds"], THRESHOLDS, atol=1e-6)
    assert {entry["path"] for entry in manifest["files"]} == {"thresholds.bin",
                                                              "thresholds.json", "thresholds.hex"}
    for entry in manifest["files"]:
        path = tmp_path / "tables" / entry["path"]
        assert hashlib.sha256(path.read_bytes()).hexdigest() == entry["sha256"]
        assert ThresholdTable.load(path).codes.tolist() == expected.tolist()
    assert json.loads((tmp_path / "tables" / "manifest.json").read_text()) == manifest
    assert ThresholdTable.from_design_bundle(design).codes.tolist() == expected.tolist()


def test_export_tables_command_writes_tables_and_the_board_checks_them(design, tmp_path, capsys):
    flash = ["flash", "--port", "emulator", "--emulator-flash-dir", str(tmp_path / "flash"),
             "--no-progress", "--thresholds"]
    out = tmp_path / "tables10"
    assert main(["export-tables", str(design), "--out", str(out), "--dac-bits", "10",
                 "--v-ref-high", "3.3V", "--formats", "bin,json"]) == 0
    assert "thresholds.bin" in capsys.readouterr().out
    assert sorted(p.name for p in out.iterdir()) == ["manifest.json", "thresholds.bin",
                                                     "thresholds.json"]
    table = ThresholdTable.load(out / "thresholds.bin")
    assert (table.dac_bits, table.v_ref_high) == (10, 3.3)
    assert main(flash + [str(out / "thresholds.bin")]) == 1          # the emulated DAC: 12 bits
    assert "10-bit DAC" in capsys.readouterr().err
    assert main(["export-tables", str(design), "--out", str(tmp_path / "tables")]) == 0
    assert main(flash + [str(tmp_path / "tables" / "thresholds.bin")]) == 0
    assert "verified by readback" in capsys.readouterr().out


@pytest.mark.parametrize("case, message", [
    ("no_adc", "has no ADC"),
    ("not_a_bundle", "not a design bundle"),
    ("exists", "exists"),
    ("format", "allowed: a non-empty subset"),
])
def test_bad_exports_fail_with_one_clear_line_and_write_nothing(case, message, tmp_path, capsys):
    design = tmp_path / "design"
    if case == "no_adc":
        save_design_bundle(Camera(CameraConfig(conv="none", quantize=False)), design, 1.0, 0)
    elif case != "not_a_bundle":
        save_design_bundle(Camera(CameraConfig(conv="none")), design, 1.0, 0)
    else:
        design.mkdir()
    out = tmp_path / "tables"
    if case == "exists":
        out.mkdir()
    args = ["export-tables", str(design), "--out", str(out)]
    args += ["--formats", "bin,srec"] if case == "format" else []
    assert main(args) == 1
    error = capsys.readouterr().err.strip()
    assert message in error and len(error.splitlines()) == 1 and "Traceback" not in error
    assert not (tmp_path / "tables.part").exists()
    if case != "exists":
        assert not out.exists()
