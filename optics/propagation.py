"""Scalar wave propagation between parallel planes: angular spectrum and Fresnel methods.

``propagate`` keeps the grid (same shape, same pitch): the field is zero-padded to ``pad`` times
its size, multiplied in the frequency domain by a transfer function, and cropped back, so the
result is a linear (not circular) convolution. Methods:

* ``"asm"``: band-limited angular spectrum (Matsushima & Shimobaba, Opt. Express 17, 19662,
  2009). Exact scalar diffraction (no paraxial approximation); evanescent waves dropped; the
  transfer function is cut at ``|f_x|, |f_y| < 1 / (lambda sqrt((2 df z)^2 + 1))``.
* ``"fresnel_tf"``: Fresnel transfer function ``exp(ikz) exp(-i pi lambda z (fx^2 + fy^2))``;
  valid for ``|z| <= N dx^2 / lambda``.
* ``"fresnel_ir"``: Fresnel impulse response ``exp(ikz) / (i lambda z) exp(i pi r^2 / (lambda z))``
  sampled and FFT'd; valid for ``|z| >= N dx^2 / lambda``.
* ``"auto"``: ``"asm"`` where its band limit keeps the sampled band, otherwise ``"fresnel_ir"``.

``propagate_sft`` is the single-FFT Fresnel method for long distances; its output pitch is
``lambda |z| / (N dx)``, so it returns the pitch with the field.

Conventions: time dependence ``exp(-i omega t)`` (a wave travelling to +z is ``exp(+ikz)``);
``N`` is the padded sample count (the smaller side); negative ``z`` propagates backwards and is
the adjoint of ``+z`` (same band limit, conjugate transfer function). Transfer functions are
built in float64 and cast to the working dtype, and cached per geometry.
"""
from __future__ import annotations

import math
from collections import OrderedDict
from typing import Sequence, Tuple, Union

import numpy as np
import torch

from canopic.core.checks import check_positive

from . import sampling

METHODS = ("asm", "fresnel_tf", "fresnel_ir", "auto")

Wavelength = Union[float, Sequence[float], np.ndarray, torch.Tensor]


# --------------------------------------------------------------------------- input handling
def resolve_dtype(dtype, like: torch.Tensor | None = None) -> torch.dtype:
    """Complex working dtype: ``complex64`` unless asked (or the input already is complex128)."""
    if dtype is None:
        return torch.complex128 if like is not None and like.dtype == torch.complex128 \
            else torch.complex64
    names = {"complex64": torch.complex64, "complex128": torch.complex128,
             "c64": torch.complex64, "c128": torch.complex128}
    if isinstance(dtype, str) and dtype in names:
        return names[dtype]
    if dtype in (torch.complex64, torch.complex128):
        return dtype
    try:
        np_dtype = np.dtype(dtype)
    except TypeError:
        np_dtype = None
    if np_dtype == np.complex64:
        return torch.complex64
    if np_dtype == np.complex128:
        return torch.complex128
    raise ValueError(f"dtype must be complex64 or complex128 (torch, numpy or string), got {dtype!r}")


def all_finite(tensor: torch.Tensor) -> bool:
    """True if every entry is finite; one reduction (a full check only if the sum overflows)."""
    values = torch.view_as_real(tensor) if tensor.is_complex() else tensor
    if not values.is_floating_point():
        return True
    return bool(torch.isfinite(values.sum())) or bool(torch.isfinite(values).all())


def as_field(field, dtype=None, name: str = "field") -> Tuple[torch.Tensor, bool]:
    """Return ``(tensor, was_numpy)``: ``field`` as a complex tensor of at least 2 dims.

    Raises ValueError for fewer than 2 dims, empty grids, or non-finite values.
    """
    was_numpy = not isinstance(field, torch.Tensor)
    tensor = torch.from_numpy(np.asarray(field)) if was_numpy else field
    if tensor.ndim < 2 or tensor.shape[-1] == 0 or tensor.shape[-2] == 0:
        raise ValueError(f"{name} must have shape [..., H, W] with H, W >= 1, got {tuple(tensor.shape)}")
    target = resolve_dtype(dtype, tensor)
    if not all_finite(tensor.detach()):
        raise ValueError(f"{name} contains NaN or infinite values")
    return tensor.to(target), was_numpy


