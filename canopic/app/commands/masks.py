"""``canopic design-mask`` and ``canopic export-mask``: thin parsers over :mod:`optics.realise`.

``design-mask`` takes a kernel (.npz / .npy file, a published encoder name from
data/reference_encoders, or ``gaussian63`` / ``bars11`` for the paper's initial kernels) and
writes a design folder (:func:`optics.realise.design_to_folder`); ``export-mask`` turns a design
folder into fabrication files (:func:`optics.realise.export_design`, docs/mask-files.md). Heavy
imports happen inside the handlers.
"""
from __future__ import annotations

from canopic.app.commands.common import add_command, add_deprecated_alias
from optics.realise import METHODS, SIGNED_MODES  # numpy only: --help stays fast


def register(subparsers) -> None:
    """Add ``design-mask`` and ``export-mask`` to the ``canopic`` command."""
    design = add_command(
        subparsers, "design-mask", func=run_design, out="design folder to write",
        overwrite=True, seed="seed of the random starts",
        help="design phase masks whose PSFs match a kernel",
        description="Design diffractive phase masks (Gerchberg-Saxton and/or gradient descent "
                    "through the differentiable PSF at all wavelengths) whose PSFs match a "
                    "kernel. Signed kernels become two masks whose captures are subtracted "
                    "(K = a (PSF+ - r PSF-)) or one mask on a clipped/shifted target. Lengths "
                    "accept units: '532nm', '2um', '1.869mm'.")
    design.add_argument("kernel", help="a .npz (array 'kernels', 'kernel', 'psf' - e.g. the "
                        "psf.npz of a 'canopic train' design bundle - or its only array) "
                        "or .npy file [k,k] / [F,k,k] / [F,1,k,k]; a published encoder name "
                        "(e.g. Learned_Conv1_Maxpool_Quantize_alpha1); or gaussian63 / bars11")
    design.add_argument("--correlation", action="store_true",
                        help="the file's kernels are cross-correlation kernels (conv2d): flip "
                             "them 180 degrees into PSFs (published encoders always are)")
    design.add_argument("--method", choices=METHODS, default="gs+gd",
                        help="Gerchberg-Saxton, gradient descent, or GS then GD")
    design.add_argument("--gs-iterations", type=int, default=50, help="GS iterations")
    design.add_argument("--gd-iterations", type=int, default=200,
                        help="gradient-descent steps")
    design.add_argument("--learning-rate", type=float, default=0.02,
                        help="GD step in units of the 2 pi height")
    design.add_argument("--signed", choices=SIGNED_MODES, default="two-mask",
                        help="how signed kernels are realised")
    design.add_argument("--wavelengths", default="640nm,532nm,450nm",
                        help="comma-separated wavelengths, R,G,B (default 640nm,532nm,450nm)")
    design.add_argument("--design-wavelength", default="532nm",
                        help="wavelength of GS and of the 2 pi height (default 532nm)")
    design.add_argument("--distance", default="1.869mm", help="mask-sensor distance")
    design.add_argument("--mask-pitch", default="2um", help="mask pixel pitch (default 2um)")
    design.add_argument("--sensor-pitch", default="4um",
                        help="sensor pixel pitch of the kernel taps (default 4um: a 63x63 "
                             "kernel spans 252 um)")
    design.add_argument("--mask-size", type=int, default=256,
                        help="mask side in mask pixels (default 256)")
    design.add_argument("--material", default="fused_silica", help="fused_silica or su8")
    add_deprecated_alias(design, "--no-progress", "--quiet", dest="quiet")

    export = add_command(
        subparsers, "export-mask", func=run_export, out="fabrication folder to write",
        overwrite=True, help="write fabrication files (GDSII, TIFF, PNG, manifest) of a design",
        description="Quantise a design's heights to 2^k levels (k binary etch steps) and write "
                    "GDSII (one layer per etch step), 16-bit height TIFFs, PNG previews and a "
                    "JSON manifest with sha256 hashes; the PSF after quantisation is reported "
                    "beside the ideal one.")
    export.add_argument("design", help="a folder written by 'canopic design-mask'")
    export.add_argument("--levels", type=int, choices=(2, 4, 8, 16), default=16,
                        help="height levels (default: 16 = 4 etch steps)")


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


def run_design(args) -> int:
    """Handler of ``canopic design-mask``."""
    from optics.realise import design_to_folder

    report = design_to_folder(
        args.kernel, args.out, geometry=_geometry(args), signed=args.signed, method=args.method,
        gs_iterations=args.gs_iterations, gd_iterations=args.gd_iterations,
        learning_rate=args.learning_rate, seed=args.seed, correlation=args.correlation,
        overwrite=args.overwrite, progress=not args.quiet)
    for f, per in enumerate(report["kernel_fidelity"]):
        line = ", ".join(f"{e['wavelength'] * 1e9:.0f} nm: {e['correlation']:.3f}" for e in per)
        print(f"filter {f} ({report['signed']['route']}): correlation {line}")
    print(f"design written to {args.out}")
    return 0


def run_export(args) -> int:
    """Handler of ``canopic export-mask``."""
    from optics.realise import export_design

    psf_report = export_design(args.design, args.out, levels=args.levels,
                               overwrite=args.overwrite)
    for f, (ideal, quant) in enumerate(zip(psf_report["kernel_ideal"],
                                           psf_report["kernel_quantized"])):
        line = ", ".join(f"{a['wavelength'] * 1e9:.0f} nm {a['correlation']:.3f} -> "
                         f"{b['correlation']:.3f}" for a, b in zip(ideal, quant))
        print(f"filter {f}: correlation ideal -> {psf_report['levels']} levels: {line}")
    print(f"fabrication files written to {args.out}")
    return 0


__all__ = ["register", "run_design", "run_export"]
