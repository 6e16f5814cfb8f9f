"""Mask design and fabrication as library calls: kernel in, design folder out, files out.

The ``canopic design-mask`` and ``canopic export-mask`` commands and the demo call these; Python
users call them too.

- :func:`load_kernel`: a kernel from a file, a published encoder or a built-in initial kernel.
- :func:`realise`: the masks whose PSFs realise a kernel (signed kernels as two masks).
- :func:`design_to_folder`: design the masks and write a design folder: ``design.json``
  (geometry, fidelity per wavelength, fidelity against quantisation levels, sha256 of the other
  files), ``design.npz`` (heights, PSFs, targets) and figures.
- :func:`load_design`: read a design folder back, hashes checked.
- :func:`export_design`: fabrication files of a design folder (:mod:`optics.fabrication`, see
  docs/mask-files.md), with the PSF after height quantisation reported beside the ideal one.

>>> from optics.realise import design_to_folder, export_design   # doctest: +SKIP
>>> report = design_to_folder("gaussian63", "runs/masks", gs_iterations=5)  # doctest: +SKIP
>>> export_design("runs/masks", "runs/fab", levels=16)               # doctest: +SKIP
"""
from __future__ import annotations

import dataclasses
import json
import os

import numpy as np

from canopic.core import files

#: Schema of design.json.
DESIGN_SCHEMA = "canopic.mask-design/1"
#: Built-in kernels: the paper's initial kernels, in the PSF convention.
BUILTIN_KERNELS = ("gaussian63", "bars11")
#: Level counts of the quantisation study in design.json and its figure.
STUDY_LEVELS = (2, 4, 8, 16)
#: How signed kernels are realised (see :mod:`optics.signed`).
SIGNED_MODES = ("two-mask", "clip", "shift")
#: Design methods: Gerchberg-Saxton, gradient descent, or GS then GD.
METHODS = ("gs", "gd", "gs+gd")


# --------------------------------------------------------------------------- kernel loading
def load_kernel(source: str, correlation: bool = False):
    """Kernels [F, k, k] float64 in the PSF convention, and a description of where they came from.

    Published encoders (data/reference_encoders/<name>.npz) are cross-correlation kernels and
    are flipped 180 degrees; files are flipped only with ``correlation``.
    """
    from optics.kernels import gaussian_psf, half_plane_bars

    if source == "gaussian63":
        return gaussian_psf(63, 8.0).double().numpy()[None], "paper initial kernel: 63x63 " \
            "Gaussian, sigma 8 px"
    if source == "bars11":
        return half_plane_bars(11).double().numpy(), "paper initial kernels: four 11x11 " \
            "half-plane bars (PSF convention)"
    path, flip = source, correlation
    if not os.path.isfile(path):
        from canopic.core.paths import reference_encoder_dir

        candidate = reference_encoder_dir() / f"{source}.npz"
        if not candidate.is_file():
            known = sorted(p.stem for p in reference_encoder_dir().glob("*.npz"))
            raise ValueError(f"kernel: {source!r} is neither a file nor a published encoder; "
                             f"known: {known + list(BUILTIN_KERNELS)}")
        path, flip = str(candidate), True
    if path.endswith(".npz"):
        data = files.read_npz(path, "kernel")
        keys = [k for k in ("kernels", "kernel", "psf") if k in data]
        if not keys and len(data) != 1:
            raise ValueError(f"kernel: {path} has arrays {sorted(data)}; expected 'kernels', "
                             f"'kernel', 'psf' (a design bundle's psf.npz) or a single array")
        key = keys[0] if keys else next(iter(data))
        array = _numeric_kernel(data[key], f"{path} (array {key!r})")
        if keys and keys[0] == "psf" and array.ndim == 4 and array.shape[1] == 3:
            # a design bundle's per-colour PSFs [F, 3, k, k]: design for the green channel
            # (the design wavelength); an ideal learned kernel is the same in all three
            array = array[:, 1:2]
    elif path.endswith(".npy"):
        array = _numeric_kernel(files.read_npy(path, "kernel"), path)
    else:
        raise ValueError(f"kernel: {path!r} must be a .npz or .npy file")
    if array.ndim == 4 and array.shape[1] == 1:
        array = array[:, 0]
    if array.ndim == 2:
        array = array[None]
    if flip:
        array = array[..., ::-1, ::-1].copy()
    description = f"{os.path.basename(path)}" + (" (flipped 180 degrees: correlation -> PSF)"
                                                 if flip else " (PSF convention)")
    return array, description


