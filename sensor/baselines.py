"""The paper's conventional optical privacy baselines: Gaussian blur and pixelation.

Both take scenes [N, C, H, W] (linear intensity) and use the same replicate-padded convolution
as the camera's optics, so they are directly comparable with CAnOPIC captures.

>>> import torch
>>> x = torch.rand(1, 3, 64, 64)
>>> tuple(gaussian_blur(x).shape), tuple(pixelate(x).shape), tuple(pixelate(x, upsample=True).shape)
((1, 3, 64, 64), (1, 3, 8, 8), (1, 3, 64, 64))
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from optics.imaging import convolve_psf
from optics.kernels import gaussian_psf


def gaussian_blur(images: torch.Tensor, sigma_px: float = 8.0, kernel_size: "int | None" = None) -> torch.Tensor:
    """Blur each channel with a Gaussian of standard deviation ``sigma_px`` pixels.

    ``kernel_size`` (odd, pixels) defaults to the paper's 63 for sigma 8, i.e.
    2 * ceil(3.9 * sigma) - 1 clipped to at least 3; replicate padding; output [N, C, H, W].
    """
    if not (math.isfinite(sigma_px) and sigma_px > 0):
        raise ValueError(f"sigma_px: must be a positive number of pixels, got {sigma_px}")
    size = kernel_size or max(3, 2 * math.ceil(3.9 * sigma_px) - 1)
    if size % 2 == 0:
        size += 1
    psf = gaussian_psf(size, sigma_px).to(images.device)[None, None]
    return convolve_psf(images, psf)


def pixelate(images: torch.Tensor, block: int = 8, upsample: bool = False) -> torch.Tensor:
    """Replace each non-overlapping ``block`` x ``block`` patch by its mean.

    Returns [N, C, H/block, W/block], or the blocky full-size image [N, C, H, W] with
    ``upsample=True``.
    """
    if block < 1 or images.shape[-1] % block or images.shape[-2] % block:
        raise ValueError(f"block: must divide the image size {tuple(images.shape[-2:])}, got {block}")
    pooled = F.avg_pool2d(images, block)
    return F.interpolate(pooled, scale_factor=block, mode="nearest") if upsample else pooled
