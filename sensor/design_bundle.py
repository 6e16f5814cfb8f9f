"""Design bundle: a learned camera written for optics/ (mask design) and hil/ (flashing).

A bundle is a folder::

    design.json        schema_version, camera config, alpha, seed, files with sha256, notes
    psf.npz            psf [F, C, k, k] float32: PSFs on the sensor grid, true-convolution
                       convention (out = scene * psf); C = 3 (R, G, B; equal for an ideal kernel)
                       for two-mask designs also psf_plus, psf_minus [F, C, k, k] (psf = plus - minus)
    thresholds.npz     thresholds [levels - 1] float32, ADC input units [0, levels - 1],
                       strictly increasing

``psf.npz`` exists only for cameras with optics and ``thresholds.npz`` only with an ADC.
Every file is written atomically and ``design.json`` last, so a bundle whose ``design.json``
checks out is complete; :func:`load_design_bundle` verifies every sha256.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, Optional

import numpy as np
import torch
from torch import nn

from canopic.core import files

SCHEMA = "canopic-design"
SCHEMA_VERSION = 1
KERNEL_CONVENTION = "psf: true convolution on the sensor grid (out = scene * psf), filter-major channels f*3+c"


@dataclasses.dataclass(frozen=True)
class DesignBundle:
    """A loaded design bundle (numpy arrays; see the module docstring for shapes and units)."""

    camera_config: dict
    alpha: float
    seed: int
    psf: Optional[np.ndarray]
    thresholds: Optional[np.ndarray]
    psf_plus: Optional[np.ndarray] = None
    psf_minus: Optional[np.ndarray] = None
    metadata: dict = dataclasses.field(default_factory=dict)

    def make_camera(self, **config_overrides: Any):
        """A ``sensor.Camera`` with this design's PSFs and thresholds (not learnable).

        ``config_overrides`` replace camera config fields (e.g. a physical ``sensor`` or
        comparator offsets to see what survives the trip to hardware). A two-mask design is
        captured as its two PSFs; a signed PSF saved without them (an ideal design) is split
        into its positive and negative parts when ``kernel_mode="two_mask"`` is asked
        (``optics.kernels.two_mask_parts``: scaled so the brightest PSF sums to 1), which a
        physical ``sensor`` needs. Either way the source is ``optics.signed.RealisedPSF``: one
        capture where the negative part carries no light.
        """
        from optics.kernels import two_mask_parts
        from optics.signed import RealisedPSF
        from sensor import Camera, CameraConfig

        values = {**self.camera_config, **config_overrides}
        if {"conv", "kernel_mode"} & set(config_overrides):
            values["psf_parameterisation"] = "taps"  # the PSF is fixed: how it learned is moot
        config = CameraConfig.from_dict(values)
        source = None
        if self.psf is not None and config.conv != "none":
            if self.psf_plus is not None and self.psf_minus is not None:
                source = RealisedPSF.from_parts(torch.from_numpy(self.psf_plus),
                                                torch.from_numpy(self.psf_minus))
            elif config.kernel_mode == "two_mask" and bool((self.psf < 0).any()):
                source = RealisedPSF.from_parts(*two_mask_parts(torch.from_numpy(self.psf).float()))
            else:
                source = FixedPSF(torch.from_numpy(self.psf))
        camera = Camera(config, psf_source=source)
        if self.thresholds is not None and getattr(camera, "adc", None) is not None:
            camera.set_thresholds(torch.from_numpy(self.thresholds.astype(np.float64)))
        camera.requires_grad_(False)
        return camera


class FixedPSF(nn.Module):
    """A non-learnable PSF source: ``forward()`` returns psf [F, C, k, k] (a buffer)."""

    def __init__(self, psf: torch.Tensor):
        super().__init__()
        self.register_buffer("psf", torch.as_tensor(psf).float().clone())

    def forward(self) -> torch.Tensor:
        return self.psf


def _to_numpy(tensor) -> np.ndarray:
    return tensor.detach().to("cpu").numpy().astype(np.float32)


def save_design_bundle(camera, directory, alpha: float, seed: int,
                       extra: Optional[dict] = None) -> Path:
    """Write ``camera``'s PSFs, thresholds and config as a design bundle in ``directory``.

    Parameters
    ----------
    camera : sensor.Camera
        The learned camera (``camera.config``, ``camera.psf``, ``camera.thresholds``).
    directory : path-like
        Bundle folder (created; files inside replaced atomically).
    alpha : float
        The privacy weight it was trained with.
    seed : int
        The run's seed.
    extra : dict, optional
        More JSON-serialisable metadata (e.g. the training settings, the last metrics).

    Returns
    -------
    Path
        The path of ``design.json``.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    listed = {}
    psf = camera.psf
    if psf is not None:
        arrays = {"psf": _to_numpy(psf)}
        optics = camera.optics
        if getattr(optics, "is_two_mask", False):
            plus, minus = optics.signed_parts()
            arrays["psf_plus"] = _to_numpy(plus.expand_as(psf))
            arrays["psf_minus"] = _to_numpy(minus.expand_as(psf))
        files.save_npz(directory / "psf.npz", **arrays)
        listed["psf.npz"] = {"arrays": {k: list(v.shape) for k, v in arrays.items()}}
    thresholds = camera.thresholds
    if thresholds is not None:
        files.save_npz(directory / "thresholds.npz", thresholds=_to_numpy(thresholds))
        listed["thresholds.npz"] = {"arrays": {"thresholds": [int(thresholds.numel())]},
                                    "units": "ADC input units, [0, levels - 1]"}
    for name in listed:
        listed[name]["sha256"] = files.sha256_file(directory / name)
    config = camera.config.to_dict() if hasattr(camera.config, "to_dict") else dict(camera.config)
    manifest = {"schema": SCHEMA, "schema_version": SCHEMA_VERSION, "camera_config": config,
                "alpha": float(alpha), "seed": int(seed), "kernel_convention": KERNEL_CONVENTION,
                "files": listed, "metadata": extra or {}}
    files.write_json(directory / "design.json", manifest)
    return directory / "design.json"


