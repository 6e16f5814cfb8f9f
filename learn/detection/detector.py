"""A small CenterNet-style face detector that works on the 8x8 code grid (ours, CPU-sized).

Zhou et al., "Objects as Points" (2019): a network predicts, on a grid of stride 8 pixels,

* a face-centre heat map (1 channel, sigmoid), trained with the CenterNet penalty-reduced focal
  loss against Gaussian bumps at the face centres;
* the box size (2 channels: log width, log height in grid cells), L1 at the centre cells;
* the sub-cell offset of the centre (2 channels, sigmoid, in cells), L1 at the centre cells.

Decoding keeps heat-map peaks (3x3 max-pooling) and turns each into a box.

The same head serves every input: a CAnOPIC code ``[N, 3F, H/8, W/8]`` (values 0..15) goes
through a stride-1 stem; a full-resolution image ``[N, 3, H, W]`` (clean, blurred)
through a stride-8 stem (a 4x4 patchifying convolution, then a stride-2 convolution); both then share the body and heads.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

STRIDE = 8


def _conv(in_channels: int, out_channels: int, stride: int = 1, dilation: int = 1) -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, 3, stride, padding=dilation, dilation=dilation,
                  bias=False),
        nn.BatchNorm2d(out_channels), nn.ReLU(inplace=True))


class _Residual(nn.Module):
    def __init__(self, channels: int, dilation: int) -> None:
        super().__init__()
        self.body = nn.Sequential(_conv(channels, channels, dilation=dilation),
                                  nn.Conv2d(channels, channels, 3, padding=1, bias=False),
                                  nn.BatchNorm2d(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(x + self.body(x))


class CenterNetDetector(nn.Module):
    """Heat-map face detector whose output grid has a stride of 8 scene pixels.

    Parameters
    ----------
    in_channels : int
        Input channels (3 for images, 3F for CAnOPIC codes).
    input_stride : {1, 8}
        Scene pixels per input pixel: 8 for codes on the 8x8 grid, 1 for full-resolution images.
    width : int
        Channels of the body.
    input_scale : float
        The input is divided by this first (15 for 4-bit codes, 1 for images in [0, 1]).
    """

    def __init__(self, in_channels: int, input_stride: int = 8, width: int = 32,
                 input_scale: float = 1.0) -> None:
        super().__init__()
        if input_stride not in (1, STRIDE):
            raise ValueError(f"input_stride: {input_stride} is not allowed; need 1 (images) or "
                             f"{STRIDE} (codes on the 8x8 grid)")
        if in_channels < 1:
            raise ValueError(f"in_channels: {in_channels} is not allowed; need >= 1")
        self.input_stride = input_stride
        self.input_scale = float(input_scale)
        if input_stride == 1:
            # patchify 4x4 then a stride-2 convolution: cheap on CPU at full resolution
            self.stem = nn.Sequential(
                nn.Conv2d(in_channels, width // 2, 4, stride=4, bias=False),
                nn.BatchNorm2d(width // 2), nn.ReLU(inplace=True),
                _conv(width // 2, width, stride=2))
        else:
            self.stem = nn.Sequential(_conv(in_channels, width), _conv(width, width))
        self.body = nn.Sequential(_Residual(width, 1), _Residual(width, 2))
        self.heatmap = nn.Conv2d(width, 1, 1)
        self.regression = nn.Conv2d(width, 4, 1)
        # CenterNet's prior: start with a low face probability everywhere
        nn.init.constant_(self.heatmap.bias, -math.log((1 - 0.01) / 0.01))

    def forward(self, x: torch.Tensor) -> "tuple[torch.Tensor, torch.Tensor]":
        """Return (heat-map logits [N, 1, h, w], regression [N, 4, h, w]) on the stride-8 grid.

        Regression channels: log width, log height (cells), x offset, y offset (logits).
        """
        features = self.body(self.stem(x / self.input_scale))
        return self.heatmap(features), self.regression(features)


def gaussian_sigma(side_cells: torch.Tensor) -> torch.Tensor:
    """Heat-map bump width (cells) for a face of ``side_cells`` cells: side / 6, at least 0.4."""
    return torch.clamp(side_cells / 6.0, min=0.4)


def make_targets(boxes: "list[np.ndarray]", grid: int) -> "dict[str, torch.Tensor]":
    """Training targets on a ``grid`` x ``grid`` map for per-scene boxes (pixels).

    Returns
    -------
    dict
        ``heatmap`` [N, 1, g, g] in [0, 1] (1 exactly at each centre cell), ``size`` [N, 2, g, g]
        (log w, log h in cells), ``offset`` [N, 2, g, g] (centre within the cell, 0..1) and
        ``mask`` [N, 1, g, g] (1 at centre cells).
    """
    n = len(boxes)
    heatmap = torch.zeros(n, 1, grid, grid)
    size = torch.zeros(n, 2, grid, grid)
    offset = torch.zeros(n, 2, grid, grid)
    mask = torch.zeros(n, 1, grid, grid)
    cells = torch.arange(grid, dtype=torch.float32)
    for i, scene_boxes in enumerate(boxes):
        if len(scene_boxes) == 0:
            continue
        b = torch.as_tensor(np.asarray(scene_boxes), dtype=torch.float32) / STRIDE
        centre = (b[:, :2] + b[:, 2:]) / 2
        wh = (b[:, 2:] - b[:, :2]).clamp(min=1e-3)
        cell = centre.floor().clamp(0, grid - 1)
        sigma = gaussian_sigma(wh.mean(1))
        gx = torch.exp(-(cells[None, :] - cell[:, :1]) ** 2 / (2 * sigma[:, None] ** 2))
        gy = torch.exp(-(cells[None, :] - cell[:, 1:]) ** 2 / (2 * sigma[:, None] ** 2))
        bumps = gy[:, :, None] * gx[:, None, :]
        heatmap[i, 0] = bumps.max(0).values
        cx, cy = cell[:, 0].long(), cell[:, 1].long()
        mask[i, 0, cy, cx] = 1.0
        heatmap[i, 0, cy, cx] = 1.0
        size[i, :, cy, cx] = torch.log(wh).T
        offset[i, :, cy, cx] = (centre - cell).T
    return {"heatmap": heatmap, "size": size, "offset": offset, "mask": mask}


def focal_loss(logits: torch.Tensor, target: torch.Tensor, alpha: float = 2.0,
               beta: float = 4.0) -> torch.Tensor:
    """CenterNet's penalty-reduced pixel-wise focal loss, normalised by the number of centres."""
    probability = torch.sigmoid(logits).clamp(1e-4, 1 - 1e-4)
    positive = target.eq(1.0).float()
    positive_loss = -torch.log(probability) * (1 - probability) ** alpha * positive
    negative_loss = (-torch.log(1 - probability) * probability ** alpha
                     * (1 - target) ** beta * (1 - positive))
    return (positive_loss.sum() + negative_loss.sum()) / positive.sum().clamp(min=1.0)


