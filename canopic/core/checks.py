"""Argument checks shared by every package: each returns the checked value or raises a
ValueError that names the parameter, the value and the allowed range.

>>> check_positive("2.5", "distance", "m")
2.5
>>> check_nonnegative(-1, "noise_sigma")
Traceback (most recent call last):
...
ValueError: noise_sigma must be finite and >= 0, got -1
"""
from __future__ import annotations

import math


def _finite_float(value, name: str, allowed: str, unit: str) -> float:
    try:
        result = float(value)
    except (TypeError, ValueError):
        result = math.nan
    if isinstance(value, bool) or not math.isfinite(result):
        raise ValueError(f"{name} must be {allowed}{unit}, got {value!r}")
    return result


def check_positive(value, name: str, unit: str = "") -> float:
    """``value`` as a float; ValueError unless finite and > 0 (``unit`` goes into the message)."""
    allowed, unit = "finite and > 0", f" {unit}" if unit else ""
    result = _finite_float(value, name, allowed, unit)
    if result <= 0:
        raise ValueError(f"{name} must be {allowed}{unit}, got {value!r}")
    return result


def check_nonnegative(value, name: str, unit: str = "") -> float:
    """``value`` as a float; ValueError unless finite and >= 0."""
    allowed, unit = "finite and >= 0", f" {unit}" if unit else ""
    result = _finite_float(value, name, allowed, unit)
    if result < 0:
        raise ValueError(f"{name} must be {allowed}{unit}, got {value!r}")
    return result


__all__ = ["check_positive", "check_nonnegative"]
