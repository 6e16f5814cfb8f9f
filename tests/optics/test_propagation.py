"""Propagation against closed-form diffraction (Fresnel integrals, Airy, Talbot, Gaussian beams)."""
import math

import numpy as np
import pytest
import torch
from scipy.special import fresnel, j1

import optics
from optics.elements import circular_aperture, grid, rectangular_aperture, thin_lens_phase

WAVELENGTH = 500e-9


def relative_l2(result, reference):
    result, reference = np.asarray(result), np.asarray(reference)
    return float(np.linalg.norm(result - reference) / np.linalg.norm(reference))


def square_aperture_fresnel(x, y, half_width, wavelength, z):
    """Closed form: U = e^{ikz} / (2i) F(x) F(y) for a unit plane wave through a 2a x 2a square."""
    scale = math.sqrt(2.0 / (wavelength * z))

    def edge_term(u):
        s, c = fresnel(u)
        return c + 1j * s

    def factor(t):
        return edge_term(scale * (half_width - t)) - edge_term(scale * (-half_width - t))

    return np.exp(2j * math.pi * z / wavelength) / 2j * factor(y) * factor(x)


@pytest.mark.parametrize("fresnel_number, method", [(5.0, "asm"), (5.0, "fresnel_tf"),
                                                     (2.0, "fresnel_ir"), (1.0, "fresnel_ir")])
def test_square_aperture_matches_fresnel_integrals(fresnel_number, method):
    # Edges on pixel edges (even n, half-width 100 dx). Paraxial regime: Nyquist angle
    # lambda / (2 dx) = 0.06 rad. A hard edge aliases, so the TF methods are tested near their
    # critical distance N dx^2 / lambda = 65 mm (N = 2n) and the IR method beyond it.
    n, dx, half_width = 1024, 4e-6, 400e-6
    z = half_width ** 2 / (WAVELENGTH * fresnel_number)
    field = rectangular_aperture(n, dx, 2 * half_width).to(torch.complex128)
    out = optics.propagate(field, dx, WAVELENGTH, z, method=method).numpy()
    y, x = (t.numpy() for t in grid(n, dx))
    reference = square_aperture_fresnel(x, y, half_width, WAVELENGTH, z)
    assert relative_l2(out, reference) < 0.015


def test_half_pixel_offset_aperture_is_worse_than_edges_on_pixel_edges():
    n, dx, half_width, z = 1024, 4e-6, 400e-6, 0.16
    y, x = (t.numpy() for t in grid(n, dx))
    reference = square_aperture_fresnel(x, y, half_width, WAVELENGTH, z)
    on_edges = (np.abs(x) < half_width) & (np.abs(y) < half_width)
    off_edges = (np.abs(x) <= half_width + dx / 2) & (np.abs(y) <= half_width + dx / 2)
    errors = [relative_l2(optics.propagate(mask.astype(complex), dx, WAVELENGTH, z,
                                           method="fresnel_ir"), reference)
              for mask in (on_edges, off_edges)]
    assert errors[0] < 0.015 < errors[1]


def test_single_fft_fresnel_far_field_matches_fresnel_integrals():
    n, dx, half_width, z = 256, 1e-6, 40e-6, 0.05   # Fresnel number 0.064
    field = rectangular_aperture(n, dx, 2 * half_width).to(torch.complex128)
    out, (dy2, dx2) = optics.propagate_sft(field, dx, WAVELENGTH, z, pad=2)
    assert out.shape == (512, 512) and dx2 == pytest.approx(WAVELENGTH * z / (512 * dx))
    y = optics.grid_coordinates(512, dy2).numpy()[:, None]
    x = optics.grid_coordinates(512, dx2).numpy()[None, :]
    reference = square_aperture_fresnel(x, y, half_width, WAVELENGTH, z)
    # The outer quarter of the output holds the hard edge's aliased spectrum (beyond half the
    # input's Nyquist band): compare the central half.
    centre = slice(128, 384)
    assert relative_l2(out.numpy()[centre, centre], reference[centre, centre]) < 0.015


