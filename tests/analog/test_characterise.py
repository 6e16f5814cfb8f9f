"""IEEE 1241 characterisation: FFT metrics against closed forms, code-density test on the ADC."""
import math

import numpy as np
import pytest
import torch

import analog


def _ideal_codes(bits, n_samples=1 << 16, target_cycles=None):
    """An ideal uniform ``bits``-bit mid-tread ADC (thresholds k + 0.5) on a full-scale sine."""
    levels = 2 ** bits
    cycles = analog.coherent_cycle_count(n_samples, target_cycles or n_samples / 17.3)
    x = analog.coherent_sine(n_samples, cycles, amplitude=levels / 2, offset=(levels - 1) / 2)
    codes = analog.quantize_hard(torch.from_numpy(x), analog.default_thresholds(levels))
    return codes.numpy(), cycles


def test_closed_form_ideal_snr():
    assert analog.ideal_snr_db(4) == pytest.approx(6.02 * 4 + 1.76, abs=0.01)
    assert analog.ideal_snr_db(12) == pytest.approx(6.02 * 12 + 1.76, abs=0.03)


@pytest.mark.parametrize("bits", [4, 8])
def test_ideal_adc_snr_matches_6_02n_plus_1_76(bits):
    codes, cycles = _ideal_codes(bits)
    metrics = analog.sine_metrics(codes)
    assert metrics.signal_bin == cycles
    closed_form = 6.02 * bits + 1.76
    print(f"{bits}-bit: SINAD {metrics.sinad_db:.3f} dB, SNR {metrics.snr_db:.3f} dB, "
          f"ENOB {metrics.enob:.3f} (closed form {closed_form:.2f} dB)")
    # quantisation error is the ideal ADC's only 'noise': SINAD is the quantisation-limited SNR
    assert abs(metrics.sinad_db - closed_form) < 0.3
    assert abs(metrics.enob - bits) < 0.3 / 6.02


def test_fft_snr_of_a_sine_with_known_gaussian_noise():
    rng = np.random.default_rng(0)
    n, amplitude, sigma = 1 << 16, 3.0, 0.05
    x = analog.coherent_sine(n, analog.coherent_cycle_count(n, 1001), amplitude, 2.0, 0.3)
    metrics = analog.sine_metrics(x + rng.normal(0.0, sigma, n))
    expected = 10 * math.log10(amplitude ** 2 / 2 / sigma ** 2)
    # noise power estimate from ~n bins: relative sd sqrt(2 / n) -> 0.024 dB; allow 4 sd
    assert metrics.snr_db == pytest.approx(expected, abs=0.1)
    assert metrics.sinad_db == pytest.approx(expected, abs=0.1)
    assert metrics.amplitude == pytest.approx(amplitude, rel=1e-3)


def test_fft_thd_of_known_harmonics_including_aliased_ones():
    n = 4096
    cycles = analog.coherent_cycle_count(n, 900)      # 3rd harmonic aliases (2700 > 2048)
    t = np.arange(n)
    tone = np.sin(2 * np.pi * cycles * t / n)
    h2, h3 = 0.01, 0.003
    x = tone + h2 * np.sin(2 * np.pi * 2 * cycles * t / n) + h3 * np.cos(
        2 * np.pi * 3 * cycles * t / n)
    metrics = analog.sine_metrics(x, n_cycles=cycles)
    assert metrics.thd_db == pytest.approx(10 * math.log10(h2 ** 2 + h3 ** 2), abs=1e-6)
    assert metrics.sinad_db == pytest.approx(-metrics.thd_db, abs=1e-6)


def _mismatched_adc():
    designed = np.array([0.35, 1.1, 1.6, 2.9, 3.3, 4.8, 5.2, 6.9, 7.4, 8.8, 9.5, 11.0, 12.3, 13.1,
                         14.4])
    return analog.FlashADC(thresholds=designed, min_spacing=0.3, mismatch_sigma=0.05, seed=7)


def test_sine_code_density_recovers_actual_thresholds():
    adc = _mismatched_adc()
    actual = adc.actual_thresholds.numpy()
    assert not np.allclose(actual, adc.thresholds.detach().numpy(), atol=1e-3)  # mismatch matters
    n = 1 << 20
    amplitude, centre = 8.2, 7.5                      # overdrives both end codes
    x = analog.coherent_sine(n, analog.coherent_cycle_count(n, 1234.5), amplitude, centre)
    codes = adc(torch.from_numpy(x)).numpy()
    measured = analog.thresholds_from_sine_histogram(codes, 16, amplitude, centre)
    error = np.abs(measured - actual).max()
    print(f"sine code density: max threshold error {error:.2e} (of full scale 15: "
          f"{error / 15:.2e})")
    assert error < 1e-3 * 15


def test_ramp_code_density_recovers_actual_thresholds():
    adc = _mismatched_adc()
    v_min, v_max, n = -0.5, 15.5, 1 << 18
    ramp = v_min + (v_max - v_min) * (np.arange(n) + 0.5) / n
    codes = adc(torch.from_numpy(ramp)).numpy()
    measured = analog.thresholds_from_ramp_histogram(codes, 16, v_min, v_max)
    assert np.abs(measured - adc.actual_thresholds.numpy()).max() < (v_max - v_min) / n * 1.01


def test_code_density_needs_overdrive():
    adc = _mismatched_adc()
    x = analog.coherent_sine(4096, 101, 5.0, 7.5)
    with pytest.raises(ValueError, match="overdrive"):
        analog.thresholds_from_sine_histogram(adc(torch.from_numpy(x)).numpy(), 16, 5.0, 7.5)


def test_dnl_inl_closed_form():
    ideal = np.arange(15) + 0.5
    dnl, inl = analog.dnl_inl(ideal)
    assert np.allclose(dnl, 0) and np.allclose(inl, 0)
    shifted = ideal.copy()
    shifted[5] += 0.25                            # code 5 wider by 1/4 LSB, code 6 narrower
    dnl, inl = analog.dnl_inl(shifted)
    assert dnl[4] == pytest.approx(0.25) and dnl[5] == pytest.approx(-0.25)
    assert inl[5] == pytest.approx(0.25) and np.count_nonzero(np.abs(inl) > 1e-12) == 1
    dnl, inl = analog.dnl_inl(shifted, reference=shifted)
    assert np.allclose(dnl, 0) and np.allclose(inl, 0)


def test_coherent_sine_validation():
    with pytest.raises(ValueError, match="coprime"):
        analog.coherent_sine(4096, 128, 1.0, 0.0)
    assert math.gcd(analog.coherent_cycle_count(1000, 250), 1000) == 1
