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

#: dilations of the 3 x 3 layers: receptive field 1 + 2 * (1 + 2 + 4 + 8) = 31 px
DILATIONS = (1, 2, 4, 8)


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
        from sensor import Camera, CameraConfig

        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(int(seed))
            layers: "list[nn.Module]" = []
            channels = 3
            for dilation in DILATIONS:
                layers += [nn.Conv2d(channels, width, 3, padding=dilation, dilation=dilation),
                           nn.Identity() if linear else nn.ReLU()]
                channels = width
            layers.append(nn.Conv2d(width, 3, 1))
            self.front = nn.Sequential(*layers)
        self.back = Camera(CameraConfig(conv="none", maxpool=True, quantize=True, seed=int(seed)))

    @property
    def adc(self) -> nn.Module:
        """The flash ADC (the trainer reads it to know the encoder quantises)."""
        return self.back.adc

    def forward(self, images: torch.Tensor, mode: str = "hard", hardness: Optional[float] = None,
                generator: Optional[torch.Generator] = None) -> torch.Tensor:
        return self.back(self.front(images), mode=mode, hardness=hardness, generator=generator)
