"""Signed kernels with intensity PSFs: two masks subtracted, or one mask on a non-negative target.

An intensity PSF cannot be negative, but learned kernels are (31-55 % of the taps of the paper's
published kernels). Two routes:

- **Two masks** (``design_signed_masks``): ``K = K+ - K-`` with ``K+ = max(K, 0)``,
  ``K- = max(-K, 0)``. One mask is designed for the unit-sum PSF ``P+ ~ K+ / sum K+``, another for
  ``P- ~ K- / sum K-``. The camera takes both captures and subtracts them in the analog domain
  with the minus capture weighted by ``r = sum K- / sum K+`` (a relative exposure time or gain),
  so that the realised kernel is ``a (P+ - r P-)``; ``a`` (ideally ``sum K+``) is fitted by least
  squares per wavelength and reported. A filter with no negative tap needs one mask (``r = 0``);
  one with no positive tap (learned filters can lose every positive tap) needs only the minus
  mask: its plus capture is dark, ``r = 1`` and ``a`` is ideally ``sum K-`` (``K ~ -a P-``).
  The sign cannot be moved into a global gain instead: max-pooling does not commute with it.
- **One mask** (``design_nonnegative_mask``): the target is made non-negative either by
  ``"clip"`` (``max(K, 0)``: the negative lobes are lost) or by ``"shift"`` (``K - min K``: the
  shape is kept but a uniform pedestal is added, i.e. the capture gains a box-blurred copy of the
  scene that the analog chain cannot remove). Fidelity is reported against the signed kernel.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import List

import torch

from .design import (MaskDesign, MaskGeometry, design_mask, normalize_sum, normalized_correlation,
                     relative_l2, validate_kernel)

#: Ways to make a signed kernel non-negative for a single mask.
NONNEGATIVE_MODES = ("clip", "shift")


def split_signed(kernel) -> "tuple[torch.Tensor, torch.Tensor]":
    """``(K+, K-)``, both non-negative [F, k, k], with ``K+ - K- = K``."""
    kernel = validate_kernel(kernel, "kernel", signed=True)
    return kernel.clamp(min=0.0), (-kernel).clamp(min=0.0)


def nonnegative_target(kernel, mode: str = "clip") -> torch.Tensor:
    """A non-negative target [F, k, k] for a single mask (``"clip"`` or ``"shift"``)."""
    kernel = validate_kernel(kernel, "kernel", signed=True)
    if mode == "clip":
        target = kernel.clamp(min=0.0)
    elif mode == "shift":
        target = kernel - kernel.amin(dim=(-1, -2), keepdim=True)
    else:
        raise ValueError(f"mode: {mode!r} is not one of {NONNEGATIVE_MODES}")
    if not bool((target.sum(dim=(-1, -2)) > 0).all()):
        raise ValueError(f"kernel: a kernel has no positive part to {mode} (all taps <= 0); "
                         f"negate it or use the two-mask route")
    return target


def signed_fidelity(realised: torch.Tensor, kernel: torch.Tensor,
                    wavelengths) -> List[List[dict]]:
    """Fidelity of realised kernels [F, L, k, k] (already scaled) to signed kernels [F, k, k]."""
    kernel = kernel.double()[:, None].expand_as(realised)
    nc = normalized_correlation(realised, kernel)
    l2 = relative_l2(realised, kernel)
    return [[{"wavelength": float(w), "correlation": float(nc[f, i]),
              "relative_l2": float(l2[f, i])} for i, w in enumerate(wavelengths)]
            for f in range(kernel.shape[0])]


def least_squares_scale(difference: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
    """``a`` [F, L] minimising ``||a D - K||`` for D [F, L, k, k] and K [F, k, k]."""
    kernel = kernel.double()[:, None]
    return (difference * kernel).sum(dim=(-1, -2)) / (difference ** 2).sum(dim=(-1, -2))


@dataclass
class SignedDesign:
    """Two-mask realisation of signed kernels.

    Attributes
    ----------
    kernel : torch.Tensor
        The signed target kernels [F, k, k] (PSF convention, original scale).
    plus : MaskDesign or None
        Masks for the positive parts of the filters in ``plus_filters``.
    minus : MaskDesign or None
        Masks for the negative parts of the filters in ``minus_filters``.
    minus_filters : list of int
        Filters that have negative taps (and so a minus mask), in ``minus`` order.
    minus_weight : torch.Tensor
        r [F]: weight of the minus capture (``sum K- / sum K+``; 0 without a minus mask, 1 for a
        filter without a plus mask).
    scale : torch.Tensor
        a [F, L]: least-squares scale of ``P+ - r P-`` onto K per wavelength.
    realised : torch.Tensor
        ``a (P+ - r P-)`` [F, L, k, k].
    fidelity : list
        ``fidelity[f][l]``: correlation and relative L2 of ``realised`` to K.
    plus_filters : list of int
        Filters that have positive taps (and so a plus mask), in ``plus`` order; every filter
        unless one is all <= 0.
    """

    kernel: torch.Tensor
    plus: "MaskDesign | None"
    minus: "MaskDesign | None"
    minus_filters: list
    minus_weight: torch.Tensor
    scale: torch.Tensor
    realised: torch.Tensor
    fidelity: list
    plus_filters: "list | None" = None

    def __post_init__(self):
        if self.plus_filters is None:
            self.plus_filters = list(range(self.kernel.shape[0]))

    def worst_correlation(self, wavelength: "float | None" = None) -> float:
        """Smallest correlation over filters (at one wavelength, or over all)."""
        import math

        return min(e["correlation"] for per in self.fidelity for e in per
                   if wavelength is None or math.isclose(e["wavelength"], wavelength))

    def captures(self) -> "tuple[torch.Tensor, torch.Tensor]":
        """The two captures' PSFs ``(a P+, a r P-)``, each non-negative float32 [F, L, k, k].

        Their difference is :attr:`realised`; the minus capture is zero for filters without a
        minus mask, the plus capture for filters without a plus mask.
        """
        if bool((self.scale <= 0).any()):
            raise ValueError("captures: a fitted scale a <= 0 (the masks do not realise the "
                             "kernel); redesign with more iterations")
        scale = self.scale[..., None, None]
        shape = tuple(self.realised.shape)
        plus = scale * _placed_unit_psfs(None if self.plus is None else self.plus.psf,
                                         self.plus_filters, shape)
        minus = (scale * self.minus_weight[:, None, None, None]
                 * _placed_unit_psfs(None if self.minus is None else self.minus.psf,
                                     self.minus_filters, shape))
        return plus.float(), minus.float()

    def psf_source(self) -> "RealisedPSF":
        """A fixed PSF module for ``sensor.Camera(psf_source=...)``: the masks' PSFs at R, G, B."""
        plus, minus = self.captures()
        return RealisedPSF(plus, minus if self.minus_filters else None)


