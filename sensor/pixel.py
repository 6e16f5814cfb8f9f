"""The pixel array: mean photon counts per pixel -> electrons -> volts, with EMVA 1288 noise.

Signal chain of :class:`PixelArray` (EMVA 1288 linear camera model, per pixel, all in torch):

1. photo-electron mean ``mu_e = QE[c] * (1 + PRNU pattern) * photons``. The PRNU pattern is a
   fixed per-pixel relative gain deviation (std ``prnu``); it scales the *mean* before shot noise,
   so the charge stays Poisson (a pixel with a larger responsivity collects more electrons).
2. shot noise: electrons ~ Poisson(mu_e) (hard mode) or ``mu_e + sqrt(mu_e) * z`` (soft mode,
   Gaussian reparameterisation with the same mean and variance).
3. dark current: Poisson(``dark_current * exposure_time``) electrons are added (the dark signal
   and its shot noise grow linearly with the exposure time).
4. full-well clipping at ``saturation_capacity`` electrons (hard ``min``; a softplus-smoothed
   minimum in soft mode).
5. DSNU: a fixed per-pixel dark offset (std ``dsnu`` electrons) of the readout chain, added after
   the charge is clipped (EMVA 1288 measures it as the spatial std of the dark image).
6. read noise: Gaussian with std ``dark_noise`` electrons (EMVA 1288 temporal dark noise
   sigma_d) per pixel per frame.
7. conversion gain: ``volts = conversion_gain * electrons``.

Gain scheme. The pixel owns the *conversion gain* (V/e-): the analog front end downstream sees
volts. The EMVA 1288 *system gain* K (DN/e-) only exists once an ADC is attached; for the
standard's measurements use :class:`sensor.emva.CharacterisationADC`, whose
``system_gain(params) = conversion_gain / lsb`` with ``lsb = (v_max - v_min) / 2**bits``.

Photon scale. The camera's scene is linear RGB with 1.0 the brightest value; ``photon_scale`` is
the mean number of photons that reach one pixel during one exposure (at the configured exposure
time) when the scene value is 1.0, so ``photons = photon_scale * scene`` (see
:meth:`SensorParams.scene_to_photons`). The mean electron count of a white pixel is
``QE * photon_scale``.

Fixed patterns (DSNU, PRNU) are drawn once per ``seed`` for each (C, H, W) frame shape and
cached; per-frame noise comes from the ``generator`` passed to ``forward`` or, when none is given,
from the module's own generator seeded from ``seed`` (so two arrays built with the same seed
produce the same sequence of frames).
"""
from __future__ import annotations

import dataclasses
import math
from typing import Any, Dict, Optional, Sequence, Tuple, Union

import torch
from torch import nn

from canopic.core.units import parse_quantity

__all__ = ["SensorParams", "PixelArray"]

# Variance (e-^2) added under the square root of the soft-mode shot noise so that its gradient
# stays finite at zero signal; negligible next to any read noise.
_SOFT_SHOT_VARIANCE_FLOOR = 1e-2
# Default width of the soft full-well clip, as a fraction of the saturation capacity.
_SOFT_CLIP_FRACTION = 0.01
# Seed offset separating the per-frame noise stream from the fixed-pattern stream.
_NOISE_SEED_OFFSET = 0x5EED