def as_wavelengths(wavelength: Wavelength) -> Tuple[Tuple[float, ...], bool]:
    """Return ``(wavelengths, is_sequence)``; each wavelength finite and > 0 (m)."""
    if isinstance(wavelength, torch.Tensor):
        values = wavelength.detach().cpu().double().numpy()
    else:
        values = np.asarray(wavelength, dtype=float)
    if values.ndim > 1 or values.size == 0:
        raise ValueError(f"wavelength must be a float or a non-empty 1-D sequence (m), got shape "
                         f"{values.shape}")
    is_sequence = values.ndim == 1
    values = values.reshape(-1)
    if not np.all(np.isfinite(values)) or np.any(values <= 0):
        raise ValueError(f"wavelength must be finite and > 0 m, got {values.tolist()}")
    return tuple(float(v) for v in values), is_sequence


def padded_shape(shape: Tuple[int, int], pad: float) -> Tuple[int, int]:
    """``ceil(pad * n)`` per axis; ``pad`` must be >= 1."""
    pad = float(pad)
    if not math.isfinite(pad) or pad < 1.0:
        raise ValueError(f"pad must be a finite factor >= 1 (1 = periodic, 2 = linear convolution), "
                         f"got {pad!r}")
    return tuple(max(n, int(math.ceil(pad * n - 1e-9))) for n in shape)


# --------------------------------------------------------------------------- transfer functions
def _frequencies(n: int, dx: float, device) -> torch.Tensor:
    return torch.fft.fftfreq(n, d=dx, dtype=torch.float64, device=device)


def asm_transfer_function(shape, dx, wavelength, z, device=None) -> torch.Tensor:
    """Band-limited angular-spectrum transfer function, complex128 [hp, wp] (FFT order)."""
    hp, wp = shape
    fy = _frequencies(hp, dx, device)[:, None]
    fx = _frequencies(wp, dx, device)[None, :]
    fy_lim = sampling.asm_band_limit(hp, dx, wavelength, z)
    fx_lim = sampling.asm_band_limit(wp, dx, wavelength, z)
    argument = 1.0 / wavelength ** 2 - fx * fx - fy * fy
    keep = (argument > 0) & (fx.abs() < fx_lim) & (fy.abs() < fy_lim)
    phase = (2.0 * math.pi * z) * torch.sqrt(argument.clamp_min(0.0))
    return torch.polar(keep.to(torch.float64), phase)


def fresnel_transfer_function(shape, dx, wavelength, z, device=None) -> torch.Tensor:
    """Fresnel transfer function ``exp(ikz) exp(-i pi lambda z f^2)``, complex128 [hp, wp]."""
    hp, wp = shape
    fy = _frequencies(hp, dx, device)
    fx = _frequencies(wp, dx, device)
    carrier = 2.0 * math.pi * ((z / wavelength) % 1.0)
    row = torch.polar(torch.ones_like(fy), -math.pi * wavelength * z * fy * fy + carrier)
    col = torch.polar(torch.ones_like(fx), -math.pi * wavelength * z * fx * fx)
    return row[:, None] * col[None, :]


def fresnel_impulse_transfer_function(shape, dx, wavelength, z, device=None) -> torch.Tensor:
    """FFT of the sampled Fresnel impulse response times ``dx^2``, complex128 [hp, wp]."""
    hp, wp = shape
    y = torch.fft.fftfreq(hp, d=1.0 / hp, dtype=torch.float64, device=device) * dx
    x = torch.fft.fftfreq(wp, d=1.0 / wp, dtype=torch.float64, device=device) * dx
    scale = dx * dx / (wavelength * z)  # exp(ikz) / (i lambda z) dx^2
    carrier = 2.0 * math.pi * ((z / wavelength) % 1.0) - math.pi / 2.0
    row = torch.polar(torch.full_like(y, scale), math.pi * y * y / (wavelength * z) + carrier)
    col = torch.polar(torch.ones_like(x), math.pi * x * x / (wavelength * z))
    return torch.fft.fft2(row[:, None] * col[None, :])


