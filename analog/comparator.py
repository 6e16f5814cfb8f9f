"""Comparator model: a static offset per comparator (fixed per seed) and noise per decision.

A comparator decides "plus wins" when ``plus - minus + offset + noise > 0``. The offset is the
Pelgrom-style threshold mismatch of that physical comparator (drawn once per chip, i.e. per
seed); the noise is drawn afresh for every decision. Both are in the units of the inputs
(volts on the simulated camera's analog path).

Soft decisions (for training) replace the step by a sigmoid. Because sigmoid(1.702 z) is within
0.0095 of the standard normal CDF, a sigmoid with slope ``1.702 / sigma`` is the probability that
a comparator with Gaussian noise ``sigma`` decides "plus wins": ``effective_hardness`` folds the
noise and the requested hardness into one slope.
"""
from __future__ import annotations

import math

import torch
from torch import nn

from analog._checks import check_nonnegative, check_positive, standard_normal

#: Slope that makes a logistic sigmoid approximate the standard normal CDF (max error 0.0095).
PROBIT_LOGIT_SLOPE = 1.702


def pelgrom_offset_sigma(a_vt: float, width: float, length: float) -> float:
    """Standard deviation of a comparator's input offset from Pelgrom's law.

    Parameters
    ----------
    a_vt : float
        Pelgrom coefficient A_VT in V m (e.g. 3.5 mV um = 3.5e-9 V m).
    width, length : float
        Input-transistor gate width and length in m.

    Returns
    -------
    float
        sigma(dV_T) = A_VT / sqrt(W L) in V.
    """
    a_vt = check_nonnegative(a_vt, "a_vt")
    width = check_positive(width, "width")
    length = check_positive(length, "length")
    return a_vt / math.sqrt(width * length)


def draw_offsets(shape: "tuple[int, ...]", sigma: float, seed: int,
                 dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """Static comparator offsets N(0, sigma^2) of ``shape``, the same for the same ``seed``.

    Drawn on the CPU from a generator seeded with ``seed`` (so a chip is the same chip on every
    device); ``sigma`` in the units of the inputs.
    """
    sigma = check_nonnegative(sigma, "offset_sigma")
    generator = torch.Generator(device="cpu").manual_seed(int(seed))
    return (torch.randn(shape, dtype=torch.float64, generator=generator) * sigma).to(dtype)


def effective_hardness(hardness: "float | None", noise_sigma: float) -> "float | None":
    """Sigmoid slope whose decision probability matches a noisy, softened comparator.

    A sigmoid of slope ``T`` behaves like a Gaussian CDF of width ``1.702 / T``; adding
    independent Gaussian noise ``noise_sigma`` widens it to ``sqrt((1.702/T)^2 + sigma^2)``.

    Parameters
    ----------
    hardness : float or None
        The requested slope T (1 / input unit); None means an ideal step (T = inf).
    noise_sigma : float
        Comparator noise in input units.

    Returns
    -------
    float or None
        The slope to use, or None for a noiseless ideal step.
    """
    noise_sigma = check_nonnegative(noise_sigma, "noise_sigma")
    if hardness is not None:
        hardness = check_positive(hardness, "hardness")
    if hardness is None and noise_sigma == 0.0:
        return None
    width_sq = noise_sigma ** 2
    if hardness is not None:
        width_sq += (PROBIT_LOGIT_SLOPE / hardness) ** 2
    return PROBIT_LOGIT_SLOPE / math.sqrt(width_sq)


def decide(plus: torch.Tensor, minus: torch.Tensor, offset: "torch.Tensor | float" = 0.0,
           noise_sigma: float = 0.0, generator: "torch.Generator | None" = None) -> torch.Tensor:
    """Hard comparator decisions: True where ``plus - minus + offset + noise > 0``.

    ``plus``, ``minus`` and ``offset`` broadcast together; noise N(0, noise_sigma^2) is drawn
    afresh for every element of the broadcast shape. Returns a bool tensor.
    """
    ideal_offset = isinstance(offset, float) and offset == 0.0
    if ideal_offset and noise_sigma == 0.0:
        return plus > minus          # the same as plus - minus > 0 for finite inputs
    difference = plus - minus
    if not ideal_offset:
        difference = difference + offset
    if noise_sigma > 0.0:
        difference = difference + noise_sigma * standard_normal(tuple(difference.shape),
                                                                difference, generator)
    return difference > 0


def soft_decide(plus: torch.Tensor, minus: torch.Tensor, offset: "torch.Tensor | float",
                slope: float) -> torch.Tensor:
    """Differentiable probability that ``plus`` wins: sigmoid(slope (plus - minus + offset))."""
    return torch.sigmoid(slope * (plus - minus + offset))


class Comparator(nn.Module):
    """A bank of ``count`` comparators with static offsets fixed by ``seed``.

    Parameters
    ----------
    count : int
        Number of comparators in the bank (the last dimension of the inputs).
    offset_sigma : float
        Standard deviation of the static input offset, input units (V).
    noise_sigma : float
        Standard deviation of the input-referred noise per decision, input units (V).
    seed : int
        Chip seed: the same seed gives the same offsets.
    """

    def __init__(self, count: int = 1, offset_sigma: float = 0.0, noise_sigma: float = 0.0,
                 seed: int = 0) -> None:
        super().__init__()
        if int(count) < 1:
            raise ValueError(f"count: got {count}; allowed range: integer >= 1")
        self.offset_sigma = check_nonnegative(offset_sigma, "offset_sigma")
        self.noise_sigma = check_nonnegative(noise_sigma, "noise_sigma")
        self.register_buffer("offsets", draw_offsets((int(count),), self.offset_sigma, seed))

    def forward(self, plus: torch.Tensor, minus: torch.Tensor, mode: str = "hard",
                hardness: "float | None" = None,
                generator: "torch.Generator | None" = None) -> torch.Tensor:
        """Decide ``plus > minus`` for inputs whose last dimension is ``count``.

        Returns a bool tensor in hard mode, a probability in [0, 1] in soft mode.
        """
        offsets = self.offsets.to(dtype=plus.dtype, device=plus.device)
        if mode == "hard":
            return decide(plus, minus, offsets, self.noise_sigma, generator)
        if mode == "soft":
            slope = effective_hardness(hardness, self.noise_sigma)
            if slope is None:
                raise ValueError("hardness: got None in soft mode with noise_sigma=0; "
                                 "allowed range: finite and > 0")
            return soft_decide(plus, minus, offsets, slope)
        raise ValueError(f"mode: got {mode!r}; allowed: 'hard' or 'soft'")