def _finite_number(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{name}: expected a number, got {value!r}")
    value = float(value)
    if math.isnan(value):
        raise ValueError(f"{name}: got NaN; expected a number")
    return value


def _check_range(name: str, value: float, low: float, high: float, unit: str,
                 low_open: bool = False, high_open: bool = False) -> None:
    below = value <= low if low_open else value < low
    above = value >= high if high_open else value > high
    if below or above or math.isnan(value):
        lo = "(" if low_open else "["
        hi = ")" if high_open else "]"
        raise ValueError(f"{name}: {value!r} {unit} is outside the allowed range "
                         f"{lo}{low}, {high}{hi}")


@dataclasses.dataclass(frozen=True)
class SensorParams:
    """EMVA 1288 parameters of the pixel array, in SI units.

    Parameters
    ----------
    quantum_efficiency : float or tuple of float
        eta, electrons per photon, in [0, 1]; one value for every colour channel or one per
        channel (its length must then match C of the frames).
    conversion_gain : float or str
        Volts per electron at the pixel output, > 0 (e.g. ``50e-6`` or ``"50uV"``).
    dark_noise : float
        sigma_d, temporal dark (read) noise, electrons rms, >= 0.
    dark_current : float
        mu_I, mean dark current, electrons per second, >= 0.
    saturation_capacity : float
        mu_e.sat, full-well capacity, electrons, > 0 (``math.inf`` for no clipping).
    dsnu : float
        DSNU_1288, std of the fixed per-pixel dark offset, electrons, >= 0.
    prnu : float
        PRNU_1288 as a fraction (0.01 = 1 %), std of the fixed per-pixel relative gain, in [0, 1).
    exposure_time : float or str
        Seconds, >= 0 (e.g. ``0.01`` or ``"10ms"``); scales the dark current.
    pixel_pitch : float or str
        Metres, > 0 (e.g. ``"2um"``); the pixel area ``pixel_pitch**2`` is what EMVA 1288 needs
        to turn photons per pixel into irradiance.
    photon_scale : float
        Mean photons per pixel per exposure for a linear scene value of 1.0, >= 0.
    shot_noise : bool
        True (physical): photo-electrons and dark electrons are Poisson distributed. False
        turns the shot noise off (the ideal preset), keeping their means.
    """

    quantum_efficiency: Union[float, Tuple[float, ...]] = 0.6
    conversion_gain: float = 50e-6
    dark_noise: float = 6.0
    dark_current: float = 10.0
    saturation_capacity: float = 10_000.0
    dsnu: float = 2.0
    prnu: float = 0.01
    exposure_time: float = 0.01
    pixel_pitch: float = 2e-6
    photon_scale: float = 12_000.0
    shot_noise: bool = True

    def __post_init__(self) -> None:
        set_ = lambda name, value: object.__setattr__(self, name, value)  # noqa: E731 (frozen)
        if not isinstance(self.shot_noise, bool):
            raise ValueError(f"shot_noise: expected True or False, got {self.shot_noise!r}")
        for name, unit in (("conversion_gain", "V"), ("exposure_time", "s"),
                           ("pixel_pitch", "m")):
            value = getattr(self, name)
            if isinstance(value, str):
                set_(name, parse_quantity(value, unit, name))
        qe = self.quantum_efficiency
        if isinstance(qe, (list, tuple)):
            if len(qe) == 0:
                raise ValueError("quantum_efficiency: empty sequence; give one value in [0, 1] "
                                 "or one per colour channel")
            qe = tuple(_finite_number("quantum_efficiency", q) for q in qe)
            for q in qe:
                _check_range("quantum_efficiency", q, 0.0, 1.0, "e-/photon")
        else:
            qe = _finite_number("quantum_efficiency", qe)
            _check_range("quantum_efficiency", qe, 0.0, 1.0, "e-/photon")
        set_("quantum_efficiency", qe)
        limits = {  # name: (low, high, unit, low_open, high_open)
            "conversion_gain": (0.0, math.inf, "V/e-", True, True),
            "dark_noise": (0.0, math.inf, "e-", False, True),
            "dark_current": (0.0, math.inf, "e-/s", False, True),
            "saturation_capacity": (0.0, math.inf, "e-", True, False),
            "dsnu": (0.0, math.inf, "e-", False, True),
            "prnu": (0.0, 1.0, "(fraction)", False, True),
            "exposure_time": (0.0, math.inf, "s", False, True),
            "pixel_pitch": (0.0, math.inf, "m", True, True),
            "photon_scale": (0.0, math.inf, "photons", False, True),
        }
        for name, (low, high, unit, low_open, high_open) in limits.items():
            value = _finite_number(name, getattr(self, name))
            _check_range(name, value, low, high, unit, low_open, high_open)
            set_(name, value)

    @classmethod
    def ideal(cls, **overrides: Any) -> "SensorParams":
        """A noise-free pixel: QE 1; no shot noise, dark current, read noise, DSNU, PRNU, full well.

        Its output is exactly ``conversion_gain * photons`` volts.
        """
        fields = dict(quantum_efficiency=1.0, dark_noise=0.0, dark_current=0.0,
                      saturation_capacity=math.inf, dsnu=0.0, prnu=0.0, shot_noise=False)
        fields.update(overrides)
        return cls(**fields)

    @classmethod
    def from_dict(cls, values: Dict[str, Any]) -> "SensorParams":
        """Build from a mapping (e.g. a JSON config); unknown keys raise ValueError."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"sensor parameters: unknown keys {unknown}; allowed: {sorted(known)}")
        return cls(**values)

    def to_dict(self) -> Dict[str, Any]:
        """Plain mapping of every field (SI floats; QE a float or a list)."""
        out = dataclasses.asdict(self)
        if isinstance(out["quantum_efficiency"], tuple):
            out["quantum_efficiency"] = list(out["quantum_efficiency"])
        return out

    @property
    def pixel_area(self) -> float:
        """Pixel area, m^2."""
        return self.pixel_pitch ** 2

    def qe_tensor(self, channels: int, device: Any = None,
                  dtype: torch.dtype = torch.float32) -> torch.Tensor:
        """Quantum efficiency as a [1, C, 1, 1] tensor for frames with ``channels`` channels."""
        qe = self.quantum_efficiency
        if isinstance(qe, tuple):
            if len(qe) != channels:
                raise ValueError(f"quantum_efficiency: {len(qe)} per-channel values but the "
                                 f"frames have C = {channels} channels; give one value or "
                                 f"{channels}")
            values = torch.tensor(qe, dtype=dtype, device=device)
        else:
            values = torch.full((channels,), qe, dtype=dtype, device=device)
        return values.view(1, channels, 1, 1)

    def scene_to_photons(self, scene: torch.Tensor) -> torch.Tensor:
        """Mean photons per pixel per exposure for a linear scene (1.0 -> ``photon_scale``)."""
        return scene * self.photon_scale


def _check_photons(photons: Any) -> None:
    if not isinstance(photons, torch.Tensor):
        raise ValueError(f"photons: expected a torch tensor, got {type(photons).__name__}")
    if not photons.is_floating_point():
        raise ValueError(f"photons: expected a floating-point tensor, got dtype {photons.dtype}")
    if photons.dim() != 4:
        raise ValueError(f"photons: expected an NCHW tensor (4 dimensions), got shape "
                         f"{tuple(photons.shape)}")
    if photons.numel() == 0:
        return
    with torch.no_grad():  # one pass: min and max propagate NaN
        low, high = (float(v) for v in torch.aminmax(photons))
    if math.isnan(low) or math.isnan(high) or math.isinf(high):
        raise ValueError("photons: contains NaN or inf; allowed: finite values >= 0")
    if low < 0:
        raise ValueError(f"photons: minimum {low} is negative; allowed: mean photon counts >= 0")


class PixelArray(nn.Module):
    """The pixel array as a torch module: NCHW mean photons per pixel per exposure -> volts.

    Parameters
    ----------
    params : SensorParams
        The EMVA 1288 description of the sensor.
    seed : int
        Seed of the fixed patterns (DSNU, PRNU) and of the default per-frame noise stream.
    soft_clip_width : float, optional
        Width (electrons) of the softplus full-well clip in soft mode; default 1 % of the
        saturation capacity.
    gaussian_shot_above : float, optional
        Speed option for hard mode. None (default): every pixel's electron count is an exact
        Poisson draw (about 0.1 us per pixel on a CPU core). A number (electrons, >= 0): pixels
        whose mean exceeds it are drawn as ``round(N(mean, mean))``, the normal limit of the
        Poisson law (same mean, variance + 1/12 e-^2, relative skewness error
        ``1/sqrt(mean)``), several times faster; the rest stay exact Poisson.
    """

    def __init__(self, params: SensorParams, seed: int = 0,
                 soft_clip_width: Optional[float] = None,
                 gaussian_shot_above: Optional[float] = None) -> None:
        super().__init__()
        if not isinstance(params, SensorParams):
            raise ValueError(f"params: expected SensorParams, got {type(params).__name__}")
        if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
            raise ValueError(f"seed: expected an integer >= 0, got {seed!r}")
        if soft_clip_width is None:
            soft_clip_width = _SOFT_CLIP_FRACTION * params.saturation_capacity
        soft_clip_width = _finite_number("soft_clip_width", soft_clip_width)
        if math.isfinite(params.saturation_capacity):
            _check_range("soft_clip_width", soft_clip_width, 0.0, math.inf, "e-", True, True)
        if gaussian_shot_above is not None:
            gaussian_shot_above = _finite_number("gaussian_shot_above", gaussian_shot_above)
            _check_range("gaussian_shot_above", gaussian_shot_above, 0.0, math.inf, "e-",
                         False, True)
        self.params = params
        self.seed = seed
        self.gaussian_shot_above = gaussian_shot_above
        self.soft_clip_width = soft_clip_width
        self._patterns: Dict[Tuple[int, int, int], torch.Tensor] = {}
        self._noise_generators: Dict[str, torch.Generator] = {}

    def extra_repr(self) -> str:
        return f"seed={self.seed}, params={self.params}"

    # ----------------------------------------------------------------------------- patterns
    def _unit_patterns(self, shape: Tuple[int, int, int]) -> torch.Tensor:
        """Standard-normal fixed patterns [2, C, H, W] (float64, CPU): DSNU, PRNU."""
        if shape not in self._patterns:
            generator = torch.Generator().manual_seed(self.seed)
            self._patterns[shape] = torch.randn((2,) + shape, generator=generator,
                                                dtype=torch.float64)
        return self._patterns[shape]

    def dsnu_pattern(self, shape: Sequence[int], device: Any = None,
                     dtype: torch.dtype = torch.float32) -> torch.Tensor:
        """Fixed per-pixel dark offset [C, H, W], electrons (std ``params.dsnu``)."""
        pattern = self._unit_patterns(tuple(int(s) for s in shape))[0] * self.params.dsnu
        return pattern.to(device=device, dtype=dtype)

    def prnu_gain(self, shape: Sequence[int], device: Any = None,
                  dtype: torch.dtype = torch.float32) -> torch.Tensor:
        """Fixed per-pixel relative responsivity [C, H, W], 1 + N(0, prnu^2), clipped at 0."""
        unit = self._unit_patterns(tuple(int(s) for s in shape))[1]
        return (1.0 + self.params.prnu * unit).clamp_min(0.0).to(device=device, dtype=dtype)

    def _noise_generator(self, device: torch.device) -> torch.Generator:
        key = str(device)
        if key not in self._noise_generators:
            self._noise_generators[key] = torch.Generator(device=device).manual_seed(
                self.seed + _NOISE_SEED_OFFSET)
        return self._noise_generators[key]

    # ------------------------------------------------------------------------------ forward
    def _sample_shot(self, mean: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """Electron counts (new tensor) for per-pixel means ``mean`` (Poisson, or its normal
        limit above ``gaussian_shot_above``)."""
        threshold = self.gaussian_shot_above
        if threshold is None:
            return torch.poisson(mean, generator=generator)
        electrons = torch.randn(mean.shape, generator=generator, device=mean.device,
                                dtype=mean.dtype)
        electrons.mul_(mean.sqrt()).add_(mean).round_().clamp_min_(0.0)
        flat_mean, flat_electrons = mean.reshape(-1), electrons.view(-1)
        small = torch.nonzero(flat_mean <= threshold).squeeze(1)
        if small.numel():
            flat_electrons[small] = torch.poisson(flat_mean[small], generator=generator)
        return electrons

    def responsivity(self, shape: Sequence[int], device: Any = None,
                     dtype: torch.dtype = torch.float32) -> torch.Tensor:
        """Electrons per photon of every pixel, QE x PRNU gain, [1, C, H, W]."""
        c, h, w = (int(s) for s in shape)
        qe = self.params.qe_tensor(c, device, dtype)
        if not self.params.prnu:
            return qe
        return qe * self.prnu_gain((c, h, w), device, dtype).unsqueeze(0)

    def mean_electrons(self, photons: torch.Tensor) -> torch.Tensor:
        """Photo-electron mean QE * PRNU gain * photons, NCHW electrons (no dark signal)."""
        return photons * self.responsivity(photons.shape[1:], photons.device, photons.dtype)

    def forward(self, photons: torch.Tensor, mode: str = "hard",
                generator: Optional[torch.Generator] = None, noise: bool = True,
                exposure_time: Optional[float] = None) -> torch.Tensor:
        """Expose the array: NCHW mean photons per pixel per exposure -> NCHW volts.

        Parameters
        ----------
        photons : torch.Tensor
            [N, C, H, W] floating tensor, mean photon count per pixel per exposure, finite, >= 0.
        mode : {"hard", "soft"}
            ``"hard"`` samples Poisson shot and dark-current noise and clips at full well;
            ``"soft"`` is differentiable: Gaussian shot noise with the Poisson mean and variance
            (reparameterised), a softplus full-well clip.
        generator : torch.Generator, optional
            Source of the per-frame noise (on the device of ``photons``); default: the module's
            own stream seeded from ``seed``.
        noise : bool
            False gives the noise-free mean response (fixed patterns, dark signal and clipping
            kept; temporal noise off).
        exposure_time : float, optional
            Seconds; overrides ``params.exposure_time`` (the dark current scales with it; the
            photon counts are given per exposure and are not rescaled).

        Returns
        -------
        torch.Tensor
            [N, C, H, W] volts, same dtype and device as ``photons``.
        """
        if mode not in ("hard", "soft"):
            raise ValueError(f"mode: {mode!r} is not allowed; use 'hard' or 'soft'")
        _check_photons(photons)
        p = self.params
        t_exp = p.exposure_time if exposure_time is None else _finite_number(
            "exposure_time", exposure_time)
        _check_range("exposure_time", t_exp, 0.0, math.inf, "s", False, True)
        if generator is None:
            generator = self._noise_generator(photons.device)
        if mode == "hard" and noise and p.shot_noise:
            with torch.no_grad():  # sampled charge carries no gradient: fuse in place
                return self._hard_frame(photons, t_exp, generator)
        return self._mean_or_soft_frame(photons, t_exp, generator, hard_clip=mode == "hard",
                                        shot=noise and p.shot_noise, read_noise=noise)

    def _readout(self, electrons: torch.Tensor, generator: torch.Generator, read_noise: bool,
                 inplace: bool) -> torch.Tensor:
        """Add DSNU and read noise to the (clipped) charge and convert to volts."""
        p = self.params
        if p.dsnu:
            dsnu = self.dsnu_pattern(electrons.shape[1:], electrons.device, electrons.dtype)
            electrons = electrons.add_(dsnu) if inplace else electrons + dsnu
        if read_noise and p.dark_noise:
            z = torch.randn(electrons.shape, generator=generator, device=electrons.device,
                            dtype=electrons.dtype)
            electrons = (electrons.add_(z, alpha=p.dark_noise) if inplace
                         else electrons + p.dark_noise * z)
        return electrons.mul_(p.conversion_gain) if inplace else electrons * p.conversion_gain

    def _hard_frame(self, photons: torch.Tensor, t_exp: float,
                    generator: torch.Generator) -> torch.Tensor:
        mean = self.mean_electrons(photons)
        dark_mean = self.params.dark_current * t_exp
        if dark_mean:
            mean.add_(dark_mean)
        # Poisson(signal) + Poisson(dark) = Poisson(signal + dark): one draw per pixel.
        electrons = self._sample_shot(mean, generator)
        if math.isfinite(self.params.saturation_capacity):
            electrons.clamp_max_(self.params.saturation_capacity)
        return self._readout(electrons, generator, read_noise=True, inplace=True)

    def _mean_or_soft_frame(self, photons: torch.Tensor, t_exp: float,
                            generator: torch.Generator, hard_clip: bool, shot: bool,
                            read_noise: bool) -> torch.Tensor:
        """Differentiable path: noise-free mean (any mode) or soft mode with noise; hard mode
        keeps the hard full-well clip, soft mode smooths it."""
        p = self.params
        mean = self.mean_electrons(photons) + p.dark_current * t_exp
        if shot:  # soft mode: Gaussian with the Poisson mean and variance, reparameterised
            z = torch.randn(mean.shape, generator=generator, device=mean.device,
                            dtype=mean.dtype)
            electrons = mean + torch.sqrt(mean + _SOFT_SHOT_VARIANCE_FLOOR) * z
        else:
            electrons = mean
        full_well = p.saturation_capacity
        if math.isfinite(full_well):
            if hard_clip:
                electrons = electrons.clamp_max(full_well)
            else:
                width = self.soft_clip_width
                electrons = full_well - width * nn.functional.softplus(
                    (full_well - electrons) / width)
        return self._readout(electrons, generator, read_noise, inplace=False)