def _numeric_kernel(array: np.ndarray, where: str) -> np.ndarray:
    """``array`` as float64; ``ValueError`` naming ``where`` if it does not hold numbers."""
    if array.dtype == bool or not np.issubdtype(array.dtype, np.number):
        raise ValueError(f"kernel: {where} holds {array.dtype} values; expected numbers")
    return np.array(array, dtype=np.float64)


def geometry_to_dict(geometry) -> dict:
    """A :class:`optics.design.MaskGeometry` as JSON values (lists for tuples)."""
    return {k: (list(v) if isinstance(v, tuple) else v)
            for k, v in dataclasses.asdict(geometry).items()}


def geometry_from_dict(values: dict):
    """The :class:`optics.design.MaskGeometry` of :func:`geometry_to_dict`'s output."""
    from optics.design import MaskGeometry

    return MaskGeometry(**{**values, "wavelengths": tuple(values["wavelengths"])})


# --------------------------------------------------------------------------- design
def realise(kernel, geometry, signed_mode: str, options: dict) -> dict:
    """Design the masks for ``kernel`` [F, k, k]; return arrays and reports for the design folder.

    Keys: ``names`` [M], ``filters`` [M] (filter of each mask), ``parts`` [M] (single / plus /
    minus), ``heights`` [M, N, N], ``targets`` [M, k, k] (unit sum), ``psf`` [M, L, k, k],
    ``mask_fidelity`` [M][L], ``efficiency`` [M][L], ``kernel`` [F, k, k], ``realised``
    [F, L, k, k] (scaled to K), ``kernel_fidelity`` [F][L] and ``signed`` dict (route, r, a).
    """
    import torch

    from optics import signed as signed_route
    from optics.design import design_mask, validate_kernel

    kernel_t = validate_kernel(kernel, "kernel", signed=True)
    is_signed = bool((kernel_t < 0).any())
    if is_signed and signed_mode == "two-mask":
        result = signed_route.design_signed_masks(kernel_t, geometry, **options)
        designs = [] if result.plus is None else [("plus", result.plus, result.plus_filters)]
        if result.minus is not None:
            designs.append(("minus", result.minus, result.minus_filters))
        realised, report = result.realised, result.fidelity
        signed_info = {"route": "two-mask", "minus_weight": result.minus_weight.tolist(),
                       "scale": result.scale.tolist(),
                       "formula": "K ~ scale[f][l] * (PSF+ - minus_weight[f] * PSF-), PSFs of unit "
                                  "sum (PSF+ = 0 for a filter without a plus mask)"}
    else:
        if is_signed:
            design, report = signed_route.design_nonnegative_mask(
                kernel_t, geometry, mode=signed_mode, **options)
            signed_info = {"route": signed_mode}
        else:
            design = design_mask(kernel_t, geometry, **options)
            report = design.fidelity
            signed_info = {"route": "non-negative kernel: one mask per filter"}
        designs = [("single", design, list(range(kernel_t.shape[0])))]
        psf = design.psf.double()
        scale = signed_route.least_squares_scale(psf, kernel_t)
        realised = scale[..., None, None] * psf
        signed_info["scale"] = scale.tolist()
    names, filters, parts, heights, targets, psfs, fid, eff = [], [], [], [], [], [], [], []
    for part, design, filter_ids in designs:
        for index, f in enumerate(filter_ids):
            names.append(f"f{f}" if part == "single" else f"f{f}_{part}")
            filters.append(f)
            parts.append(part)
            heights.append(design.height[index].numpy())
            targets.append(design.target[index].numpy())
            psfs.append(design.psf[index].numpy())
            fid.append(design.fidelity[index])
            eff.append(design.efficiency[index])
    return {"names": names, "filters": filters, "parts": parts, "heights": np.stack(heights),
            "targets": np.stack(targets), "psf": np.stack(psfs), "mask_fidelity": fid,
            "efficiency": eff, "kernel": kernel_t.numpy(),
            "realised": torch.as_tensor(realised).numpy(), "kernel_fidelity": report,
            "signed": signed_info}


