"""EMVA 1288 measurement helpers: an ideal characterisation ADC and flat-field captures.

EMVA 1288 characterises a camera from digital numbers (DN). The CAnOPIC pixel array outputs
volts (the analog front end works on them), so measuring it the EMVA way needs an ADC. The
:class:`CharacterisationADC` here is ideal: ``2**bits`` uniform codes over ``[v_min, v_max)``,
``DN = floor((volts - v_min) / lsb)`` clipped to ``[0, 2**bits - 1]``. Its quantisation noise is
the uniform 1/12 DN^2 that EMVA 1288 assumes, and the system gain of the pixel behind it is
``K = conversion_gain / lsb`` DN/e-.
"""
from __future__ import annotations

import dataclasses
import math
from typing import Optional

import torch

from sensor.pixel import PixelArray, SensorParams

__all__ = ["CharacterisationADC", "flat_field_frames"]


@dataclasses.dataclass(frozen=True)
class CharacterisationADC:
    """Ideal uniform ADC used to measure the pixel array in DN.

    Parameters
    ----------
    bits : int
        Resolution, 1..32.
    v_min, v_max : float
        Input range, volts, ``v_min < v_max``; ``v_min`` may be negative so that the dark level
        (offsets and read noise around 0 V) stays inside the range.
    """

    bits: int = 12
    v_min: float = 0.0
    v_max: float = 1.0

    def __post_init__(self) -> None:
        bits = self.bits
        if isinstance(bits, bool) or not isinstance(bits, int) or not 1 <= bits <= 32:
            raise ValueError(f"bits: {self.bits!r} is outside the allowed range [1, 32] (integer)")
        for name in ("v_min", "v_max"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or not math.isfinite(value):
                raise ValueError(f"{name}: {value!r} V must be a finite number")
        if not self.v_min < self.v_max:
            raise ValueError(f"v_max: {self.v_max!r} V must be greater than "
                             f"v_min = {self.v_min!r} V")

    @classmethod
    def for_system_gain(cls, params: SensorParams, system_gain: float, bits: int = 12,
                        dark_level: float = 64.0) -> "CharacterisationADC":
        """The ADC that gives ``params`` the system gain ``system_gain`` (DN/e-).

        ``dark_level`` (DN, in [0, 2**bits)) is the code of 0 V, the offset that keeps the
        negative excursions of the dark signal inside the range.
        """
        if not (isinstance(system_gain, (int, float)) and math.isfinite(system_gain)
                and system_gain > 0):
            raise ValueError(f"system_gain: {system_gain!r} DN/e- is outside the allowed range "
                             f"(0, inf)")
        if not (isinstance(bits, int) and 1 <= bits <= 32):
            raise ValueError(f"bits: {bits!r} is outside the allowed range [1, 32] (integer)")
        if not (isinstance(dark_level, (int, float)) and 0 <= dark_level < 2 ** bits):
            raise ValueError(f"dark_level: {dark_level!r} DN is outside the allowed range "
                             f"[0, {2 ** bits})")
        lsb = params.conversion_gain / system_gain
        v_min = -dark_level * lsb
        return cls(bits=bits, v_min=v_min, v_max=v_min + lsb * 2 ** bits)

    @property
    def lsb(self) -> float:
        """Volts per code."""
        return (self.v_max - self.v_min) / 2 ** self.bits

    @property
    def max_code(self) -> int:
        """Full-scale code, ``2**bits - 1``."""
        return 2 ** self.bits - 1

    def system_gain(self, params: SensorParams) -> float:
        """EMVA 1288 overall system gain K of ``params`` behind this ADC, DN/e-."""
        return params.conversion_gain / self.lsb

    def digitize(self, volts: torch.Tensor) -> torch.Tensor:
        """Volts (any shape, floating) -> DN (int64, same shape), clipped to [0, 2**bits - 1]."""
        if not isinstance(volts, torch.Tensor) or not volts.is_floating_point():
            raise ValueError(f"volts: expected a floating-point torch tensor, got "
                             f"{getattr(volts, 'dtype', type(volts).__name__)}")
        if not bool(torch.isfinite(volts).all()):
            raise ValueError("volts: contains NaN or inf; allowed: finite values")
        codes = torch.floor((volts.double() - self.v_min) / self.lsb)
        return codes.clamp(0, self.max_code).to(torch.int64)


def flat_field_frames(pixels: PixelArray, adc: CharacterisationADC, photons: float,
                      frames: int, height: int, width: int, exposure_time: Optional[float] = None,
                      generator: Optional[torch.Generator] = None) -> torch.Tensor:
    """Capture ``frames`` uniformly illuminated single-channel frames in DN.

    Parameters
    ----------
    pixels : PixelArray
        The array under test (its fixed patterns follow its seed).
    adc : CharacterisationADC
        The measuring ADC.
    photons : float
        Mean photons per pixel per exposure (0 for dark frames), >= 0.
    frames, height, width : int
        Number and size of the frames, >= 1.
    exposure_time : float, optional
        Seconds; default ``pixels.params.exposure_time``.
    generator : torch.Generator, optional
        Per-frame noise source.

    Returns
    -------
    torch.Tensor
        [frames, height, width] int64 DN.
    """
    for name, value in (("frames", frames), ("height", height), ("width", width)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name}: {value!r} is outside the allowed range [1, inf) (integer)")
    field = torch.full((frames, 1, height, width), float(photons), dtype=torch.float64)
    volts = pixels(field, mode="hard", generator=generator, exposure_time=exposure_time)
    return adc.digitize(volts)[:, 0]
