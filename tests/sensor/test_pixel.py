"""Unit tests of sensor.pixel (pixel array) and sensor.emva (characterisation ADC).

Statistical checks compare sample moments with the closed-form Poisson + Gaussian model of
EMVA 1288 (mean electrons = QE mu_p + mu_I t; variance = QE mu_p + mu_I t + sigma_d^2) with a
5-standard-error tolerance derived from the number of samples, not a hand-tuned margin.
"""
import math

import pytest
import torch

from sensor.emva import CharacterisationADC, flat_field_frames
from sensor.pixel import PixelArray, SensorParams

CG = 40e-6  # V/e-


def _temporal_params(**overrides):
    """Only temporal noise (no fixed patterns), so every pixel has the same statistics."""
    fields = dict(quantum_efficiency=0.55, conversion_gain=CG, dark_noise=5.0, dark_current=300.0,
                  saturation_capacity=1e6, dsnu=0.0, prnu=0.0, exposure_time=0.02)
    fields.update(overrides)
    return SensorParams(**fields)


def _assert_moments(electrons, mean, variance):
    """Sample mean and variance of ``electrons`` agree with theory within 5 standard errors."""
    n = electrons.numel()
    sample_mean = electrons.mean().item()
    sample_var = electrons.var().item()
    assert abs(sample_mean - mean) < 5 * math.sqrt(variance / n), (sample_mean, mean)
    assert abs(sample_var - variance) < 5 * variance * math.sqrt(2.0 / n), (sample_var, variance)


# ------------------------------------------------------------------------------- parameters
@pytest.mark.parametrize("field, value, fragment", [
    ("exposure_time", -1e-3, "exposure_time"),
    ("quantum_efficiency", 1.2, "quantum_efficiency"),
    ("quantum_efficiency", -0.1, "quantum_efficiency"),
    ("quantum_efficiency", (0.5, float("nan"), 0.4), "quantum_efficiency"),
    ("dark_noise", float("nan"), "dark_noise"),
    ("dark_current", -1.0, "dark_current"),
    ("saturation_capacity", 0.0, "saturation_capacity"),
    ("dsnu", float("inf"), "dsnu"),
    ("prnu", 1.0, "prnu"),
    ("conversion_gain", 0.0, "conversion_gain"),
    ("pixel_pitch", -2e-6, "pixel_pitch"),
    ("photon_scale", float("nan"), "photon_scale"),
    ("exposure_time", "10 parsecs", "exposure_time"),
])
def test_invalid_parameter_names_field_and_range(field, value, fragment):
    with pytest.raises(ValueError, match=fragment):
        SensorParams(**{field: value})


def test_quantity_strings_are_parsed_to_si():
    params = SensorParams(exposure_time="10ms", pixel_pitch="2um", conversion_gain="40uV")
    assert params.exposure_time == pytest.approx(0.01)
    assert params.pixel_pitch == pytest.approx(2e-6)
    assert params.conversion_gain == pytest.approx(40e-6)
    assert params.pixel_area == pytest.approx(4e-12)


def test_round_trip_through_dict_and_unknown_key():
    params = SensorParams(quantum_efficiency=(0.4, 0.6, 0.5))
    assert SensorParams.from_dict(params.to_dict()) == params
    with pytest.raises(ValueError, match="full_well"):
        SensorParams.from_dict({"full_well": 1000.0})


@pytest.mark.parametrize("photons, fragment", [
    (torch.full((1, 1, 4, 4), float("nan")), "NaN"),
    (torch.full((1, 1, 4, 4), float("inf")), "inf"),
    (-torch.ones(1, 1, 4, 4), "negative"),
    (torch.ones(1, 4, 4), "NCHW"),
    (torch.ones(1, 1, 4, 4, dtype=torch.int32), "floating"),
])
def test_invalid_photons_are_rejected(photons, fragment):
    with pytest.raises(ValueError, match=f"photons.*{fragment}"):
        PixelArray(SensorParams())(photons)


