"""Artifact formats: round trips (binary, JSON, Intel HEX read back by intelhex itself), and
refusal of invalid tables and masks with errors that name the field."""
import io
import json

import numpy as np
import pytest
from intelhex import IntelHex

import analog
from hil.artifacts import MaskPattern, ThresholdTable
from tests.hil.conftest import mask, table


@pytest.mark.parametrize("suffix", [".bin", ".json", ".hex"])
def test_table_round_trips_through_every_format(tmp_path, suffix):
    original = table(1)
    path = tmp_path / f"t{suffix}"
    original.save(path)
    again = ThresholdTable.load(path)
    assert again.to_bytes() == original.to_bytes()


def test_intel_hex_holds_the_binary_image():
    original = table(2)
    ih = IntelHex()
    ih.loadhex(io.StringIO(original.to_intel_hex()))
    assert ih.tobinstr(start=0, end=ih.maxaddr()) == original.to_bytes()


def test_binary_layout_and_crc_detect_damage():
    data = bytearray(table(3).to_bytes())
    assert data[:4] == b"CNPT" and int.from_bytes(data[6:8], "little") == 15
    assert len(data) == 34 + 2 * 15 + 4
    data[40] ^= 1
    with pytest.raises(ValueError, match="CRC-32 mismatch"):
        ThresholdTable.from_bytes(bytes(data))


def test_codes_match_the_analog_dac_conversion():
    thresholds = np.arange(15) + 0.5
    built = ThresholdTable.from_thresholds(thresholds, 12, 0.0, 1.0)
    np.testing.assert_array_equal(built.codes, analog.thresholds_to_dac_codes(
        thresholds, 12, 0.0, 1.0, full_scale=15.0))
    np.testing.assert_allclose(built.thresholds(), thresholds, atol=15.0 / 4095)
    via_json = ThresholdTable.from_json(json.dumps(
        {"dac_bits": 12, "v_ref_low": 0.0, "v_ref_high": 1.0, "thresholds": list(thresholds)}))
    np.testing.assert_array_equal(via_json.codes, built.codes)


@pytest.mark.parametrize("codes, bits, match", [
    ([10, 20, 20, 30], 12, "not strictly increasing: code 20 at index 2"),
    ([10, 5, 30], 12, "not strictly increasing"),
    ([10, 20, 4096], 12, "code 4096 at index 2 is outside the 12-bit DAC range 0..4095"),
    ([-1, 20], 12, "outside"),
    ([1, 2], 17, "dac_bits: 17 is outside 1..16"),
])
def test_invalid_tables_are_refused_naming_the_problem(codes, bits, match):
    with pytest.raises(ValueError, match=match):
        ThresholdTable(np.array(codes), bits, 0.0, 1.0)


def test_wrong_count_and_reference_refused_against_a_board():
    short = ThresholdTable(np.arange(14) * 100 + 50, 12, 0.0, 1.0)
    with pytest.raises(ValueError, match="count: the table has 14 thresholds.*exactly 15"):
        short.check_against(12, 15, 0.0, 1.0, 15.0)
    with pytest.raises(ValueError, match="dac_bits"):
        table(4, dac_bits=10).check_against(12, 15, 0.0, 1.0, 15.0)
    with pytest.raises(ValueError, match="v_ref_low, v_ref_high"):
        table(4).check_against(12, 15, 0.0, 3.3, 15.0)
    crowded = ThresholdTable(np.arange(15) * 10 + 100, 12, 0.0, 1.0)   # 0.037 LSB apart
    with pytest.raises(ValueError, match="apart; the board's ADC needs at least 0.05"):
        crowded.check_against(12, 15, 0.0, 1.0, 15.0, 0.05)


def test_header_count_lie_is_caught():
    data = bytearray(table(5).to_bytes()[:-4])
    data[6:8] = (16).to_bytes(2, "little")
    from hil.framing import crc32
    data += crc32(bytes(data)).to_bytes(4, "little")
    with pytest.raises(ValueError, match="count: header says 16 codes"):
        ThresholdTable.from_bytes(bytes(data))


def test_mask_round_trip_and_validation(tmp_path):
    original = mask(1, 40, 30, 8)
    original.save(tmp_path / "m.cmask")
    assert MaskPattern.load(tmp_path / "m.cmask").to_bytes() == original.to_bytes()
    np.savez(tmp_path / "m.npz", levels=original.levels, level_count=8)
    np.testing.assert_array_equal(MaskPattern.load(tmp_path / "m.npz").levels, original.levels)
    wide = MaskPattern(np.arange(600).reshape(20, 30) % 300, 300)    # two bytes a level
    assert MaskPattern.from_bytes(wide.to_bytes()).levels.dtype == np.uint16
    with pytest.raises(ValueError, match="levels: values span 0..8; allowed 0..7"):
        MaskPattern(np.arange(9).reshape(3, 3), 8)
    with pytest.raises(ValueError, match="width, height: the mask is 40 x 30"):
        original.check_against(64, 48, 16)
    with pytest.raises(ValueError, match="level_count: 8 levels"):
        original.check_against(40, 30, 4)
