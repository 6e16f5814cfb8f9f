"""Benchmark the pixel array (sensor.pixel.PixelArray) on CPU.

Prints medians of repeated runs, in frames per second (one frame = one 64x64 RGB image), for
hard-mode forward, soft-mode forward and soft-mode forward+backward on a batch of 256, and, as a
peer in the same process, the EMVA 1288 package's own camera simulator
(``emva1288.camera.camera.Camera.grab``, numpy, one 64x64 channel per call and it also integrates
the photon spectrum over its wavelength grid), scaled to RGB frames.

Run: .venv/bin/python benchmarks/bench_pixel.py [--repeats 7] [--batch 256]
"""
from __future__ import annotations

import argparse

import numpy as np
import torch

from sensor.pixel import PixelArray, SensorParams
from timing import median_seconds



def peer_fps(repeats: int) -> float:
    if not hasattr(np, "asfarray"):  # emva1288 needs it; removed in numpy 2
        np.asfarray = lambda a, dtype=np.float64: np.asarray(a, dtype=dtype)
    from emva1288.camera.camera import Camera

    camera = Camera(width=64, height=64, bit_depth=12, seed=0)
    radiance = camera.get_radiance_for(mean=2000)
    grabs = 3 * 32
    seconds = median_seconds(lambda: [camera.grab(radiance) for _ in range(grabs)], repeats)
    return 32 / seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--batch", type=int, default=256)
    args = parser.parse_args()
    torch.manual_seed(0)
    pixels = PixelArray(SensorParams(), seed=0)
    scene = torch.rand(args.batch, 3, 64, 64)
    photons = pixels.params.scene_to_photons(scene)
    generator = torch.Generator().manual_seed(1)

    def soft_backward():
        x = photons.clone().requires_grad_()
        pixels(x, mode="soft", generator=generator).sum().backward()

    with torch.no_grad():
        hard = median_seconds(lambda: pixels(photons, mode="hard", generator=generator),
                              args.repeats)
        soft = median_seconds(lambda: pixels(photons, mode="soft", generator=generator),
                              args.repeats)
        fast = PixelArray(SensorParams(), seed=0, gaussian_shot_above=1000.0)
        hard_fast = median_seconds(lambda: fast(photons, mode="hard", generator=generator),
                                   args.repeats)
    soft_bw = median_seconds(soft_backward, args.repeats)
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, "
          f"batch {args.batch} x 3 x 64 x 64")
    for name, seconds in (("hard forward", hard), ("hard, gaussian >1000 e-", hard_fast),
                          ("soft forward", soft),
                          ("soft forward+backward", soft_bw)):
        print(f"  {name:24s} median {1e3 * seconds:8.2f} ms  {args.batch / seconds:10.0f} frames/s")
    try:
        peer = peer_fps(args.repeats)
    except ImportError:
        print("  emva1288 not installed: no peer timing")
        return
    print(f"  emva1288 Camera.grab (peer, numpy, spectral)  {peer:10.0f} frames/s; "
          f"hard forward is {args.batch / hard / peer:.1f}x faster")


if __name__ == "__main__":
    main()