_BUILDERS = {"asm": asm_transfer_function, "fresnel_tf": fresnel_transfer_function,
             "fresnel_ir": fresnel_impulse_transfer_function}


class TransferFunctionCache:
    """LRU cache of transfer functions keyed on geometry, with a byte budget.

    Keys: (method, padded shape, dx, wavelengths, z, dtype, device). ``max_bytes`` bounds the
    memory held (the least recently used entries are dropped first).
    """

    def __init__(self, max_bytes: int = 1 << 30, max_entries: int = 32):
        self.max_bytes = int(max_bytes)
        self.max_entries = int(max_entries)
        self._entries: "OrderedDict[tuple, torch.Tensor]" = OrderedDict()
        self.hits = 0
        self.misses = 0

    def clear(self) -> None:
        """Drop every entry and reset the counters."""
        self._entries.clear()
        self.hits = self.misses = 0

    def __len__(self) -> int:
        return len(self._entries)

    def nbytes(self) -> int:
        """Bytes held by the cached tensors."""
        return sum(t.numel() * t.element_size() for t in self._entries.values())

    def get(self, method, shape, dx, wavelengths, z, dtype, device, stacked: bool) -> torch.Tensor:
        """Transfer function ``[L, hp, wp]`` (``stacked``) or ``[hp, wp]``, built if missing."""
        key = (method, tuple(shape), dx, tuple(wavelengths), z, dtype, str(device), stacked)
        if key in self._entries:
            self.hits += 1
            self._entries.move_to_end(key)
            return self._entries[key]
        self.misses += 1
        builder = _BUILDERS[method]
        out = torch.empty((len(wavelengths),) + tuple(shape), dtype=dtype, device=device)
        for index, wavelength in enumerate(wavelengths):  # a few wavelengths, not pixels
            out[index] = builder(shape, dx, wavelength, z, device=device).to(dtype)
        if not stacked:
            out = out[0]
        self._entries[key] = out
        while self._entries and (len(self._entries) > self.max_entries or self.nbytes() > self.max_bytes):
            if len(self._entries) == 1:
                break
            self._entries.popitem(last=False)
        return out


#: The module-wide cache used by :func:`propagate`.
TRANSFER_CACHE = TransferFunctionCache()


# --------------------------------------------------------------------------- method choice
def choose_method(n: int, n_field: int, dx: float, wavelengths: Sequence[float], z: float) -> str:
    """The method ``"auto"`` picks: ``"asm"`` inside its band-limit criterion, else ``"fresnel_ir"``.

    Raises
    ------
    ValueError
        If neither criterion holds for every wavelength (naming both and the padding needed).
    """
    if all(abs(z) <= sampling.asm_max_distance(n, dx, w) for w in wavelengths):
        return "asm"
    if all(abs(z) >= sampling.critical_distance(n, dx, w) for w in wavelengths):
        return "fresnel_ir"
    try:
        sampling.check_angular_spectrum(n, n_field, dx, wavelengths, z)
    except ValueError as error:
        raise ValueError(f"auto: no method's sampling criterion holds for every wavelength "
                         f"{list(wavelengths)} m at z = {z} m; {error}") from None
    raise AssertionError("unreachable")  # pragma: no cover


def check_method(method: str, n: int, n_field: int, dx: float, wavelengths, z: float) -> None:
    """Run the sampling check of ``method`` (``"asm"``, ``"fresnel_tf"`` or ``"fresnel_ir"``)."""
    checks = {"asm": sampling.check_angular_spectrum,
              "fresnel_tf": sampling.check_transfer_function,
              "fresnel_ir": sampling.check_impulse_response}
    checks[method](n, n_field, dx, wavelengths, z)


