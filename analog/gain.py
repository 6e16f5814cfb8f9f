"""Gain stage in front of the flash ADC: per-frame peak detectors or a fixed gain.

Both modes are the affine map ``y = (x - offset) / scale`` clipped to ``[0, full_scale]``, whose
inverse ``x = y * scale + offset`` turns ADC codes back into input units (the paper maps codes
back by ``y * scale + min``).

- ``"per_frame"``: peak detectors hold each frame's minimum and maximum (over all its channels
  and positions); ``offset = min``, ``scale = (max - min) / full_scale``. A flat frame (max = min)
  maps to 0.
- ``"fixed"``: ``y = gain * (x - offset)``, i.e. ``scale = 1 / gain``.
"""
from __future__ import annotations

import torch
from torch import nn

from analog._checks import check_finite_tensor, check_positive
from canopic.core.units import parse_quantity

_MODES = ("per_frame", "fixed")


class GainStage(nn.Module):
    """Map the analog signal onto the ADC input range [0, full_scale].

    Parameters
    ----------
    mode : {"per_frame", "fixed"}
        Peak-detector automatic gain per frame, or a fixed gain and offset.
    full_scale : float
        Top of the ADC input range in ADC units (15 for a 4-bit ADC with thresholds k + 0.5).
    gain : float
        Fixed mode only: ADC units per input unit (1/V), > 0.
    offset : float or str
        Fixed mode only: input value mapped to 0, in input units (V); "0.2V" strings accepted.

    Attributes
    ----------
    last_scale, last_offset : torch.Tensor or None
        The mapping of the latest forward call, shape [N, 1, ..., 1] (per frame) or scalars, so
        that ``x = y * last_scale + last_offset`` (detached; ``return_mapping=True`` gives the
        differentiable ones).
    """

    def __init__(self, mode: str = "per_frame", full_scale: float = 15.0, gain: float = 1.0,
                 offset: "float | str" = 0.0) -> None:
        super().__init__()
        if mode not in _MODES:
            raise ValueError(f"mode: got {mode!r}; allowed: {', '.join(map(repr, _MODES))}")
        self.mode = mode
        self.full_scale = check_positive(full_scale, "full_scale")
        self.gain = check_positive(gain, "gain")
        self.offset = parse_quantity(offset, "V", "offset")
        self.last_scale: "torch.Tensor | None" = None
        self.last_offset: "torch.Tensor | None" = None

    def mapping(self, x: torch.Tensor) -> "tuple[torch.Tensor, torch.Tensor]":
        """The (scale, offset) this stage applies to ``x`` [N, ...]; broadcastable to ``x``."""
        check_finite_tensor(x, "x")
        if self.mode == "fixed":
            scale = torch.tensor(1.0 / self.gain, dtype=x.dtype, device=x.device)
            return scale, torch.tensor(self.offset, dtype=x.dtype, device=x.device)
        if x.dim() < 2:
            raise ValueError(f"x: per-frame gain needs a batch dimension and at least one more, "
                             f"got shape {tuple(x.shape)}")
        flat = x.reshape(x.shape[0], -1)
        view = (x.shape[0],) + (1,) * (x.dim() - 1)
        low = flat.amin(dim=1).reshape(view)
        high = flat.amax(dim=1).reshape(view)
        tiny = torch.finfo(x.dtype).tiny
        scale = torch.clamp(high - low, min=tiny) / self.full_scale
        return scale, low

    def forward(self, x: torch.Tensor, return_mapping: bool = False):
        """Scale ``x`` [N, ...] into [0, full_scale]; optionally also return (scale, offset)."""
        scale, offset = self.mapping(x)
        y = torch.clamp((x - offset) / scale, 0.0, self.full_scale)
        # kept for inverse() and reports, detached: no autograd graph outlives the call
        self.last_scale, self.last_offset = scale.detach(), offset.detach()
        return (y, scale, offset) if return_mapping else y

    def inverse(self, y: torch.Tensor, scale: "torch.Tensor | None" = None,
                offset: "torch.Tensor | None" = None) -> torch.Tensor:
        """Map ADC-scale values back to input units: ``y * scale + offset``.

        Uses the latest forward call's mapping unless ``scale`` and ``offset`` are given.
        """
        if scale is None or offset is None:
            if self.last_scale is None:
                raise ValueError("scale/offset: none given and no forward call yet; call the "
                                 "stage first or pass scale and offset")
            scale = self.last_scale if scale is None else scale
            offset = self.last_offset if offset is None else offset
        return y * scale + offset

    def extra_repr(self) -> str:
        extra = f", gain={self.gain}, offset={self.offset}" if self.mode == "fixed" else ""
        return f"mode={self.mode!r}, full_scale={self.full_scale}{extra}"