def test_invalid_mode_and_exposure_override():
    pixels = PixelArray(SensorParams())
    with pytest.raises(ValueError, match="mode"):
        pixels(torch.ones(1, 1, 2, 2), mode="medium")
    with pytest.raises(ValueError, match="exposure_time"):
        pixels(torch.ones(1, 1, 2, 2), exposure_time=-0.5)


def test_per_channel_qe_must_match_channels():
    pixels = PixelArray(SensorParams(quantum_efficiency=(0.4, 0.6, 0.5)))
    with pytest.raises(ValueError, match="quantum_efficiency.*C = 2"):
        pixels(torch.ones(1, 2, 4, 4))


# ---------------------------------------------------------------------------- reproducibility
def test_same_seed_same_frame_and_different_seed_differs():
    photons = torch.full((2, 3, 16, 16), 500.0)
    a = PixelArray(SensorParams(), seed=3)(photons)
    b = PixelArray(SensorParams(), seed=3)(photons)
    c = PixelArray(SensorParams(), seed=4)(photons)
    assert torch.equal(a, b)
    assert not torch.equal(a, c)
    g1, g2 = torch.Generator().manual_seed(9), torch.Generator().manual_seed(9)
    pixels = PixelArray(SensorParams(), seed=3)
    assert torch.equal(pixels(photons, generator=g1), pixels(photons, generator=g2))
    assert torch.equal(pixels(photons, mode="soft", generator=torch.Generator().manual_seed(1)),
                       pixels(photons, mode="soft", generator=torch.Generator().manual_seed(1)))


def test_fixed_patterns_are_fixed_per_seed_and_shape():
    params = SensorParams(dsnu=3.0, prnu=0.02)
    pixels = PixelArray(params, seed=5)
    shape = (3, 128, 128)
    dsnu = pixels.dsnu_pattern(shape, dtype=torch.float64)
    assert torch.equal(dsnu, pixels.dsnu_pattern(shape, dtype=torch.float64))
    assert torch.equal(dsnu, PixelArray(params, seed=5).dsnu_pattern(shape, dtype=torch.float64))
    gain = pixels.prnu_gain(shape, dtype=torch.float64)
    n = dsnu.numel()
    # Sample std of n iid normals: relative standard error 1/sqrt(2n).
    assert abs(dsnu.std().item() / 3.0 - 1) < 5 / math.sqrt(2 * n)
    assert abs((gain - 1).std().item() / 0.02 - 1) < 5 / math.sqrt(2 * n)
    correlation = torch.corrcoef(torch.stack([dsnu.flatten(), gain.flatten()]))[0, 1]
    assert abs(correlation) < 5 / math.sqrt(n)
    # Noise-free frames show exactly the pattern, the same for every image of a batch.
    frames = pixels(torch.full((2,) + shape, 1000.0, dtype=torch.float64), noise=False,
                    exposure_time=0.0)
    expected = params.conversion_gain * (1000.0 * params.quantum_efficiency * gain + dsnu)
    torch.testing.assert_close(frames, expected.expand_as(frames), rtol=1e-12, atol=0)


# ------------------------------------------------------------------------------- statistics
@pytest.mark.parametrize("mode", ["hard", "soft"])
def test_flat_field_moments_match_poisson_plus_gaussian(mode):
    params = _temporal_params()
    photons = 2000.0
    frames = PixelArray(params, seed=0)(torch.full((4, 1, 256, 256), photons, dtype=torch.float64),
                                        mode=mode, generator=torch.Generator().manual_seed(1))
    electrons = frames / params.conversion_gain
    dark = params.dark_current * params.exposure_time
    mean = params.quantum_efficiency * photons + dark
    _assert_moments(electrons, mean, mean + params.dark_noise ** 2)


