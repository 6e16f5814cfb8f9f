"""DAC threshold tables: closed-form codes, exact round trip, errors."""
import numpy as np
import pytest

import analog


def test_closed_form_codes():
    # 8-bit DAC 0..3.3 V, thresholds in [0, 15] -> volts t / 15 * 3.3 -> code t / 15 * 256
    thresholds = np.array([0.0, 7.5, 14.9])
    codes = analog.thresholds_to_dac_codes(thresholds, 8, 0.0, "3.3V")
    assert codes.dtype == np.uint16
    assert codes.tolist() == [0, 128, round(14.9 / 15 * 256)]
    # ADC input range 0.5..2.5 V inside a 0..3.3 V, 12-bit DAC
    codes = analog.thresholds_to_dac_codes([0.0, 15.0], 12, "0V", "3.3V", input_low="0.5V",
                                           input_high="2.5V")
    assert codes.tolist() == [round(0.5 / 3.3 * 4096), round(2.5 / 3.3 * 4096)]
    volts = analog.dac_code_voltages(codes, 12, 0.0, 3.3)
    assert np.allclose(volts, [0.5, 2.5], atol=3.3 / 4096 / 2)


@pytest.mark.parametrize("bits", [4, 6, 8, 10, 12, 16])
def test_round_trip_codes_thresholds_codes_is_exact(bits):
    rng = np.random.default_rng(bits)
    for _ in range(20):
        codes = np.sort(rng.choice(2 ** bits, size=15, replace=False)).astype(np.uint16)
        for refs in ((0.0, 3.3), (-1.2, 2.048)):
            thresholds = analog.dac_codes_to_thresholds(codes, bits, *refs)
            back = analog.thresholds_to_dac_codes(thresholds, bits, *refs)
            assert np.array_equal(back, codes)
            # and through the ADC module (its parameterisation) when thresholds are inside
            if thresholds.min() >= 0 and thresholds.max() <= 15 and np.diff(thresholds).min() > 0.01:
                adc = analog.FlashADC(thresholds=thresholds, min_spacing=0.01)
                again = analog.thresholds_to_dac_codes(adc.thresholds.detach().numpy(), bits,
                                                       *refs)
                assert np.array_equal(again, codes)


def test_threshold_to_code_error_is_at_most_half_an_lsb():
    thresholds = np.linspace(0.2, 14.8, 15)
    codes = analog.thresholds_to_dac_codes(thresholds, 10, 0.0, 1.0)
    back = analog.dac_codes_to_thresholds(codes, 10, 0.0, 1.0)
    assert np.abs(back - thresholds).max() <= 15 / 1024 / 2 + 1e-12


@pytest.mark.parametrize("call, message", [
    (lambda: analog.thresholds_to_dac_codes([1.0], 0, 0, 1), r"dac_bits.*1\.\.16"),
    (lambda: analog.thresholds_to_dac_codes([1.0], 17, 0, 1), r"dac_bits.*1\.\.16"),
    (lambda: analog.thresholds_to_dac_codes([1.0, 1.0], 8, 0, 1), r"thresholds\[1\] = 1\.0 does not exceed"),
    (lambda: analog.thresholds_to_dac_codes([3.0, 2.0], 8, 0, 1), r"strictly increasing"),
    (lambda: analog.thresholds_to_dac_codes(np.linspace(0.5, 10, 15), 2, 0, 1), r"codes\[\d+\] = \d+ does not exceed"),
    (lambda: analog.thresholds_to_dac_codes([15.0], 8, 0, 1), r"needs DAC code 256; allowed range: codes 0\.\.255"),
    (lambda: analog.thresholds_to_dac_codes([-0.5], 8, 0, 1), r"needs DAC code -9"),
    (lambda: analog.thresholds_to_dac_codes([np.nan], 8, 0, 1), r"thresholds\[0\] = nan"),
    (lambda: analog.thresholds_to_dac_codes([1.0], 8, 1, 1), r"v_ref_high"),
    (lambda: analog.dac_codes_to_thresholds([3, 256], 8, 0, 1), r"codes\[1\] = 256; allowed range: integers 0\.\.255"),
    (lambda: analog.dac_codes_to_thresholds([-1, 3], 8, 0, 1), r"codes\[0\] = -1"),
    (lambda: analog.dac_codes_to_thresholds([3, 3], 8, 0, 1), r"codes\[1\] = 3 does not exceed codes\[0\] = 3"),
    (lambda: analog.dac_codes_to_thresholds([2.5], 8, 0, 1), r"codes\[0\] = 2\.5"),
])
def test_errors(call, message):
    with pytest.raises(ValueError, match=message):
        call()
