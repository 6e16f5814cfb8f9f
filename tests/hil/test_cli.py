"""The commands: flash and capture with --port emulator, help texts, clear errors."""
import numpy as np
import pytest

from canopic.app.cli import main
from tests.hil.conftest import table


@pytest.mark.parametrize("command", ["flash", "capture", "board-emulator", "ports"])
def test_help(command, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main([command, "--help"])
    assert exit_info.value.code == 0
    assert "--" in capsys.readouterr().out


def test_flash_then_capture_with_a_started_emulator(tmp_path, capsys):
    flash_dir = str(tmp_path / "board")
    table(1).save(tmp_path / "t.json")
    assert main(["flash", "--port", "emulator", "--emulator-flash-dir", flash_dir,
                 "--thresholds", str(tmp_path / "t.json"), "--no-progress"]) == 0
    assert "verified by readback" in capsys.readouterr().out
    out = tmp_path / "codes.npz"
    assert main(["capture", "--port", "emulator", "--emulator-flash-dir", flash_dir,
                 "--out", str(out)]) == 0
    with np.load(out, allow_pickle=False) as saved:
        assert saved["codes"].shape == (1, 12, 8, 8) and saved["codes"].max() <= 15


def test_bad_input_is_a_clear_error(tmp_path, capsys):
    bad = tmp_path / "bad.json"
    bad.write_text('{"dac_bits": 12, "v_ref_low": 0, "v_ref_high": 1, "codes": [5, 3]}')
    assert main(["flash", "--port", "emulator", "--thresholds", str(bad)]) == 1
    assert "not strictly increasing" in capsys.readouterr().err
    assert main(["flash", "--port", "auto", "--vid", "zz", "--thresholds", str(bad)]) == 1
    assert "--vid: 'zz' is not a hexadecimal USB id" in capsys.readouterr().err