def test_gaussian_shot_option_keeps_moments_and_integer_charge():
    params = _temporal_params(dark_noise=0.0, dark_current=0.0)
    pixels = PixelArray(params, seed=0, gaussian_shot_above=1000.0)
    photons = torch.tensor([100.0, 4000.0], dtype=torch.float64).view(1, 1, 1, 2)
    electrons = pixels(photons.expand(200_000, 1, 1, 2).contiguous(),
                       generator=torch.Generator().manual_seed(4)) / params.conversion_gain
    torch.testing.assert_close(electrons, electrons.round(), rtol=0, atol=1e-9)
    low, high = electrons[..., 0], electrons[..., 1]
    # Below the threshold: exact Poisson; above: its normal limit (variance + 1/12 from rounding).
    _assert_moments(low, 55.0, 55.0)
    _assert_moments(high, 2200.0, 2200.0 + 1.0 / 12.0)
    with pytest.raises(ValueError, match="gaussian_shot_above"):
        PixelArray(params, gaussian_shot_above=-1.0)


def test_dark_signal_grows_with_exposure_time():
    params = _temporal_params(dark_noise=2.0)
    pixels = PixelArray(params, seed=0)
    generator = torch.Generator().manual_seed(2)
    dark = torch.zeros(2, 1, 256, 256, dtype=torch.float64)
    for t_exp in (0.0, 0.05, 0.2):
        electrons = pixels(dark, generator=generator, exposure_time=t_exp) / params.conversion_gain
        mu_dark = params.dark_current * t_exp
        _assert_moments(electrons, mu_dark, mu_dark + params.dark_noise ** 2)


def test_prnu_and_dsnu_spatial_variance():
    params = _temporal_params(dsnu=4.0, prnu=0.03, dark_noise=0.0, dark_current=0.0)
    pixels = PixelArray(params, seed=7)
    photons = 5000.0
    frame = pixels(torch.full((1, 1, 256, 256), photons, dtype=torch.float64), noise=False)
    electrons = frame / params.conversion_gain
    mu_e = params.quantum_efficiency * photons
    # Spatial variance of a noise-free frame: (PRNU mu_e)^2 + DSNU^2 (independent patterns).
    variance = (params.prnu * mu_e) ** 2 + params.dsnu ** 2
    _assert_moments(electrons, mu_e, variance)


def test_per_channel_quantum_efficiency():
    params = SensorParams.ideal(quantum_efficiency=(0.3, 0.6, 0.9), conversion_gain=CG)
    volts = PixelArray(params)(torch.full((1, 3, 4, 4), 100.0, dtype=torch.float64), noise=False)
    torch.testing.assert_close(volts[0, :, 0, 0] / CG, torch.tensor([30.0, 60.0, 90.0],
                                                                     dtype=torch.float64))


def test_ideal_preset_is_linear_and_noise_free():
    params = SensorParams.ideal(conversion_gain=CG)
    photons = torch.rand(2, 3, 8, 8, generator=torch.Generator().manual_seed(0)) * 1e5
    for mode in ("hard", "soft"):
        torch.testing.assert_close(PixelArray(params)(photons, mode=mode), photons * CG,
                                   rtol=1e-6, atol=0)


# --------------------------------------------------------------------------------- clipping
def test_hard_mode_clips_at_full_well():
    params = _temporal_params(saturation_capacity=3000.0, dark_noise=0.0)
    photons = torch.tensor([100.0, 1e4, 1e5, 1e6], dtype=torch.float64).view(1, 1, 1, 4)
    volts = PixelArray(params)(photons.expand(64, 1, 1, 4).contiguous())
    electrons = volts / params.conversion_gain
    assert electrons[..., 0].max() < 3000.0
    assert torch.all(electrons[..., 1:] == 3000.0)


def test_soft_mode_clip_is_smooth_and_saturates():
    params = _temporal_params(saturation_capacity=3000.0, dark_noise=0.0, dark_current=0.0)
    pixels = PixelArray(params)
    at_full_well = 3000.0 / params.quantum_efficiency
    photons = torch.tensor([100.0, at_full_well, 1e5, 1e6], dtype=torch.float64).view(1, 1, 1, 4)
    electrons = pixels(photons, mode="soft", noise=False) / params.conversion_gain
    width = pixels.soft_clip_width
    # Softplus minimum: exact far below, fw - width ln 2 at the full well, fw far above.
    assert electrons[0, 0, 0, 0].item() == pytest.approx(55.0, abs=1e-9)
    assert electrons[0, 0, 0, 1].item() == pytest.approx(3000.0 - width * math.log(2), rel=1e-12)
    torch.testing.assert_close(electrons[0, 0, 0, 2:], torch.full((2,), 3000.0,
                                                                  dtype=torch.float64))