def quantization_study(heights, targets, kernel, filters, parts, signed_info, geometry,
                       levels_list=STUDY_LEVELS) -> dict:
    """Worst correlation [len(levels)+1, L] of the masks (and of K's realisation) vs levels.

    Row 0 is the unquantised design (levels 0).
    """
    import torch

    from optics import fabrication as fab
    from optics.design import design_psf, fidelity

    rows = {"levels": [0] + list(levels_list), "mask_correlation": [], "kernel_correlation": []}
    full = geometry.two_pi_height
    k = targets.shape[-1]
    for levels in rows["levels"]:
        quantized = heights if not levels else np.stack(
            [fab.quantize_heights(h, levels, full)[1] for h in heights])
        with torch.no_grad():
            psf = design_psf(torch.as_tensor(quantized, dtype=torch.float32), geometry, k).double()
        report = fidelity(psf, torch.as_tensor(targets), geometry.wavelengths)
        rows["mask_correlation"].append(
            [min(r[i]["correlation"] for r in report) for i in range(len(geometry.wavelengths))])
        kernel_report = kernel_realisation(psf, kernel, filters, parts, signed_info, geometry)
        rows["kernel_correlation"].append(
            [min(r[i]["correlation"] for r in kernel_report)
             for i in range(len(geometry.wavelengths))])
    return rows


def kernel_realisation(psf, kernel, filters, parts, signed_info, geometry):
    """Fidelity [F][L] of the kernel realised by mask PSFs [M, L, k, k] (any route)."""
    import torch

    from optics.signed import combine_signed, least_squares_scale, signed_fidelity

    kernel = torch.as_tensor(kernel, dtype=torch.float64)
    psf = torch.as_tensor(psf, dtype=torch.float64)
    if signed_info["route"] == "two-mask":
        plus = [i for i, p in enumerate(parts) if p == "plus"]
        minus = [i for i, p in enumerate(parts) if p == "minus"]
        return combine_signed(kernel, psf[plus] if plus else None, psf[minus] if minus else None,
                              [filters[i] for i in minus], geometry.wavelengths,
                              [filters[i] for i in plus])[3]
    scale = least_squares_scale(psf, kernel)
    return signed_fidelity(scale[..., None, None] * psf, kernel, geometry.wavelengths)


def _write_design_folder(staging: str, result: dict, study: dict, geometry,
                         settings: dict, description: str) -> dict:
    """Write design.npz, the figures and design.json into ``staging``; return design.json."""
    from optics import plots

    files.save_npz(os.path.join(staging, "design.npz"), heights=result["heights"],
                   targets=result["targets"], psf=result["psf"], kernel=result["kernel"],
                   realised=result["realised"], names=np.array(result["names"]),
                   filters=np.array(result["filters"]), parts=np.array(result["parts"]))
    figure_dir = os.path.join(staging, "figures")
    plots.plot_height_maps(os.path.join(figure_dir, "height_map.png"), result["heights"],
                           result["names"], geometry.mask_pitch, geometry.two_pi_height)
    plots.plot_psfs(os.path.join(figure_dir, "psf_masks.png"), result["targets"], result["psf"],
                    geometry.wavelengths, result["names"], geometry.sensor_pitch)
    plots.plot_psfs(os.path.join(figure_dir, "psf_kernel.png"), result["kernel"],
                    result["realised"], geometry.wavelengths,
                    [f"K{f}" for f in range(result["kernel"].shape[0])], geometry.sensor_pitch,
                    signed=bool((result["kernel"] < 0).any()))
    plots.plot_fidelity_vs_levels(os.path.join(figure_dir, "fidelity_vs_levels.png"),
                                  study["levels"], {"all": np.array(study["kernel_correlation"])},
                                  geometry.wavelengths)
    listed = ["design.npz", "figures/height_map.png", "figures/psf_masks.png",
              "figures/psf_kernel.png", "figures/fidelity_vs_levels.png"]
    report = {
        "schema": DESIGN_SCHEMA,
        "source": description,
        "kernel_convention": "PSF (true convolution) on the sensor grid",
        "geometry": geometry_to_dict(geometry),
        "two_pi_height": geometry.two_pi_height,
        "method": settings["method"],
        "iterations": {"gs": settings["gs_iterations"], "gd": settings["gd_iterations"]},
        "learning_rate": settings["learning_rate"],
        "seed": settings["seed"],
        "signed": result["signed"],
        "masks": [{"name": n, "filter": f, "part": p, "fidelity": fid, "efficiency": eff}
                  for n, f, p, fid, eff in zip(result["names"], result["filters"],
                                               result["parts"], result["mask_fidelity"],
                                               result["efficiency"])],
        "kernel_fidelity": result["kernel_fidelity"],
        "quantization_study": study,
        "files": [{"path": name, "sha256": files.sha256_file(os.path.join(staging, name))}
                  for name in listed],
    }
    files.write_json(os.path.join(staging, "design.json"), report)
    return report