def test_airy_pattern_of_lens_focused_circular_aperture():
    n, dx, focal, radius = 1024, 0.5e-6, 0.8e-3, 24e-6
    aperture = circular_aperture(n, dx, radius, supersample=8)
    lens = thin_lens_phase(n, dx, WAVELENGTH, focal, radius=radius)
    field = aperture * torch.exp(1j * lens)
    focus = optics.propagate(field, dx, WAVELENGTH, focal)
    intensity = (focus.abs() ** 2).numpy()
    y, x = (t.numpy() for t in grid(n, dx))
    r = np.hypot(x, y)
    first_zero = 1.22 * WAVELENGTH * focal / (2 * radius)
    # Shape: normalised intensity against (2 J1(v) / v)^2 inside three Airy radii.
    v = 2 * math.pi * radius * r / (WAVELENGTH * focal)
    airy = (2 * j1(v) / v) ** 2
    near = r < 3 * first_zero
    assert relative_l2(intensity[near] / intensity.max(), airy[near]) < 0.02
    # First zero: the azimuthal mean has its first minimum within half a pixel of 1.22 lambda f / D.
    bins = np.arange(0, 2 * first_zero, dx / 4)
    ring = np.digitize(r.ravel(), bins)
    mean = np.bincount(ring, intensity.ravel(), len(bins) + 1) / np.maximum(
        np.bincount(ring, minlength=len(bins) + 1), 1)
    centres = np.append(bins, bins[-1] + dx / 4) - dx / 8
    inner = (centres > 0.7 * first_zero) & (centres < 1.3 * first_zero)
    assert abs(centres[inner][np.argmin(mean[inner])] - first_zero) < dx / 2
    # Encircled energy at the first zero, 1 - J0^2 - J1^2 = 0.838, of the power through the
    # continuous aperture, pi R^2 (about 1% falls outside the window, in the Airy rings).
    encircled = intensity[r <= first_zero].sum() * dx ** 2 / (math.pi * radius ** 2)
    assert encircled == pytest.approx(0.838, abs=0.005)


def test_talbot_self_imaging_and_contrast_reversal():
    n, dx, period = 1024, 1e-6, 16e-6            # periodic window: 64 periods, pad = 1
    _, x = grid(n, dx)
    transmittance = 0.5 * (1 + 0.8 * torch.cos(2 * math.pi * x / period))
    field = transmittance.to(torch.complex128)
    talbot = 2 * period ** 2 / WAVELENGTH
    intensity0 = transmittance ** 2
    at_talbot = optics.propagate(field, dx, WAVELENGTH, talbot, pad=1).abs() ** 2
    at_half = optics.propagate(field, dx, WAVELENGTH, talbot / 2, pad=1).abs() ** 2
    shifted = torch.roll(intensity0, shifts=int(period / dx / 2), dims=-1)
    assert relative_l2(at_talbot, intensity0) < 0.01
    assert relative_l2(at_half, shifted) < 0.01
    assert relative_l2(at_half, intensity0) > 0.5          # reversed, not self-imaged


@pytest.mark.parametrize("distance_in_rayleigh", [0.5, 1.0, 2.0])
def test_gaussian_beam_width(distance_in_rayleigh):
    n, dx, waist = 512, 2e-6, 20e-6
    rayleigh = math.pi * waist ** 2 / WAVELENGTH
    z = distance_in_rayleigh * rayleigh
    y, x = grid(n, dx)
    field = torch.exp(-(x ** 2 + y ** 2) / waist ** 2).to(torch.complex128)
    intensity = optics.propagate(field, dx, WAVELENGTH, z).abs() ** 2
    second_moment = float((intensity * x ** 2).sum() / intensity.sum())
    expected = waist * math.sqrt(1 + (z / rayleigh) ** 2)
    assert 2 * math.sqrt(second_moment) == pytest.approx(expected, rel=1e-3)


@pytest.mark.parametrize("method", ["asm", "fresnel_tf"])
@pytest.mark.parametrize("dtype", [torch.complex64, torch.complex128])
def test_energy_conserved(method, dtype):
    n, dx, waist = 256, 2e-6, 30e-6
    y, x = grid(n, dx)
    field = (torch.exp(-(x ** 2 + y ** 2) / waist ** 2) * torch.exp(1j * x / 4e-6)).to(dtype)
    out = optics.propagate(field, dx, WAVELENGTH, 0.5e-3, method=method)
    energy_in = float((field.abs().double() ** 2).sum())
    energy_out = float((out.abs().double() ** 2).sum())
    assert out.dtype == dtype
    assert energy_out == pytest.approx(energy_in, rel=1e-6)


