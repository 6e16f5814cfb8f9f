"""Non-uniform flash ADC: strictly increasing thresholds, thermometer code, count of ones.

A flash ADC with ``levels`` output codes has ``levels - 1`` comparators against references
b_1 < ... < b_{levels-1}; the output code is the number of comparators that fire
(``x >= b_i``, the paper's Heaviside U(x - b_i) with U(0) = 1). The count-of-ones encoder makes
the code independent of the comparators' order, so static threshold mismatch that swaps two
neighbours acts as the sorted thresholds.

Soft mode (training) replaces each step by a sigmoid of hardness T (Yang et al. 2019, as in the
paper): ``y = sum_i sigmoid(T (x - b_i))``. Input noise sigma in soft mode gives the expected
code, via sigmoid(1.702 z) ~ Phi(z) (see ``analog.comparator.effective_hardness``).

Learnable thresholds live in a parameterisation that keeps them strictly increasing, at least
``min_spacing`` apart and inside [0, levels - 1]: with ``levels`` gaps g (before the first
threshold, between neighbours, after the last), ``g = free_span * softmax(logits)`` and
``b_i = g_0 + ... + g_i + i * min_spacing``, where ``free_span = (levels - 1) - (levels - 2) *
min_spacing``.
"""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

from analog._checks import (check_finite_tensor, check_mode, check_nonnegative, check_positive,
                            standard_normal)
from analog.comparator import draw_offsets, effective_hardness

#: Relative tolerance on the minimum spacing of user thresholds (float rounding of inputs).
_SPACING_TOLERANCE = 1e-9


def default_thresholds(levels: int = 16) -> np.ndarray:
    """The uniform thresholds k + 0.5, k = 0 .. levels - 2 (float64, [levels - 1])."""
    return np.arange(_check_levels(levels) - 1, dtype=np.float64) + 0.5


def _check_levels(levels: int) -> int:
    if isinstance(levels, bool) or int(levels) != levels or int(levels) < 2:
        raise ValueError(f"levels: got {levels!r}; allowed range: integer >= 2")
    return int(levels)


def _max_spacing(levels: int) -> float:
    """Exclusive upper bound on min_spacing for ``levels`` codes."""
    return float("inf") if levels == 2 else (levels - 1) / (levels - 2)


def check_min_spacing(min_spacing: float, levels: int) -> float:
    """Return ``min_spacing`` as float; ValueError unless 0 < min_spacing < (L-1)/(L-2).

    A positive spacing is what makes strict order hold in floating point, too.
    """
    value = float(min_spacing)
    limit = _max_spacing(levels)
    if not (0.0 < value < limit):
        raise ValueError(f"min_spacing: got {value}; allowed range: 0 < min_spacing < {limit:g} "
                         f"(levels={levels}: {levels - 1} thresholds inside [0, {levels - 1}])")
    return value


def validate_thresholds(thresholds, levels: int = 16, min_spacing: float = 0.0,
                        name: str = "thresholds") -> np.ndarray:
    """Check user thresholds for a flash ADC and return them as float64 [levels - 1].

    Raises ValueError (naming ``name``, the index, the values and the allowed range) unless
    there are ``levels - 1`` finite thresholds inside [0, levels - 1], each at least
    ``min_spacing`` (and strictly) above its predecessor.
    """
    levels = _check_levels(levels)
    min_spacing = check_min_spacing(min_spacing, levels)
    if isinstance(thresholds, torch.Tensor):
        thresholds = thresholds.detach().cpu().numpy()
    values = np.asarray(thresholds, dtype=np.float64)
    top = levels - 1
    if values.shape != (top,):
        raise ValueError(f"{name}: expected shape ({top},) for levels={levels}, "
                         f"got {values.shape}")
    for i, value in enumerate(values):
        if not np.isfinite(value) or value < 0.0 or value > top:
            raise ValueError(f"{name}[{i}] = {float(value)!r}; allowed range: finite, inside "
                             f"[0, {top}]")
    required = min_spacing * (1.0 - _SPACING_TOLERANCE)
    for i in range(1, top):
        step = values[i] - values[i - 1]
        if step <= 0.0 or step < required:
            what = "collapsed onto" if step == 0.0 else (
                "below" if step < 0.0 else "too close to")
            raise ValueError(
                f"{name}[{i}] = {float(values[i])!r} is {what} {name}[{i - 1}] = "
                f"{float(values[i - 1])!r} "
                f"(spacing {step:.6g}); allowed: strictly increasing in [0, {top}] with "
                f"neighbours at least min_spacing = {min_spacing:g} apart")
    return values