# --------------------------------------------------------------------------- public API
def propagate(field, dx: float, wavelength: Wavelength, z: float, method: str = "asm",
              pad: float = 2, dtype=None, *, check: bool = True):
    """Propagate a complex field a distance ``z`` between parallel planes, on the same grid.

    Parameters
    ----------
    field : torch.Tensor or numpy.ndarray, shape [..., H, W]
        Complex (or real) field sampled at pitch ``dx``. Leading dims are batch dims. With a
        sequence of ``L`` wavelengths the transfer functions have shape [L, H', W'] and broadcast
        against the field, so the field is [..., L, H, W] (one plane per wavelength),
        [..., 1, H, W] or [H, W] (the same field at every wavelength) and the result is
        [..., L, H, W].
    dx : float
        Sample pitch (m), > 0 (square samples).
    wavelength : float or 1-D sequence / array / tensor of float
        Vacuum wavelength(s) (m), > 0. A scalar adds no dim; a sequence (even of length 1) is the
        wavelength dim -3 of the result.
    z : float
        Distance (m); negative propagates backwards (the adjoint of +z); 0 returns a copy.
    method : {"asm", "fresnel_tf", "fresnel_ir", "auto"}
        See the module docstring.
    pad : float
        Zero-padding factor >= 1 per axis (2 = linear convolution; 1 = periodic field).
    dtype : None, "complex64" or "complex128" (or torch / numpy complex dtypes)
        Working and output dtype; None gives complex64 unless the input is complex128.
    check : bool, keyword-only
        Enforce the method's sampling criterion (see :mod:`optics.sampling`). Turn off only for
        a field whose spectrum is known to fit the band.

    Returns
    -------
    torch.Tensor or numpy.ndarray
        Complex field [..., (L,) H, W], the same kind and device as ``field``.

    Raises
    ------
    ValueError
        Bad pitch, wavelength, distance, padding, method or dtype; NaN/inf fields; a violated
        sampling criterion (naming it, the numbers and a padding or pitch that would satisfy it).
    """
    dx = check_positive(dx, "dx")
    z = float(z)
    if not math.isfinite(z):
        raise ValueError(f"z must be finite (m), got {z!r}")
    wavelengths, stacked = as_wavelengths(wavelength)
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS} (or use optics.propagate_sft for the "
                         f"single-FFT Fresnel method), got {method!r}")
    tensor, was_numpy = as_field(field, dtype)
    height, width = tensor.shape[-2:]
    if stacked and tensor.ndim >= 3 and tensor.shape[-3] not in (1, len(wavelengths)):
        raise ValueError(f"field: with {len(wavelengths)} wavelengths the field's dim -3 must be 1 or "
                         f"{len(wavelengths)}, got shape {tuple(tensor.shape)}")
    shape = padded_shape((height, width), pad)
    n, n_field = min(shape), min(height, width)
    if method == "auto":
        method = choose_method(n, n_field, dx, wavelengths, z)
    elif check and z != 0.0:
        check_method(method, n, n_field, dx, wavelengths, z)
    if z == 0.0:
        ones = torch.ones((len(wavelengths), 1, 1) if stacked else (), dtype=tensor.dtype,
                          device=tensor.device)
        out = tensor * ones
    else:
        transfer = TRANSFER_CACHE.get(method, shape, dx, wavelengths, z, tensor.dtype, tensor.device,
                                      stacked)
        out = apply_transfer_function(tensor, transfer, shape)
    return out.detach().cpu().numpy() if was_numpy else out


def apply_transfer_function(field: torch.Tensor, transfer: torch.Tensor,
                            shape: Tuple[int, int]) -> torch.Tensor:
    """Zero-pad ``field`` [..., H, W] to ``shape`` (at the end), filter by ``transfer``, crop.

    Padding at the end instead of around the field gives the same cropped linear convolution
    (the kernel is centred on sample 0 in FFT order) and lets the FFT skip an explicit copy.
    """
    height, width = field.shape[-2:]
    spectrum = torch.fft.fft2(field, s=shape)
    if spectrum.shape == torch.broadcast_shapes(spectrum.shape, transfer.shape):
        spectrum = spectrum.mul_(transfer)
    else:
        spectrum = spectrum * transfer
    out = torch.fft.ifft2(spectrum)
    if tuple(shape) == (height, width):
        return out
    return out[..., :height, :width].contiguous()


