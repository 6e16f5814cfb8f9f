"""Phase-mask design: a target PSF on the sensor grid -> a mask height map whose PSF matches it.

Two methods, usable alone or chained (``method="gs+gd"``, the default):

- ``"gs"``: Gerchberg-Saxton phase retrieval between the mask plane and the sensor plane at the
  design wavelength (PhlatCam, Boominathan et al. TPAMI 2020, 20-100 iterations), with the
  band-limited angular spectrum propagator. The mask-plane constraint is unit amplitude (a pure
  phase mask); the sensor-plane constraint scales the field inside each *sensor pixel* so that
  the pixel's integrated intensity equals the target tap (the speckle inside a pixel is free,
  which the sensor cannot see anyway), and zeroes the field outside the kernel window.
- ``"gd"``: gradient descent (Adam) on the heights through the differentiable PSF
  (:func:`optics.psf.mask_psf`) at all wavelengths at once (loss: the sum over wavelengths of the
  squared relative L2 error of the normalised PSF). Heights are wrapped into one 2 pi period at
  the design wavelength, exactly as :mod:`optics.fabrication` makes them, so the loss sees the
  mask that will be fabricated (up to level quantisation).

Geometry (PhlatCam defaults): 2 um mask pixels, 1.869 mm mask-sensor distance, fused silica,
532 nm design wavelength, R, G, B = 640, 532, 450 nm. The default sensor pitch is
:data:`DEFAULT_SENSOR_PITCH` = 4 um: twice the mask pitch, so that sensor pixels bin mask samples
exactly, and a 63 x 63 kernel spans 252 um on the sensor, inside the +-249 um (532 nm) that
2 um mask pixels can steer light to at 1.869 mm (Nyquist angle lambda / (2 dx)); at 6 um the
kernel (378 um) would need angles that blue light (450 nm, +-210 um) cannot reach.

Fidelity is the normalised correlation (Pearson: zero-mean, unit-norm inner product) and the
relative L2 error ``||p - t|| / ||t||`` of kernels normalised to unit sum.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Dict, List, Sequence

import numpy as np
import torch

from . import sampling
from .elements import field_from_phase, phase_from_height
from .materials import two_pi_height
from .propagation import propagate
from .psf import mask_psf, pixel_integration_weights

#: R, G, B wavelengths (m), in that order.
DEFAULT_WAVELENGTHS = (640e-9, 532e-9, 450e-9)
#: Default sensor pixel pitch (m); see the module docstring.
DEFAULT_SENSOR_PITCH = 4e-6
#: Design methods.
METHODS = ("gs", "gd", "gs+gd")


@dataclass(frozen=True)
class MaskGeometry:
    """Where the mask and the sensor are and what they are made of (SI units).

    Parameters
    ----------
    mask_size : int
        Mask side in mask pixels (the mask is square); must cover the kernel window.
    mask_pitch : float
        Mask pixel pitch (m).
    sensor_pitch : float
        Sensor pixel pitch (m) of the kernel's taps.
    distance : float
        Mask-sensor distance (m).
    design_wavelength : float
        Wavelength (m) of Gerchberg-Saxton and of the 2 pi height that wraps heights.
    wavelengths : tuple of float
        Wavelengths (m) the PSF is evaluated and optimised at (R, G, B by default).
    material : str
        Mask material (see :mod:`optics.materials`).
    pad : float
        Minimum zero-padding factor of the propagation (raised where the ASM band limit needs it).
    """

    mask_size: int = 256
    mask_pitch: float = 2e-6
    sensor_pitch: float = DEFAULT_SENSOR_PITCH
    distance: float = 1.869e-3
    design_wavelength: float = 532e-9
    wavelengths: tuple = DEFAULT_WAVELENGTHS
    material: str = "fused_silica"
    pad: float = 2.0

    def __post_init__(self):
        object.__setattr__(self, "wavelengths", tuple(float(w) for w in self.wavelengths))
        if isinstance(self.mask_size, bool) or int(self.mask_size) != self.mask_size \
                or not 8 <= int(self.mask_size) <= 8192:
            raise ValueError(f"mask_size: must be an integer number of mask pixels in 8..8192, "
                             f"got {self.mask_size!r}")
        for name in ("mask_pitch", "sensor_pitch", "distance", "design_wavelength"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
                raise ValueError(f"{name}: must be a positive finite length in metres, got {value!r}")
        if not self.wavelengths or not all(math.isfinite(w) and 0 < w for w in self.wavelengths):
            raise ValueError(f"wavelengths: must be positive finite wavelengths in metres, got "
                             f"{self.wavelengths!r}")
        for w in self.wavelengths + (self.design_wavelength,):
            if not 100e-9 <= w <= 20e-6:
                raise ValueError(f"wavelengths: {w} m is outside 100 nm .. 20 um (SI metres "
                                 f"expected, e.g. 532e-9)")
        if not (math.isfinite(self.pad) and self.pad >= 1):
            raise ValueError(f"pad: must be a padding factor >= 1, got {self.pad!r}")
        two_pi_height(self.material, self.design_wavelength)       # unknown material -> error

    @property
    def two_pi_height(self) -> float:
        """Height (m) of a 2 pi phase delay at the design wavelength."""
        return two_pi_height(self.material, self.design_wavelength)

    def check_kernel_fits(self, kernel_size: int) -> None:
        """ValueError unless the k x k kernel window lies inside the mask grid."""
        extent = kernel_size * self.sensor_pitch
        if extent > self.mask_size * self.mask_pitch * (1 + 1e-9):
            need = math.ceil(extent / self.mask_pitch - 1e-9)
            raise ValueError(f"mask_size: the {kernel_size}x{kernel_size} kernel spans {extent:.4g} m "
                             f"on the sensor, more than the mask ({self.mask_size} x "
                             f"{self.mask_pitch:.4g} m); use mask_size >= {need} or a smaller "
                             f"sensor_pitch")

    def propagation_pad(self, wavelengths: Sequence[float]) -> float:
        """Padding factor that keeps the ASM band limit for every wavelength (>= ``pad``)."""
        unit = min(sampling.asm_max_distance(1, self.mask_pitch, w) for w in wavelengths)
        needed = math.ceil(self.distance / unit) + 1
        return max(float(self.pad), needed / self.mask_size)


def validate_kernel(kernel, name: str = "kernel", signed: bool = False) -> torch.Tensor:
    """Check a kernel stack and return it as float64 [F, k, k].

    Parameters
    ----------
    kernel : array-like
        [k, k], [F, k, k] or [F, 1, k, k]; k odd.
    signed : bool
        Allow negative taps (else a negative tap is an error: intensity PSFs are >= 0).
    """
    tensor = torch.as_tensor(np.asarray(kernel, dtype=np.float64))
    if tensor.ndim == 4 and tensor.shape[1] == 1:
        tensor = tensor[:, 0]
    if tensor.ndim == 2:
        tensor = tensor[None]
    if tensor.ndim != 3 or tensor.shape[-1] != tensor.shape[-2] or tensor.shape[-1] % 2 == 0:
        raise ValueError(f"{name}: expected [k, k], [F, k, k] or [F, 1, k, k] with k odd, got shape "
                         f"{tuple(np.shape(kernel))}")
    if not bool(torch.isfinite(tensor).all()):
        raise ValueError(f"{name}: contains NaN or inf")
    if not bool((tensor.abs().amax(dim=(-1, -2)) > 0).all()):
        raise ValueError(f"{name}: a kernel is all zeros (no PSF to design)")
    if not signed and bool((tensor < 0).any()):
        raise ValueError(f"{name}: has negative taps (min {float(tensor.min()):.4g}); an intensity "
                         f"PSF is non-negative: use optics.signed for signed kernels")
    if not signed and not bool((tensor.sum(dim=(-1, -2)) > 0).all()):
        raise ValueError(f"{name}: a kernel sums to zero")
    return tensor


def normalize_sum(kernel: torch.Tensor) -> torch.Tensor:
    """Kernels [..., k, k] divided by their sums."""
    return kernel / kernel.sum(dim=(-1, -2), keepdim=True)


def normalized_correlation(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Pearson correlation of the taps of ``a`` and ``b`` [..., k, k] -> [...]."""
    a = a - a.mean(dim=(-1, -2), keepdim=True)
    b = b - b.mean(dim=(-1, -2), keepdim=True)
    return (a * b).sum(dim=(-1, -2)) / (a.norm(dim=(-2, -1)) * b.norm(dim=(-2, -1))).clamp_min(1e-300)


