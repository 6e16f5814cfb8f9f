"""Input checks shared by the analog stages: clear ValueErrors naming parameter, value and range."""
from __future__ import annotations

import math

import torch


def check_finite_tensor(x: torch.Tensor, name: str) -> None:
    """Raise ValueError unless ``x`` is a floating-point tensor without NaN or inf."""
    if not isinstance(x, torch.Tensor):
        raise ValueError(f"{name}: expected a torch.Tensor, got {type(x).__name__}")
    if not torch.is_floating_point(x):
        raise ValueError(f"{name}: expected a floating-point tensor, got dtype {x.dtype}")
    if not bool(torch.isfinite(x).all()):
        bad = int((~torch.isfinite(x)).sum())
        raise ValueError(f"{name}: {bad} value(s) are NaN or inf; allowed: finite values only")


def check_nchw(x: torch.Tensor, name: str) -> None:
    """Raise ValueError unless ``x`` is a finite floating-point NCHW tensor."""
    check_finite_tensor(x, name)
    if x.dim() != 4:
        raise ValueError(f"{name}: expected an NCHW tensor (4 dimensions), got shape "
                         f"{tuple(x.shape)}")


def check_nonnegative(value: float, name: str) -> float:
    """Return ``value`` as float; raise ValueError unless finite and >= 0."""
    value = float(value)
    if not math.isfinite(value) or value < 0.0:
        raise ValueError(f"{name}: got {value}; allowed range: finite and >= 0")
    return value


def check_positive(value: float, name: str) -> float:
    """Return ``value`` as float; raise ValueError unless finite and > 0."""
    value = float(value)
    if not math.isfinite(value) or value <= 0.0:
        raise ValueError(f"{name}: got {value}; allowed range: finite and > 0")
    return value


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