def detection_loss(outputs: "tuple[torch.Tensor, torch.Tensor]",
                   targets: "dict[str, torch.Tensor]", size_weight: float = 0.5) -> torch.Tensor:
    """Focal heat-map loss + L1 on log size (weighted) and offset at the centre cells."""
    heat_logits, regression = outputs
    mask = targets["mask"]
    count = mask.sum().clamp(min=1.0)
    size_loss = (torch.abs(regression[:, :2] - targets["size"]) * mask).sum() / count
    offset_loss = (torch.abs(torch.sigmoid(regression[:, 2:]) - targets["offset"])
                   * mask).sum() / count
    return focal_loss(heat_logits, targets["heatmap"]) + size_weight * size_loss + offset_loss


@torch.no_grad()
def decode(outputs: "tuple[torch.Tensor, torch.Tensor]", max_detections: int = 50,
           min_score: float = 0.01) -> "list[tuple[np.ndarray, np.ndarray]]":
    """Heat-map peaks -> per-scene (boxes [D, 4] pixels, scores [D]), scores descending.

    A peak is a cell whose score equals the 3x3 maximum around it (CenterNet's NMS).
    """
    heat_logits, regression = outputs
    heat = torch.sigmoid(heat_logits)
    peaks = heat * (F.max_pool2d(heat, 3, stride=1, padding=1) == heat).float()
    n, _, h, w = heat.shape
    k = min(max_detections, h * w)
    scores, index = peaks.view(n, -1).topk(k)
    ys, xs = (index // w).float(), (index % w).float()
    flat = regression.view(n, 4, -1)
    gathered = torch.gather(flat, 2, index[:, None, :].expand(n, 4, k))
    width, height = torch.exp(gathered[:, 0]), torch.exp(gathered[:, 1])
    cx = xs + torch.sigmoid(gathered[:, 2])
    cy = ys + torch.sigmoid(gathered[:, 3])
    boxes = torch.stack([cx - width / 2, cy - height / 2, cx + width / 2, cy + height / 2],
                        dim=2) * STRIDE
    results = []
    for i in range(n):
        keep = scores[i] >= min_score
        results.append((boxes[i][keep].numpy().astype(np.float64),
                        scores[i][keep].numpy().astype(np.float64)))
    return results


@dataclass(frozen=True)
class TrainConfig:
    """Detector training settings.

    Attributes
    ----------
    epochs : int
        Passes over the training scenes.
    batch_size : int
    learning_rate : float
        Adam's peak rate; a cosine schedule takes it to 0 at the end.
    weight_decay : float
    width : int
        Channels of the detector body.
    seed : int
        Seeds the weights and the batch order.
    """

    epochs: int = 30
    batch_size: int = 32
    learning_rate: float = 2e-3
    weight_decay: float = 1e-4
    width: int = 32
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("epochs", "batch_size", "width"):
            value = getattr(self, name)
            if not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"{name}: {value!r} is not allowed; need an integer >= 1")
        if not self.learning_rate > 0:
            raise ValueError(f"learning_rate: {self.learning_rate} is not allowed; need > 0")


