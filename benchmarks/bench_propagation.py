"""Benchmark: 2x padded band-limited ASM, 3 wavelengths batched, vs the bare FFTs and LightPipes.

Prints medians of repeated runs (seconds per call of 3 wavelengths, and per wavelength), the
ratio to the FFT floor (fft2 + ifft2 of the padded [3, 2N, 2N] complex64 stack), the ratio to
LightPipes' Forvard (Fresnel transfer function, periodic, one wavelength per call) on the same
input, and the accuracy of both against the closed-form paraxial Gaussian beam.

Run: nice -n 10 .venv/bin/python benchmarks/bench_propagation.py [--sizes 1024 2048] [--repeats 5]
"""
from __future__ import annotations

import argparse
import math
import time

import numpy as np
import torch

import optics
from timing import median_seconds

WAVELENGTHS = (640e-9, 532e-9, 450e-9)
DX, Z, WAIST = 2e-6, 1.869e-3, 40e-6



def gaussian_beam(n: int, wavelength: float, z: float) -> np.ndarray:
    """Paraxial Gaussian beam (exp(+ikz) convention): (q0 / q) exp(ikz) exp(ik r^2 / (2 q))."""
    y, x = (t.numpy() for t in optics.grid(n, DX))
    rayleigh = math.pi * WAIST ** 2 / wavelength
    q0, q = -1j * rayleigh, z - 1j * rayleigh
    k = 2 * math.pi / wavelength
    return q0 / q * np.exp(1j * k * z) * np.exp(1j * k * (x ** 2 + y ** 2) / (2 * q))


def relative_l2(result, reference) -> float:
    return float(np.linalg.norm(result - reference) / np.linalg.norm(reference))


def run(n: int, repeats: int, use_peer: bool) -> None:
    initial = np.stack([gaussian_beam(n, w, 0.0) for w in WAVELENGTHS]).astype(np.complex64)
    field = torch.from_numpy(initial)
    optics.TRANSFER_CACHE.clear()
    start = time.perf_counter()
    out = optics.propagate(field, DX, list(WAVELENGTHS), Z)
    cold = time.perf_counter() - start
    asm = median_seconds(lambda: optics.propagate(field, DX, list(WAVELENGTHS), Z), repeats)
    padded = torch.zeros(3, 2 * n, 2 * n, dtype=torch.complex64)
    floor = median_seconds(lambda: torch.fft.ifft2(torch.fft.fft2(padded)), repeats)
    errors = [relative_l2(out[i].numpy(), gaussian_beam(n, w, Z)) for i, w in enumerate(WAVELENGTHS)]
    print(f"N={n}: field [3, {n}, {n}] complex64, padded {2 * n}^2, threads={torch.get_num_threads()}")
    print(f"  ASM (cached TF)       {asm:8.3f} s/call  {asm / 3:8.3f} s/wavelength  "
          f"{asm / floor:5.2f}x the FFT floor")
    print(f"  ASM (cold, builds TF) {cold:8.3f} s/call")
    print(f"  FFT floor             {floor:8.3f} s/call  (fft2 + ifft2 of [3, {2 * n}, {2 * n}])")
    print(f"  ASM error vs closed-form Gaussian beam: max {max(errors):.2e}")
    if use_peer:
        try:
            import LightPipes as lp
        except ImportError:
            print("  LightPipes not installed: peer skipped")
            return
        beams = []
        for index, wavelength in enumerate(WAVELENGTHS):
            beam = lp.Begin(n * DX, wavelength, n)
            beam.field = initial[index].astype(complex)
            beams.append(beam)
        peer = median_seconds(lambda: [lp.Forvard(b, Z) for b in beams], max(1, repeats // 2))
        peer_errors = [relative_l2(lp.Forvard(b, Z).field, gaussian_beam(n, w, Z))
                       for b, w in zip(beams, WAVELENGTHS)]
        print(f"  LightPipes Forvard    {peer:8.3f} s/call  {peer / 3:8.3f} s/wavelength  "
              f"ASM is {peer / asm:5.2f}x faster")
        print(f"  Forvard error vs closed-form Gaussian beam: max {max(peer_errors):.2e}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1024, 2048])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--no-peer", action="store_true")
    args = parser.parse_args()
    for n in args.sizes:
        run(n, args.repeats, not args.no_peer)


if __name__ == "__main__":
    main()
