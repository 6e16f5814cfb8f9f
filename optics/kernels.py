"""Learnable and fixed PSFs on the sensor grid, as the camera's optics stage uses them.

A PSF source is any ``torch.nn.Module`` whose ``forward()`` returns PSFs [F, C, k, k] (C = 1 for
the same PSF on every colour, 3 for one per colour as a physical mask gives). This module has
the paper's initial kernels and three parameterisations of a learnable kernel:

- ``"free"``: any real taps (the paper's ideal, signed kernels; not realisable as one PSF);
- ``"nonnegative"``: PSF = |taps| (a realisable intensity PSF);
- ``"two_mask"``: K = P+ - P-, the positive and negative parts of the signed taps as two
  non-negative PSFs whose captures are subtracted in the analog domain (``signed_parts()``
  exposes them so the camera can capture each through the sensor).

Physical kernels are scaled by one common factor so that the brightest PSF of all filters sums
to 1: a passive mask cannot add light, and the filters keep their gains relative to each other
(a mask may pass less light). The per-frame gain stage and the networks' input normalisation
make the noise-free camera blind to that common factor, so a two-mask kernel learns exactly as
the free kernel with the same taps (same codes, same gradients; tested), and the sensor noise
in the loop is the only difference. An earlier parameterisation (softplus of each tap, every
filter scaled to unit sum on its own) gave taps that start at zero a gradient of ~1e-4 of the
others' and removed the filters' relative gains; it never left the unlearned design's privacy
in the full profile's 12 encoder epochs. Run checkpoints written with it no longer match
(resuming one is refused with a clear error); its design bundles hold the PSFs and still load.
"""
from __future__ import annotations

import math

import torch
from torch import nn

KERNEL_MODES = ("free", "nonnegative", "two_mask")


def gaussian_psf(size: int = 63, sigma_px: float = 8.0) -> torch.Tensor:
    """Centred Gaussian PSF [size, size] with standard deviation ``sigma_px`` (pixels), sum 1."""
    if size < 1 or size % 2 == 0:
        raise ValueError(f"size: must be a positive odd number of pixels, got {size}")
    if not (sigma_px > 0 and math.isfinite(sigma_px)):
        raise ValueError(f"sigma_px: must be a positive number of pixels, got {sigma_px}")
    r = torch.arange(size, dtype=torch.float64) - size // 2
    g = torch.exp(-0.5 * (r / sigma_px) ** 2)
    psf = g[:, None] * g[None, :]
    return (psf / psf.sum()).float()


def half_plane_bars(size: int = 11) -> torch.Tensor:
    """The paper's Conv(4) initial kernels as PSFs, [4, size, size].

    The authors' kernels (applied as cross-correlation) are ones on the upper, left, lower and
    right half (the middle row/column excluded) respectively; as true-convolution PSFs they are
    the same kernels rotated by 180 degrees: lower, right, upper, left halves.
    """
    if size < 3 or size % 2 == 0:
        raise ValueError(f"size: must be an odd number of pixels >= 3, got {size}")
    half = size // 2
    bars = torch.zeros(4, size, size)
    bars[0, :half, :] = 1.0      # upper (authors' orientation)
    bars[1, :, :half] = 1.0      # left
    bars[2, half + 1:, :] = 1.0  # lower
    bars[3, :, half + 1:] = 1.0  # right
    return bars.flip(-1, -2)


def _validate_kernel(kernel: torch.Tensor, name: str) -> torch.Tensor:
    kernel = torch.as_tensor(kernel, dtype=torch.float32)
    if kernel.ndim == 2:
        kernel = kernel[None]
    if kernel.ndim == 4 and kernel.shape[1] == 1:
        kernel = kernel[:, 0]
    if kernel.ndim != 3 or kernel.shape[-1] != kernel.shape[-2] or kernel.shape[-1] % 2 == 0:
        raise ValueError(f"{name}: expected [F, k, k] with k odd, got shape {tuple(kernel.shape)}")
    if not torch.isfinite(kernel).all():
        raise ValueError(f"{name}: contains NaN or inf")
    if not (kernel.abs().amax(dim=(-1, -2)) > 0).all():
        raise ValueError(f"{name}: a kernel is all zeros")
    return kernel


