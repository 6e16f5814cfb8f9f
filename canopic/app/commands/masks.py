"""``canopic design-mask`` and ``canopic export-mask``: kernel in, mask design out, files out.

``design-mask`` takes a kernel (.npz / .npy file, a published encoder name from
data/reference_encoders, or ``gaussian63`` / ``bars11`` for the paper's initial kernels) and
writes a design folder: ``design.json`` (geometry, fidelity per wavelength, fidelity against
quantisation levels, sha256 of the other files), ``design.npz`` (heights, PSFs, targets) and
figures. ``export-mask`` turns a design folder into fabrication files (see
:mod:`optics.fabrication` and docs/mask-files.md). Heavy imports happen inside the handlers.
"""
from __future__ import annotations

import json
import os
import shutil

import numpy as np

#: Schema of design.json.
DESIGN_SCHEMA = "canopic.mask-design/1"
#: Built-in kernels: the paper's initial kernels, in the PSF convention.
BUILTIN_KERNELS = ("gaussian63", "bars11")
#: Level counts of the quantisation study in design.json and its figure.
STUDY_LEVELS = (2, 4, 8, 16)


def register(subparsers) -> None:
    """Add ``design-mask`` and ``export-mask`` to the ``canopic`` command."""
    design = subparsers.add_parser(
        "design-mask", help="design phase masks whose PSFs match a kernel",
        description="Design diffractive phase masks (Gerchberg-Saxton and/or gradient descent "
                    "through the differentiable PSF at all wavelengths) whose PSFs match a "
                    "kernel. Signed kernels become two masks whose captures are subtracted "
                    "(K = a (PSF+ - r PSF-)) or one mask on a clipped/shifted target. Lengths "
                    "accept units: '532nm', '2um', '1.869mm'.")
    design.add_argument("kernel", help="a .npz (array 'kernels', 'kernel', 'psf' - e.g. the "
                        "psf.npz of a 'canopic train' design bundle - or its only array) "
                        "or .npy file [k,k] / [F,k,k] / [F,1,k,k]; a published encoder name "
                        "(e.g. Learned_Conv1_Maxpool_Quantize_alpha1); or gaussian63 / bars11")
    design.add_argument("--out", required=True, help="design folder to write")
    design.add_argument("--correlation", action="store_true",
                        help="the file's kernels are cross-correlation kernels (conv2d): flip "
                             "them 180 degrees into PSFs (published encoders always are)")
    design.add_argument("--method", choices=("gs", "gd", "gs+gd"), default="gs+gd",
                        help="Gerchberg-Saxton, gradient descent, or GS then GD (default)")
    design.add_argument("--gs-iterations", type=int, default=50, help="GS iterations (default 50)")
    design.add_argument("--gd-iterations", type=int, default=200,
                        help="gradient-descent steps (default 200)")
    design.add_argument("--learning-rate", type=float, default=0.02,
                        help="GD step in units of the 2 pi height (default 0.02)")
    design.add_argument("--signed", choices=("two-mask", "clip", "shift"), default="two-mask",
                        help="how signed kernels are realised (default two-mask)")
    design.add_argument("--wavelengths", default="640nm,532nm,450nm",
                        help="comma-separated wavelengths, R,G,B (default 640nm,532nm,450nm)")
    design.add_argument("--design-wavelength", default="532nm",
                        help="wavelength of GS and of the 2 pi height (default 532nm)")
    design.add_argument("--distance", default="1.869mm", help="mask-sensor distance (1.869mm)")
    design.add_argument("--mask-pitch", default="2um", help="mask pixel pitch (default 2um)")
    design.add_argument("--sensor-pitch", default="4um",
                        help="sensor pixel pitch of the kernel taps (default 4um: a 63x63 "
                             "kernel spans 252 um)")
    design.add_argument("--mask-size", type=int, default=256,
                        help="mask side in mask pixels (default 256)")
    design.add_argument("--material", default="fused_silica", help="fused_silica (default), su8")
    design.add_argument("--seed", type=int, default=0, help="seed of the random starts")
    design.add_argument("--overwrite", action="store_true", help="replace an existing --out")
    design.add_argument("--no-progress", action="store_true", help="no progress bars")
    design.add_argument("--debug", action="store_true", help="show tracebacks")
    design.set_defaults(func=run_design)

    export = subparsers.add_parser(
        "export-mask", help="write fabrication files (GDSII, TIFF, PNG, manifest) of a design",
        description="Quantise a design's heights to 2^k levels (k binary etch steps) and write "
                    "GDSII (one layer per etch step), 16-bit height TIFFs, PNG previews and a "
                    "JSON manifest with sha256 hashes; the PSF after quantisation is reported "
                    "beside the ideal one.")
    export.add_argument("design", help="a folder written by 'canopic design-mask'")
    export.add_argument("--out", required=True, help="fabrication folder to write")
    export.add_argument("--levels", type=int, choices=(2, 4, 8, 16), default=16,
                        help="height levels (default 16 = 4 etch steps)")
    export.add_argument("--overwrite", action="store_true", help="replace an existing --out")
    export.add_argument("--debug", action="store_true", help="show tracebacks")
    export.set_defaults(func=run_export)


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
        with np.load(path, allow_pickle=False) as data:
            keys = [k for k in ("kernels", "kernel", "psf") if k in data.files]
            if not keys and len(data.files) != 1:
                raise ValueError(f"kernel: {path} has arrays {data.files}; expected 'kernels', "
                                 f"'kernel', 'psf' (a design bundle's psf.npz) or a single array")
            array = np.array(data[keys[0] if keys else data.files[0]], dtype=np.float64)
            if keys and keys[0] == "psf" and array.ndim == 4 and array.shape[1] == 3:
                # a design bundle's per-colour PSFs [F, 3, k, k]: design for the green channel
                # (the design wavelength); an ideal learned kernel is the same in all three
                array = array[:, 1:2]
    elif path.endswith(".npy"):
        array = np.load(path, allow_pickle=False).astype(np.float64)
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


