"""Flashing a 1 MiB mask over a pseudo-terminal to the board emulator (another process).

Prints, as medians of repeated runs: payload efficiency (artifact bytes / all bytes on the wire
both ways, for BEGIN..COMMIT), seconds per MiB for the upload+commit and for the readback, with
no faults and with 5 % of frames lost each way. Goals (issue 4): efficiency >= 0.95 clean;
5 % loss <= 1.5x the clean time.

    .venv/bin/python benchmarks/bench_hil.py [--repeats 3]
"""
import argparse
import statistics
import tempfile
import time

import numpy as np

from hil import protocol as p
from hil.artifacts import MaskPattern
from hil.client import BoardClient

MIB = 1 << 20


def one_run(drop: float, seed: int) -> dict:
    side = 1024
    pattern = MaskPattern(np.random.default_rng(seed).integers(0, 256, (side, side)), 256)
    data = pattern.to_bytes()
    with tempfile.TemporaryDirectory() as flash_dir:
        args = ["--flash-dir", flash_dir, "--mask-size", f"{side}x{side}",
                "--drop-rate", str(drop), "--fault-seed", str(seed)]
        with BoardClient.open("emulator", emulator_args=args, progress=False) as board:
            before = board.bytes_written + board.bytes_read
            start = time.perf_counter()
            sha = board.upload(p.Kind.MASK, data)
            board.commit(p.Kind.MASK, sha, length=len(data))
            upload = time.perf_counter() - start
            wire = board.bytes_written + board.bytes_read - before
            resends = board.resends
            start = time.perf_counter()
            ok = board.readback(p.Kind.MASK) == data
            readback = time.perf_counter() - start
    assert ok, "readback differs"
    return {"efficiency": len(data) / wire, "upload_s_per_mib": upload * MIB / len(data),
            "readback_s_per_mib": readback * MIB / len(data), "resends": resends}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    results = {}
    for drop in (0.0, 0.05):
        runs = [one_run(drop, seed) for seed in range(args.repeats)]
        results[drop] = {key: statistics.median(r[key] for r in runs) for key in runs[0]}
        r = results[drop]
        print(f"frame loss {drop:4.0%}: efficiency {r['efficiency']:.4f}, upload+commit "
              f"{r['upload_s_per_mib']:.3f} s/MiB, readback {r['readback_s_per_mib']:.3f} s/MiB,"
              f" resends {r['resends']:.0f} (median of {args.repeats})")
    ratio = results[0.05]["upload_s_per_mib"] / results[0.0]["upload_s_per_mib"]
    print(f"5% loss / clean upload time: {ratio:.2f}x (goal <= 1.5x); clean efficiency "
          f"{results[0.0]['efficiency']:.4f} (goal >= 0.95)")


if __name__ == "__main__":
    main()
