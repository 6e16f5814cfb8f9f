"""Shared timing for the benchmark scripts (run them as ``python benchmarks/bench_X.py``)."""
from __future__ import annotations

import statistics
import time
from typing import Callable


def median_seconds(function: Callable[[], object], repeats: int, warmup: bool = True) -> float:
    """Median wall time (s) of ``function()`` over ``repeats`` runs, after one warm-up run
    (caches, allocator, fixed patterns) unless ``warmup`` is False."""
    if repeats < 1:
        raise ValueError(f"repeats: must be >= 1, got {repeats}")
    if warmup:
        function()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return statistics.median(times)