def train_detector(inputs: torch.Tensor, boxes: "list[np.ndarray]", input_stride: int,
                   config: TrainConfig = TrainConfig(), input_scale: float = 1.0,
                   augment_flip: bool = True, progress: bool = False) -> CenterNetDetector:
    """Train a :class:`CenterNetDetector` on encoded scenes.

    Parameters
    ----------
    inputs : Tensor [N, C, h, w]
        Encoded training scenes: full-resolution images (``input_stride=1``) or codes on the
        8x8 grid (``input_stride=8``).
    boxes : list of ndarray [K_i, 4]
        Face boxes in scene pixels, per scene.
    input_stride : {1, 8}
    config : TrainConfig
    input_scale : float
        See :class:`CenterNetDetector`.
    augment_flip : bool
        Mirror half of each batch (only valid when the encoding commutes with mirroring, i.e.
        not for CAnOPIC codes whose PSFs are not symmetric).
    progress : bool
        Show a tqdm bar.
    """
    from tqdm import tqdm

    if inputs.ndim != 4 or len(inputs) != len(boxes) or len(boxes) == 0:
        raise ValueError(f"inputs: shape {tuple(inputs.shape)} with {len(boxes)} box lists is "
                         f"not allowed; need [N >= 1, C, h, w] and N box lists")
    torch.manual_seed(config.seed)
    grid = inputs.shape[-1] * input_stride // STRIDE
    if inputs.shape[-2] != inputs.shape[-1] or grid * STRIDE != inputs.shape[-1] * input_stride:
        raise ValueError(f"inputs: spatial shape {tuple(inputs.shape[-2:])} is not allowed; need "
                         f"square scenes whose side is a multiple of {STRIDE} pixels")
    targets = make_targets(boxes, grid)
    model = CenterNetDetector(inputs.shape[1], input_stride, config.width, input_scale)
    optimiser = torch.optim.Adam(model.parameters(), lr=config.learning_rate,
                                 weight_decay=config.weight_decay)
    steps_per_epoch = math.ceil(len(inputs) / config.batch_size)
    schedule = torch.optim.lr_scheduler.OneCycleLR(
        optimiser, max_lr=config.learning_rate, total_steps=config.epochs * steps_per_epoch,
        pct_start=0.1)
    generator = torch.Generator().manual_seed(config.seed)
    model.train()
    bar = tqdm(range(config.epochs), desc="detector", disable=not progress, leave=False)
    for _ in bar:
        order = torch.randperm(len(inputs), generator=generator)
        for start in range(0, len(inputs), config.batch_size):
            batch = order[start:start + config.batch_size]
            x = inputs[batch]
            y = {key: value[batch] for key, value in targets.items()}
            if augment_flip:
                flip = torch.rand(len(batch), generator=generator) < 0.5
                x = torch.where(flip[:, None, None, None], x.flip(-1), x)
                y = _flip_targets(y, flip)
            loss = detection_loss(model(x), y)
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            schedule.step()
        bar.set_postfix(loss=float(loss.detach()))
    model.eval()
    return model


def _flip_targets(targets: "dict[str, torch.Tensor]", flip: torch.Tensor) -> dict:
    """Mirror the targets of the scenes where ``flip`` is True (x offsets become 1 - offset).

    A centre at x (cells) in cell c = floor(x) moves to g - x, in cell g - 1 - c with offset
    1 - (x - c); so cell-wise mirroring plus ``offset_x -> 1 - offset_x`` is exact.
    """
    mirrored = {key: value.flip(-1) for key, value in targets.items()}
    mirrored["offset"] = mirrored["offset"].clone()
    mirrored["offset"][:, 0] = (1 - mirrored["offset"][:, 0]) * mirrored["mask"][:, 0]
    select = flip[:, None, None, None]
    return {key: torch.where(select, mirrored[key], targets[key]) for key in targets}


@torch.no_grad()
def predict(model: CenterNetDetector, inputs: torch.Tensor, batch_size: int = 64,
            max_detections: int = 50, min_score: float = 0.01) -> list:
    """Run ``model`` on ``inputs`` in batches and decode -> per-scene (boxes, scores)."""
    model.eval()
    results = []
    for start in range(0, len(inputs), batch_size):
        results += decode(model(inputs[start:start + batch_size]), max_detections, min_score)
    return results
