"""ADC characterisation after IEEE Std 1241: code-density tests, DNL/INL, SINAD/SNR/ENOB.

Code density (histogram) test: drive the ADC with a stimulus whose amplitude distribution is
known, histogram the output codes, and invert the stimulus' cumulative distribution at the
cumulative histogram. For a sine ``C + A sin(theta)`` overdriving both end codes,
``T_k = C - A cos(pi CH[k-1] / S)``; for a ramp from Vmin to Vmax,
``T_k = Vmin + (Vmax - Vmin) CH[k-1] / S`` (CH the cumulative histogram, S the sample count,
k = 1 .. levels - 1).

Dynamic test: a coherently sampled sine (an integer number of cycles, coprime with the record
length, so all energy of the tone falls in one FFT bin, no window needed). SINAD counts every
non-DC bin but the tone as noise and distortion; SNR also leaves out the first harmonics;
ENOB = (SINAD - 1.76 dB) / 6.02 dB.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


def ideal_snr_db(bits: float) -> float:
    """Quantisation-limited SNR of an ideal ``bits``-bit ADC for a full-scale sine, dB.

    The closed form 20 log10(2**bits) + 10 log10(3/2), i.e. about 6.02 bits + 1.76.
    """
    return 20.0 * math.log10(2.0 ** bits) + 10.0 * math.log10(1.5)


def coherent_cycle_count(n_samples: int, target_cycles: float) -> int:
    """The integer cycle count nearest ``target_cycles`` that is coprime with ``n_samples``."""
    n_samples = int(n_samples)
    if n_samples < 4:
        raise ValueError(f"n_samples: got {n_samples}; allowed range: >= 4")
    if not 1 <= target_cycles < n_samples / 2:
        raise ValueError(f"target_cycles: got {target_cycles}; allowed range: 1 .. "
                         f"{n_samples / 2} (below Nyquist)")
    base = int(round(target_cycles))
    for distance in range(n_samples):
        for candidate in (base - distance, base + distance):
            if 1 <= candidate < n_samples / 2 and math.gcd(candidate, n_samples) == 1:
                return candidate
    raise ValueError(f"n_samples: no cycle count coprime with {n_samples} below Nyquist")


def coherent_sine(n_samples: int, n_cycles: int, amplitude: float, offset: float,
                  phase: float = 0.0) -> np.ndarray:
    """Samples [n_samples] (float64) of ``offset + amplitude sin(2 pi n_cycles n / S + phase)``.

    ``n_cycles`` must be coprime with ``n_samples`` and below Nyquist, so that every sample
    has a distinct phase (needed by both the FFT test and the code-density test).
    """
    n_samples, n_cycles = int(n_samples), int(n_cycles)
    if not 1 <= n_cycles < n_samples / 2 or math.gcd(n_cycles, n_samples) != 1:
        raise ValueError(f"n_cycles: got {n_cycles}; allowed: integer in 1..{n_samples / 2} "
                         f"coprime with n_samples = {n_samples} (see coherent_cycle_count)")
    # reduce the phase index modulo S first: exact integers keep the phase accurate for big S
    index = (n_cycles * np.arange(n_samples, dtype=np.int64)) % n_samples
    return offset + amplitude * np.sin(2.0 * np.pi * index / n_samples + phase)


def code_histogram(codes, levels: int) -> np.ndarray:
    """Counts [levels] (int64) of each code 0..levels-1 in ``codes`` (any shape)."""
    values = np.asarray(codes).ravel()
    integers = np.rint(values)
    if values.size == 0 or not np.array_equal(values, integers) or integers.min() < 0 or \
            integers.max() > levels - 1:
        raise ValueError(f"codes: expected a non-empty array of integer codes 0..{levels - 1}")
    return np.bincount(integers.astype(np.int64), minlength=levels)


def _cumulative_fractions(codes, levels: int) -> np.ndarray:
    """CH[k-1] / S for k = 1..levels-1; ValueError unless both end codes were hit."""
    hist = code_histogram(codes, levels)
    if hist[0] == 0 or hist[-1] == 0:
        raise ValueError(f"codes: the stimulus must overdrive both end codes (counts of code 0: "
                         f"{hist[0]}, of code {levels - 1}: {hist[-1]}); allowed: both > 0 - "
                         f"raise the stimulus amplitude")
    return np.cumsum(hist)[:-1] / hist.sum()


def thresholds_from_sine_histogram(codes, levels: int, amplitude: float,
                                   offset: float) -> np.ndarray:
    """IEEE 1241 sine code-density estimate of the thresholds [levels - 1] (input units).

    Parameters
    ----------
    codes : array_like
        Output codes for a sine stimulus ``offset + amplitude sin(.)`` that overdrives both
        end codes (coherently sampled, or many random phases).
    levels : int
        Number of ADC codes.
    amplitude, offset : float
        The stimulus' amplitude A and centre C (input units).
    """
    fractions = _cumulative_fractions(codes, levels)
    return offset - amplitude * np.cos(np.pi * fractions)


def thresholds_from_ramp_histogram(codes, levels: int, v_min: float,
                                   v_max: float) -> np.ndarray:
    """IEEE 1241 ramp (uniform) code-density estimate of the thresholds [levels - 1]."""
    if not v_max > v_min:
        raise ValueError(f"v_max: got {v_max} with v_min = {v_min}; allowed: v_max > v_min")
    return v_min + (v_max - v_min) * _cumulative_fractions(codes, levels)


def dnl_inl(thresholds, reference=None) -> "tuple[np.ndarray, np.ndarray]":
    """Differential and integral nonlinearity in LSB (IEEE 1241 definitions).

    Parameters
    ----------
    thresholds : array_like
        [K] measured thresholds (input units).
    reference : array_like, optional
        [K] designed thresholds. Default: the end-point line through the first and last
        measured thresholds (a uniform ADC).

    Returns
    -------
    dnl : np.ndarray
        [K - 1] widths of the inner codes relative to their reference widths, minus 1.
    inl : np.ndarray
        [K] threshold deviations from the reference, in units of the mean reference width Q.
    """
    measured = np.asarray(thresholds, dtype=np.float64)
    if measured.ndim != 1 or measured.size < 2:
        raise ValueError(f"thresholds: expected at least 2 values in 1-D, got {measured.shape}")
    if reference is None:
        ref = np.linspace(measured[0], measured[-1], measured.size)
    else:
        ref = np.asarray(reference, dtype=np.float64)
        if ref.shape != measured.shape:
            raise ValueError(f"reference: shape {ref.shape} differs from thresholds' "
                             f"{measured.shape}")
    ref_widths = np.diff(ref)
    if np.any(ref_widths <= 0):
        raise ValueError("reference: thresholds must be strictly increasing")
    lsb = (ref[-1] - ref[0]) / (ref.size - 1)
    return np.diff(measured) / ref_widths - 1.0, (measured - ref) / lsb


def _ratio_db(signal: float, noise: float) -> float:
    """10 log10(signal / noise); +inf when the noise power rounds to zero or below."""
    return math.inf if noise <= 0.0 else 10.0 * math.log10(signal / noise)


@dataclass(frozen=True)
class SineMetrics:
    """Results of the FFT test of a coherently sampled sine (all powers in dB re the tone)."""

    sinad_db: float
    snr_db: float
    thd_db: float
    enob: float
    signal_bin: int
    amplitude: float


def sine_metrics(samples, n_cycles: "int | None" = None, n_harmonics: int = 5,
                 full_scale_amplitude: "float | None" = None) -> SineMetrics:
    """SINAD, SNR, THD and ENOB of a coherently sampled sine record via the FFT.

    Parameters
    ----------
    samples : array_like
        [S] ADC output (codes or reconstructed values) for one coherent sine record.
    n_cycles : int, optional
        The tone's bin; default the largest non-DC bin.
    n_harmonics : int
        Harmonics 2..n_harmonics (aliased into the first Nyquist zone) count as distortion,
        not noise, in SNR and THD.
    full_scale_amplitude : float, optional
        When given, ENOB is referred to a full-scale tone (adds 20 log10(FS / A) before
        dividing by 6.02).
    """
    x = np.asarray(samples, dtype=np.float64).ravel()
    size = x.size
    if size < 8 or not np.all(np.isfinite(x)):
        raise ValueError(f"samples: expected at least 8 finite values, got {size}")
    spectrum = np.fft.rfft(x)
    power = np.abs(spectrum) ** 2
    weights = np.full(power.size, 2.0)
    weights[0] = 1.0
    if size % 2 == 0:
        weights[-1] = 1.0
    power *= weights / size ** 2  # mean-square contribution of each bin (Parseval)
    tone = int(np.argmax(power[1:]) + 1) if n_cycles is None else int(n_cycles)
    if not 1 <= tone < power.size:
        raise ValueError(f"n_cycles: got {tone}; allowed range: 1..{power.size - 1}")
    harmonic_bins = set()
    for order in range(2, int(n_harmonics) + 1):
        k = (order * tone) % size
        k = size - k if k > size // 2 else k
        if k not in (0, tone):
            harmonic_bins.add(k)
    signal = power[tone]
    noise_and_distortion = power[1:].sum() - signal
    distortion = float(sum(power[k] for k in harmonic_bins))
    noise = noise_and_distortion - distortion
    sinad = _ratio_db(signal, noise_and_distortion)
    snr = _ratio_db(signal, noise)
    thd = 10.0 * math.log10(distortion / signal) if distortion > 0 else -math.inf
    amplitude = math.sqrt(2.0 * signal)
    enob = (sinad - 10.0 * math.log10(1.5)) / (20.0 * math.log10(2.0))
    if full_scale_amplitude is not None:
        enob += 20.0 * math.log10(full_scale_amplitude / amplitude) / (20.0 * math.log10(2.0))
    return SineMetrics(sinad, snr, thd, enob, tone, amplitude)
