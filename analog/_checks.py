"""Tensor and mode checks of the analog stages: clear ValueErrors naming parameter, value and range.

Scalar checks come from :mod:`canopic.core.checks` (re-exported here for the stages).
"""
from __future__ import annotations

import math

import torch

from canopic.core.checks import check_nonnegative, check_positive  # noqa: F401


def check_finite_tensor(x: torch.Tensor, name: str) -> "tuple[float, float]":
    """Raise ValueError unless ``x`` is a floating-point tensor without NaN or inf.

    Returns the (minimum, maximum) of ``x`` ((0.0, 0.0) when empty): one fused reduction, which
    propagates NaN and so doubles as the finiteness test.
    """
    if not isinstance(x, torch.Tensor):
        raise ValueError(f"{name}: expected a torch.Tensor, got {type(x).__name__}")
    if not torch.is_floating_point(x):
        raise ValueError(f"{name}: expected a floating-point tensor, got dtype {x.dtype}")
    if x.numel() == 0:
        return 0.0, 0.0
    low, high = (float(v) for v in torch.aminmax(x.detach()))
    if not (math.isfinite(low) and math.isfinite(high)):
        bad = int((~torch.isfinite(x)).sum())
        raise ValueError(f"{name}: {bad} value(s) are NaN or inf; allowed: finite values only")
    return low, high


def check_nchw(x: torch.Tensor, name: str) -> "tuple[float, float]":
    """Raise ValueError unless ``x`` is a finite floating-point NCHW tensor; return (min, max)."""
    if isinstance(x, torch.Tensor) and x.dim() != 4:
        raise ValueError(f"{name}: expected an NCHW tensor (4 dimensions), got shape "
                         f"{tuple(x.shape)}")
    return check_finite_tensor(x, name)


def check_mode(mode: str) -> str:
    """Raise ValueError unless ``mode`` is "hard" or "soft"."""
    if mode not in ("hard", "soft"):
        raise ValueError(f"mode: got {mode!r}; allowed: 'hard' or 'soft'")
    return mode


def standard_normal(shape: "tuple[int, ...]", like: torch.Tensor,
                    generator: "torch.Generator | None") -> torch.Tensor:
    """Draw N(0, 1) samples of ``shape`` with ``like``'s dtype and device.

    The samples come from ``generator`` (drawn on the generator's device, then moved), or from
    torch's global generator when ``generator`` is None.
    """
    if generator is None:
        return torch.randn(shape, dtype=like.dtype, device=like.device)
    draw = torch.randn(shape, dtype=like.dtype, device=generator.device, generator=generator)
    return draw.to(like.device)
