"""The encoders published with the CAnOPIC paper, loaded into the simulated camera.

Each published encoder is ``<name>.npz`` (``kernels`` [F, 1, k, k], ``thresholds`` [15] when it
quantises) with ``<name>.json`` (the authors' layer list and settings) in
``data/reference_encoders``. The authors applied kernels as cross-correlation
(``torch.nn.functional.conv2d``); the camera's kernels are PSFs (true convolution), so kernels
are rotated by 180 degrees here. Their quantiser normalised each encoded frame's min..max to
[0, 15] before 15 thresholds: the camera's per-frame gain stage.

Several published threshold sets have exactly repeated values (alpha=300 keeps 2 distinct ones);
no flash ADC can hold two equal references. ``exact=True`` (default) reproduces the authors'
arithmetic anyway (ideal mode only); ``exact=False`` spreads repeated thresholds apart by the
camera's minimum spacing, which is what hardware can realise.
"""
from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

import analog
from canopic.core import files
from canopic.core.paths import reference_encoder_dir
from optics.kernels import KernelPSF
from sensor.camera import Camera, CameraConfig

_LAYER_FLAGS = {"Convolution": "conv", "MaxPool": "maxpool", "LearnQuantize": "quantize"}


def published_names() -> "list[str]":
    """Names of the published encoders that ship with the project."""
    return sorted(p.stem for p in reference_encoder_dir().glob("Learned_*.npz"))


def resolve_published(name_or_path: str) -> "tuple[Path, Path]":
    """(npz, json) paths for a published encoder given by name or by path to its .npz."""
    path = Path(name_or_path)
    if path.suffix == ".npz" or path.exists():
        npz = path if path.suffix == ".npz" else path.with_suffix(".npz")
    else:
        npz = reference_encoder_dir() / f"{name_or_path}.npz"
    if not npz.is_file():
        raise ValueError(f"encoder: unknown published encoder {name_or_path!r}; known names: "
                         f"{published_names()} (or give a path to a .npz with its .json beside it)")
    meta = npz.with_suffix(".json")
    if not meta.is_file():
        raise ValueError(f"encoder: {npz} has no settings file {meta.name} beside it")
    return npz, meta


def _isotonic(values: np.ndarray) -> np.ndarray:
    """Least-squares non-decreasing fit (pool-adjacent-violators)."""
    blocks: "list[list[float]]" = []          # [mean, count]
    for v in values:
        blocks.append([float(v), 1.0])
        while len(blocks) > 1 and blocks[-2][0] > blocks[-1][0]:
            mean2, n2 = blocks.pop()
            mean1, n1 = blocks.pop()
            blocks.append([(mean1 * n1 + mean2 * n2) / (n1 + n2), n1 + n2])
    return np.concatenate([np.full(int(n), m) for m, n in blocks])


def spread_thresholds(thresholds: np.ndarray, min_spacing: float, full_scale: float) -> np.ndarray:
    """The realisable thresholds nearest (least squares) to ``thresholds``.

    Sorted, neighbours at least ``min_spacing`` apart, all inside
    [min_spacing / 2, full_scale - min_spacing / 2]. Runs of equal values are spread
    symmetrically around their original value where room allows.
    """
    t = np.sort(np.asarray(thresholds, dtype=np.float64))
    n = len(t)
    if min_spacing * n > full_scale:
        raise ValueError(f"min_spacing: {min_spacing} is too large for {n} thresholds in "
                         f"[0, {full_scale}]")
    steps = np.arange(n) * min_spacing
    lo, hi = min_spacing / 2, full_scale - min_spacing / 2 - steps[-1]
    shifted = np.clip(_isotonic(t - steps), lo, hi)       # clipping keeps it non-decreasing
    return shifted + steps


class ExactThresholdADC(nn.Module):
    """The authors' quantiser with their exact (possibly repeated) thresholds; ideal only.

    ``forward(x, mode, hardness, generator)`` matches ``analog.FlashADC``: hard mode counts the
    thresholds at or below ``x`` (U(0) = 1, as the authors' heaviside), soft mode sums sigmoids.
    Not realisable in hardware when thresholds repeat; see ``exact=False``.
    """

    def __init__(self, thresholds: np.ndarray, levels: int = 16):
        super().__init__()
        self.levels = levels
        self.register_buffer("fixed_thresholds", torch.as_tensor(np.sort(thresholds), dtype=torch.float64))

    @property
    def thresholds(self) -> torch.Tensor:
        return self.fixed_thresholds

    def set_thresholds(self, thresholds) -> None:
        raise ValueError("set_thresholds: a published encoder loaded with exact=True has fixed "
                         "thresholds; load it with exact=False to get a realisable, settable ADC")

    def forward(self, x, mode="hard", hardness=None, generator=None):
        if mode == "hard":
            return analog.quantize_hard(x, self.fixed_thresholds)
        if hardness is None:
            raise ValueError("hardness: required in soft mode; allowed range: finite and > 0")
        return analog.quantize_soft(x, self.fixed_thresholds, hardness)