def test_backward_propagation_is_the_adjoint_and_inverts():
    generator = torch.Generator().manual_seed(1)
    shape, dx, z = (96, 128), 2e-6, 0.4e-3
    a = torch.randn(shape, dtype=torch.complex128, generator=generator)
    b = torch.randn(shape, dtype=torch.complex128, generator=generator)
    forward_a = optics.propagate(a, dx, WAVELENGTH, z)
    backward_b = optics.propagate(b, dx, WAVELENGTH, -z)
    assert complex(torch.vdot(b.flatten(), forward_a.flatten())) == pytest.approx(
        complex(torch.vdot(backward_b.flatten(), a.flatten())), rel=1e-10)
    y, x = grid(shape, dx)
    beam = torch.exp(-(x ** 2 + y ** 2) / (25e-6) ** 2).to(torch.complex128)
    there_and_back = optics.propagate(optics.propagate(beam, dx, WAVELENGTH, z), dx, WAVELENGTH, -z)
    assert relative_l2(there_and_back, beam) < 1e-6


def test_wavelength_batch_matches_single_wavelengths_and_numpy_round_trip():
    generator = torch.Generator().manual_seed(2)
    wavelengths = [640e-9, 532e-9, 450e-9]
    field = torch.randn(2, 3, 64, 64, dtype=torch.complex64, generator=generator)
    batched = optics.propagate(field, 2e-6, wavelengths, 1e-4)
    assert batched.shape == (2, 3, 64, 64) and batched.dtype == torch.complex64
    for index, wavelength in enumerate(wavelengths):
        single = optics.propagate(field[:, index], 2e-6, wavelength, 1e-4)
        assert relative_l2(batched[:, index], single) < 1e-6
    broadcast = optics.propagate(field[0, 0].numpy(), 2e-6, wavelengths, 1e-4)
    assert isinstance(broadcast, np.ndarray) and broadcast.shape == (3, 64, 64)
    green = optics.propagate(field[0, 0], 2e-6, 532e-9, 1e-4).numpy()
    assert relative_l2(broadcast[1], green) < 1e-6


def test_gradient_matches_finite_differences():
    generator = torch.Generator().manual_seed(3)
    field = torch.randn(12, 10, dtype=torch.complex128, generator=generator, requires_grad=True)
    assert torch.autograd.gradcheck(
        lambda u: optics.propagate(u, 2e-6, WAVELENGTH, 2e-5).abs().square().sum(), (field,))


def test_auto_chooses_by_sampling_criterion():
    n, dx = 128, 2e-6
    y, x = grid(n, dx)
    field = torch.exp(-(x ** 2 + y ** 2) / (20e-6) ** 2).to(torch.complex128)
    critical = 2 * n * dx ** 2 / WAVELENGTH            # padded N = 2n
    near = optics.propagate(field, dx, WAVELENGTH, 0.5 * critical, method="auto")
    assert relative_l2(near, optics.propagate(field, dx, WAVELENGTH, 0.5 * critical)) < 1e-12
    far = optics.propagate(field, dx, WAVELENGTH, 2 * critical, method="auto")
    assert relative_l2(far, optics.propagate(field, dx, WAVELENGTH, 2 * critical,
                                             method="fresnel_ir")) < 1e-12
    with pytest.raises(ValueError, match="asm band limit"):
        optics.propagate(field, dx, WAVELENGTH, 2 * critical, method="asm")


def test_transfer_functions_are_cached_per_geometry():
    optics.TRANSFER_CACHE.clear()
    field = torch.ones(32, 32, dtype=torch.complex64)
    for _ in range(3):
        optics.propagate(field, 2e-6, WAVELENGTH, 1e-4)
    optics.propagate(field, 2e-6, WAVELENGTH, 2e-4)
    assert (optics.TRANSFER_CACHE.misses, optics.TRANSFER_CACHE.hits) == (2, 2)
