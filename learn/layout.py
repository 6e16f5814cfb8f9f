"""Memory layout of the convolutional networks: channels-last (NHWC) on the CPU, NCHW elsewhere.

On the CPU, torch's oneDNN convolutions, batch norms and max-pools run faster on channels-last
tensors: training steps of our attackers take 1.5-1.8x less time (measured on the 2-core
development machine with ``benchmarks/bench_layout.py``, which prints the ratio). On CUDA the
layout has not been measured, so tensors keep torch's default there.

The layout changes how values sit in memory, not what they are: results agree with NCHW within
float round-off (``tests/learn/test_layout.py``).
"""
from __future__ import annotations

import torch
from torch import nn


def preferred_format(device: "torch.device | str") -> torch.memory_format:
    """``torch.channels_last`` for the CPU, ``torch.contiguous_format`` for other devices."""
    return torch.channels_last if torch.device(device).type == "cpu" else torch.contiguous_format


def in_layout(x: torch.Tensor) -> torch.Tensor:
    """``x`` in its device's preferred layout when it is 4-D [N, C, H, W]; otherwise ``x``."""
    if x.dim() != 4:
        return x
    return x.contiguous(memory_format=preferred_format(x.device))


def adopt_layout(model: nn.Module, device: "torch.device | str") -> nn.Module:
    """Move ``model`` to ``device`` with its 4-D weights in that device's layout; returns it."""
    return model.to(device=torch.device(device), memory_format=preferred_format(device))


__all__ = ["preferred_format", "in_layout", "adopt_layout"]
