"""Point-spread functions of thin phase masks at the sensor, per wavelength or colour channel.

Pipeline (``mask_psf``): relief height h [M, H, W] -> phase ``2 pi (n(lambda) - 1) h / lambda``
per wavelength -> unit plane wave through the aperture and mask -> band-limited angular-spectrum
propagation over the mask-sensor distance -> intensity -> integrated over the light-sensitive
area of each sensor pixel (area-weighted resampling: any sensor pitch, integer multiples of the
mask pitch included, and a square active area of ``fill_factor`` of the pixel) -> a centred
kernel [M, L, k, k] (or [M, C, k, k] with spectral weights) normalised to sum 1.

The sensor grid is centred on the optical axis like the mask grid (see :mod:`optics.elements`):
for odd ``k`` the centre pixel sits on the axis. Defaults follow PhlatCam (Boominathan et al.,
TPAMI 2020): 2 um mask pixels, 1.869 mm mask-sensor distance, fused silica, design wavelength
532 nm; the colour defaults are R, G, B = 640, 532, 450 nm.
"""
from __future__ import annotations

import math
from typing import Sequence

import torch
from torch import nn

from . import sampling
from .elements import field_from_phase, grid_coordinates, phase_from_height
from .materials import two_pi_height
from canopic.core.checks import check_positive

from .propagation import as_wavelengths, propagate

#: PhlatCam's design wavelength (m).
DESIGN_WAVELENGTH = 532e-9
#: Default wavelengths for the R, G, B channels (m), in that order.
RGB_WAVELENGTHS = (640e-9, 532e-9, 450e-9)
#: PhlatCam's mask pixel pitch (m).
MASK_PITCH = 2e-6
#: PhlatCam's mask-sensor distance (m).
MASK_SENSOR_DISTANCE = 1.869e-3
#: Default mask material.
MATERIAL = "fused_silica"


def default_kernel_size(grid_size: int, mask_pitch: float, sensor_pitch: float) -> int:
    """Largest odd number of sensor pixels that fits the mask's extent."""
    k = int(math.floor(grid_size * mask_pitch / sensor_pitch + 1e-9))
    k = k if k % 2 == 1 else k - 1
    if k < 1:
        raise ValueError(f"kernel_size: the mask ({grid_size} x {mask_pitch} m) is smaller than one "
                         f"sensor pixel ({sensor_pitch} m); give kernel_size explicitly")
    return k


def pixel_integration_weights(n_in: int, mask_pitch: float, k: int, sensor_pitch: float,
                              fill_factor: float, device=None, dtype=torch.float32) -> torch.Tensor:
    """Weights [k, n_in]: fraction of each mask sample inside each sensor pixel's active width.

    Sensor pixel ``j`` is centred at ``(j - (k - 1) / 2) * sensor_pitch`` with an active width
    ``sqrt(fill_factor) * sensor_pitch``; mask sample ``i`` covers
    ``x_i +- mask_pitch / 2``. Intensity is taken as uniform over each mask sample.
    """
    centres_in = grid_coordinates(n_in, mask_pitch, device)
    centres_out = grid_coordinates(k, sensor_pitch, device)
    half = 0.5 * math.sqrt(fill_factor) * sensor_pitch
    left = torch.maximum(centres_in[None, :] - mask_pitch / 2, centres_out[:, None] - half)
    right = torch.minimum(centres_in[None, :] + mask_pitch / 2, centres_out[:, None] + half)
    return (torch.clamp(right - left, min=0.0) / mask_pitch).to(dtype)


def _asm_padding(n: int, dx: float, wavelengths: Sequence[float], distance: float, pad: float) -> float:
    """``pad`` raised where needed so the band-limited ASM keeps the sampled band at every wavelength."""
    needed = pad
    for w in wavelengths:
        f_band = sampling.asm_sampled_band(dx, w)
        n_needed = 2.0 * abs(distance) / (dx * math.sqrt(1.0 / (w * f_band) ** 2 - 1.0))
        needed = max(needed, math.ceil(n_needed + 1) / n)
    return needed


