"""Sampling criteria of the propagation methods and of a thin-lens phase.

All lengths are in metres. ``n`` is the number of samples across the (padded) grid that the FFT
sees, ``dx`` the pitch. The criteria (Voelz, "Computational Fourier Optics", 2011; Matsushima &
Shimobaba, Opt. Express 17, 19662, 2009):

* Fresnel transfer function (and the angular spectrum): ``|z| <= n dx^2 / lambda``;
* Fresnel impulse response: ``|z| >= n dx^2 / lambda``;
* band-limited angular spectrum: the band limit
  ``f_lim = 1 / (lambda sqrt((2 df z)^2 + 1))``, ``df = 1 / (n dx)``, must not cut into the
  sampled band ``min(1 / (2 dx), 1 / (2 lambda))``, i.e.
  ``|z| <= (n dx / 2) sqrt(1 / (lambda f_band)^2 - 1)`` (see :func:`asm_max_distance`);
* a thin lens of focal length ``f`` over radius ``R``: ``dx <= lambda |f| / (2 R)``.

Each ``check_*`` raises ValueError naming the criterion, the numbers, and a padding or pitch that
would satisfy it.
"""
from __future__ import annotations

import math
from typing import Sequence


def critical_distance(n: int, dx: float, wavelength: float) -> float:
    """``n dx^2 / lambda`` (m): where the Fresnel TF and IR methods swap validity."""
    return n * dx * dx / wavelength


def asm_band_limit(n: int, dx: float, wavelength: float, z: float) -> float:
    """Matsushima-Shimobaba band limit (1/m) for ``n`` samples of pitch ``dx`` at distance z."""
    df = 1.0 / (n * dx)
    return 1.0 / (wavelength * math.sqrt((2.0 * df * z) ** 2 + 1.0))


def asm_sampled_band(dx: float, wavelength: float) -> float:
    """Frequency (1/m) the band limit must keep: Nyquist ``1/(2 dx)``, capped at ``1/(2 lambda)``."""
    return min(1.0 / (2.0 * dx), 1.0 / (2.0 * wavelength))


def asm_max_distance(n: int, dx: float, wavelength: float) -> float:
    """Largest ``|z|`` (m) for which the band limit keeps the whole sampled band.

    Solves ``asm_band_limit(n, dx, wavelength, z) = asm_sampled_band(dx, wavelength)``:
    ``z = (n dx / 2) sqrt(1 / (lambda f_b)^2 - 1)``; close to ``n dx^2 / lambda`` when
    ``dx >> lambda``.
    """
    f_band = asm_sampled_band(dx, wavelength)
    return 0.5 * n * dx * math.sqrt(1.0 / (wavelength * f_band) ** 2 - 1.0)


def _padding_for(needed_n: float, n_field: int) -> float:
    return math.ceil(needed_n / n_field * 100.0) / 100.0


def check_transfer_function(n: int, n_field: int, dx: float, wavelengths: Sequence[float],
                            z: float) -> None:
    """Fresnel TF criterion ``|z| <= n dx^2 / lambda`` for every wavelength (n padded samples).

    Raises
    ------
    ValueError
        Naming the criterion and proposing a padding factor (``pad``) or the impulse response.
    """
    for wavelength in wavelengths:
        limit = critical_distance(n, dx, wavelength)
        if abs(z) > limit:
            pad = _padding_for(abs(z) * wavelength / dx ** 2, n_field)
            raise ValueError(
                f"fresnel_tf sampling criterion |z| <= N dx^2 / lambda violated: |z| = {abs(z):.6g} m "
                f"> {n} * ({dx:.6g} m)^2 / {wavelength:.6g} m = {limit:.6g} m; use pad >= {pad:g} "
                f"(N >= {math.ceil(abs(z) * wavelength / dx ** 2)}), or method='fresnel_ir' / 'auto'")


def check_impulse_response(n: int, n_field: int, dx: float, wavelengths: Sequence[float],
                           z: float) -> None:
    """Fresnel IR criterion ``|z| >= n dx^2 / lambda`` for every wavelength.

    Raises
    ------
    ValueError
        Naming the criterion and proposing a smaller padding, a coarser pitch or the TF/ASM method.
    """
    for wavelength in wavelengths:
        limit = critical_distance(n, dx, wavelength)
        if abs(z) < limit:
            pad = math.floor(abs(z) * wavelength / dx ** 2 / n_field * 100.0) / 100.0
            pitch = math.sqrt(abs(z) * wavelength / n)
            hint = f"pad <= {pad:g}, " if pad >= 1.0 else ""
            raise ValueError(
                f"fresnel_ir sampling criterion |z| >= N dx^2 / lambda violated: |z| = {abs(z):.6g} m "
                f"< {n} * ({dx:.6g} m)^2 / {wavelength:.6g} m = {limit:.6g} m; use {hint}a pitch "
                f"dx <= {pitch:.6g} m, or method='asm' / 'fresnel_tf' / 'auto'")


def check_angular_spectrum(n: int, n_field: int, dx: float, wavelengths: Sequence[float],
                           z: float) -> None:
    """Band-limited ASM criterion: the band limit keeps the sampled band for every wavelength.

    Raises
    ------
    ValueError
        Naming the band limit, the numbers, and a padding that keeps the band, or 'fresnel_ir'.
    """
    for wavelength in wavelengths:
        limit = asm_max_distance(n, dx, wavelength)
        if abs(z) > limit:
            f_lim = asm_band_limit(n, dx, wavelength, z)
            f_band = asm_sampled_band(dx, wavelength)
            needed_n = 2.0 * abs(z) / (dx * math.sqrt(1.0 / (wavelength * f_band) ** 2 - 1.0))
            raise ValueError(
                f"asm band limit criterion violated: at |z| = {abs(z):.6g} m the band limit "
                f"1 / (lambda sqrt((2 df z)^2 + 1)) = {f_lim:.6g} 1/m cuts into the sampled band "
                f"{f_band:.6g} 1/m (lambda = {wavelength:.6g} m, N = {n}, dx = {dx:.6g} m; holds for "
                f"|z| <= {limit:.6g} m); use pad >= {_padding_for(needed_n, n_field):g}, "
                f"or method='fresnel_ir' / 'auto', or check=False for a field known to be band-limited")


def check_lens_sampling(dx: float, wavelength: float, focal: float, radius: float) -> None:
    """Thin-lens phase criterion ``dx <= lambda |f| / (2 R)``.

    Raises
    ------
    ValueError
        Naming the criterion and proposing the largest pitch or radius that satisfies it.
    """
    limit = wavelength * abs(focal) / (2.0 * radius)
    if dx > limit:
        raise ValueError(
            f"thin lens sampling criterion dx <= lambda |f| / (2 R) violated: dx = {dx:.6g} m > "
            f"{wavelength:.6g} m * {abs(focal):.6g} m / (2 * {radius:.6g} m) = {limit:.6g} m; use a "
            f"pitch dx <= {limit:.6g} m or an aperture radius R <= "
            f"{wavelength * abs(focal) / (2.0 * dx):.6g} m")