def _geometry(args):
    from canopic.core.units import parse_quantity
    from optics.design import MaskGeometry

    wavelengths = tuple(parse_quantity(w.strip(), "m", "wavelengths")
                        for w in str(args.wavelengths).split(",") if w.strip())
    return MaskGeometry(
        mask_size=args.mask_size,
        mask_pitch=parse_quantity(args.mask_pitch, "m", "mask_pitch"),
        sensor_pitch=parse_quantity(args.sensor_pitch, "m", "sensor_pitch"),
        distance=parse_quantity(args.distance, "m", "distance"),
        design_wavelength=parse_quantity(args.design_wavelength, "m", "design_wavelength"),
        wavelengths=wavelengths, material=args.material)


def _geometry_dict(geometry) -> dict:
    import dataclasses

    return {k: (list(v) if isinstance(v, tuple) else v)
            for k, v in dataclasses.asdict(geometry).items()}


def _geometry_from_dict(values: dict):
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


def _write_design_folder(staging: str, result: dict, study: dict, geometry, args,
                         description: str) -> None:
    from canopic.core import files
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
        "geometry": _geometry_dict(geometry),
        "two_pi_height": geometry.two_pi_height,
        "method": args.method,
        "iterations": {"gs": args.gs_iterations, "gd": args.gd_iterations},
        "learning_rate": args.learning_rate,
        "seed": args.seed,
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


def run_design(args) -> int:
    """Handler of ``canopic design-mask``."""
    import torch

    from optics import fabrication as fab

    geometry = _geometry(args)
    kernel, description = load_kernel(args.kernel, args.correlation)
    from optics.design import validate_kernel

    validate_kernel(kernel, "kernel", signed=True)
    geometry.check_kernel_fits(kernel.shape[-1])
    for name in ("gs_iterations", "gd_iterations"):
        if getattr(args, name) < 1:
            raise ValueError(f"--{name.replace('_', '-')}: must be >= 1, got {getattr(args, name)}")
    out = os.fspath(args.out)
    staging = fab.prepare_output_folder(out, args.overwrite)
    try:
        options = dict(method=args.method, gs_iterations=args.gs_iterations,
                       gd_iterations=args.gd_iterations, learning_rate=args.learning_rate,
                       seed=args.seed, progress=not args.no_progress)
        torch.manual_seed(args.seed)
        result = realise(kernel, geometry, args.signed, options)
        study = quantization_study(result["heights"], result["targets"], result["kernel"],
                                   result["filters"], result["parts"], result["signed"], geometry)
        _write_design_folder(staging, result, study, geometry, args, description)
        fab.publish_folder(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    for f, per in enumerate(result["kernel_fidelity"]):
        line = ", ".join(f"{e['wavelength'] * 1e9:.0f} nm: {e['correlation']:.3f}" for e in per)
        print(f"filter {f} ({result['signed']['route']}): correlation {line}")
    print(f"design written to {out}")
    return 0


# --------------------------------------------------------------------------- export
def load_design(folder: str) -> "tuple[dict, dict]":
    """``(design.json, arrays of design.npz)`` of a design folder, hashes checked."""
    from canopic.core import files

    path = os.path.join(folder, "design.json")
    if not os.path.isfile(path):
        raise ValueError(f"design: {folder!r} has no design.json (write one with design-mask)")
    with open(path, encoding="utf-8") as handle:
        report = json.load(handle)
    if report.get("schema") != DESIGN_SCHEMA:
        raise ValueError(f"design: schema {report.get('schema')!r} is not {DESIGN_SCHEMA!r}")
    for entry in report["files"]:
        if files.sha256_file(os.path.join(folder, entry["path"])) != entry["sha256"]:
            raise ValueError(f"design: {entry['path']} does not match its sha256 in design.json")
    with np.load(os.path.join(folder, "design.npz"), allow_pickle=False) as data:
        arrays = {key: data[key] for key in data.files}
    return report, arrays


def run_export(args) -> int:
    """Handler of ``canopic export-mask``."""
    import torch

    from optics import fabrication as fab
    from optics.design import design_psf, fidelity

    report, arrays = load_design(args.design)
    geometry = _geometry_from_dict(report["geometry"])
    levels = int(args.levels)
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
    fab.export_masks(args.out, dict(zip(names, heights)), levels=levels,
                     mask_pitch=geometry.mask_pitch, distance=geometry.distance,
                     design_wavelength=geometry.design_wavelength,
                     wavelengths=geometry.wavelengths, material=geometry.material,
                     extra_manifest=extra, overwrite=args.overwrite)
    for f, (ideal, quant) in enumerate(zip(psf_report["kernel_ideal"],
                                           psf_report["kernel_quantized"])):
        line = ", ".join(f"{a['wavelength'] * 1e9:.0f} nm {a['correlation']:.3f} -> "
                         f"{b['correlation']:.3f}" for a, b in zip(ideal, quant))
        print(f"filter {f}: correlation ideal -> {levels} levels: {line}")
    print(f"fabrication files written to {args.out}")
    return 0


def _psf_vs_psf(psf, reference, wavelengths):
    from optics.design import normalized_correlation, relative_l2

    nc = normalized_correlation(psf, reference)
    l2 = relative_l2(psf, reference)
    return [[{"wavelength": float(w), "correlation": float(nc[m, i]),
              "relative_l2": float(l2[m, i])} for i, w in enumerate(wavelengths)]
            for m in range(psf.shape[0])]

__all__ = ["register", "load_kernel", "realise", "quantization_study", "run_design", "run_export"]