def load_published_camera(name_or_path: str, exact: bool = True, **overrides: Any):
    """A ``sensor.Camera`` holding a published encoder's kernels and thresholds.

    Parameters
    ----------
    name_or_path : str
        E.g. ``"Learned_Conv1_Maxpool_Quantize_alpha1"`` or a path to such a .npz.
    exact : bool
        Reproduce repeated thresholds exactly (True) or spread them to a realisable set (False).
    **overrides
        ``CameraConfig`` fields to change (sensor, mismatch, seed, ...).
    """
    npz_path, meta_path = resolve_published(name_or_path)
    meta = files.read_json_object(meta_path, "encoder", "an object with a list 'archs' of layers")
    layers = meta.get("archs", [])
    if not isinstance(layers, list):
        raise ValueError(f"encoder: {meta_path} needs an object with a list 'archs' of layers")
    unknown = [layer for layer in layers if layer not in (*_LAYER_FLAGS, "Upsample")]
    if unknown:
        raise ValueError(f"encoder: {npz_path.name} has layers {unknown} this camera cannot model")
    arrays = files.read_npz(npz_path, "encoder")
    raw = _numeric(arrays, "kernels", npz_path)
    if raw.ndim not in (2, 4) or (raw.ndim == 4 and raw.shape[1] != 1) or min(raw.shape) < 1:
        raise ValueError(f"encoder: {npz_path}: 'kernels' has shape {list(raw.shape)}; expected "
                         f"[k, k] or [F, 1, k, k]")
    kernels = torch.as_tensor(raw, dtype=torch.float32)
    if kernels.ndim == 2:
        kernels = kernels[None, None]
    psf = kernels.flip(-1, -2)                          # cross-correlation kernel -> PSF
    count = psf.shape[0]
    values = dict(conv={1: "conv1", 4: "conv4"}.get(count, "custom"),
                  kernel_size=int(psf.shape[-1]),
                  maxpool="MaxPool" in layers, quantize="LearnQuantize" in layers)
    if values["quantize"]:
        thresholds = _numeric(arrays, "thresholds", npz_path).astype(np.float64)
        if thresholds.ndim != 1 or not np.all(np.isfinite(thresholds)):
            raise ValueError(f"encoder: {npz_path}: 'thresholds' must be a 1-D array of finite "
                             f"numbers, got shape {list(thresholds.shape)}")
        spacing = overrides.get("min_threshold_spacing", CameraConfig.min_threshold_spacing)
        if not exact:
            values["thresholds"] = spread_thresholds(thresholds, spacing, 15.0).tolist()
    values.update(overrides)
    config = CameraConfig(**values)
    camera = Camera(config, psf_source=KernelPSF(psf[:, 0], mode="free"))
    if values["quantize"] and exact:
        camera.adc = ExactThresholdADC(np.clip(thresholds, 0, 15), levels=config.levels)
    camera.published_name = npz_path.stem
    camera.published_exact = exact
    return camera


def _numeric(arrays: dict, key: str, path: Path) -> np.ndarray:
    """Array ``key`` of an encoder archive, numeric; ``ValueError`` naming file and key."""
    if key not in arrays:
        raise ValueError(f"encoder: {path} has no {key!r} array (it has {sorted(arrays)})")
    array = arrays[key]
    if array.dtype == bool or not np.issubdtype(array.dtype, np.number):
        raise ValueError(f"encoder: {path}: {key!r} holds {array.dtype} values; expected numbers")
    return array


def _deprecated_from_published(cls, name_or_path: str, **overrides: Any) -> Camera:
    """Deprecated alias of :func:`load_published_camera` (goes in the next release)."""
    warnings.warn("Camera.from_published is deprecated; use sensor.load_published_camera",
                  DeprecationWarning, stacklevel=2)
    return load_published_camera(name_or_path, **overrides)


# The loader builds cameras and the camera does not know the loader (no import cycle); for one
# release the old spelling ``Camera.from_published`` is attached here, where the loader lives.
# ``sensor.Camera`` is taken from this module so that the alias is always present through it.
Camera.from_published = classmethod(_deprecated_from_published)
