"""The whole simulated CAnOPIC camera: optics -> pixel array -> comparator tree -> gain -> ADC.

    scene [N, 3, H, W] (linear RGB, [0, 1])
      -> optics: convolution with F PSFs per colour, replicate padding      [N, 3F, H, W]
      -> sensor: photons -> electrons -> volts (ideal: 1.0 scene = full_scale_volts)
      -> analog: comparator-tree max-pooling over block x block            [N, 3F, H/b, W/b]
      -> gain stage (per-frame peak detectors, or a fixed gain) to [0, 15]
      -> flash ADC with 15 learned thresholds                              codes 0..15

Every stage can be switched off, so the camera covers every row of the paper's Table 1. In
``mode="hard"`` the camera is what the hardware does (noise sampled, hard comparators, integer
codes); in ``mode="soft"`` it is differentiable (smooth ADC with hardness T) for learning.

Examples
--------
>>> import torch
>>> from sensor import Camera, CameraConfig
>>> camera = Camera(CameraConfig(conv="conv1"))
>>> codes = camera(torch.rand(2, 3, 64, 64))
>>> tuple(codes.shape), int(codes.min()) >= 0, int(codes.max()) <= 15
((2, 3, 8, 8), True, True)
"""
from __future__ import annotations

import dataclasses
import math
from typing import Optional

import torch
from torch import nn

import analog
from optics.factorised import DEFAULT_SUPPORT, FACTORISED_MODES, FactorisedPSF
from optics.imaging import convolve_psf
from optics.kernels import KERNEL_MODES, KernelPSF, gaussian_psf, half_plane_bars

CONV_KINDS = ("none", "conv1", "conv4", "custom")
PSF_PARAMETERISATIONS = ("taps", "factorised")
_DEFAULT_KERNEL = {"conv1": (1, 63), "conv4": (4, 11)}
#: optical stages a factorised PSF serves (``psf_parameterisation="factorised"``)
FACTORISED_CONVS = ("conv1", "conv4")