def design_to_folder(kernel, out: "str | os.PathLike[str]", geometry=None,
                     signed: str = "two-mask", method: str = "gs+gd", gs_iterations: int = 50,
                     gd_iterations: int = 200, learning_rate: float = 0.02, seed: int = 0,
                     correlation: bool = False, overwrite: bool = False,
                     progress: bool = True) -> dict:
    """Design the phase masks of ``kernel`` and write a design folder; return its design.json.

    Parameters
    ----------
    kernel : str or array
        What :func:`load_kernel` takes (a .npz / .npy path, a published encoder name,
        ``"gaussian63"`` / ``"bars11"``), or kernels [k, k] / [F, k, k] in the PSF convention.
    out : path
        The design folder; written whole or not at all (staged, then renamed).
    geometry : optics.design.MaskGeometry, optional
        Mask and sensor geometry (SI units); the defaults of ``MaskGeometry`` when None.
    signed : str
        How signed kernels are realised: ``"two-mask"`` (default), ``"clip"`` or ``"shift"``.
    method : str
        ``"gs"``, ``"gd"`` or ``"gs+gd"`` (default).
    gs_iterations, gd_iterations : int
        Gerchberg-Saxton iterations and gradient-descent steps (each >= 1).
    learning_rate : float
        Gradient-descent step in units of the 2 pi height.
    seed : int
        Seed of the random starts.
    correlation : bool
        The file's kernels are cross-correlation kernels: flip them by 180 degrees.
    overwrite : bool
        Replace an existing ``out``.
    progress : bool
        Show progress bars.
    """
    import torch

    from optics.design import MaskGeometry, validate_kernel

    geometry = MaskGeometry() if geometry is None else geometry
    if signed not in SIGNED_MODES:
        raise ValueError(f"signed: {signed!r} is not one of {SIGNED_MODES}")
    if method not in METHODS:
        raise ValueError(f"method: {method!r} is not one of {METHODS}")
    if isinstance(kernel, (str, os.PathLike)):
        kernel, description = load_kernel(os.fspath(kernel), correlation)
    else:
        kernel = np.asarray(kernel, dtype=np.float64)
        kernel = kernel[None] if kernel.ndim == 2 else kernel
        description = "kernel given as an array (PSF convention)"
    validate_kernel(kernel, "kernel", signed=True)
    geometry.check_kernel_fits(kernel.shape[-1])
    for name, value in (("gs_iterations", gs_iterations), ("gd_iterations", gd_iterations)):
        if value < 1:
            raise ValueError(f"--{name.replace('_', '-')}: must be >= 1, got {value}")
    if not (np.isfinite(learning_rate) and learning_rate > 0):
        raise ValueError(f"--learning-rate: must be finite and > 0, got {learning_rate}")
    if not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"--seed: {seed!r} is not allowed; need an integer >= 0")
    out = os.fspath(out)
    settings = dict(method=method, gs_iterations=gs_iterations, gd_iterations=gd_iterations,
                    learning_rate=learning_rate, seed=seed)
    with files.staged_folder(out, overwrite) as staging:
        torch.manual_seed(seed)
        result = realise(kernel, geometry, signed, {**settings, "progress": progress})
        study = quantization_study(result["heights"], result["targets"], result["kernel"],
                                   result["filters"], result["parts"], result["signed"], geometry)
        report = _write_design_folder(staging, result, study, geometry, settings, description)
    return report


# --------------------------------------------------------------------------- export
def load_design(folder: "str | os.PathLike[str]") -> "tuple[dict, dict]":
    """``(design.json, arrays of design.npz)`` of a design folder, hashes checked."""
    folder = os.fspath(folder)
    path = os.path.join(folder, "design.json")
    if not os.path.isfile(path):
        raise ValueError(f"design: {folder!r} has no design.json (write one with design-mask)")
    report = files.read_json_object(path, "design", "the object design-mask writes")
    if report.get("schema") != DESIGN_SCHEMA:
        raise ValueError(f"design: {path} has schema {report.get('schema')!r}, not "
                         f"{DESIGN_SCHEMA!r}")
    listed = report.get("files")
    if not isinstance(listed, list) or not all(
            isinstance(entry, dict) and {"path", "sha256"} <= set(entry) for entry in listed):
        raise ValueError(f"design: {path} lacks its 'files' list (path and sha256 of each file)")
    for entry in listed:
        listed_path = os.path.join(folder, entry["path"])
        if not os.path.isfile(listed_path):
            raise ValueError(f"design: {entry['path']} listed in {path} is missing")
        if files.sha256_file(listed_path) != entry["sha256"]:
            raise ValueError(f"design: {entry['path']} does not match its sha256 in design.json")
    arrays = files.read_npz(os.path.join(folder, "design.npz"), "design")
    return report, arrays