def thresholds_to_logits(thresholds: np.ndarray, levels: int, min_spacing: float) -> np.ndarray:
    """Logits [levels] of valid ``thresholds`` in the softmax-gap parameterisation (float64)."""
    top = levels - 1
    gaps = np.diff(np.concatenate([[0.0], thresholds, [float(top)]]))
    gaps[1:-1] -= min_spacing
    tiny = 1e-12 * top
    return np.log(np.maximum(gaps, tiny))


def logits_to_thresholds(logits: torch.Tensor, levels: int, min_spacing: float) -> torch.Tensor:
    """Strictly increasing thresholds [levels - 1] in [0, levels - 1] from logits [levels]."""
    free_span = (levels - 1) - (levels - 2) * min_spacing
    gaps = free_span * torch.softmax(logits, dim=0)
    steps = torch.arange(levels - 1, dtype=logits.dtype, device=logits.device) * min_spacing
    # the clamp only removes float rounding above the top (the construction keeps it inside)
    return torch.clamp(torch.cumsum(gaps, dim=0)[:-1] + steps, 0.0, float(levels - 1))


def _threshold_tensor(thresholds, like: torch.Tensor) -> torch.Tensor:
    t = torch.as_tensor(thresholds)
    if t.dim() != 1 or t.numel() < 1:
        raise ValueError(f"thresholds: expected a 1-D sequence of at least one value, got shape "
                         f"{tuple(t.shape)}")
    if not torch.is_floating_point(t):
        t = t.to(torch.float64)
    if not bool(torch.isfinite(t).all()):
        raise ValueError("thresholds: contains NaN or inf; allowed: finite values")
    return t.to(dtype=like.dtype, device=like.device)


def quantize_hard(x: torch.Tensor, thresholds) -> torch.Tensor:
    """Count of thresholds at or below each input: ``sum_i U(x - b_i)`` with U(0) = 1.

    Parameters
    ----------
    x : torch.Tensor
        Any shape, finite floats in ADC input units.
    thresholds : sequence or torch.Tensor
        [K] finite thresholds in any order; repeats are allowed here (published checkpoints
        have them), the FlashADC module forbids them.

    Returns
    -------
    torch.Tensor
        Codes 0..K with ``x``'s shape and dtype (no gradient).
    """
    check_finite_tensor(x, "x")
    t = torch.sort(_threshold_tensor(thresholds, x)).values
    codes = torch.searchsorted(t, x.detach().contiguous(), right=True)
    return codes.to(x.dtype)


def quantize_soft(x: torch.Tensor, thresholds, hardness: float) -> torch.Tensor:
    """Differentiable quantiser ``sum_i sigmoid(T (x - b_i))`` (paper, after Yang et al. 2019).

    ``x`` any shape (ADC input units), ``thresholds`` [K], ``hardness`` T > 0 (1 / input
    unit). Gradients flow to ``x`` and to tensor thresholds. Returns ``x``'s shape and dtype.
    """
    check_finite_tensor(x, "x")
    hardness = check_positive(hardness, "hardness")
    t = _threshold_tensor(thresholds, x)
    return torch.sigmoid(hardness * (x.unsqueeze(-1) - t)).sum(dim=-1)


