"""sRGB <-> linear light (IEC 61966-2-1), for turning photographs into scenes and back.

Photographs are sRGB-encoded; the camera sees linear light, so scenes are decoded with the sRGB
transfer function first.

>>> import torch
>>> x = torch.linspace(0, 1, 11)
>>> bool(torch.allclose(linear_to_srgb(srgb_to_linear(x)), x, atol=1e-6))
True
"""
from __future__ import annotations

import numpy as np
import torch


def srgb_to_linear(values: torch.Tensor) -> torch.Tensor:
    """sRGB-encoded values in [0, 1] -> linear light in [0, 1] (same shape)."""
    return torch.where(values <= 0.04045, values / 12.92, ((values + 0.055) / 1.055) ** 2.4)


def linear_to_srgb(values: torch.Tensor) -> torch.Tensor:
    """Linear light in [0, 1] -> sRGB-encoded values in [0, 1] (clipped)."""
    values = values.clamp(0, 1)
    return torch.where(values <= 0.0031308, values * 12.92, 1.055 * values ** (1 / 2.4) - 0.055)


def images_to_scenes(images: np.ndarray) -> torch.Tensor:
    """uint8 RGB photographs [N, H, W, 3] -> linear scenes float32 [N, 3, H, W] in [0, 1]."""
    images = np.asarray(images)
    if images.dtype != np.uint8 or images.ndim != 4 or images.shape[-1] != 3:
        raise ValueError(f"images: expected uint8 [N, H, W, 3], got {images.dtype} {images.shape}")
    tensor = torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2).float() / 255.0
    return srgb_to_linear(tensor)
