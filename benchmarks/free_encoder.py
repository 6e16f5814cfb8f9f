"""A free encoder for the learning study: a small CNN where the optics would be.

No lens or phase mask can build it (it is non-linear and shift-variant at the borders), so it
is not a design: it asks whether the learning method could find a camera much more private
than blur at the same face accuracy if the optics were no limit. Such an encoder exists in
principle -- one that passes on only a face detector's verdict keeps the detection and leaves
the recogniser at chance -- so a learning method that cannot find it with this much freedom
is limited by its objective and optimiser, not by the optics; one that can is limited by
the optics.

    scene [N, 3, 64, 64] -> CNN (3 -> width -> ... -> 3 channels, same size, zero padding)
      -> sensor.Camera(conv="none"): comparator-tree max-pool 8 x 8 -> gain -> 4-bit ADC
      -> codes [N, 3, 8, 8]

Example
-------
>>> import torch
>>> encoder = FreeEncoder(seed=0)
>>> tuple(encoder(torch.rand(2, 3, 64, 64)).shape)
(2, 3, 8, 8)
"""
from __future__ import annotations

from typing import Optional

import torch
from torch import nn


class FreeEncoder(nn.Module):
    """CNN front end + the camera's analog chain (``sensor.Camera`` without optics).

    Parameters
    ----------
    seed : int
        Seeds the CNN's initial weights (and the camera's fixed patterns, none when ideal).
    width : int
        Channels of the hidden layers.
    linear : bool
        Leave out the ReLUs: the CNN is then one linear filter (31 x 31 px, shift-invariant
        away from its zero-padded borders, colours mixed, biases kept): close to what a PSF
        does, learned through the same layers and optimiser; the control that tells whether
        the CNN's gain is its non-linearity.

    Called like ``sensor.Camera``: ``encoder(images, mode, hardness, generator)`` with images
    [N, 3, H, W] (H, W multiples of 8) returns codes [N, 3, H/8, W/8] in 0..15; ``adc`` is the
    flash ADC whose 15 thresholds learn with the CNN.
    """

    def __init__(self, seed: int = 0, width: int = 8, linear: bool = False):
        super().__init__()
        from optics.factorised import DEFAULT_DILATIONS, dilated_chain
        from sensor import Camera, CameraConfig

        # the factorised PSF's chain (receptive field 31 px), with biases and activations
        self.front = dilated_chain(3, 3, width, DEFAULT_DILATIONS, seed, bias=True,
                                   activation=nn.Identity if linear else nn.ReLU)
        self.back = Camera(CameraConfig(conv="none", maxpool=True, quantize=True, seed=int(seed)))

    @property
    def adc(self) -> nn.Module:
        """The flash ADC (the trainer reads it to know the encoder quantises)."""
        return self.back.adc

    def forward(self, images: torch.Tensor, mode: str = "hard", hardness: Optional[float] = None,
                generator: Optional[torch.Generator] = None) -> torch.Tensor:
        return self.back(self.front(images), mode=mode, hardness=hardness, generator=generator)
