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


def _grid(count: int, columns: int) -> "tuple[int, int]":
    """(rows, columns) of a grid of ``count`` panels at most ``columns`` wide."""
    columns = max(1, min(columns, count))
    return -(-count // columns), columns


def plot_height_maps(path, heights: np.ndarray, names: Sequence[str], mask_pitch: float,
                     two_pi_height: float, columns: int = 4) -> None:
    """Height maps [M, N, N] (m) in a grid at most ``columns`` wide, in nm, axes in mm.

    Axis labels sit on the outer panels only (left column, bottom row) and one colour bar
    (height, nm) serves every panel, so no label runs into its neighbour.
    """
    plt = _pyplot()
    heights = np.asarray(heights)
    rows, columns = _grid(heights.shape[0], columns)
    figure, axes = plt.subplots(rows, columns, figsize=(2.4 * columns + 1.2, 2.35 * rows + 0.4),
                                squeeze=False, constrained_layout=True)
    extent_mm = [0, heights.shape[2] * mask_pitch * 1e3, 0, heights.shape[1] * mask_pitch * 1e3]
    image = None
    for index, axis in enumerate(axes.flat):
        if index >= heights.shape[0]:
            axis.axis("off")
            continue
        row, column = divmod(index, columns)
        image = axis.imshow(heights[index] * 1e9, cmap="viridis", vmin=0,
                            vmax=two_pi_height * 1e9, extent=extent_mm)
        axis.set_title(str(names[index]), fontsize=10)
        axis.tick_params(labelsize=8)
        axis.locator_params(nbins=4)
        if row == rows - 1 or index + columns >= heights.shape[0]:
            axis.set_xlabel("x (mm)", fontsize=9)
        else:
            axis.set_xticklabels([])
        if column == 0:
            axis.set_ylabel("y (mm)", fontsize=9)
        else:
            axis.set_yticklabels([])
    figure.colorbar(image, ax=axes, label="height (nm)", shrink=0.9)
    _save(figure, path)


def plot_psfs(path, targets: np.ndarray, psfs: np.ndarray, wavelengths: Sequence[float],
              names: Sequence[str], sensor_pitch: float, signed: bool = False) -> None:
    """One row per mask/filter: the target, then the PSF at each wavelength.

    Every row is normalised to its target's peak (|target| max = 1; a PSF is first scaled to
    the target's total unless ``signed``) and has its own colour bar; axes in um on the sensor.

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
    figure, axes = plt.subplots(rows, columns, figsize=(2.3 * columns + 1.0, 2.2 * rows + 0.3),
                                squeeze=False, constrained_layout=True)
    half = targets.shape[-1] * sensor_pitch * 1e6 / 2
    extent = [-half, half, -half, half]
    label = ("normalised signed intensity" if signed else "normalised intensity") \
        + "\n(target peak = 1)"
    for row in range(rows):
        peak = float(np.abs(targets[row]).max()) or 1.0
        options = dict(cmap="RdBu_r", vmin=-1.0, vmax=1.0) if signed \
            else dict(cmap="magma", vmin=0.0, vmax=1.0)
        panels = [(targets[row], f"{names[row]}: target")] + [
            (psfs[row, i] * targets[row].sum() / max(psfs[row, i].sum(), 1e-300)
             if not signed else psfs[row, i], f"{names[row]}: {w * 1e9:.0f} nm")
            for i, w in enumerate(wavelengths)]
        image = None
        for column, (axis, (panel, title)) in enumerate(zip(axes[row], panels)):
            image = axis.imshow(panel / peak, extent=extent, **options)
            axis.set_title(title, fontsize=9)
            axis.tick_params(labelsize=7)
            axis.locator_params(nbins=3)
            if row == rows - 1:
                axis.set_xlabel("x (\u00b5m)", fontsize=8)
            else:
                axis.set_xticklabels([])
            if column == 0:
                axis.set_ylabel("y (\u00b5m)", fontsize=8)
            else:
                axis.set_yticklabels([])
        bar = figure.colorbar(image, ax=axes[row].tolist(), shrink=0.9, pad=0.02)
        bar.set_label(label, fontsize=7)
        bar.ax.tick_params(labelsize=7)
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
