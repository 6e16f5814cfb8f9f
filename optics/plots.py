"""Figures of a mask design: height maps, PSFs per colour beside the target, fidelity vs levels.

matplotlib with the Agg backend (no display needed); every figure is written atomically.
"""
from __future__ import annotations

import os
from typing import Mapping, Sequence

import numpy as np

from canopic.core import files


def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def _save(figure, path: "str | os.PathLike[str]") -> None:
    plt = _pyplot()
    try:
        with files.atomic_path(path, suffix=".png") as tmp:
            figure.savefig(tmp, format="png", dpi=110, bbox_inches="tight")
    finally:
        plt.close(figure)


def plot_height_maps(path, heights: np.ndarray, names: Sequence[str], mask_pitch: float,
                     two_pi_height: float) -> None:
    """Height maps [M, N, N] (m) side by side, in nm, axes in mm."""
    plt = _pyplot()
    heights = np.asarray(heights)
    count = heights.shape[0]
    figure, axes = plt.subplots(1, count, figsize=(3.2 * count + 0.8, 3.2), squeeze=False)
    extent_mm = [0, heights.shape[2] * mask_pitch * 1e3, 0, heights.shape[1] * mask_pitch * 1e3]
    for axis, height, name in zip(axes[0], heights, names):
        image = axis.imshow(height * 1e9, cmap="viridis", vmin=0, vmax=two_pi_height * 1e9,
                            extent=extent_mm)
        axis.set_title(name)
        axis.set_xlabel("x (mm)")
        axis.set_ylabel("y (mm)")
    figure.colorbar(image, ax=axes[0].tolist(), label="height (nm)", shrink=0.85)
    _save(figure, path)


def plot_psfs(path, targets: np.ndarray, psfs: np.ndarray, wavelengths: Sequence[float],
              names: Sequence[str], sensor_pitch: float, signed: bool = False) -> None:
    """One row per mask/filter: the target, then the PSF at each wavelength.

    Parameters
    ----------
    targets : np.ndarray
        [M, k, k].
    psfs : np.ndarray
        [M, L, k, k].
    signed : bool
        Use a diverging colour map centred on zero (for two-mask realisations).
    """
    plt = _pyplot()
    targets, psfs = np.asarray(targets), np.asarray(psfs)
    rows, columns = targets.shape[0], psfs.shape[1] + 1
    figure, axes = plt.subplots(rows, columns, figsize=(2.4 * columns, 2.4 * rows), squeeze=False)
    half = targets.shape[-1] * sensor_pitch * 1e6 / 2
    extent = [-half, half, -half, half]
    for row in range(rows):
        limit = float(np.abs(targets[row]).max())
        options = dict(cmap="RdBu_r", vmin=-limit, vmax=limit) if signed \
            else dict(cmap="magma", vmin=0, vmax=limit)
        panels = [(targets[row], f"{names[row]}: target")] + [
            (psfs[row, i] * targets[row].sum() / max(psfs[row, i].sum(), 1e-300)
             if not signed else psfs[row, i], f"{w * 1e9:.0f} nm")
            for i, w in enumerate(wavelengths)]
        for axis, (image, title) in zip(axes[row], panels):
            axis.imshow(image, extent=extent, **options)
            axis.set_title(title, fontsize=9)
            axis.set_xticks([])
            axis.set_yticks([])
        axes[row][0].set_ylabel(f"{2 * half:.0f} um")
    _save(figure, path)


def plot_fidelity_vs_levels(path, levels: Sequence[int],
                            correlation: Mapping[str, np.ndarray],
                            wavelengths: Sequence[float]) -> None:
    """Worst correlation over masks against the number of height levels, one line per colour.

    Parameters
    ----------
    levels : sequence of int
        Level counts; ``0`` stands for the unquantised design and is drawn as a dashed line.
    correlation : mapping
        ``{"wavelength label": array [len(levels)]}`` or an array [len(levels), L] under key
        ``"all"``.
    """
    plt = _pyplot()
    figure, axis = plt.subplots(figsize=(4.8, 3.4))
    values = np.asarray(correlation["all"])
    colours = ["tab:red", "tab:green", "tab:blue", "tab:purple", "tab:orange"]
    finite = [i for i, level in enumerate(levels) if level]
    for i, w in enumerate(wavelengths):
        colour = colours[i % len(colours)]
        axis.plot([levels[j] for j in finite], values[finite, i], "o-", color=colour,
                  label=f"{w * 1e9:.0f} nm")
        for j, level in enumerate(levels):
            if not level:
                axis.axhline(values[j, i], color=colour, linestyle="--", linewidth=0.8)
    axis.set_xscale("log", base=2)
    axis.set_xticks([levels[j] for j in finite])
    axis.set_xticklabels([str(levels[j]) for j in finite])
    axis.set_xlabel("height levels (2^k, k etch steps)")
    axis.set_ylabel("normalised correlation (worst mask)")
    axis.set_title("PSF fidelity after quantisation (dashed: unquantised)", fontsize=9)
    axis.legend(fontsize=8)
    axis.grid(alpha=0.3)
    _save(figure, path)