def propagate_sft(field, dx: float, wavelength: float, z: float, pad: float = 1, dtype=None,
                  *, check: bool = True):
    """Single-FFT Fresnel propagation for long distances; the output grid changes.

    ``U2(x2) = exp(ikz) / (i lambda z) exp(i pi x2^2 / (lambda z)) *
    sum U1(x1) exp(i pi x1^2 / (lambda z)) exp(-i 2 pi x1 x2 / (lambda z)) dx^2``
    on centred grids ``x = (i - (N - 1) / 2) * pitch``.

    Parameters
    ----------
    field : torch.Tensor or numpy.ndarray, shape [..., H, W]
        Input field at pitch ``dx``.
    dx : float
        Input pitch (m).
    wavelength : float
        One wavelength (m); the output pitch depends on it.
    z : float
        Distance (m), non-zero; negative propagates backwards.
    pad : float
        Zero padding >= 1 around the field (finer output sampling).
    dtype : see :func:`propagate`.
    check : bool
        Enforce the criterion ``|z| >= N dx^2 / lambda`` (the input chirp is sampled).

    Returns
    -------
    (field_out, (dy_out, dx_out))
        The field on the padded grid [..., H', W'] (same kind as the input) and its pitches (m),
        ``lambda |z| / (H' dx)`` and ``lambda |z| / (W' dx)``.
    """
    dx = check_positive(dx, "dx")
    z = float(z)
    if not math.isfinite(z) or z == 0.0:
        raise ValueError(f"z must be finite and non-zero for propagate_sft, got {z!r}")
    wavelengths, stacked = as_wavelengths(wavelength)
    if stacked:
        raise ValueError("wavelength: propagate_sft takes one wavelength (its output pitch depends "
                         f"on it), got {list(wavelengths)}; call it once per wavelength")
    wavelength = wavelengths[0]
    tensor, was_numpy = as_field(field, dtype)
    height, width = tensor.shape[-2:]
    hp, wp = padded_shape((height, width), pad)
    if check:
        sampling.check_impulse_response(min(hp, wp), min(height, width), dx, wavelengths, z)
    top, left = (hp - height) // 2, (wp - width) // 2
    padded = torch.nn.functional.pad(tensor, (left, wp - width - left, top, hp - height - top))
    device, real = tensor.device, torch.float64
    lz = wavelength * z
    out_pitch = (wavelength * abs(z) / (hp * dx), wavelength * abs(z) / (wp * dx))

    def axis_terms(n, pitch_in, pitch_out):
        index = torch.arange(n, dtype=real, device=device)
        centre = (n - 1) / 2.0
        x_in, x_out = (index - centre) * pitch_in, (index - centre) * pitch_out
        sign = 1.0 if z > 0 else -1.0
        # exp(-i 2 pi s (i - c)(m - c) / n) = exp(-2 pi i s i m / n) * pre(i) * post(m)
        pre = torch.polar(torch.ones_like(index), math.pi * x_in ** 2 / lz
                          + sign * 2.0 * math.pi * index * centre / n)
        post = torch.polar(torch.ones_like(index), math.pi * x_out ** 2 / lz
                           + sign * 2.0 * math.pi * (index * centre - centre * centre) / n)
        return pre, post

    pre_y, post_y = axis_terms(hp, dx, out_pitch[0])
    pre_x, post_x = axis_terms(wp, dx, out_pitch[1])
    dtype_c = tensor.dtype
    modulated = padded * (pre_y[:, None] * pre_x[None, :]).to(dtype_c)
    spectrum = torch.fft.fft2(modulated) if z > 0 else torch.fft.ifft2(modulated) * (hp * wp)
    carrier = 2.0 * math.pi * ((z / wavelength) % 1.0) - math.pi / 2.0
    scale = torch.polar(torch.tensor(dx * dx / abs(lz), dtype=real, device=device),
                        torch.tensor(carrier + (math.pi if z < 0 else 0.0), dtype=real, device=device))
    out = spectrum * ((post_y[:, None] * post_x[None, :]) * scale).to(dtype_c)
    return (out.detach().cpu().numpy() if was_numpy else out), out_pitch
