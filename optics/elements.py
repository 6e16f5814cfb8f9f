"""Thin optical elements on a sampled grid: phase masks, apertures, lenses, amplitude masks.

Grid convention: ``n`` samples of pitch ``dx`` have centres ``x_i = (i - (n - 1) / 2) dx``, so the
grid is symmetric about the optical axis and its outer edges are at ``+-n dx / 2``. For even ``n``
pixel edges fall on integer multiples of ``dx`` (a centred square aperture of half-width
``m dx`` has its edges on pixel edges); for odd ``n`` the axis is a pixel centre.

Apertures are transmittances in [0, 1] computed as the exact area fraction of each pixel that
lies inside the opening (rectangles exactly, circles by ``supersample``^2 sub-samples), so edges on
pixel edges give a binary mask. Functions take torch tensors or numpy arrays and return the same
kind; grid constructors return float64 torch tensors (``device`` selectable).
"""
from __future__ import annotations

import math
from typing import Tuple

import numpy as np
import torch

from . import sampling
from .materials import refractive_index
from canopic.core.checks import check_positive

from .propagation import as_wavelengths


def _shape2(shape) -> Tuple[int, int]:
    if isinstance(shape, int):
        shape = (shape, shape)
    shape = tuple(int(s) for s in shape)
    if len(shape) != 2 or min(shape) < 1:
        raise ValueError(f"shape must be (H, W) with H, W >= 1, got {shape!r}")
    return shape


def grid_coordinates(n: int, dx: float, device=None, dtype=torch.float64) -> torch.Tensor:
    """Pixel-centre coordinates (m) ``(i - (n - 1) / 2) * dx``, shape [n]."""
    dx = check_positive(dx, "dx")
    return (torch.arange(int(n), dtype=dtype, device=device) - (int(n) - 1) / 2.0) * dx


def grid(shape, dx: float, device=None, dtype=torch.float64) -> Tuple[torch.Tensor, torch.Tensor]:
    """Centred coordinate grids ``(y, x)`` (m), each [H, W]."""
    height, width = _shape2(shape)
    y = grid_coordinates(height, dx, device, dtype)
    x = grid_coordinates(width, dx, device, dtype)
    return torch.meshgrid(y, x, indexing="ij")


def _interval_overlap(centres: torch.Tensor, dx: float, low: float, high: float) -> torch.Tensor:
    """Fraction of each pixel [c - dx/2, c + dx/2] inside [low, high]."""
    left = torch.clamp(centres - dx / 2.0, min=low)
    right = torch.clamp(centres + dx / 2.0, max=high)
    return torch.clamp(right - left, min=0.0) / dx


def rectangular_aperture(shape, dx: float, width: float, height: float | None = None,
                         center: Tuple[float, float] = (0.0, 0.0), device=None) -> torch.Tensor:
    """Transmittance [H, W] of a rectangular opening (exact pixel area fractions).

    Parameters
    ----------
    shape : int or (H, W)
    dx : float
        Pitch (m).
    width, height : float
        Full width along x and height along y (m); ``height`` defaults to ``width``.
    center : (float, float)
        Centre (y, x) of the opening (m).
    """
    rows, cols = _shape2(shape)
    width = check_positive(width, "width")
    height = width if height is None else check_positive(height, "height")
    y = grid_coordinates(rows, dx, device)
    x = grid_coordinates(cols, dx, device)
    wy = _interval_overlap(y, dx, center[0] - height / 2.0, center[0] + height / 2.0)
    wx = _interval_overlap(x, dx, center[1] - width / 2.0, center[1] + width / 2.0)
    return wy[:, None] * wx[None, :]


def circular_aperture(shape, dx: float, radius: float, center: Tuple[float, float] = (0.0, 0.0),
                      supersample: int = 1, device=None) -> torch.Tensor:
    """Transmittance [H, W] of a circular opening of ``radius`` (m).

    ``supersample`` > 1 averages ``supersample``^2 sub-samples per pixel (area fraction);
    1 samples the pixel centres (binary).
    """
    rows, cols = _shape2(shape)
    radius = check_positive(radius, "radius")
    supersample = int(supersample)
    if supersample < 1:
        raise ValueError(f"supersample must be an integer >= 1, got {supersample}")
    sub = (torch.arange(supersample, dtype=torch.float64, device=device) + 0.5) / supersample - 0.5
    y = (grid_coordinates(rows, dx, device)[:, None] + sub[None, :] * dx - center[0])  # [H, s]
    x = (grid_coordinates(cols, dx, device)[:, None] + sub[None, :] * dx - center[1])  # [W, s]
    inside = (y[:, None, :, None] ** 2 + x[None, :, None, :] ** 2) <= radius ** 2   # [H, W, s, s]
    return inside.to(torch.float64).mean(dim=(-1, -2))