class KernelPSF(nn.Module):
    """Learnable PSFs [F, k, k], the same on every colour channel.

    Parameters
    ----------
    init : torch.Tensor
        Initial kernels, [F, k, k] (or [k, k], or [F, 1, k, k]), PSF convention.
    mode : {"free", "nonnegative", "two_mask"}
        Parameterisation (see the module docstring). ``"nonnegative"`` keeps the positive part of
        a signed ``init``; ``"two_mask"`` splits ``init`` into its positive and negative parts.
    learnable : bool
        Whether the taps are trainable parameters.

    Attributes
    ----------
    taps : torch.Tensor
        The raw taps [F, k, k] (a parameter, or a buffer when not learnable); the PSFs are these
        taps (free), their magnitudes (nonnegative) or their signed parts (two_mask), scaled.
    """

    def __init__(self, init: torch.Tensor, mode: str = "free", learnable: bool = True):
        super().__init__()
        if mode not in KERNEL_MODES:
            raise ValueError(f"mode: {mode!r} is not one of {KERNEL_MODES}")
        kernel = _validate_kernel(init, "init")
        self.mode = mode
        if mode == "nonnegative":
            # |x| has no gradient at exactly 0: taps that start at zero start just above it
            kernel = kernel.clamp(min=1e-4 * float(kernel.detach().abs().max()))
        if learnable:
            self.taps = nn.Parameter(kernel.clone())
        else:
            self.register_buffer("taps", kernel.clone())

    @property
    def is_two_mask(self) -> bool:
        """True when the kernel is realised as two masks (``signed_parts()`` available)."""
        return self.mode == "two_mask"

    def signed_parts(self) -> "tuple[torch.Tensor, torch.Tensor]":
        """(P+, P-), each non-negative [F, 1, k, k], with forward() = P+ - P- ("two_mask" only).

        The brightest of the 2F PSFs sums to 1, the others keep their gain relative to it.
        """
        if self.mode != "two_mask":
            raise ValueError(f"signed_parts: only for mode 'two_mask', this kernel is {self.mode!r}")
        plus, minus = two_mask_parts(self.taps)
        return plus.unsqueeze(1), minus.unsqueeze(1)

    def forward(self) -> torch.Tensor:
        """PSFs [F, 1, k, k]."""
        if self.mode == "free":
            return self.taps.unsqueeze(1)
        if self.mode == "nonnegative":
            magnitude = self.taps.abs()
            return (magnitude / brightest_psf_sum(magnitude)).unsqueeze(1)
        plus, minus = self.signed_parts()
        return plus - minus


def brightest_psf_sum(*parts: torch.Tensor) -> torch.Tensor:
    """The largest sum of one PSF [k, k] among ``parts`` (each [..., k, k]), as a scalar tensor.

    Dividing by it is the passive optic's light budget: no capture gets more light than the
    scene, and the filters keep their gains relative to each other (the per-frame gain stage
    sees all filters of a frame together, so those ratios shape the codes).
    """
    return torch.stack([p.sum(dim=(-1, -2)).amax() for p in parts]).amax()


def two_mask_parts(kernel: torch.Tensor) -> "tuple[torch.Tensor, torch.Tensor]":
    """(K+, K-) of signed kernels [..., k, k]: the positive and negative parts
    (|K| + K) / 2 and (|K| - K) / 2, both divided by :func:`brightest_psf_sum` of the two, so
    K+ - K- has K's shape and the brightest of the PSFs sums to 1 (two masks, two captures).

    The parts are written with |K| so that a tap at exactly 0 still passes its gradient on.
    """
    magnitude = kernel.abs()
    plus, minus = 0.5 * (magnitude + kernel), 0.5 * (magnitude - kernel)
    scale = brightest_psf_sum(plus, minus)
    return plus / scale, minus / scale