@dataclasses.dataclass
class CameraConfig:
    """Configuration of a simulated camera; SI units (volts) unless stated.

    Attributes
    ----------
    conv : {"none", "conv1", "conv4", "custom"}
        Optical stage: none; one 63x63 PSF (init Gaussian, sigma ``psf_sigma`` px); four 11x11
        PSFs (init half-plane bars, each scaled to unit sum; 31x31 from seeded factors with
        ``psf_parameterisation="factorised"``); or "custom" (kernels given to
        ``Camera(psf_source=...)``).
    psf_sigma : float
        Sigma in pixels of Conv(1)'s initial Gaussian PSF (8 px, the paper's); the unlearned
        Conv(1) family of the learning study sweeps it. Only for ``conv="conv1"``.
    kernel_size : int or None
        Override of the PSF size in pixels (odd).
    kernel_mode : {"free", "nonnegative", "two_mask"}
        Parameterisation of learnable kernels (see ``optics.kernels``).
    psf_parameterisation : {"taps", "factorised"}
        How the PSFs learn: their own taps (Conv(1) from the Gaussian of ``psf_sigma``,
        Conv(4) from its bars), or the products of small dilated kernels
        (``optics.factorised.FactorisedPSF``: signed PSFs of 31 px support, their factors
        seeded by ``seed``, or by the run's seed in ``canopic train``; ``conv`` "conv1" (one
        PSF, 63 px) or "conv4" (four PSFs sharing the dilated layers, 31 px: Conv(4)'s 11 px
        is smaller than the support), ``kernel_mode`` "free" or "two_mask", the physical
        camera's K+ and K- captures; a given ``psf_source`` wins).
        Either way the PSFs are realised the same way (two masks for a signed kernel).
    maxpool : bool
        Comparator-tree max-pooling over ``block`` x ``block`` pixels.
    block : int
        Pooling block size in pixels (8 in the paper).
    quantize : bool
        Gain stage + flash ADC.
    levels : int
        ADC output levels (16 = 4 bits, 15 thresholds).
    thresholds : list of float or None
        Initial ADC thresholds in ADC input units [0, levels - 1]; None = k + 0.5.
    min_threshold_spacing : float
        Smallest allowed gap between neighbouring thresholds (ADC input units).
    gain : {"per_frame", "fixed"}
        Per-frame peak-detector normalisation (the paper) or a fixed gain.
    fixed_gain, fixed_offset : float
        For ``gain="fixed"``: ADC input = fixed_gain * (volts - fixed_offset), in 1/V and V.
    sensor : dict or None
        ``sensor.SensorParams`` fields for a physical pixel array; None = ideal (noise-free,
        linear: scene 1.0 -> ``full_scale_volts``).
    full_scale_volts : float
        Ideal-sensor output for a scene value of 1.0 (V).
    comparator_offset_sigma, comparator_noise_sigma : float
        Max-pool comparator static offset (fixed per seed) and per-decision noise, V.
    adc_mismatch_sigma, adc_noise_sigma : float
        ADC threshold mismatch (fixed per seed) and input noise, in ADC input units (LSB).
    seed : int
        Seed of every fixed pattern (sensor DSNU/PRNU, comparator offsets, ADC mismatch).
    """

    conv: str = "conv1"
    psf_sigma: float = 8.0
    kernel_size: Optional[int] = None
    kernel_mode: str = "free"
    psf_parameterisation: str = "taps"
    maxpool: bool = True
    block: int = 8
    quantize: bool = True
    levels: int = 16
    thresholds: Optional[list] = None
    min_threshold_spacing: float = 0.05
    gain: str = "per_frame"
    fixed_gain: float = 15.0
    fixed_offset: float = 0.0
    sensor: Optional[dict] = None
    full_scale_volts: float = 1.0
    comparator_offset_sigma: float = 0.0
    comparator_noise_sigma: float = 0.0
    adc_mismatch_sigma: float = 0.0
    adc_noise_sigma: float = 0.0
    seed: int = 0

    def __post_init__(self) -> None:
        if self.conv not in CONV_KINDS:
            raise ValueError(f"conv: {self.conv!r} is not one of {CONV_KINDS}")
        if self.kernel_mode not in KERNEL_MODES:
            raise ValueError(f"kernel_mode: {self.kernel_mode!r} is not one of {KERNEL_MODES}")
        if not (isinstance(self.psf_sigma, (int, float)) and not isinstance(self.psf_sigma, bool)
                and math.isfinite(self.psf_sigma)
                and self.psf_sigma > 0):
            raise ValueError(f"psf_sigma: must be a finite number > 0 px, got {self.psf_sigma!r}")
        if self.psf_sigma != 8.0 and self.conv != "conv1":
            raise ValueError(f"psf_sigma: {self.psf_sigma} px is only for conv='conv1' (the "
                             f"Gaussian PSF); conv is {self.conv!r}")
        if self.psf_parameterisation not in PSF_PARAMETERISATIONS:
            raise ValueError(f"psf_parameterisation: {self.psf_parameterisation!r} is not one of "
                             f"{PSF_PARAMETERISATIONS}")
        if self.psf_parameterisation == "factorised" and (
                self.conv not in FACTORISED_CONVS or self.kernel_mode not in FACTORISED_MODES
                or self.psf_sigma != 8.0):
            raise ValueError(f"psf_parameterisation: 'factorised' is for conv one of "
                             f"{FACTORISED_CONVS} with "
                             f"kernel_mode one of {FACTORISED_MODES} and no psf_sigma (it "
                             f"starts from its seeded factors, not a Gaussian); got conv="
                             f"{self.conv!r}, kernel_mode={self.kernel_mode!r}, psf_sigma="
                             f"{self.psf_sigma}")
        if (self.psf_parameterisation == "factorised" and self.kernel_size is not None
                and self.kernel_size < DEFAULT_SUPPORT):
            raise ValueError(f"kernel_size: {self.kernel_size} px is smaller than the factorised "
                             f"PSF's support ({DEFAULT_SUPPORT} px; psf_parameterisation="
                             f"'factorised')")
        if self.kernel_size is not None and (self.kernel_size < 1 or self.kernel_size % 2 == 0):
            raise ValueError(f"kernel_size: must be a positive odd number, got {self.kernel_size}")
        if self.block < 1:
            raise ValueError(f"block: must be >= 1 pixel, got {self.block}")
        if not 2 <= self.levels <= 65536:
            raise ValueError(f"levels: must be in [2, 65536], got {self.levels}")
        if self.gain not in ("per_frame", "fixed"):
            raise ValueError(f"gain: {self.gain!r} is not one of ('per_frame', 'fixed')")
        for name in ("comparator_offset_sigma", "comparator_noise_sigma", "adc_mismatch_sigma",
                     "adc_noise_sigma", "min_threshold_spacing"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0):
                raise ValueError(f"{name}: must be a finite number >= 0, got {value}")
        if not (math.isfinite(self.full_scale_volts) and self.full_scale_volts > 0):
            raise ValueError(f"full_scale_volts: must be > 0 V, got {self.full_scale_volts}")

    @classmethod
    def from_dict(cls, values: dict) -> "CameraConfig":
        """Build from a dict (e.g. JSON); unknown keys are an error that lists the known ones."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"camera config: unknown keys {unknown}; known keys: {sorted(known)}")
        return cls(**values)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @property
    def output_channels_per_colour(self) -> int:
        """Number of filters F (0 without optics, None for custom kernels until built)."""
        return 0 if self.conv == "none" else _DEFAULT_KERNEL.get(self.conv, (None,))[0]


def _initial_psf(config: CameraConfig) -> Optional[torch.Tensor]:
    if config.conv in ("none", "custom"):
        return None
    count, size = _DEFAULT_KERNEL[config.conv]
    size = config.kernel_size or size
    if config.conv == "conv1":
        return gaussian_psf(size, float(config.psf_sigma))[None]
    # unit sum, like the Gaussian: the per-frame gain ignores the kernel's scale, so the gradient
    # on the taps goes as 1/scale and the authors' ones-valued bars barely learn at lr 1e-2
    bars = half_plane_bars(size)
    return bars / bars.sum(dim=(-1, -2), keepdim=True)


def factorised_psf(config: CameraConfig, seed: Optional[int] = None) -> nn.Module:
    """The factorised PSFs (``optics.factorised.FactorisedPSF``) of ``config``'s optical stage:
    four for Conv(4), else Conv(1)'s one (also the PSF source of a ``"custom"`` camera);
    ``config.kernel_size`` px or the stage's default size, at least the chain's support
    (Conv(4): 31 px). The factors are seeded by ``seed`` (default ``config.seed``; ``canopic
    train`` passes the run's seed, so restarts and seeds start from different factors)."""
    if config.conv == "none":
        raise ValueError("factorised_psf: conv is 'none', a camera without optics")
    filters, size = _DEFAULT_KERNEL.get(config.conv, _DEFAULT_KERNEL["conv1"])
    return FactorisedPSF(size=config.kernel_size or max(size, DEFAULT_SUPPORT),
                         seed=config.seed if seed is None else int(seed),
                         mode=config.kernel_mode, filters=filters)


def _captured_light(images: torch.Tensor, psf: torch.Tensor) -> torch.Tensor:
    """Intensity [N, 3F, H, W] of ``images`` through a non-negative PSF [F, C, k, k].

    Light through a non-negative PSF is non-negative; the FFT convolution of large kernels
    (k > 15) leaves round-off of about 1e-7 of the peak below zero in dark regions, which is
    clipped here so the pixel array never sees negative photon counts.
    """
    return convolve_psf(images, psf).clamp(min=0.0)


class Camera(nn.Module):
    """The simulated camera (see the module docstring).

    Parameters
    ----------
    config : CameraConfig
    psf_source : nn.Module, optional
        Replaces the default kernels: any module whose ``forward()`` returns PSFs [F, C, k, k]
        (e.g. ``optics.kernels.KernelPSF`` or a mask-parameterised ``optics.MaskPSF``). A module
        with ``is_two_mask`` true (and ``signed_parts()``) is captured as two non-negative PSFs when a physical sensor is set.
    """

    def __init__(self, config: Optional[CameraConfig] = None, psf_source: Optional[nn.Module] = None):
        super().__init__()
        self.config = config = config or CameraConfig()
        if psf_source is None and config.psf_parameterisation == "factorised":
            psf_source = factorised_psf(config)
        elif psf_source is None:
            init = _initial_psf(config)
            if config.conv == "custom":
                raise ValueError("conv: 'custom' needs a psf_source module")
            psf_source = None if init is None else KernelPSF(init, mode=config.kernel_mode)
        elif config.conv == "none":
            raise ValueError("psf_source: given, but conv is 'none'")
        self.optics = psf_source
        self.pixels = self._build_sensor(config, psf_source)
        self.pool = (analog.ComparatorTreeMaxPool(block=config.block,
                                                  offset_sigma=config.comparator_offset_sigma,
                                                  noise_sigma=config.comparator_noise_sigma,
                                                  seed=config.seed + 1)
                     if config.maxpool else None)
        if config.quantize:
            self.gain = analog.GainStage(mode=config.gain, full_scale=float(config.levels - 1),
                                         gain=config.fixed_gain, offset=config.fixed_offset)
            self.adc = analog.FlashADC(thresholds=config.thresholds, levels=config.levels,
                                       min_spacing=config.min_threshold_spacing,
                                       mismatch_sigma=config.adc_mismatch_sigma,
                                       noise_sigma=config.adc_noise_sigma, seed=config.seed + 2)
        else:
            self.gain = self.adc = None

    @staticmethod
    def _build_sensor(config: CameraConfig, psf_source: Optional[nn.Module]) -> Optional[nn.Module]:
        """The pixel array behind the optics (one sensor region per filter), or None if ideal."""
        if config.sensor is None:
            return None
        from sensor.pixel import PixelArray, SensorParams
        params = config.sensor if isinstance(config.sensor, SensorParams) else SensorParams.from_dict(dict(config.sensor))
        filters = config.output_channels_per_colour
        if filters is None:  # custom kernels: as many filters as the source gives
            with torch.no_grad():
                filters = int(psf_source().shape[0])
        filters = max(1, filters)
        qe = params.quantum_efficiency
        if isinstance(qe, (tuple, list)) and len(qe) == 3 and filters > 1:
            # one RGB sensor region per filter: channels are filter-major (f * 3 + c)
            params = dataclasses.replace(params, quantum_efficiency=tuple(qe) * filters)
        return PixelArray(params, seed=config.seed)

    # ------------------------------------------------------------------ public helpers
    @property
    def psf(self) -> Optional[torch.Tensor]:
        """Current PSFs [F, 3, k, k] (detached), or None without optics."""
        if self.optics is None:
            return None
        with torch.no_grad():
            psf = self.optics()
        return psf.detach().expand(psf.shape[0], 3, *psf.shape[-2:]).clone()

    @property
    def thresholds(self) -> Optional[torch.Tensor]:
        """Effective ADC thresholds [levels - 1] in ADC input units (detached), or None."""
        return None if self.adc is None else self.adc.thresholds.detach().clone()

    def set_thresholds(self, thresholds) -> None:
        """Replace the ADC thresholds (ADC input units, strictly increasing, min spacing)."""
        if self.adc is None:
            raise ValueError("set_thresholds: this camera has no ADC (quantize=False)")
        self.adc.set_thresholds(torch.as_tensor(thresholds, dtype=torch.float32))

    # ------------------------------------------------------------------ the signal chain
    @staticmethod
    def _check_images(images: torch.Tensor, block: Optional[int]) -> None:
        if not isinstance(images, torch.Tensor):
            raise ValueError(f"images: expected a torch.Tensor, got {type(images).__name__}")
        if images.ndim != 4 or images.shape[1] != 3:
            raise ValueError(f"images: expected [N, 3, H, W] linear RGB, got shape {tuple(images.shape)}")
        if not images.is_floating_point():
            raise ValueError(f"images: expected float values in [0, 1], got dtype {images.dtype}")
        if block and (images.shape[-1] % block or images.shape[-2] % block):
            raise ValueError(f"images: height and width must be multiples of block={block}, "
                             f"got {tuple(images.shape[-2:])}")
        if not torch.isfinite(images).all():
            raise ValueError("images: contain NaN or inf pixels")

    def _optics_and_sensor(self, images: torch.Tensor, mode: str,
                           generator: Optional[torch.Generator]) -> "tuple[torch.Tensor, torch.Tensor]":
        """(optical image, sensor volts), both [N, 3F, H, W] (or [N, 3, H, W] without optics)."""
        if self.pixels is None:  # the ideal camera: the optics' output is the signal
            optical = images if self.optics is None else convolve_psf(images, self.optics())
            volts = self.config.full_scale_volts
            return optical, optical if volts == 1.0 else optical * volts
        to_photons = self.pixels.params.scene_to_photons
        if getattr(self.optics, "is_two_mask", False):
            # two masks, two captures, subtracted in the analog domain: K = P+ - P-
            plus, minus = self.optics.signed_parts()
            light_plus, light_minus = _captured_light(images, plus), _captured_light(images, minus)
            v_plus = self.pixels(to_photons(light_plus), mode=mode, generator=generator)
            v_minus = self.pixels(to_photons(light_minus), mode=mode, generator=generator)
            return light_plus - light_minus, v_plus - v_minus
        if self.optics is None:
            optical = images
        else:
            psf = self.optics()
            if bool((psf < 0).any()):
                raise ValueError("sensor: a physical pixel array needs non-negative light, but the "
                                 "PSF has negative taps (a free, signed kernel); use kernel_mode "
                                 "'nonnegative' or 'two_mask', or sensor=None for the ideal camera")
            optical = _captured_light(images, psf)
        return optical, self.pixels(to_photons(optical), mode=mode, generator=generator)

    def stages(self, images: torch.Tensor, mode: str = "hard", hardness: Optional[float] = None,
               generator: Optional[torch.Generator] = None) -> "dict[str, torch.Tensor]":
        """Every intermediate signal of one capture.

        Returns a dict with ``scene`` [N,3,H,W], ``optics`` [N,3F,H,W] (intensity),
        ``sensor`` (volts, same shape), ``pooled`` (volts, [N,3F,H/b,W/b]; equal to ``sensor``
        without max-pooling), and with quantisation ``adc_input`` (ADC input units), ``codes``
        (0..levels-1), ``dequantised`` (codes mapped back to volts, the paper's network input).
        """
        if mode not in ("hard", "soft"):
            raise ValueError(f"mode: {mode!r} is not one of ('hard', 'soft')")
        self._check_images(images, self.config.block if self.config.maxpool else None)
        out = {"scene": images}
        out["optics"], out["sensor"] = self._optics_and_sensor(images, mode, generator)
        pooled = out["sensor"]
        if self.pool is not None:
            pooled = self.pool(pooled, mode=mode, generator=generator)
        out["pooled"] = pooled
        if self.adc is not None:
            adc_input, scale, offset = self.gain(pooled, return_mapping=True)
            codes = self.adc(adc_input, mode=mode, hardness=hardness, generator=generator)
            out["adc_input"] = adc_input
            out["codes"] = codes
            out["dequantised"] = codes * scale + offset
        return out

    def forward(self, images: torch.Tensor, mode: str = "hard", hardness: Optional[float] = None,
                generator: Optional[torch.Generator] = None) -> torch.Tensor:
        """Capture: codes [N, 3F, H/b, W/b] (float, 0..levels-1) with every stage on; otherwise
        the last enabled stage's output (volts)."""
        stages = self.stages(images, mode=mode, hardness=hardness, generator=generator)
        return stages["codes"] if "codes" in stages else stages["pooled"]
