"""Analog front end of the CAnOPIC camera: comparators, comparator-tree max-pooling, the gain
stage, the non-uniform flash ADC, DAC threshold tables and ADC characterisation (IEEE 1241).

Interfaces are fixed in docs/ARCHITECTURE.md ("Analog interface").
"""
from analog.adc import (FlashADC, default_thresholds, quantize_hard, quantize_soft,
                        validate_thresholds)
from analog.characterise import (SineMetrics, code_histogram, coherent_cycle_count, coherent_sine,
                                 dnl_inl, ideal_snr_db, sine_metrics,
                                 thresholds_from_ramp_histogram, thresholds_from_sine_histogram)
from analog.comparator import (Comparator, decide, draw_offsets, effective_hardness,
                               pelgrom_offset_sigma, soft_decide)
from analog.dac import dac_code_voltages, dac_codes_to_thresholds, thresholds_to_dac_codes
from analog.gain import GainStage
from analog.maxpool import ComparatorTreeMaxPool, comparator_count, comparator_tree_max

__all__ = [
    "Comparator", "ComparatorTreeMaxPool", "FlashADC", "GainStage", "SineMetrics",
    "code_histogram", "coherent_cycle_count", "coherent_sine", "comparator_count",
    "comparator_tree_max", "dac_code_voltages", "dac_codes_to_thresholds", "decide",
    "default_thresholds", "dnl_inl", "draw_offsets", "effective_hardness", "ideal_snr_db",
    "pelgrom_offset_sigma", "quantize_hard", "quantize_soft", "sine_metrics", "soft_decide",
    "thresholds_from_ramp_histogram", "thresholds_from_sine_histogram",
    "thresholds_to_dac_codes", "validate_thresholds",
]
