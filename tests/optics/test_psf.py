"""Phase-mask PSFs: dispersion, pixel integration, batching, differentiability, the lens limit."""
import math

import numpy as np
import pytest
import torch
from scipy.special import j0, j1

import optics
from optics.elements import grid


def test_fused_silica_matches_published_index_and_phase_ratios():
    # references.md: n = 1.4607 at 532 nm; 2 pi heights 1155 / 967 / 1401 nm at 532 / 450 / 640.
    assert optics.refractive_index("fused_silica", 532e-9) == pytest.approx(1.4607, abs=1e-4)
    for wavelength, height in [(532e-9, 1155e-9), (450e-9, 967e-9), (640e-9, 1401e-9)]:
        assert optics.two_pi_height("fused_silica", wavelength) == pytest.approx(height, abs=1e-9)
    phases = optics.phase_from_height(np.array([[1e-6]]), [450e-9, 532e-9, 640e-9])
    assert phases[0, 0, 0] / phases[1, 0, 0] == pytest.approx(1.19, abs=0.005)
    assert phases[2, 0, 0] / phases[1, 0, 0] == pytest.approx(0.82, abs=0.005)
    assert optics.refractive_index("SU-8", 532e-9) == pytest.approx(1.596, abs=1e-3)
    with pytest.raises(ValueError, match="unknown material 'glass'.*fused_silica"):
        optics.refractive_index("glass", 532e-9)


def test_two_pi_relief_is_invisible_at_its_design_wavelength():
    generator = torch.Generator().manual_seed(0)
    height = torch.rand(64, 64, generator=generator, dtype=torch.float64) * 1e-6
    step = optics.two_pi_height("fused_silica", 532e-9)
    kwargs = dict(wavelengths=[532e-9], kernel_size=31, dtype=torch.complex128)
    a, b = optics.mask_psf(height, **kwargs), optics.mask_psf(height + step, **kwargs)
    assert torch.allclose(a, b, atol=1e-10)


def test_fresnel_lens_mask_focuses_to_an_airy_spot():
    """A wrapped lens relief of focal length = mask-sensor distance gives the Airy EE at 532 nm."""
    n, pitch, distance = 128, 2e-6, 1.869e-3
    wavelength = 532e-9
    radius = 50e-6                    # lens criterion: 2 um <= lambda f / (2 R) = 9.9 um
    y, x = grid(n, pitch)
    phase = (-math.pi * (x ** 2 + y ** 2) / (wavelength * distance)) % (2 * math.pi)
    height = phase / (2 * math.pi) * optics.two_pi_height("fused_silica", wavelength)
    aperture = optics.circular_aperture(n, pitch, radius, supersample=4)
    psf = optics.mask_psf(height, pitch, [wavelength], distance, sensor_pitch=pitch,
                          kernel_size=63, aperture=aperture, dtype=torch.complex128)[0]
    first_zero = 1.22 * wavelength * distance / (2 * radius)          # 12.1 um: 6 pixels
    # The kernel sums to 1 over its 126 um window, which holds 1 - J0(v)^2 - J1(v)^2 of the
    # light (Airy encircled energy at its half-width, as a disc).
    yk, xk = grid(63, pitch)
    r = torch.hypot(xk, yk)
    edge = 2 * math.pi * radius * 63e-6 / (wavelength * distance)
    inside_window = 1 - j0(edge) ** 2 - j1(edge) ** 2
    encircled = float(psf[r <= first_zero].sum()) * inside_window
    assert encircled == pytest.approx(0.838, abs=0.02)


def test_integer_pitch_binning_and_fill_factor_against_block_sums():
    generator = torch.Generator().manual_seed(1)
    # 57 mask samples (odd): the 19 sensor pixels of 3 x 3 samples align with the mask pixels.
    height = torch.rand(57, 57, generator=generator, dtype=torch.float64) * 1.2e-6
    common = dict(wavelengths=[532e-9], distance=0.3e-3, dtype=torch.complex128)
    fine = optics.mask_psf(height, 2e-6, sensor_pitch=2e-6, kernel_size=57, **common)[0]
    binned = optics.mask_psf(height, 2e-6, sensor_pitch=6e-6, kernel_size=19, **common)[0]
    expected = fine.reshape(19, 3, 19, 3).sum(dim=(1, 3))
    assert torch.allclose(binned, expected, rtol=1e-9, atol=1e-14)
    # Fill factor 1/9: only the middle mask sample of each 3 x 3 block is sensitive.
    partial = optics.mask_psf(height, 2e-6, sensor_pitch=6e-6, kernel_size=19, fill_factor=1 / 9,
                              **common)[0]
    middle = fine[1::3, 1::3]
    assert torch.allclose(partial, middle / middle.sum(), rtol=1e-9, atol=1e-14)


def test_batched_masks_spectral_weights_and_module():
    generator = torch.Generator().manual_seed(2)
    heights = torch.rand(2, 32, 32, generator=generator) * 1e-6
    both = optics.mask_psf(heights, kernel_size=15)
    assert both.shape == (2, 3, 15, 15)
    assert torch.allclose(both.sum(dim=(-1, -2)), torch.ones(2, 3), atol=1e-5)
    assert torch.allclose(both[1], optics.mask_psf(heights[1], kernel_size=15), atol=1e-6)
    weights = torch.tensor([[1.0, 0.0, 0.0], [0.0, 0.5, 0.5]])
    mixed = optics.mask_psf(heights[0], kernel_size=15, spectral_weights=weights)
    assert torch.allclose(mixed[0], both[0, 0], atol=1e-6)
    module = optics.MaskPSF(num_masks=2, init_height=heights, kernel_size=15)
    psf = module()
    assert psf.shape == (2, 3, 15, 15) and torch.allclose(psf, both, atol=1e-6)
    psf[:, 1, 7, 7].sum().backward()                 # learning pushes light to the centre
    assert module.height.grad is not None and module.height.grad.abs().sum() > 0


def test_mask_psf_gradient_matches_finite_differences():
    generator = torch.Generator().manual_seed(3)
    height = (torch.rand(10, 10, generator=generator, dtype=torch.float64) * 1e-6).requires_grad_()
    target = torch.rand(2, 5, 5, generator=generator, dtype=torch.float64)

    def loss(h):
        psf = optics.mask_psf(h * 1e-6, 2e-6, [532e-9, 640e-9], 20e-6, kernel_size=5,
                              dtype=torch.complex128)
        return (psf * target).sum()

    assert torch.autograd.gradcheck(loss, (height * 1e6,), eps=1e-4, atol=1e-6)


def test_bad_psf_inputs():
    with pytest.raises(ValueError, match="fill_factor must be in"):
        optics.mask_psf(torch.zeros(8, 8), fill_factor=0.0)
    with pytest.raises(ValueError, match="distance must be finite and > 0"):
        optics.mask_psf(torch.zeros(8, 8), distance=-1e-3)
    with pytest.raises(ValueError, match="height contains NaN"):
        optics.mask_psf(torch.full((8, 8), float("nan")))
    with pytest.raises(ValueError, match="no light"):
        optics.mask_psf(torch.zeros(8, 8), aperture=torch.zeros(8, 8), kernel_size=3)
