"""Shared helpers of the hil tests."""
import numpy as np
import pytest

from hil.artifacts import MaskPattern, ThresholdTable
from hil.board import BoardConfig


@pytest.fixture
def small_board() -> BoardConfig:
    """A board with a small SLM and small frames, so transfers take many chunks."""
    return BoardConfig(mask_width=24, mask_height=16, mask_levels=16, max_body=128)


def table(seed: int, dac_bits: int = 12) -> ThresholdTable:
    """A valid random 15-entry table for a 0..1 V, ``dac_bits`` DAC (thresholds k + 0.5
    jittered by up to +-0.2 LSB of the ADC, so neighbours stay >= 0.6 apart)."""
    rng = np.random.default_rng(seed)
    top = (1 << dac_bits) - 1
    thresholds = np.arange(15) + 0.5 + rng.uniform(-0.2, 0.2, 15)
    return ThresholdTable(np.round(thresholds / 15.0 * top).astype(int), dac_bits, 0.0, 1.0)


def mask(seed: int, width: int = 24, height: int = 16, levels: int = 16) -> MaskPattern:
    """A random mask pattern."""
    rng = np.random.default_rng(seed)
    return MaskPattern(rng.integers(0, levels, (height, width)), levels)