def export_design(design: "str | os.PathLike[str]", out: "str | os.PathLike[str]",
                  levels: int = 16, overwrite: bool = False) -> dict:
    """Fabrication files of a design folder (heights quantised to ``levels``) written to ``out``.

    Returns the PSF report stored in the manifest: ``levels``, per mask the ideal and quantised
    PSFs against their targets and each other, and the kernel realised by the ideal
    (``kernel_ideal``) and the quantised masks (``kernel_quantized``), each [F][L] entries of
    ``{"wavelength", "correlation", "relative_l2"}``.
    """
    import torch

    from optics import fabrication as fab
    from optics.design import design_psf, fidelity

    report, arrays = load_design(design)
    if os.path.exists(out) and not overwrite:   # refused before the PSFs are computed
        raise ValueError(f"out: {os.fspath(out)!r} exists; choose a new folder or pass overwrite")
    geometry = geometry_from_dict(report["geometry"])
    levels = int(levels)
    heights, targets = arrays["heights"], arrays["targets"]
    quantized = np.stack([fab.quantize_heights(h, levels, geometry.two_pi_height)[1]
                          for h in heights])
    k = targets.shape[-1]
    with torch.no_grad():
        ideal_psf = design_psf(torch.as_tensor(heights, dtype=torch.float32), geometry, k).double()
        quant_psf = design_psf(torch.as_tensor(quantized, dtype=torch.float32), geometry, k).double()
    names = [str(n) for n in arrays["names"]]
    filters, parts = arrays["filters"].tolist(), [str(p) for p in arrays["parts"]]
    target_t = torch.as_tensor(targets)
    psf_report = {
        "levels": levels,
        "masks": [{"name": n, "ideal_vs_target": a, "quantized_vs_target": b,
                   "quantized_vs_ideal": c}
                  for n, a, b, c in zip(names, fidelity(ideal_psf, target_t, geometry.wavelengths),
                                        fidelity(quant_psf, target_t, geometry.wavelengths),
                                        _psf_vs_psf(quant_psf, ideal_psf, geometry.wavelengths))],
        "kernel_ideal": kernel_realisation(ideal_psf, arrays["kernel"], filters, parts,
                                           report["signed"], geometry),
        "kernel_quantized": kernel_realisation(quant_psf, arrays["kernel"], filters, parts,
                                               report["signed"], geometry),
    }
    extra = {"design": {"source": report["source"], "method": report["method"],
                        "signed": report["signed"], "sensor_pitch": geometry.sensor_pitch,
                        "kernel_size": int(k), "mask_filter": dict(zip(names, filters))},
             "psf_after_quantization": psf_report}
    fab.export_masks(os.fspath(out), dict(zip(names, heights)), levels=levels,
                     mask_pitch=geometry.mask_pitch, distance=geometry.distance,
                     design_wavelength=geometry.design_wavelength,
                     wavelengths=geometry.wavelengths, material=geometry.material,
                     extra_manifest=extra, overwrite=overwrite)
    return psf_report


def _psf_vs_psf(psf, reference, wavelengths):
    from optics.design import normalized_correlation, relative_l2

    nc = normalized_correlation(psf, reference)
    l2 = relative_l2(psf, reference)
    return [[{"wavelength": float(w), "correlation": float(nc[m, i]),
              "relative_l2": float(l2[m, i])} for i, w in enumerate(wavelengths)]
            for m in range(psf.shape[0])]


__all__ = ["BUILTIN_KERNELS", "DESIGN_SCHEMA", "METHODS", "SIGNED_MODES", "STUDY_LEVELS",
           "design_to_folder", "export_design", "geometry_from_dict", "geometry_to_dict",
           "kernel_realisation", "load_design", "load_kernel", "quantization_study", "realise"]
