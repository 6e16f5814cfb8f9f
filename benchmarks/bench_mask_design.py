"""Mask design time: Gerchberg-Saxton and gradient descent for the paper's kernels.

Prints the median over repeats of: GS time for the full PhlatCam-style run (default 50
iterations at 532 nm), GD time per step (3 wavelengths, through optics.psf.mask_psf with
autograd), and the bare FFT floor of one propagation on the same padded grid, with the fidelity
reached by a full GS + GD design (correlation per colour).

Run: .venv/bin/python benchmarks/bench_mask_design.py [--mask-size 256] [--repeats 3]
     [--gd-steps 20] [--full-gd 200]
"""
from __future__ import annotations

import argparse
import time

import torch

from optics.design import MaskGeometry, design_mask, gerchberg_saxton, gradient_descent
from optics.kernels import gaussian_psf, half_plane_bars
from timing import median_seconds



def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mask-size", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--gs-iterations", type=int, default=50)
    parser.add_argument("--gd-steps", type=int, default=20)
    parser.add_argument("--full-gd", type=int, default=200,
                        help="GD steps of the fidelity run (0 skips it)")
    args = parser.parse_args()
    geometry = MaskGeometry(mask_size=args.mask_size)
    pad = geometry.propagation_pad(geometry.wavelengths)
    n = int(round(pad * args.mask_size))
    field = torch.randn(1, n, n, dtype=torch.complex64)
    fft_floor = median_seconds(lambda: torch.fft.ifft2(torch.fft.fft2(field)), args.repeats * 3,
                               warmup=False)
    print(f"mask {args.mask_size}x{args.mask_size} (2 um), sensor pitch 4 um, padded grid {n}x{n}; "
          f"torch threads {torch.get_num_threads()}; median of {args.repeats}")
    print(f"FFT floor (fft2 + ifft2, {n}^2 complex64): {fft_floor * 1e3:.1f} ms")
    kernels = {"gaussian63": gaussian_psf(63, 8.0)[None], "bars11 (4 masks)": half_plane_bars(11)}
    for name, target in kernels.items():
        gs = median_seconds(lambda: gerchberg_saxton(target, geometry, args.gs_iterations,
                                                  progress=False), args.repeats, warmup=False)
        gd = median_seconds(lambda: gradient_descent(target, geometry, None, args.gd_steps,
                                                  progress=False), args.repeats, warmup=False) / args.gd_steps
        print(f"{name:18s} GS {args.gs_iterations} iterations: {gs:7.2f} s "
              f"({gs / args.gs_iterations / fft_floor / target.shape[0]:.1f} FFT floors per "
              f"iteration and mask); GD: {gd * 1e3:7.1f} ms per step (3 wavelengths)")
        if args.full_gd:
            start = time.perf_counter()
            design = design_mask(target, geometry, gs_iterations=args.gs_iterations,
                                 gd_iterations=args.full_gd, progress=False)
            took = time.perf_counter() - start
            worst = [min(f[i]["correlation"] for f in design.fidelity) for i in range(3)]
            eff = [min(e[i] for e in design.efficiency) for i in range(3)]
            print(f"{'':18s} GS {args.gs_iterations} + GD {args.full_gd}: {took:7.1f} s, worst "
                  f"correlation R/G/B {worst[0]:.3f}/{worst[1]:.3f}/{worst[2]:.3f}, window "
                  f"efficiency R/G/B {eff[0]:.2f}/{eff[1]:.2f}/{eff[2]:.2f}")


if __name__ == "__main__":
    main()
