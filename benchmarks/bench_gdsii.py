"""GDSII export of a 1024 x 1024, 16-level phase mask: time and file size.

Compares our merged export (row runs merged into rectangles, optics.fabrication.write_gdsii)
with the unmerged baseline in the same process: one gdstk rectangle per etched pixel and layer
(references.md: gdstk writes a 1024^2 8-level mask unmerged in about 1.2 s, 10.9 MB).

Masks: a diffractive lens (focal length 10 mm, sampled without aliasing: long runs), a designed mask
(Gerchberg-Saxton for the 63x63 Gaussian PSF, speckle-like), and uniform random heights (the
worst case: almost every pixel its own run).

Run: .venv/bin/python benchmarks/bench_gdsii.py [--repeats 3] [--size 1024]
"""
from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time

import numpy as np

from optics import fabrication as fab
from optics.materials import two_pi_height


def lens_heights(size: int, pitch: float, focal: float, wavelength: float, full: float):
    r = (np.arange(size) - size / 2 + 0.5) * pitch
    rr = r[:, None] ** 2 + r[None, :] ** 2
    phase = -np.pi * rr / (wavelength * focal)
    return np.mod(phase / (2 * np.pi), 1.0) * full


def designed_heights(size: int):
    import torch

    from optics.design import MaskGeometry, gerchberg_saxton
    from optics.kernels import gaussian_psf

    torch.manual_seed(0)
    height, _ = gerchberg_saxton(gaussian_psf(63, 8.0)[None], MaskGeometry(mask_size=size),
                                 iterations=20, progress=False)
    return height[0].numpy()


def unmerged_write(path: str, level_index: np.ndarray, levels: int, pitch: float) -> int:
    import gdstk

    masks = fab.etch_masks(level_index, levels)
    rows = level_index.shape[0]
    p = pitch / fab.GDS_UNIT
    lib = gdstk.Library(unit=fab.GDS_UNIT, precision=fab.GDS_PRECISION)
    cell = lib.new_cell("PHASE_MASK")
    for step, mask in enumerate(masks):
        r, c = np.nonzero(mask)
        cell.add(*[gdstk.rectangle((x * p, (rows - y - 1) * p), ((x + 1) * p, (rows - y) * p),
                                   layer=step + 1) for y, x in zip(r.tolist(), c.tolist())])
    lib.write_gds(path, timestamp=fab.GDS_TIMESTAMP)
    return len(cell.polygons)


def timed(function, repeats: int):
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = function()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--size", type=int, default=1024)
    parser.add_argument("--levels", type=int, default=16)
    args = parser.parse_args()
    pitch, wavelength = 2e-6, 532e-9
    full = two_pi_height("fused_silica", wavelength)
    rng = np.random.default_rng(0)
    masks = {
        "diffractive lens": lens_heights(args.size, pitch, 10e-3, wavelength, full),
        "GS design (Gaussian)": designed_heights(args.size),
        "uniform random": rng.random((args.size, args.size)) * full,
    }
    print(f"GDSII export, {args.size}x{args.size} mask, {args.levels} levels "
          f"({int(np.log2(args.levels))} etch layers), median of {args.repeats}")
    print(f"{'mask':22s} {'writer':10s} {'seconds':>8s} {'MB':>7s} {'polygons':>9s} "
          f"{'time ratio':>10s} {'size ratio':>10s}")
    with tempfile.TemporaryDirectory() as folder:
        for label, heights in masks.items():
            index, _ = fab.quantize_heights(heights, args.levels, full)
            ours_path = os.path.join(folder, "merged.gds")
            base_path = os.path.join(folder, "unmerged.gds")
            t_ours, n_ours = timed(lambda: fab.write_gdsii(ours_path, index, args.levels, pitch),
                                   args.repeats)
            t_base, n_base = timed(lambda: unmerged_write(base_path, index, args.levels, pitch),
                                   args.repeats)
            s_ours, s_base = os.path.getsize(ours_path), os.path.getsize(base_path)
            back = fab.read_gdsii_levels(ours_path, index.shape, pitch, args.levels) \
                if args.size <= 256 else None
            if back is not None:
                assert np.array_equal(back, index)
            print(f"{label:22s} {'merged':10s} {t_ours:8.2f} {s_ours / 1e6:7.2f} {n_ours:9d} "
                  f"{t_ours / t_base:10.2f} {s_ours / s_base:10.2f}")
            print(f"{'':22s} {'per-pixel':10s} {t_base:8.2f} {s_base / 1e6:7.2f} {n_base:9d} "
                  f"{1.0:10.2f} {1.0:10.2f}")


if __name__ == "__main__":
    main()