def relative_l2(estimate: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """``||estimate - target|| / ||target||`` over the last two dims."""
    return (estimate - target).norm(dim=(-2, -1)) / target.norm(dim=(-2, -1))


def fidelity(psf: torch.Tensor, target: torch.Tensor,
             wavelengths: Sequence[float]) -> List[List[Dict[str, float]]]:
    """Per-mask, per-wavelength fidelity of unit-sum PSFs [F, L, k, k] to targets [F, k, k].

    Returns ``report[f][l] = {"wavelength", "correlation", "relative_l2"}`` (both PSF and target
    normalised to unit sum for the L2 error).
    """
    psf = normalize_sum(psf.detach().double())
    target = normalize_sum(target.double())[:, None]
    nc = normalized_correlation(psf, target)
    l2 = relative_l2(psf, target.expand_as(psf))
    return [[{"wavelength": float(w), "correlation": float(nc[f, i]),
              "relative_l2": float(l2[f, i])} for i, w in enumerate(wavelengths)]
            for f in range(psf.shape[0])]


@dataclass
class MaskDesign:
    """The result of :func:`design_mask`.

    Attributes
    ----------
    height : torch.Tensor
        Heights (m) [F, N, N] in [0, 2 pi height), float64.
    target : torch.Tensor
        Unit-sum target PSFs [F, k, k].
    psf : torch.Tensor
        Unit-sum PSFs of the masks [F, L, k, k] at ``geometry.wavelengths``.
    geometry : MaskGeometry
    method : str
    fidelity : list
        ``fidelity[f][l]`` dicts (see :func:`fidelity`).
    efficiency : list of list of float
        ``[f][l]``: fraction of the light through the mask that lands in the kernel window.
    history : list of float
        Loss per iteration of the last stage.
    """

    height: torch.Tensor
    target: torch.Tensor
    psf: torch.Tensor
    geometry: MaskGeometry
    method: str
    fidelity: list
    efficiency: list
    history: list = field(default_factory=list)

    def worst_correlation(self, wavelength: "float | None" = None) -> float:
        """Smallest correlation over masks (at one wavelength, or over all of them)."""
        values = [entry["correlation"] for per_mask in self.fidelity for entry in per_mask
                  if wavelength is None or math.isclose(entry["wavelength"], wavelength)]
        return min(values)


def design_psf(height: torch.Tensor, geometry: MaskGeometry, kernel_size: int,
               wavelengths: "Sequence[float] | None" = None) -> torch.Tensor:
    """Unit-sum PSFs [F, L, k, k] of heights [F, N, N] (m), via :func:`optics.psf.mask_psf`."""
    wavelengths = geometry.wavelengths if wavelengths is None else tuple(wavelengths)
    pad = geometry.propagation_pad(wavelengths)
    return mask_psf(height, geometry.mask_pitch, list(wavelengths), geometry.distance,
                    geometry.sensor_pitch, kernel_size, material=geometry.material, pad=pad)


class _SensorWindow:
    """Sensor-pixel integration on the mask grid: grid intensity -> taps, and taps -> grid."""

    def __init__(self, geometry: MaskGeometry, kernel_size: int, dtype=torch.float64):
        n = geometry.mask_size
        self.weights = pixel_integration_weights(n, geometry.mask_pitch, kernel_size,
                                                 geometry.sensor_pitch, 1.0, None, dtype)  # [k, n]

    def integrate(self, intensity: torch.Tensor) -> torch.Tensor:
        """[..., n, n] -> [..., k, k]."""
        return self.weights @ intensity @ self.weights.T

    def spread(self, taps: torch.Tensor) -> torch.Tensor:
        """[..., k, k] -> [..., n, n]: each grid sample gets its sensor pixel's value."""
        return self.weights.T @ taps @ self.weights


def window_efficiency(height: torch.Tensor, geometry: MaskGeometry, kernel_size: int,
                      wavelengths: "Sequence[float] | None" = None) -> torch.Tensor:
    """Fraction [F, L] of the light through the (fully open) mask landing in the kernel window.

    Differentiable in ``height`` [F, N, N] (m). Light outside the window still reaches the
    sensor in a real camera (it widens the PSF), so a good design keeps this fraction high.
    """
    wavelengths = geometry.wavelengths if wavelengths is None else tuple(wavelengths)
    window = _SensorWindow(geometry, kernel_size, torch.float32)
    phase = phase_from_height(height.float(), list(wavelengths), geometry.material)
    sensor = propagate(field_from_phase(phase), geometry.mask_pitch, list(wavelengths),
                       geometry.distance, "asm", geometry.propagation_pad(wavelengths))
    inside = window.integrate(sensor.real ** 2 + sensor.imag ** 2).sum(dim=(-1, -2))
    return inside / geometry.mask_size ** 2


def _progress(iterable, enabled: bool, description: str):
    from tqdm.auto import tqdm

    return tqdm(iterable, desc=description, disable=not enabled, leave=False)


def gerchberg_saxton(target: torch.Tensor, geometry: MaskGeometry, iterations: int = 50,
                     seed: int = 0, progress: bool = True) -> "tuple[torch.Tensor, list]":
    """Gerchberg-Saxton phase retrieval at the design wavelength.

    Parameters
    ----------
    target : torch.Tensor
        Non-negative target PSFs [F, k, k] on the sensor grid.
    geometry : MaskGeometry
    iterations : int
        Number of mask -> sensor -> mask round trips (PhlatCam: 20-100).
    seed : int
        Seed of the random initial phase.
    progress : bool
        Show a tqdm progress bar.

    Returns
    -------
    height : torch.Tensor
        Heights (m) [F, N, N] in [0, 2 pi height), float64.
    history : list of float
        Relative L2 error of the unit-sum PSF at the design wavelength, per iteration.
    """
    target = validate_kernel(target, "target")
    k = target.shape[-1]
    geometry.check_kernel_fits(k)
    if int(iterations) < 1:
        raise ValueError(f"iterations: must be >= 1, got {iterations}")
    wavelength, n = geometry.design_wavelength, geometry.mask_size
    pad = geometry.propagation_pad([wavelength])
    window = _SensorWindow(geometry, k, torch.float32)                       # complex64 fields
    goal = normalize_sum(target).float()                                      # [F, k, k]
    generator = torch.Generator().manual_seed(int(seed))
    phase = 2 * math.pi * torch.rand((target.shape[0], n, n), generator=generator)
    history = []
    for _ in _progress(range(int(iterations)), progress, "Gerchberg-Saxton"):
        sensor = propagate(torch.polar(torch.ones_like(phase), phase), geometry.mask_pitch,
                           wavelength, geometry.distance, "asm", pad)
        energy = window.integrate(sensor.real ** 2 + sensor.imag ** 2)     # [F, k, k]
        total = energy.sum(dim=(-1, -2), keepdim=True)
        history.append(float(relative_l2(energy / total, goal).max()))
        # scale each sensor pixel's field so that its energy is the target's share of the total
        gain = torch.sqrt(goal * total / energy.clamp_min(1e-30 * total))
        sensor = sensor * window.spread(gain)
        back = propagate(sensor, geometry.mask_pitch, wavelength, -geometry.distance, "asm", pad)
        phase = torch.angle(back)
    height = torch.remainder(phase.double() / (2 * math.pi), 1.0) * geometry.two_pi_height
    return height, history


def gradient_descent(target: torch.Tensor, geometry: MaskGeometry, init_height=None,
                     iterations: int = 200, learning_rate: float = 0.02,
                     wavelength_weights: "Sequence[float] | None" = None, seed: int = 0,
                     progress: bool = True, efficiency_weight: float = 0.05
                     ) -> "tuple[torch.Tensor, list]":
    """Optimise heights so the PSFs match ``target`` at every wavelength of ``geometry``.

    Parameters
    ----------
    target : torch.Tensor
        Non-negative target PSFs [F, k, k].
    geometry : MaskGeometry
    init_height : torch.Tensor, optional
        Initial heights (m) [F, N, N]; default uniform random in one 2 pi period.
    iterations : int
        Adam steps.
    learning_rate : float
        Adam step size, in units of the 2 pi height.
    wavelength_weights : sequence of float, optional
        Weight of each wavelength in the loss (default equal).
    seed : int
        Seed of the random initial heights.
    progress : bool
        Show a tqdm progress bar.
    efficiency_weight : float
        Weight of ``1 - window efficiency`` at the design wavelength in the loss (keeps the light
        inside the kernel window; 0 turns it off).

    Returns
    -------
    height : torch.Tensor
        Heights (m) [F, N, N] in [0, 2 pi height), float64.
    history : list of float
        Loss per step (sum over wavelengths of the squared relative L2 error, worst mask).
    """
    target = validate_kernel(target, "target")
    k, count = target.shape[-1], target.shape[0]
    geometry.check_kernel_fits(k)
    if int(iterations) < 0:
        raise ValueError(f"iterations: must be >= 0, got {iterations}")
    if not (math.isfinite(efficiency_weight) and efficiency_weight >= 0):
        raise ValueError(f"efficiency_weight: must be >= 0, got {efficiency_weight!r}")
    if not (math.isfinite(learning_rate) and learning_rate > 0):
        raise ValueError(f"learning_rate: must be positive, got {learning_rate!r}")
    levels = len(geometry.wavelengths)
    weights = torch.ones(levels) if wavelength_weights is None \
        else torch.as_tensor(wavelength_weights, dtype=torch.float32)
    if weights.shape != (levels,) or bool((weights < 0).any()) or float(weights.sum()) <= 0:
        raise ValueError(f"wavelength_weights: need {levels} non-negative weights, got "
                         f"{wavelength_weights!r}")
    full = geometry.two_pi_height
    n = geometry.mask_size
    if init_height is None:
        generator = torch.Generator().manual_seed(int(seed))
        fraction = torch.rand((count, n, n), generator=generator)
    else:
        init = torch.as_tensor(init_height, dtype=torch.float64)
        if init.shape != (count, n, n):
            raise ValueError(f"init_height: expected shape {(count, n, n)}, got {tuple(init.shape)}")
        fraction = torch.remainder(init / full, 1.0).float()
    theta = torch.nn.Parameter(fraction.clone())
    goal = normalize_sum(target).float()[:, None]                           # [F, 1, k, k]
    goal_norm2 = (goal ** 2).sum(dim=(-1, -2))
    optimiser = torch.optim.Adam([theta], lr=learning_rate)
    history = []
    for _ in _progress(range(int(iterations)), progress, "gradient descent"):
        optimiser.zero_grad()
        height = torch.remainder(theta, 1.0) * full
        psf = design_psf(height, geometry, k)                               # [F, L, k, k]
        error = ((psf - goal) ** 2).sum(dim=(-1, -2)) / goal_norm2          # [F, L]
        per_mask = (error * weights).sum(dim=-1) / weights.sum()
        if efficiency_weight:
            efficiency = window_efficiency(height, geometry, k, [geometry.design_wavelength])
            per_mask = per_mask + efficiency_weight * (1.0 - efficiency[:, 0])
        per_mask.sum().backward()
        optimiser.step()
        history.append(float(per_mask.detach().max()))
    height = torch.remainder(theta.detach().double(), 1.0) * full
    return height, history


def design_mask(kernel, geometry: MaskGeometry = MaskGeometry(), method: str = "gs+gd",
                gs_iterations: int = 50, gd_iterations: int = 200, learning_rate: float = 0.02,
                wavelength_weights: "Sequence[float] | None" = None, seed: int = 0,
                progress: bool = True, efficiency_weight: float = 0.05) -> MaskDesign:
    """Design one phase mask per non-negative target PSF and report its fidelity.

    Parameters
    ----------
    kernel : array-like
        Target PSFs [k, k] or [F, k, k] (or [F, 1, k, k]), non-negative, k odd, on the sensor grid
        of pitch ``geometry.sensor_pitch`` (true-convolution PSFs, not cross-correlation kernels).
    geometry : MaskGeometry
    method : {"gs", "gd", "gs+gd"}
        Gerchberg-Saxton, gradient descent from random heights, or GS followed by GD.
    gs_iterations, gd_iterations : int
        Iterations of each stage.
    learning_rate : float
        GD step (fraction of the 2 pi height).
    wavelength_weights : sequence of float, optional
        Loss weight per wavelength (GD).
    seed : int
        Seed of the random starts.
    progress : bool
        Progress bars.
    efficiency_weight : float
        GD weight of the light lost outside the kernel window (see :func:`gradient_descent`).

    Returns
    -------
    MaskDesign

    Examples
    --------
    >>> from optics.kernels import gaussian_psf
    >>> g = MaskGeometry(mask_size=64, sensor_pitch=4e-6)
    >>> d = design_mask(gaussian_psf(15, 2.0), g, method="gs", gs_iterations=5, progress=False)
    >>> tuple(d.psf.shape)
    (1, 3, 15, 15)
    """
    if method not in METHODS:
        raise ValueError(f"method: {method!r} is not one of {METHODS}")
    target = validate_kernel(kernel, "kernel")
    geometry.check_kernel_fits(target.shape[-1])
    height, history = None, []
    if "gs" in method.split("+"):
        height, history = gerchberg_saxton(target, geometry, gs_iterations, seed, progress)
    if "gd" in method.split("+"):
        height, history = gradient_descent(target, geometry, height, gd_iterations, learning_rate,
                                           wavelength_weights, seed, progress,
                                           efficiency_weight)
    return evaluate_design(height, target, geometry, method, history)


def evaluate_design(height: torch.Tensor, target, geometry: MaskGeometry, method: str = "given",
                    history: "list | None" = None) -> MaskDesign:
    """PSFs, fidelity and efficiency of heights [F, N, N] (m) against targets [F, k, k]."""
    target = validate_kernel(target, "target")
    height = torch.as_tensor(height, dtype=torch.float64)
    if height.ndim == 2:
        height = height[None]
    k = target.shape[-1]
    with torch.no_grad():
        psf = design_psf(height.float(), geometry, k).double()
    with torch.no_grad():
        efficiency = window_efficiency(height, geometry, k).tolist()
    return MaskDesign(height=height, target=normalize_sum(target), psf=psf, geometry=geometry,
                      method=method, fidelity=fidelity(psf, target, geometry.wavelengths),
                      efficiency=efficiency, history=list(history or []))