def load_design_bundle(directory) -> DesignBundle:
    """Read and verify a design bundle (schema, version, sha256 of every listed file).

    Raises
    ------
    ValueError
        Missing ``design.json``, another schema or version, a listed file missing or changed.
    """
    directory = Path(directory)
    manifest_path = directory / "design.json"
    if not manifest_path.is_file():
        raise ValueError(f"design bundle {str(directory)!r}: no design.json (not a design bundle)")
    manifest = files.read_json_object(manifest_path, f"design bundle {str(directory)!r}")
    if manifest.get("schema") != SCHEMA or manifest.get("schema_version") != SCHEMA_VERSION:
        raise ValueError(f"design bundle {str(directory)!r}: schema {manifest.get('schema')!r} "
                         f"version {manifest.get('schema_version')!r}; this reader supports "
                         f"{SCHEMA!r} version {SCHEMA_VERSION}")
    arrays: dict = {}
    listed = manifest.get("files", {})
    missing = [key for key in ("camera_config", "alpha", "seed") if key not in manifest]
    if missing or not isinstance(listed, dict) or not all(
            isinstance(entry, dict) for entry in listed.values()):
        raise ValueError(f"design bundle {str(directory)!r}: design.json lacks "
                         f"{missing or 'a valid files table'}")
    for name, entry in listed.items():
        path = directory / name
        if not path.is_file():
            raise ValueError(f"design bundle {str(directory)!r}: listed file {name!r} is missing")
        digest = files.sha256_file(path)
        if digest != entry.get("sha256"):
            raise ValueError(f"design bundle {str(directory)!r}: {name!r} has sha256 {digest}, "
                             f"design.json lists {entry.get('sha256')} (file changed or corrupt)")
        arrays.update(files.read_npz(path, "design bundle"))
    return DesignBundle(camera_config=manifest["camera_config"], alpha=float(manifest["alpha"]),
                        seed=int(manifest["seed"]), psf=arrays.get("psf"),
                        thresholds=arrays.get("thresholds"), psf_plus=arrays.get("psf_plus"),
                        psf_minus=arrays.get("psf_minus"), metadata=manifest.get("metadata", {}))