# -------------------------------------------------------------------------------- gradients
def test_soft_mode_gradients_match_finite_differences():
    params = _temporal_params(saturation_capacity=4000.0, dsnu=2.0, prnu=0.02)
    pixels = PixelArray(params, seed=1, soft_clip_width=100.0)
    photons = (torch.rand(1, 2, 4, 4, dtype=torch.float64,
                          generator=torch.Generator().manual_seed(3)) * 9000.0).requires_grad_()

    def expose(x):  # fixed noise draw, so the function is deterministic
        return pixels(x, mode="soft", generator=torch.Generator().manual_seed(5))

    assert torch.autograd.gradcheck(expose, (photons,), eps=1e-3, atol=1e-9, rtol=1e-5)
    expose(photons).sum().backward()
    assert torch.isfinite(photons.grad).all() and photons.grad.abs().sum() > 0


def test_soft_mode_gradient_finite_at_zero_signal():
    pixels = PixelArray(_temporal_params())
    photons = torch.zeros(1, 1, 8, 8, requires_grad=True)
    pixels(photons, mode="soft").sum().backward()
    assert torch.isfinite(photons.grad).all()


# ------------------------------------------------------------------- characterisation ADC
def test_adc_codes_and_quantisation_noise():
    adc = CharacterisationADC(bits=8, v_min=-0.5, v_max=2.06)
    assert adc.lsb == pytest.approx(0.01)
    volts = torch.tensor([-1.0, -0.5, -0.49, 0.0, 0.0149, 2.055, 5.0], dtype=torch.float64)
    assert adc.digitize(volts).tolist() == [0, 0, 1, 50, 51, 255, 255]
    # Uniform input over many codes: the quantisation error variance is lsb^2 / 12.
    ramp = torch.rand(200_000, dtype=torch.float64, generator=torch.Generator().manual_seed(0)) * 2
    error = (adc.digitize(ramp) + 0.5) * adc.lsb + adc.v_min - ramp
    n = ramp.numel()
    assert abs(error.var().item() / (adc.lsb ** 2 / 12) - 1) < 5 * math.sqrt(0.8 / n)


def test_adc_system_gain_and_validation():
    params = SensorParams(conversion_gain=50e-6)
    adc = CharacterisationADC.for_system_gain(params, 0.5, bits=10, dark_level=32)
    assert adc.system_gain(params) == pytest.approx(0.5)
    assert adc.digitize(torch.zeros(1, dtype=torch.float64)).item() == 32
    with pytest.raises(ValueError, match="bits"):
        CharacterisationADC(bits=0)
    with pytest.raises(ValueError, match="v_max"):
        CharacterisationADC(v_min=1.0, v_max=1.0)
    with pytest.raises(ValueError, match="system_gain"):
        CharacterisationADC.for_system_gain(params, -1.0)
    with pytest.raises(ValueError, match="volts"):
        adc.digitize(torch.tensor([float("nan")]))


def test_flat_field_frames_shape_and_dtype():
    params = SensorParams()
    adc = CharacterisationADC.for_system_gain(params, 0.25)
    frames = flat_field_frames(PixelArray(params), adc, 1000.0, 3, 8, 5)
    assert frames.shape == (3, 8, 5) and frames.dtype == torch.int64
    with pytest.raises(ValueError, match="frames"):
        flat_field_frames(PixelArray(params), adc, 1000.0, 0, 8, 5)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_matches_theory():
    params = _temporal_params()
    photons = torch.full((4, 1, 256, 256), 2000.0, device="cuda")
    for mode in ("hard", "soft"):
        electrons = (PixelArray(params)(photons, mode=mode) / params.conversion_gain).double().cpu()
        mean = params.quantum_efficiency * 2000.0 + params.dark_current * params.exposure_time
        _assert_moments(electrons, mean, mean + params.dark_noise ** 2)
