"""Image formation: a scene convolved with point-spread functions on the sensor grid.

The camera's optics act as a true (not flipped) 2-D convolution of each colour channel with a
PSF, with replicate padding so the image keeps its size (the paper's choice). Large kernels go
through real FFTs (overlap-save on the padded frame); small ones through direct convolution,
which is faster below about 15 x 15 taps on a CPU. Both are differentiable in the scene and in
the PSF and run on any torch device.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

#: Kernels at or below this size use direct convolution under ``method="auto"``.
DIRECT_MAX_KERNEL = 15


def _fast_fft_size(n: int) -> int:
    """Smallest 2^a 3^b 5^c >= n (sizes pocketfft handles fastest)."""
    size = n
    while True:
        m = size
        for p in (2, 3, 5):
            while m % p == 0:
                m //= p
        if m == 1:
            return size
        size += 1


def _check_inputs(images: torch.Tensor, psf: torch.Tensor) -> None:
    if images.ndim != 4:
        raise ValueError(f"images: expected an NCHW tensor, got shape {tuple(images.shape)}")
    if psf.ndim != 4:
        raise ValueError(f"psf: expected [F, C or 1, k, k], got shape {tuple(psf.shape)}")
    k_h, k_w = psf.shape[-2:]
    if k_h != k_w or k_h % 2 == 0:
        raise ValueError(f"psf: kernels must be square with an odd size, got {k_h}x{k_w}")
    if psf.shape[1] not in (1, images.shape[1]):
        raise ValueError(f"psf: colour dimension {psf.shape[1]} must be 1 or the image's "
                         f"{images.shape[1]} channels")
    if not images.is_floating_point():
        raise ValueError(f"images: expected a floating-point tensor, got {images.dtype}")


def convolve_psf(images: torch.Tensor, psf: torch.Tensor, method: str = "auto") -> torch.Tensor:
    """Convolve every colour channel of ``images`` with each of ``F`` PSFs.

    Parameters
    ----------
    images : torch.Tensor
        Scenes, float [N, C, H, W] (linear intensity, any unit).
    psf : torch.Tensor
        PSFs on the sensor grid, [F, C, k, k] (one per colour) or [F, 1, k, k] (the same for every
        colour); k odd; centred on tap (k // 2, k // 2). Applied as a true convolution.
    method : {"auto", "fft", "direct"}
        "fft": real FFTs of the replicate-padded frame (overlap-save, no wrap-around);
        "direct": ``conv2d`` with the flipped kernel; "auto": direct for k <= 15, else FFT.

    Returns
    -------
    torch.Tensor
        [N, F * C, H, W], filter-major (channel ``f * C + c``), same dtype as ``images``.

    Examples
    --------
    >>> import torch
    >>> x = torch.rand(2, 3, 64, 64)
    >>> delta = torch.zeros(1, 1, 5, 5); delta[0, 0, 2, 2] = 1
    >>> torch.allclose(convolve_psf(x, delta), x, atol=1e-6)
    True
    """
    _check_inputs(images, psf)
    if method not in ("auto", "fft", "direct"):
        raise ValueError(f"method: {method!r} is not one of 'auto', 'fft', 'direct'")
    n, c, h, w = images.shape
    f, k = psf.shape[0], psf.shape[-1]
    pad = k // 2
    psf = psf.to(images.dtype).expand(f, c, k, k)
    if method == "direct" or (method == "auto" and k <= DIRECT_MAX_KERNEL):
        padded = F.pad(images, (pad, pad, pad, pad), mode="replicate")
        weight = psf.flip(-1, -2).transpose(0, 1).reshape(c * f, 1, k, k)
        out = F.conv2d(padded, weight, groups=c)             # [N, C*F, H, W], colour-major
        return out.view(n, c, f, h, w).transpose(1, 2).reshape(n, f * c, h, w)
    size_h, size_w = _fast_fft_size(h + 2 * pad), _fast_fft_size(w + 2 * pad)
    # fill the FFT frame with more replicated edge instead of zeros: the outputs we keep never
    # see the extra columns (they lie beyond the last valid tap), and it saves a copy
    extra_h, extra_w = size_h - (h + 2 * pad), size_w - (w + 2 * pad)
    padded = F.pad(images, (pad, pad + extra_w, pad, pad + extra_h), mode="replicate")
    spectrum = torch.fft.rfft2(padded)                                 # [N, C, Sh, Sw/2+1]
    transfer = torch.fft.rfft2(psf, s=(size_h, size_w))               # [F, C, Sh, Sw/2+1]
    product = spectrum.unsqueeze(1) * transfer.unsqueeze(0)           # [N, F, C, ...]
    full = torch.fft.irfft2(product, s=(size_h, size_w))
    out = full[..., k - 1:k - 1 + h, k - 1:k - 1 + w]
    return out.reshape(n, f * c, h, w)
