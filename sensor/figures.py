"""Figures of the camera's stages (like the paper's Fig. 4)."""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from canopic.core import files
from sensor.colour import images_to_scenes, linear_to_srgb


def _as_rgb_tiles(tensor: torch.Tensor) -> np.ndarray:
    """[3F, h, w] -> [h, F*w, 3] float in [0, 1], each filter's RGB image min-max scaled."""
    c, h, w = tensor.shape
    f = max(1, c // 3)
    x = tensor.detach().float().reshape(f, 3, h, w)
    lo = x.amin(dim=(1, 2, 3), keepdim=True)
    hi = x.amax(dim=(1, 2, 3), keepdim=True)
    x = (x - lo) / (hi - lo).clamp(min=1e-12)
    return x.permute(2, 0, 3, 1).reshape(h, f * w, 3).cpu().numpy()


def stage_figure(camera, images: Sequence[np.ndarray], labels: Sequence[str], path: "str | Path",
                 seed: int = 0) -> Path:
    """Save a grid: one row per image, columns scene / after optics / after max-pool / codes.

    ``images`` are uint8 RGB [H, W, 3]; the figure is a PNG written atomically to ``path``.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    scenes = images_to_scenes(np.stack(images))
    with torch.no_grad():
        stages = camera.stages(scenes, generator=torch.Generator().manual_seed(seed))
    columns = [("scene", "scene"), ("optics", "after optics"), ("pooled", "after max-pooling"),
               ("codes", "after the ADC (4-bit codes)")]
    columns = [c for c in columns if c[0] in stages]
    fig, axes = plt.subplots(len(images), len(columns), figsize=(3.2 * len(columns), 3.0 * len(images)),
                             squeeze=False)
    for row, label in enumerate(labels):
        for col, (key, title) in enumerate(columns):
            ax = axes[row][col]
            value = stages[key][row]
            if key == "scene":
                shown = linear_to_srgb(value).permute(1, 2, 0).cpu().numpy()
            else:
                shown = _as_rgb_tiles(value)
            ax.imshow(shown, interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            if row == 0:
                ax.set_title(title, fontsize=10)
            if col == 0:
                ax.set_ylabel(label)
    fig.suptitle(getattr(camera, "published_name", "") or "simulated capture", fontsize=10)
    fig.tight_layout()
    path = Path(path)
    with files.atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp, dpi=100)
    plt.close(fig)
    return path
