"""A learnable PSF parameterised as a chain of small dilated kernels (a deep linear network).

Each PSF is still one linear, shift-invariant kernel -- what a phase mask (or a pair of masks,
``optics.signed``) realises -- but it is learned through a chain of small kernels instead of
through its own taps:

    PSF = impulse response of  k_L o ... o k_1    (k_l: 3 x 3 taps dilated by d_l, mixing the
                                                   hidden channels; a last 1 x 1 layer mixes
                                                   them into each filter's PSF; no biases)

i.e. the flip of the 2-D convolution of the factors (``torch.nn.Conv2d`` correlates), so its
support is 1 + 2 * sum(d_l) pixels (31 px for dilations 1, 2, 4, 8) and gradient descent on
the factors moves it differently from descent on the taps (the gradient of each factor is
scaled by the others). With ``filters`` F > 1 (Conv(4)'s four PSFs) the last 1 x 1 layer has
F outputs: each PSF is its own mix of the chain's hidden impulse responses, the dilated
layers are shared. In the learning study (docs/evaluation.md, "Learned cameras against the
fixed frontiers") the default recipe learned designs several points more private than blur on
the validation images with this parameterisation, where the free taps land on blur's frontier;
see there for the test images.

In mode ``"two_mask"`` (the physical camera) the chain's impulse response K is split into its
positive and negative parts, K+ = (|K| + K) / 2 and K- = (|K| - K) / 2, two non-negative PSFs
that two masks realise and whose captures the analog chain subtracts (``signed_parts()``, as
``optics.kernels.KernelPSF`` in mode ``"two_mask"``); one common factor scales both so that the
brightest sums to 1 (a passive optic's light budget).

Example
-------
>>> psf = FactorisedPSF(size=63, seed=0)
>>> tuple(psf().shape)
(1, 1, 63, 63)
>>> bool(psf()[0, 0, :16].abs().max() == 0)  # outside the 31 px support: zero
True
>>> tuple(FactorisedPSF(size=31, filters=4, seed=0)().shape)  # Conv(4): four PSFs
(4, 1, 31, 31)
"""
from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from .kernels import two_mask_parts

#: default dilations of the 3 x 3 factors: a 31 x 31 px support
DEFAULT_DILATIONS = (1, 2, 4, 8)
#: side (px) of the non-zero region of a chain with :data:`DEFAULT_DILATIONS`
DEFAULT_SUPPORT = 1 + 2 * sum(DEFAULT_DILATIONS)
#: how the chain's impulse response becomes the camera's PSF (class docstring)
FACTORISED_MODES = ("free", "two_mask")


def dilated_chain(in_channels: int, out_channels: int, width: int, dilations: Sequence[int],
                  seed: int, bias: bool = False, activation=None) -> nn.Sequential:
    """3 x 3 convolutions dilated by ``dilations`` (``in_channels`` -> ``width`` -> ... ->
    ``width``, zero padding, same size), each followed by ``activation()`` when given, then a
    1 x 1 convolution to ``out_channels``; weights from PyTorch's default initialisation
    seeded by ``seed`` (the global RNG is left as it was). Receptive field:
    1 + 2 * sum(dilations) px."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(seed))
        layers: "list[nn.Module]" = []
        channels = in_channels
        for dilation in dilations:
            layers.append(nn.Conv2d(channels, width, 3, padding=dilation, dilation=dilation,
                                    bias=bias))
            if activation is not None:
                layers.append(activation())
            channels = width
        layers.append(nn.Conv2d(width, out_channels, 1, bias=bias))
        return nn.Sequential(*layers)


class FactorisedPSF(nn.Module):
    """F PSFs [F, 1, size, size] = the impulse responses of a chain of dilated 3 x 3 kernels.

    Parameters
    ----------
    size : int
        Side of the returned PSF in pixels (odd; at least the support, 1 + 2 * sum(dilations)).
    dilations : sequence of int
        Dilation of each 3 x 3 factor (pixels between its taps), >= 1.
    width : int
        Hidden channels between the factors (>= 1); a last 1 x 1 factor mixes them into each
        filter's PSF.
    filters : int
        Number of PSFs F (>= 1): the last 1 x 1 factor's outputs (1 for Conv(1), 4 for
        Conv(4)).
    seed : int
        Seeds the factors' initial weights (PyTorch's default uniform initialisation).
    mode : {"free", "two_mask"}
        ``"free"``: the PSF is the chain's impulse response, signed and of arbitrary scale (the
        camera's per-frame gain ignores the scale), like ``optics.kernels.KernelPSF`` in mode
        ``"free"`` (the ideal camera). ``"two_mask"``: the same shape as K+ - K-, two
        non-negative PSFs per filter, all scaled by one factor so the brightest sums to 1
        (``signed_parts()``; the filters keep their relative gains), which a camera
        with a physical pixel array captures separately (the module docstring).

    The PSF is the same on every colour channel.
    """

    def __init__(self, size: int = 63, dilations: Sequence[int] = DEFAULT_DILATIONS,
                 width: int = 8, seed: int = 0, mode: str = "free", filters: int = 1):
        super().__init__()
        if mode not in FACTORISED_MODES:
            raise ValueError(f"mode: {mode!r} is not one of {FACTORISED_MODES}")
        dilations = tuple(int(d) for d in dilations)
        if not dilations or min(dilations) < 1:
            raise ValueError(f"dilations: {dilations!r} is not allowed; need one or more "
                             f"integers >= 1")
        support = 1 + 2 * sum(dilations)
        if not isinstance(size, int) or size % 2 == 0 or size < support:
            raise ValueError(f"size: {size!r} is not allowed; need an odd integer >= the "
                             f"support, {support} px for dilations {dilations}")
        if not isinstance(width, int) or width < 1:
            raise ValueError(f"width: {width!r} is not allowed; need an integer >= 1")
        if not isinstance(filters, int) or isinstance(filters, bool) or filters < 1:
            raise ValueError(f"filters: {filters!r} is not allowed; need an integer >= 1")
        self.dilations, self.size, self.mode, self.filters = dilations, size, mode, filters
        self.factors = dilated_chain(1, filters, width, dilations, seed)
        impulse = torch.zeros(1, 1, size, size)
        impulse[0, 0, size // 2, size // 2] = 1.0
        self.register_buffer("impulse", impulse, persistent=False)

    @property
    def support(self) -> int:
        """Side of the PSF's non-zero region in pixels."""
        return 1 + 2 * sum(self.dilations)

    @property
    def is_two_mask(self) -> bool:
        """True when the PSF is realised as two masks (``signed_parts()`` available)."""
        return self.mode == "two_mask"

    def impulse_response(self) -> torch.Tensor:
        """The chain's impulse responses K [F, 1, size, size], unscaled (mode ``"free"``'s
        PSFs)."""
        return self.factors(self.impulse).transpose(0, 1)

    def signed_parts(self) -> "tuple[torch.Tensor, torch.Tensor]":
        """(K+, K-), each non-negative [F, 1, size, size], the brightest PSF summing to 1, with
        forward() = K+ - K- (mode ``"two_mask"`` only)."""
        if self.mode != "two_mask":
            raise ValueError(f"signed_parts: only for mode 'two_mask', this PSF is {self.mode!r}")
        return two_mask_parts(self.impulse_response())

    def forward(self) -> torch.Tensor:
        """The PSFs [F, 1, size, size] (centred on tap (size // 2, size // 2))."""
        if self.mode == "free":
            return self.impulse_response()
        plus, minus = self.signed_parts()
        return plus - minus