class FlashADC(nn.Module):
    """Flash ADC with learnable, strictly increasing, non-uniform thresholds.

    Parameters
    ----------
    thresholds : sequence of float, optional
        ``levels - 1`` designed thresholds in ADC input units, inside [0, levels - 1], strictly
        increasing with at least ``min_spacing`` between neighbours. Default k + 0.5.
    levels : int
        Number of output codes (16 for 4 bits).
    min_spacing : float
        Smallest allowed distance between neighbouring thresholds, ADC input units; keep it a few
        times ``mismatch_sigma`` so mismatch cannot swap neighbours.
    mismatch_sigma : float
        Static threshold mismatch sigma (ADC input units), fixed per ``seed``.
    noise_sigma : float
        Input-referred noise sigma per conversion (ADC input units).
    seed : int
        Chip seed for the mismatch.
    learnable : bool
        Whether the thresholds are an ``nn.Parameter`` (trained through soft mode).
    """

    def __init__(self, thresholds=None, levels: int = 16, min_spacing: float = 0.1,
                 mismatch_sigma: float = 0.0, noise_sigma: float = 0.0, seed: int = 0,
                 learnable: bool = True) -> None:
        super().__init__()
        self.levels = _check_levels(levels)
        self.min_spacing = check_min_spacing(min_spacing, self.levels)
        self.mismatch_sigma = check_nonnegative(mismatch_sigma, "mismatch_sigma")
        self.noise_sigma = check_nonnegative(noise_sigma, "noise_sigma")
        self.seed = int(seed)
        if thresholds is None:
            thresholds = default_thresholds(self.levels)
        values = validate_thresholds(thresholds, self.levels, self.min_spacing)
        logits = torch.from_numpy(thresholds_to_logits(values, self.levels, self.min_spacing))
        if learnable:
            self.logits = nn.Parameter(logits)
        else:
            self.register_buffer("logits", logits)
        self.register_buffer("mismatch", draw_offsets((self.levels - 1,), self.mismatch_sigma,
                                                      self.seed))

    @property
    def thresholds(self) -> torch.Tensor:
        """Designed thresholds [levels - 1] (float64), strictly increasing, differentiable."""
        return logits_to_thresholds(self.logits, self.levels, self.min_spacing)

    @property
    def actual_thresholds(self) -> torch.Tensor:
        """This chip's transfer-function thresholds: sorted(designed + mismatch), no gradient."""
        return torch.sort((self.thresholds + self.mismatch).detach()).values

    @torch.no_grad()
    def set_thresholds(self, thresholds) -> None:
        """Replace the designed thresholds (validated as in the constructor)."""
        values = validate_thresholds(thresholds, self.levels, self.min_spacing)
        logits = thresholds_to_logits(values, self.levels, self.min_spacing)
        self.logits.copy_(torch.from_numpy(logits).to(self.logits))

    def forward(self, x: torch.Tensor, mode: str = "hard", hardness: "float | None" = None,
                generator: "torch.Generator | None" = None) -> torch.Tensor:
        """Convert ``x`` (any shape, ADC input units) into codes 0..levels-1 (float, x's dtype).

        ``mode="hard"``: noise N(0, noise_sigma^2) per conversion from ``generator``, then the
        count of (mismatched) thresholds at or below the input. ``mode="soft"``: the expected
        code ``sum_i sigmoid(T_eff (x - b_i - m_i))`` with T_eff from ``hardness`` and the
        noise; differentiable with respect to ``x`` and the thresholds. ``hardness`` is
        required in soft mode unless noise_sigma > 0 (then None means the noisy ideal step).
        """
        check_finite_tensor(x, "x")
        check_mode(mode)
        thresholds = self.thresholds + self.mismatch
        if mode == "hard":
            if self.noise_sigma > 0.0:
                x = x + self.noise_sigma * standard_normal(tuple(x.shape), x, generator)
            return quantize_hard(x, thresholds.detach())
        slope = effective_hardness(hardness, self.noise_sigma)
        if slope is None:
            raise ValueError("hardness: got None in soft mode with noise_sigma=0; allowed "
                             "range: finite and > 0")
        return quantize_soft(x, thresholds.to(x.dtype), slope)

    def extra_repr(self) -> str:
        return (f"levels={self.levels}, min_spacing={self.min_spacing}, "
                f"mismatch_sigma={self.mismatch_sigma}, noise_sigma={self.noise_sigma}, "
                f"seed={self.seed}")