class RealisedPSF(torch.nn.Module):
    """Fixed per-colour PSFs of designed masks, for ``sensor.Camera(psf_source=...)``.

    Parameters
    ----------
    plus : torch.Tensor
        Non-negative PSFs [F, C, k, k] (C = 3: the camera's R, G, B, i.e. the design's
        wavelengths in that order).
    minus : torch.Tensor, optional
        Non-negative PSFs of the subtracted capture, same shape; None for single-mask filters.

    ``forward()`` returns ``plus - minus`` [F, C, k, k]; with a minus capture the module is
    ``is_two_mask`` and a camera with a physical sensor captures both through the pixels.
    """

    def __init__(self, plus: torch.Tensor, minus: "torch.Tensor | None" = None):
        super().__init__()
        if plus.ndim != 4 or (minus is not None and minus.shape != plus.shape):
            raise ValueError(f"plus/minus: need [F, C, k, k] tensors of one shape, got "
                             f"{tuple(plus.shape)} and {None if minus is None else tuple(minus.shape)}")
        if bool((plus < 0).any()) or (minus is not None and bool((minus < 0).any())):
            raise ValueError("plus/minus: intensity PSFs must be non-negative")
        self.register_buffer("plus", plus.detach().float().clone())
        self.register_buffer("minus", None if minus is None else minus.detach().float().clone())

    @property
    def is_two_mask(self) -> bool:
        """True when a minus capture exists (``signed_parts()`` gives both captures)."""
        return self.minus is not None

    def signed_parts(self) -> "tuple[torch.Tensor, torch.Tensor]":
        """(plus, minus) PSFs [F, C, k, k]."""
        if self.minus is None:
            raise ValueError("signed_parts: this PSF has no minus capture")
        return self.plus, self.minus

    def forward(self) -> torch.Tensor:
        """PSFs [F, C, k, k]."""
        return self.plus if self.minus is None else self.plus - self.minus

    @classmethod
    def from_parts(cls, plus: torch.Tensor, minus: torch.Tensor) -> "RealisedPSF":
        """The source of captures ``plus`` and ``minus`` (non-negative [F, C, k, k]), with one
        capture where ``minus`` carries no light (a kernel without negative taps needs one mask)."""
        plus, minus = torch.as_tensor(plus), torch.as_tensor(minus)
        return cls(plus, minus if bool((minus > 0).any()) else None)

    def light_conserving(self) -> "tuple[RealisedPSF, float]":
        """``(psfs, factor)``: these PSFs divided by one common ``factor`` so that the brightest
        capture (largest sum over a PSF's taps, any filter, colour, plus or minus) sums to 1.

        A passive mask cannot amplify light: a capture's PSF sums to at most 1 (the scene's light
        per unit exposure), and designs scaled to a kernel's gain (``least_squares_scale``) may
        exceed that. One factor for all keeps the relative gains of filters and colours, so an
        ideal camera with a per-frame gain stage gives the same codes; the factor is the analog
        gain the chain must add back.
        """
        from .kernels import brightest_psf_sum

        parts = (self.plus,) if self.minus is None else (self.plus, self.minus)
        factor = float(brightest_psf_sum(*parts))
        if not factor > 0:
            raise ValueError("light_conserving: the PSFs carry no light (all sums are 0)")
        minus = None if self.minus is None else self.minus / factor
        return RealisedPSF(self.plus / factor, minus), factor