def amplitude_mask(transmittance):
    """Validate an amplitude transmittance (values in [0, 1], finite); same kind back."""
    values = transmittance.detach().cpu().numpy() if isinstance(transmittance, torch.Tensor) \
        else np.asarray(transmittance, dtype=float)
    if values.ndim < 2 or not np.all(np.isfinite(values)) or values.min() < 0 or values.max() > 1:
        raise ValueError("transmittance must be a finite array [..., H, W] with values in [0, 1], "
                         f"got shape {values.shape}, range [{np.nanmin(values)}, {np.nanmax(values)}]")
    return transmittance


def phase_from_height(height, wavelength, material="fused_silica"):
    """Phase delay (rad) of a thin mask of relief ``height``: ``2 pi (n(lambda) - 1) h / lambda``.

    Parameters
    ----------
    height : torch.Tensor or numpy.ndarray, [..., H, W]
        Relief height (m). Differentiable (torch).
    wavelength : float or 1-D sequence
        Vacuum wavelength(s) (m). A sequence of L adds a dim: [..., L, H, W].
    material : str or callable
        See :func:`optics.materials.refractive_index`.

    Returns
    -------
    Same kind as ``height``: [..., H, W] or [..., L, H, W] (rad).
    """
    was_numpy = not isinstance(height, torch.Tensor)
    tensor = torch.as_tensor(np.asarray(height, dtype=float)) if was_numpy else height
    if not tensor.is_floating_point():
        tensor = tensor.to(torch.float64)
    if not bool(torch.isfinite(tensor.detach()).all()):
        raise ValueError("height contains NaN or infinite values")
    wavelengths, stacked = as_wavelengths(wavelength)
    index = np.array([float(refractive_index(material, w)) for w in wavelengths])
    factor = torch.tensor(2.0 * math.pi * (index - 1.0) / np.array(wavelengths),
                          dtype=tensor.dtype, device=tensor.device)
    phase = tensor.unsqueeze(-3) * factor[:, None, None] if stacked else tensor * factor[0]
    return phase.detach().cpu().numpy() if was_numpy else phase


def thin_lens_phase(shape, dx: float, wavelength, focal: float, radius: float | None = None,
                    check: bool = True, device=None) -> torch.Tensor:
    """Paraxial thin-lens phase ``-pi r^2 / (lambda f)`` (rad), [H, W] or [L, H, W].

    Parameters
    ----------
    shape : int or (H, W)
    dx : float
        Pitch (m).
    wavelength : float or sequence
        Wavelength(s) (m); a sequence adds the leading dim L.
    focal : float
        Focal length (m), non-zero (negative: diverging).
    radius : float, optional
        Lens (aperture) radius R (m) used for the sampling check; default the grid's corner.
    check : bool
        Enforce ``dx <= lambda |f| / (2 R)`` (the phase changes by < pi per pixel).
    """
    rows, cols = _shape2(shape)
    dx = check_positive(dx, "dx")
    focal = float(focal)
    if not math.isfinite(focal) or focal == 0.0:
        raise ValueError(f"focal must be finite and non-zero (m), got {focal!r}")
    wavelengths, stacked = as_wavelengths(wavelength)
    y, x = grid((rows, cols), dx, device)
    r2 = y * y + x * x
    if check:
        edge = float(r2.max().sqrt()) if radius is None else check_positive(radius, "radius")
        for w in wavelengths:
            sampling.check_lens_sampling(dx, w, focal, edge)
    phases = torch.stack([-math.pi * r2 / (w * focal) for w in wavelengths])
    return phases if stacked else phases[0]


def field_from_phase(phase, amplitude=None, dtype=torch.complex64):
    """Complex field ``amplitude * exp(i phase)``; torch in -> torch out (differentiable)."""
    was_numpy = not isinstance(phase, torch.Tensor)
    phase_t = torch.as_tensor(np.asarray(phase, dtype=float)) if was_numpy else phase
    real = torch.float64 if dtype == torch.complex128 else torch.float32
    magnitude = torch.ones((), dtype=real, device=phase_t.device) if amplitude is None \
        else torch.as_tensor(amplitude, device=phase_t.device).to(real)
    magnitude, phase_t = torch.broadcast_tensors(magnitude, phase_t.to(real))
    field = torch.polar(magnitude, phase_t)
    return field.numpy() if was_numpy else field
