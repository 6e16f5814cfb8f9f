"""ADC threshold tables as DAC codes (the flash ADC's references come from a DAC).

Thresholds live in ADC input units [0, full_scale]. The ADC input range maps linearly onto
voltages ``[input_low, input_high]`` (by default the DAC's own reference range
``[v_ref_low, v_ref_high]``). A ``dac_bits`` DAC outputs
``V(code) = v_ref_low + code * (v_ref_high - v_ref_low) / 2**dac_bits`` for codes
``0 .. 2**dac_bits - 1`` (the usual datasheet convention: the top code is one LSB below
``v_ref_high``). Thresholds are rounded to the nearest code; codes map back exactly, so
codes -> thresholds -> codes is the identity.
"""
from __future__ import annotations

import numpy as np

from canopic.core.units import parse_quantity


def _check_bits(dac_bits: int) -> int:
    if isinstance(dac_bits, bool) or int(dac_bits) != dac_bits or not 1 <= int(dac_bits) <= 16:
        raise ValueError(f"dac_bits: got {dac_bits!r}; allowed range: integer 1..16")
    return int(dac_bits)


def _ranges(v_ref_low, v_ref_high, full_scale, input_low, input_high):
    """Parse and check the voltage ranges; return (v_lo, v_hi, in_lo, in_hi, full_scale)."""
    v_lo = parse_quantity(v_ref_low, "V", "v_ref_low")
    v_hi = parse_quantity(v_ref_high, "V", "v_ref_high")
    if not v_hi > v_lo:
        raise ValueError(f"v_ref_high: got {v_hi} V with v_ref_low = {v_lo} V; allowed: "
                         f"v_ref_high > v_ref_low")
    in_lo = v_lo if input_low is None else parse_quantity(input_low, "V", "input_low")
    in_hi = v_hi if input_high is None else parse_quantity(input_high, "V", "input_high")
    if not in_hi > in_lo:
        raise ValueError(f"input_high: got {in_hi} V with input_low = {in_lo} V; allowed: "
                         f"input_high > input_low")
    full_scale = float(full_scale)
    if not np.isfinite(full_scale) or full_scale <= 0.0:
        raise ValueError(f"full_scale: got {full_scale}; allowed range: finite and > 0")
    return v_lo, v_hi, in_lo, in_hi, full_scale


def _check_strictly_increasing_codes(codes: np.ndarray, name: str, sources=None) -> None:
    for i in range(1, codes.size):
        if codes[i] <= codes[i - 1]:
            detail = ""
            if sources is not None:
                detail = (f" (thresholds[{i - 1}] = {float(sources[i - 1])!r}, "
                          f"thresholds[{i}] = {float(sources[i])!r})")
            raise ValueError(f"{name}[{i}] = {int(codes[i])} does not exceed {name}[{i - 1}] = "
                             f"{int(codes[i - 1])}{detail}; allowed: strictly increasing codes "
                             f"(distinct comparator references; use more dac_bits or spread "
                             f"the thresholds)")