def mask_psf(height_map, mask_pitch: float = MASK_PITCH, wavelengths=RGB_WAVELENGTHS,
             distance: float = MASK_SENSOR_DISTANCE, sensor_pitch: float | None = None,
             kernel_size: int | None = None, material=MATERIAL, fill_factor: float = 1.0,
             aperture=None, spectral_weights=None, *, pad: float = 2, dtype=torch.complex64):
    """PSF kernels on the sensor grid of one or several thin phase masks.

    Parameters
    ----------
    height_map : torch.Tensor, [H, W] or [M, H, W]
        Relief heights (m). Differentiable.
    mask_pitch : float
        Mask pixel pitch (m).
    wavelengths : float or sequence of L floats
        Vacuum wavelengths (m); default R, G, B = 640, 532, 450 nm.
    distance : float
        Mask-sensor distance (m), > 0.
    sensor_pitch : float, optional
        Sensor pixel pitch (m); default ``mask_pitch``. Integer multiples of the mask pitch bin
        exactly; other ratios resample by area.
    kernel_size : int, optional
        k, the kernel's side in sensor pixels; default the largest odd k that fits the mask.
        A kernel larger than the mask gets the mask zero-padded (opaque) to cover it.
    material : str or callable
        Mask material (see :mod:`optics.materials`).
    fill_factor : float
        Light-sensitive fraction of each sensor pixel's area, in (0, 1] (a centred square).
    aperture : torch.Tensor [H, W], optional
        Amplitude transmittance in front of the mask; default fully open over the mask.
    spectral_weights : array-like [C, L], optional
        Non-negative weights of each wavelength in each colour channel (source spectrum times
        channel response); the result has C channels instead of L wavelengths.
    pad : float, keyword-only
        Zero padding for propagation (raised automatically where the ASM band limit needs it).
    dtype : torch complex dtype, keyword-only
        Field precision (complex64 default; complex128 for reference work).

    Returns
    -------
    torch.Tensor
        [L or C, k, k] for a [H, W] height map, [M, L or C, k, k] for [M, H, W]; every kernel
        sums to 1; float32 (float64 with complex128).
    """
    height = height_map if isinstance(height_map, torch.Tensor) else torch.as_tensor(height_map)
    if height.ndim not in (2, 3):
        raise ValueError(f"height_map must be [H, W] or [M, H, W], got shape {tuple(height.shape)}")
    single = height.ndim == 2
    height = height[None] if single else height
    real = torch.float64 if dtype == torch.complex128 else torch.float32
    height = height.to(real)
    mask_pitch = check_positive(mask_pitch, "mask_pitch")
    distance = check_positive(distance, "distance")
    sensor_pitch = mask_pitch if sensor_pitch is None else check_positive(sensor_pitch, "sensor_pitch")
    fill_factor = float(fill_factor)
    if not (0.0 < fill_factor <= 1.0):
        raise ValueError(f"fill_factor must be in (0, 1], got {fill_factor}")
    wavelength_list, _ = as_wavelengths(wavelengths)
    rows, cols = height.shape[-2:]
    k = default_kernel_size(min(rows, cols), mask_pitch, sensor_pitch) if kernel_size is None \
        else int(kernel_size)
    if k < 1:
        raise ValueError(f"kernel_size must be >= 1, got {kernel_size}")

    phase = phase_from_height(height, list(wavelength_list), material)          # [M, L, H, W]
    amplitude = None
    if aperture is not None:
        amplitude = torch.as_tensor(aperture, device=height.device).to(real)
        if amplitude.shape != (rows, cols):
            raise ValueError(f"aperture must have the height map's shape {(rows, cols)}, got "
                             f"{tuple(amplitude.shape)}")
    field = field_from_phase(phase, amplitude, dtype)
    extent = k * sensor_pitch
    grid_rows = _cover(rows, extent, mask_pitch)
    grid_cols = _cover(cols, extent, mask_pitch)
    top, left = (grid_rows - rows) // 2, (grid_cols - cols) // 2
    field = torch.nn.functional.pad(field, (left, left, top, top))
    padding = _asm_padding(min(grid_rows, grid_cols), mask_pitch, wavelength_list, distance, pad)
    sensor_field = propagate(field, mask_pitch, list(wavelength_list), distance, "asm", padding, dtype)
    intensity = sensor_field.real ** 2 + sensor_field.imag ** 2                  # [M, L, H', W']
    weights_y = pixel_integration_weights(grid_rows, mask_pitch, k, sensor_pitch, fill_factor,
                                          height.device, real)
    weights_x = pixel_integration_weights(grid_cols, mask_pitch, k, sensor_pitch, fill_factor,
                                          height.device, real)
    kernels = weights_y @ intensity @ weights_x.T                                # [M, L, k, k]
    if spectral_weights is not None:
        weights = torch.as_tensor(spectral_weights, device=height.device).to(real)
        if weights.ndim != 2 or weights.shape[1] != len(wavelength_list) or bool((weights < 0).any()):
            raise ValueError(f"spectral_weights must be non-negative [C, {len(wavelength_list)}], got "
                             f"shape {tuple(weights.shape)}")
        kernels = torch.einsum("cl,mlij->mcij", weights, kernels)
    total = kernels.sum(dim=(-1, -2), keepdim=True)
    if bool((total.detach() <= 0).any()):
        raise ValueError("mask_psf: no light reaches the kernel window (zero aperture or weights)")
    kernels = kernels / total
    return kernels[0] if single else kernels


