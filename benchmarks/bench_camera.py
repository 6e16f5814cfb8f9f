"""Throughput of the simulated Conv(1)+MP+Quantize camera on CPU, against its FFT floor and
direct convolution (issue: camera within 1.5x of the FFT floor, >= 10x faster than direct
convolution, >= 1,000 frames/s hard forward on a 2-core machine).

Run: .venv/bin/python benchmarks/bench_camera.py [--batch 256] [--repeats 7]
Prints medians of repeated runs.
"""
from __future__ import annotations

import argparse

import torch
import torch.nn.functional as F

from optics.imaging import _fast_fft_size, convolve_psf
from sensor import Camera, CameraConfig
from timing import median_seconds



def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    n = args.batch
    torch.manual_seed(0)
    x = torch.rand(n, 3, 64, 64)
    camera = Camera(CameraConfig(conv="conv1"))
    psf = camera.optics().detach()
    size = _fast_fft_size(64 + 62)

    def fft_floor():
        spectrum = torch.fft.rfft2(x, s=(size, size))
        torch.fft.irfft2(spectrum, s=(size, size))

    def direct():
        padded = F.pad(x, (31, 31, 31, 31), mode="replicate")
        F.conv2d(padded, psf.flip(-1, -2).expand(3, 1, 63, 63), groups=3)

    def hard_forward():
        with torch.no_grad():
            camera(x)

    def soft_forward_backward():
        camera.zero_grad()
        camera(x, mode="soft", hardness=5.0).sum().backward()

    def fft_convolution_only():
        with torch.no_grad():
            convolve_psf(x, psf, method="fft")

    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, batch {n}, 64x64 RGB, "
          f"Conv(1) 63x63 + 8x8 max-pool + 4-bit ADC, median of {args.repeats}")
    results = {}
    for name, fn in [("FFT floor (rfft2+irfft2 of the padded frame)", fft_floor),
                     ("camera optics only (FFT convolution)", fft_convolution_only),
                     ("camera hard forward", hard_forward),
                     ("camera soft forward+backward", soft_forward_backward),
                     ("direct convolution (conv2d 63x63)", direct)]:
        t = median_seconds(fn, args.repeats if "direct" not in name else max(1, args.repeats // 3))
        results[name] = t
        print(f"{name:48s} {t * 1e3:9.1f} ms  {n / t:9.0f} frames/s")
    floor = results["FFT floor (rfft2+irfft2 of the padded frame)"]
    hard = results["camera hard forward"]
    print(f"camera hard forward / FFT floor      = {hard / floor:.2f}x")
    print(f"direct convolution / camera optics   = "
          f"{results['direct convolution (conv2d 63x63)'] / results['camera optics only (FFT convolution)']:.1f}x")
    print(f"direct convolution / camera hard fwd = {results['direct convolution (conv2d 63x63)'] / hard:.1f}x")


if __name__ == "__main__":
    main()