def thresholds_to_dac_codes(thresholds, dac_bits: int, v_ref_low, v_ref_high,
                            full_scale: float = 15.0, input_low=None,
                            input_high=None) -> np.ndarray:
    """Nearest DAC codes for ADC thresholds.

    Parameters
    ----------
    thresholds : array_like
        [K] strictly increasing thresholds in ADC input units [0, full_scale].
    dac_bits : int
        DAC resolution, 1..16.
    v_ref_low, v_ref_high : float or str
        DAC reference voltages (V, "3.3V" strings accepted).
    full_scale : float
        ADC input full scale in ADC units (15 for 4 bits).
    input_low, input_high : float or str, optional
        Voltages that ADC inputs 0 and ``full_scale`` correspond to (default: the DAC range).

    Returns
    -------
    np.ndarray
        [K] uint16 codes, strictly increasing.

    Raises
    ------
    ValueError
        Bad dac_bits, ranges, non-finite or non-increasing thresholds, a threshold whose code
        falls outside 0..2**dac_bits - 1, or two thresholds on the same code.
    """
    bits = _check_bits(dac_bits)
    v_lo, v_hi, in_lo, in_hi, fs = _ranges(v_ref_low, v_ref_high, full_scale, input_low,
                                           input_high)
    values = np.asarray(thresholds, dtype=np.float64)
    if values.ndim != 1 or values.size == 0:
        raise ValueError(f"thresholds: expected a non-empty 1-D array, got shape {values.shape}")
    for i, value in enumerate(values):
        if not np.isfinite(value):
            raise ValueError(f"thresholds[{i}] = {float(value)!r}; allowed: finite values")
        if i and value <= values[i - 1]:
            raise ValueError(f"thresholds[{i}] = {float(value)!r} does not exceed "
                             f"thresholds[{i - 1}] = {float(values[i - 1])!r}; allowed: "
                             f"strictly increasing")
    volts = in_lo + values / fs * (in_hi - in_lo)
    lsb = (v_hi - v_lo) / 2 ** bits
    codes = np.rint((volts - v_lo) / lsb)
    top = 2 ** bits - 1
    for i, code in enumerate(codes):
        if code < 0 or code > top:
            raise ValueError(f"thresholds[{i}] = {float(values[i])!r} ({volts[i]:.6g} V) needs "
                             f"DAC code {int(code)}; allowed range: codes 0..{top}, i.e. "
                             f"{v_lo:.6g} V .. {v_lo + top * lsb:.6g} V for dac_bits={bits}")
    _check_strictly_increasing_codes(codes, "codes", values)
    return codes.astype(np.uint16)


def dac_codes_to_thresholds(codes, dac_bits: int, v_ref_low, v_ref_high,
                            full_scale: float = 15.0, input_low=None,
                            input_high=None) -> np.ndarray:
    """ADC thresholds (float64, ADC input units) that DAC ``codes`` produce.

    Same parameters as ``thresholds_to_dac_codes``; ``codes`` [K] integers in
    0..2**dac_bits - 1, strictly increasing. Raises ValueError otherwise.
    """
    bits = _check_bits(dac_bits)
    v_lo, v_hi, in_lo, in_hi, fs = _ranges(v_ref_low, v_ref_high, full_scale, input_low,
                                           input_high)
    raw = np.asarray(codes)
    if raw.ndim != 1 or raw.size == 0:
        raise ValueError(f"codes: expected a non-empty 1-D array, got shape {raw.shape}")
    values = raw.astype(np.float64)
    top = 2 ** bits - 1
    for i, value in enumerate(values):
        if not np.isfinite(value) or value != np.rint(value) or value < 0 or value > top:
            raise ValueError(f"codes[{i}] = {raw[i].item()!r}; allowed range: integers "
                             f"0..{top} for dac_bits={bits}")
    _check_strictly_increasing_codes(values, "codes")
    lsb = (v_hi - v_lo) / 2 ** bits
    volts = v_lo + values * lsb
    return (volts - in_lo) / (in_hi - in_lo) * fs


def dac_code_voltages(codes, dac_bits: int, v_ref_low, v_ref_high) -> np.ndarray:
    """Output voltages (V, float64) of DAC ``codes`` for the given reference range."""
    bits = _check_bits(dac_bits)
    v_lo, v_hi, _, _, _ = _ranges(v_ref_low, v_ref_high, 1.0, None, None)
    values = np.asarray(codes, dtype=np.float64)
    top = 2 ** bits - 1
    if values.size and (values.min() < 0 or values.max() > top or
                        not np.array_equal(values, np.rint(values))):
        raise ValueError(f"codes: got values outside integers 0..{top} for dac_bits={bits}")
    return v_lo + values * (v_hi - v_lo) / 2 ** bits
