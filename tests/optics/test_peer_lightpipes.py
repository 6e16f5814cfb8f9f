"""optics.propagate against LightPipes (Forvard: Fresnel transfer function, periodic) on the same input."""
import math

import numpy as np
import pytest

import optics

lp = pytest.importorskip("LightPipes")

N, DX, WAVELENGTH, Z = 256, 2e-6, 532e-9, 1.869e-3     # PhlatCam pitch and distance


def lightpipes_forvard(field, size, wavelength, z):
    beam = lp.Begin(size, wavelength, field.shape[-1])
    beam.field = np.asarray(field, dtype=complex)
    return lp.Forvard(beam, z).field


def band_limited_random_field(n, dx, f_max, seed):
    """Random complex field whose spectrum is zero beyond |f| = f_max, confined to the centre."""
    rng = np.random.default_rng(seed)
    spectrum = rng.normal(size=(n, n)) + 1j * rng.normal(size=(n, n))
    f = np.fft.fftfreq(n, dx)
    spectrum[np.hypot(f[:, None], f[None, :]) > f_max] = 0
    field = np.fft.ifft2(spectrum)
    y, x = (t.numpy() for t in optics.grid(n, dx))
    return field * np.exp(-(x ** 2 + y ** 2) / (n * dx / 8) ** 2)


def relative_l2(result, reference):
    return float(np.linalg.norm(result - reference) / np.linalg.norm(reference))


def test_fresnel_transfer_function_equals_forvard():
    field = band_limited_random_field(N, DX, 0.2e6, seed=0)
    peer = lightpipes_forvard(field, N * DX, WAVELENGTH, Z / 2)
    ours = optics.propagate(field, DX, WAVELENGTH, Z / 2, method="fresnel_tf", pad=1,
                            dtype="complex128")
    assert relative_l2(ours, peer) < 1e-5


def test_angular_spectrum_agrees_with_forvard_within_the_paraxial_error():
    f_max = 0.15e6                                    # 1/m: angles up to lambda f = 0.08 rad
    field = band_limited_random_field(N, DX, f_max, seed=1)
    # Embed in a 2x window so the periodic Forvard computes the same linear propagation.
    padded = np.zeros((2 * N, 2 * N), complex)
    padded[N // 2:N // 2 + N, N // 2:N // 2 + N] = field
    peer = lightpipes_forvard(padded, 2 * N * DX, WAVELENGTH, Z)[N // 2:N // 2 + N, N // 2:N // 2 + N]
    ours = optics.propagate(field, DX, WAVELENGTH, Z, method="asm", dtype="complex128")
    # Fresnel's phase error at the band edge bounds the difference |exp(i dphi) - 1| <= dphi.
    k_z_exact = 2 * math.pi * math.sqrt(1 / WAVELENGTH ** 2 - f_max ** 2)
    k_z_fresnel = 2 * math.pi / WAVELENGTH - math.pi * WAVELENGTH * f_max ** 2
    bound = abs(k_z_exact - k_z_fresnel) * Z
    error = relative_l2(ours, peer)
    assert error < bound
    assert error > 1e-3 * bound                       # the methods are different, not one code
