"""Figures of the evaluation: privacy vs utility (like the paper's Fig. 5) and learned parameters
per alpha (like Fig. 3). matplotlib with the Agg backend; files written atomically."""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np

_COLOURS = {"baseline": "tab:green", "unlearned": "tab:blue", "learned": "tab:red",
            "published": "tab:purple"}


def _figure_module():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(figure, path) -> str:
    from canopic.core.files import atomic_path

    with atomic_path(path, suffix=".png") as tmp:
        figure.savefig(tmp, dpi=120, bbox_inches="tight", format="png")
    _figure_module().close(figure)
    return str(path)


def _number(text: str) -> float:
    return float(text) if text not in ("", None) else math.nan


def plot_privacy_utility(records: "Sequence[dict]", sweeps: dict, path) -> str:
    """Fig. 5: identity accuracy (strongest attack, x) vs face vs no-face accuracy (y).

    Parameters
    ----------
    records : sequence of dict
        CSV records of :func:`learn.table1.csv_record` (percent strings).
    sweeps : dict
        ``{"blur": [(sigma_px, EvaluationResult)], "pixelate": [(block_px, ...)]}``: drawn as
        lines so every encoder can be compared with a baseline at matched utility.
    path : str or PathLike
        Output .png.
    """
    plt = _figure_module()
    figure, axes = plt.subplots(figsize=(7.5, 5.5))
    # the two sweeps apart by colour and line as well as marker (both are baselines)
    for name, marker, line, colour in (("blur", "o", "-", "tab:green"),
                                       ("pixelate", "s", "--", "tab:olive")):
        points = sweeps.get(name, [])
        if not points:
            continue
        x = [100 * r.privacy.top1.mean for _, r in points]
        y = [100 * r.utility.test_accuracy.mean if r.utility else math.nan for _, r in points]
        axes.plot(x, y, line, marker=marker, color=colour, alpha=0.6,
                  label=f"{name} sweep")
        for (strength, _), xi, yi in zip(points, x, y):
            axes.annotate(f"{strength:g}px", (xi, yi), fontsize=7, xytext=(3, 3),
                          textcoords="offset points")
    seen = set()
    for record in records:
        x, y = _number(record["id_top1_mean"]), _number(record["face_acc_mean"])
        if math.isnan(x) or math.isnan(y):
            continue
        kind = record["kind"]
        axes.errorbar(x, y, xerr=_number(record["id_top1_std"]),
                      yerr=_number(record["face_acc_std"]), fmt="o", color=_COLOURS[kind],
                      label=None if kind in seen else kind, capsize=2)
        seen.add(kind)
        axes.annotate(record["key"], (x, y), fontsize=6, xytext=(3, -8),
                      textcoords="offset points")
    axes.set_xlabel("identity top-1 accuracy of the strongest attack (%)  [lower = more private]")
    axes.set_ylabel("face vs no-face accuracy (%)  [higher = more useful]")
    axes.set_title("Privacy vs utility (ideal: top left)")
    axes.grid(alpha=0.3)
    axes.legend(fontsize=8, loc="lower right")
    return _save(figure, path)


def plot_parameters(cameras: "Sequence[tuple[str, object]]", path) -> str:
    """Fig. 3: each camera's first PSF (image) and its ADC thresholds (staircase), per alpha.

    Parameters
    ----------
    cameras : sequence of (str, sensor.Camera)
        Title (e.g. ``"alpha = 50"``) and camera; cameras without optics or ADC get blank panels.
    path : str or PathLike
        Output .png.
    """
    plt = _figure_module()
    count = max(1, len(cameras))
    figure, axes = plt.subplots(2, count, figsize=(2.6 * count, 5.2), squeeze=False)
    for column, (title, camera) in enumerate(cameras):
        psf = camera.psf
        top, bottom = axes[0, column], axes[1, column]
        if psf is not None:
            kernel = psf[0, 0].detach().numpy()
            limit = float(np.abs(kernel).max()) or 1.0
            top.imshow(kernel, cmap="RdBu_r", vmin=-limit, vmax=limit)
        top.set_title(title, fontsize=9)
        top.axis("off")
        thresholds = camera.thresholds
        if thresholds is not None:
            values = np.sort(thresholds.detach().numpy())
            x = np.linspace(0.0, 15.0, 601)
            bottom.plot(x, (x[:, None] > values[None, :]).sum(axis=1), color="black", lw=1)
            bottom.set_title(f"{len(np.unique(np.round(values, 4)))} distinct thresholds",
                             fontsize=8)
        bottom.set_xlabel("ADC input (normalised, 0..15)", fontsize=7)
        bottom.set_ylabel("code", fontsize=7)
        bottom.tick_params(labelsize=7)
    figure.suptitle("Learned kernel (top) and quantiser (bottom) per alpha")
    return _save(figure, path)
