"""Figures like the paper's Fig. 6: (a) FDDB discrete ROC per configuration, (b) boxes overlaid."""
from __future__ import annotations

import os
from typing import Sequence

import numpy as np

from canopic.core.files import atomic_path


def _pyplot():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def plot_roc_figure(results: Sequence, path: "str | os.PathLike[str]") -> None:
    """Fig. 6a: true positive rate against false positives, one curve per configuration.

    ``results`` are :class:`learn.detection.experiment.ConfigurationResult` (``name``, ``roc``,
    ``ap50``).
    """
    plt = _pyplot()
    figure, axes = plt.subplots(figsize=(6, 4.5))
    for result in results:
        fp = np.r_[0, result.roc.false_positives]
        tpr = np.r_[0, result.roc.true_positive_rate]
        axes.step(fp, tpr, where="post", label=f"{result.name} (AP@0.5 {result.ap50:.3f})")
    axes.set_xlabel("false positives")
    axes.set_ylabel("true positive rate")
    axes.set_ylim(0, 1)
    axes.set_title("Discrete ROC (FDDB protocol) on the synthetic test scenes")
    axes.grid(alpha=0.3)
    axes.legend(fontsize=7, loc="lower right")
    figure.tight_layout()
    with atomic_path(path, suffix=".png") as tmp:
        figure.savefig(tmp, dpi=120, format="png")
    plt.close(figure)


def code_to_display(code: np.ndarray, size: int) -> np.ndarray:
    """One encoded scene [C, h, w] -> an RGB image [size, size, 3] in [0, 1] for display.

    The first three channels are shown (filter 0's colours), each stretched to its own range
    and enlarged by nearest-neighbour repetition to the scene size.
    """
    shown = np.asarray(code, dtype=np.float64)[:3]
    if shown.shape[0] == 1:
        shown = np.repeat(shown, 3, axis=0)
    low = shown.min(axis=(1, 2), keepdims=True)
    span = np.ptp(shown, axis=(1, 2), keepdims=True)
    shown = (shown - low) / np.where(span > 0, span, 1.0)
    factor = size // shown.shape[-1]
    return np.repeat(np.repeat(shown, factor, axis=1), factor, axis=2).transpose(1, 2, 0)


def plot_boxes_figure(result, test, path: "str | os.PathLike[str]", scenes: int = 4,
                      min_score: float = 0.3) -> None:
    """Fig. 6b: predicted (red) and true (green) boxes on the encoded and the original scenes."""
    plt = _pyplot()
    from matplotlib.patches import Rectangle

    chosen = [i for i in range(len(test)) if len(test.boxes[i])][:scenes] or [0]
    figure, axes = plt.subplots(2, len(chosen), figsize=(3 * len(chosen), 6), squeeze=False)
    size = test.images.shape[1]
    for column, index in enumerate(chosen):
        encoded = code_to_display(result.test_inputs[index].numpy(), size)
        boxes, scores = result.predictions[index]
        for row, image in enumerate((encoded, test.images[index])):
            ax = axes[row, column]
            ax.imshow(image, interpolation="nearest")
            for x1, y1, x2, y2 in test.boxes[index]:
                ax.add_patch(Rectangle((x1, y1), x2 - x1, y2 - y1, fill=False, color="lime",
                                       linewidth=1))
            for (x1, y1, x2, y2), score in zip(boxes, scores):
                if score >= min_score:
                    ax.add_patch(Rectangle((x1, y1), x2 - x1, y2 - y1, fill=False, color="red",
                                           linewidth=1.2))
            ax.set_xticks([])
            ax.set_yticks([])
        axes[0, column].set_title(f"scene {index}", fontsize=8)
    axes[0, 0].set_ylabel(f"encoded ({result.name})", fontsize=6)
    axes[1, 0].set_ylabel("original", fontsize=8)
    figure.suptitle(f"Predicted boxes (red, score >= {min_score}) and ground truth (green)",
                    fontsize=9)
    figure.tight_layout()
    with atomic_path(path, suffix=".png") as tmp:
        figure.savefig(tmp, dpi=110, format="png")
    plt.close(figure)