def _placed_unit_psfs(psf: "torch.Tensor | None", filters: list, shape: tuple) -> torch.Tensor:
    """Mask PSFs [M, L, k, k] normalised to unit sum and placed at their ``filters`` in a
    float64 tensor of ``shape`` [F, L, k, k]; zero for filters without a mask."""
    placed = torch.zeros(shape, dtype=torch.float64)
    if psf is not None and filters:
        placed[torch.as_tensor(filters)] = normalize_sum(psf.double())
    return placed


def combine_signed(kernel: torch.Tensor, plus_psf: "torch.Tensor | None",
                   minus_psf: "torch.Tensor | None", minus_filters: list, wavelengths,
                   plus_filters: "list | None" = None) -> "tuple[torch.Tensor, ...]":
    """``(r, a, realised, fidelity)`` from the PSFs [M, L, k, k] of the plus masks (of
    ``plus_filters``, default every filter) and of the minus masks (of ``minus_filters``).

    ``r = sum K- / sum K+`` (1 where a filter has no plus mask: ``K ~ -a P-``).
    """
    kernel = kernel.double()
    positive, negative = kernel.clamp(min=0.0), (-kernel).clamp(min=0.0)
    plus_filters = list(range(kernel.shape[0])) if plus_filters is None else list(plus_filters)
    has_plus = torch.zeros(kernel.shape[0], dtype=torch.bool)
    has_plus[plus_filters] = True
    weight = torch.where(has_plus, negative.sum(dim=(-1, -2))
                         / positive.sum(dim=(-1, -2)).clamp_min(1e-300), torch.ones(()).double())
    shape = (kernel.shape[0], len(wavelengths), *kernel.shape[-2:])
    difference = (_placed_unit_psfs(plus_psf, plus_filters, shape) - weight[:, None, None, None]
                  * _placed_unit_psfs(minus_psf, minus_filters, shape))
    scale = least_squares_scale(difference, kernel)
    realised = scale[..., None, None] * difference
    return weight, scale, realised, signed_fidelity(realised, kernel, wavelengths)


def design_signed_masks(kernel, geometry: MaskGeometry = MaskGeometry(), **design_options
                        ) -> SignedDesign:
    """Design the two-mask realisation ``K ~ a (P+ - r P-)`` of signed kernels.

    Parameters
    ----------
    kernel : array-like
        Signed kernels [k, k] or [F, k, k] (or [F, 1, k, k]) in the PSF (true convolution)
        convention on the sensor grid. A filter without a positive tap gets only a minus mask,
        one without a negative tap only a plus mask.
    geometry : MaskGeometry
    **design_options
        Passed to :func:`optics.design.design_mask` (method, iterations, seed, progress, ...).

    Returns
    -------
    SignedDesign
    """
    kernel = validate_kernel(kernel, "kernel", signed=True)
    positive, negative = split_signed(kernel)
    plus_filters = [f for f in range(kernel.shape[0]) if float(positive[f].sum()) > 0]
    minus_filters = [f for f in range(kernel.shape[0]) if float(negative[f].sum()) > 0]
    plus = design_mask(positive[plus_filters], geometry, **design_options) \
        if plus_filters else None
    minus = design_mask(negative[minus_filters], geometry, **design_options) \
        if minus_filters else None
    weight, scale, realised, report = combine_signed(
        kernel, None if plus is None else plus.psf, None if minus is None else minus.psf,
        minus_filters, geometry.wavelengths, plus_filters)
    return SignedDesign(kernel=kernel, plus=plus, minus=minus, minus_filters=minus_filters,
                        minus_weight=weight, scale=scale, realised=realised, fidelity=report,
                        plus_filters=plus_filters)


def design_nonnegative_mask(kernel, geometry: MaskGeometry = MaskGeometry(), mode: str = "clip",
                            **design_options) -> "tuple[MaskDesign, list]":
    """One mask per filter for the ``mode`` ("clip" or "shift") non-negative version of K.

    Returns
    -------
    design : MaskDesign
        Its ``fidelity`` is against the non-negative target.
    signed_report : list
        ``[f][l]`` correlation (scale-free) and relative L2 (least-squares scale) of the mask's
        PSF to the signed kernel K.
    """
    kernel = validate_kernel(kernel, "kernel", signed=True)
    design = design_mask(nonnegative_target(kernel, mode), geometry, **design_options)
    psf = design.psf.double()
    scale = least_squares_scale(psf, kernel)
    return design, signed_fidelity(scale[..., None, None] * psf, kernel, geometry.wavelengths)