def _cover(n: int, extent: float, pitch: float) -> int:
    """Grid size >= n covering ``extent`` (m), with the parity of n (so the mask stays centred)."""
    needed = max(n, int(math.ceil(extent / pitch - 1e-9)))
    return needed + ((needed - n) % 2)


class MaskPSF(nn.Module):
    """Learnable phase masks whose forward() returns their PSFs [F, C, k, k].

    Parameters
    ----------
    num_masks : int
        F, the number of masks (one per optical filter).
    mask_shape : int or (H, W)
        Mask samples.
    init_height : torch.Tensor [F, H, W], optional
        Initial heights (m); default uniform random in [0, 2 pi height at ``design_wavelength``).
    seed : int
        Seed of the random initial heights.
    Other parameters are those of :func:`mask_psf`; ``design_wavelength`` sets the random range.
    """

    def __init__(self, num_masks: int = 1, mask_shape=(128, 128), init_height=None,
                 mask_pitch: float = MASK_PITCH, wavelengths=RGB_WAVELENGTHS,
                 distance: float = MASK_SENSOR_DISTANCE, sensor_pitch: float | None = None,
                 kernel_size: int | None = None, material=MATERIAL, fill_factor: float = 1.0,
                 aperture=None, spectral_weights=None, design_wavelength: float = DESIGN_WAVELENGTH,
                 seed: int = 0, dtype=torch.complex64):
        super().__init__()
        if init_height is None:
            rows, cols = (mask_shape, mask_shape) if isinstance(mask_shape, int) else mask_shape
            generator = torch.Generator().manual_seed(int(seed))
            scale = two_pi_height(material, design_wavelength)
            init_height = torch.rand((int(num_masks), rows, cols), generator=generator) * scale
        init_height = torch.as_tensor(init_height, dtype=torch.float64 if dtype == torch.complex128
                                      else torch.float32)
        if init_height.ndim == 2:
            init_height = init_height[None]
        self.height = nn.Parameter(init_height.clone())
        self.register_buffer("aperture", None if aperture is None else torch.as_tensor(aperture))
        self.register_buffer("spectral_weights",
                             None if spectral_weights is None else torch.as_tensor(spectral_weights))
        self.options = dict(mask_pitch=mask_pitch, wavelengths=tuple(as_wavelengths(wavelengths)[0]),
                            distance=distance, sensor_pitch=sensor_pitch, kernel_size=kernel_size,
                            material=material, fill_factor=fill_factor, dtype=dtype)

    def forward(self) -> torch.Tensor:
        """PSFs [F, C, k, k], each summing to 1 (C = wavelengths or spectral channels)."""
        options = dict(self.options)
        dtype = options.pop("dtype")
        return mask_psf(self.height, aperture=self.aperture, spectral_weights=self.spectral_weights,
                        dtype=dtype, **options)
