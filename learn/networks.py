"""The recognition (R) and detection (D) networks of the alternating optimisation, CPU-sized.

The paper used ResNet18 with a stride-1 first layer and InstanceNorm on the input, after
upsampling the 8x8 code x8 (bilinear) to 64x64. On a 2-core CPU that is ~100x more work than the
information in an 8x8 code needs, so by default these networks work **on the code grid
directly** (``upsample=1``): a small ResNet (basic residual blocks, BatchNorm, ReLU) whose stem is
a stride-1 3x3 convolution, preceded by the paper's InstanceNorm on the input (each image and
channel to zero mean and unit variance, no affine terms, so the network is blind to the per-frame
gain the analog front end applies anyway). ``upsample=u`` restores the authors' choice (bilinear
x u before the stem).

Shapes handled: 8x8 codes with 3 (Conv(1)) or 12 (Conv(4)) channels, and the un-pooled 64x64
rows of Table 1 (there the stem is strided and max-pooled, as in ResNet, to reach 16x16 first).

>>> import torch
>>> net = make_recogniser(in_channels=12, num_classes=32, input_size=8)
>>> tuple(net(torch.rand(5, 12, 8, 8)).shape)
(5, 32)
"""
from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F


class BasicBlock(nn.Module):
    """ResNet basic block: two 3x3 conv + BatchNorm, identity (or 1x1 projection) shortcut.

    Parameters
    ----------
    c_in, c_out : int
        Channels in and out.
    stride : int
        Stride of the first convolution (2 halves the grid).
    """

    def __init__(self, c_in: int, c_out: int, stride: int = 1):
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.shortcut = (nn.Identity() if stride == 1 and c_in == c_out else nn.Sequential(
            nn.Conv2d(c_in, c_out, 1, stride=stride, bias=False), nn.BatchNorm2d(c_out)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + self.shortcut(x))


class ResNetClassifier(nn.Module):
    """Small ResNet for codes or images: InstanceNorm(input) -> stem -> residual stages -> linear.

    Parameters
    ----------
    in_channels : int
        Input channels (3 per optical filter: 3 for Conv(1), 12 for Conv(4)).
    num_classes : int
        Output logits (identities for R, 2 for D).
    input_size : int
        Side of the (square) input grid in pixels: 8 for codes, 64 for un-pooled images.
    width : int
        Channels of the first stage; each later stage doubles them.
    blocks_per_stage : int
        Basic blocks per stage.
    upsample : int
        Bilinear upsampling factor applied first (the authors used 8 on codes; default 1).

    Notes
    -----
    After the optional upsampling, grids larger than 16 pass a stride-2 stem and a 2x2 max-pool
    (as ResNet does); then stages at full, 1/2 and (if the grid is >= 8) 1/4 resolution.
    """

    def __init__(self, in_channels: int, num_classes: int, input_size: int, width: int = 32,
                 blocks_per_stage: int = 1, upsample: int = 1):
        super().__init__()
        for name, value, low in (("in_channels", in_channels, 1), ("num_classes", num_classes, 2),
                                 ("input_size", input_size, 2), ("width", width, 1),
                                 ("blocks_per_stage", blocks_per_stage, 1), ("upsample", upsample, 1)):
            if not isinstance(value, int) or value < low:
                raise ValueError(f"{name}: {value!r} is not allowed; need an integer >= {low}")
        self.in_channels, self.num_classes, self.input_size = in_channels, num_classes, input_size
        self.upsample = upsample
        self.input_norm = nn.InstanceNorm2d(in_channels, affine=False)
        grid = input_size * upsample
        if grid > 16:
            self.stem = nn.Sequential(
                nn.Conv2d(in_channels, width, 3, stride=2, padding=1, bias=False),
                nn.BatchNorm2d(width), nn.ReLU(inplace=True), nn.MaxPool2d(2))
            grid = math.ceil(grid / 4)
        else:  # the paper's stride-1 first layer
            self.stem = nn.Sequential(nn.Conv2d(in_channels, width, 3, padding=1, bias=False),
                                      nn.BatchNorm2d(width), nn.ReLU(inplace=True))
        stages, channels = [], width
        stage_count = 3 if grid >= 8 else 2
        for s in range(stage_count):
            out = width * 2 ** s
            for b in range(blocks_per_stage):
                stages.append(BasicBlock(channels, out, stride=2 if (s > 0 and b == 0) else 1))
                channels = out
        self.stages = nn.Sequential(*stages)
        self.head = nn.Linear(channels, num_classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Pooled features [N, channels] of inputs [N, in_channels, input_size, input_size]."""
        if x.ndim != 4 or x.shape[1] != self.in_channels:
            raise ValueError(f"x: shape {tuple(x.shape)} is not allowed; need [N, "
                             f"{self.in_channels}, H, W]")
        x = self.input_norm(x)
        if self.upsample > 1:
            x = F.interpolate(x, scale_factor=self.upsample, mode="bilinear", align_corners=False)
        x = self.stages(self.stem(x))
        return x.mean(dim=(-1, -2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits [N, num_classes]."""
        return self.head(self.features(x))


def make_recogniser(in_channels: int, num_classes: int, input_size: int, width: int = 32,
                    upsample: int = 1) -> ResNetClassifier:
    """Recognition network R (identity logits) for encoded images."""
    return ResNetClassifier(in_channels, num_classes, input_size, width=width, upsample=upsample)


def make_detector(in_channels: int, input_size: int, width: int = 16,
                  upsample: int = 1) -> ResNetClassifier:
    """Detection network D (logits for [no-face, face]) for encoded images."""
    return ResNetClassifier(in_channels, 2, input_size, width=width, upsample=upsample)


class FlatClassifier(nn.Module):
    """Linear model on the flattened code: InstanceNorm(input) -> flatten -> linear.

    The "flat" member of a fresh adversary pool (``learn.adversaries``): multinomial logistic
    regression on each frame's standardised code, no spatial prior, nothing to overfit but its
    weights.

    Parameters
    ----------
    in_channels, num_classes, input_size : int
        Input channels, output logits and side of the square input grid (as ``ResNetClassifier``).
    """

    def __init__(self, in_channels: int, num_classes: int, input_size: int):
        super().__init__()
        for name, value, low in (("in_channels", in_channels, 1), ("num_classes", num_classes, 2),
                                 ("input_size", input_size, 1)):
            if not isinstance(value, int) or value < low:
                raise ValueError(f"{name}: {value!r} is not allowed; need an integer >= {low}")
        self.in_channels, self.num_classes, self.input_size = in_channels, num_classes, input_size
        self.input_norm = nn.InstanceNorm2d(in_channels, affine=False)
        self.head = nn.Linear(in_channels * input_size * input_size, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits [N, num_classes] of inputs [N, in_channels, input_size, input_size]."""
        if x.ndim != 4 or x.shape[1:] != (self.in_channels, self.input_size, self.input_size):
            raise ValueError(f"x: shape {tuple(x.shape)} is not allowed; need [N, {self.in_channels}, "
                             f"{self.input_size}, {self.input_size}]")
        return self.head(self.input_norm(x).flatten(1))


def make_flat_recogniser(in_channels: int, num_classes: int, input_size: int) -> FlatClassifier:
    """Flat (linear) recognition network on the code, the second architecture of a fresh pool."""
    return FlatClassifier(in_channels, num_classes, input_size)


def entropy(logits: torch.Tensor) -> torch.Tensor:
    """Shannon entropy in nats of softmax(logits) per row, [N] (``-sum p log p``)."""
    log_p = F.log_softmax(logits, dim=-1)
    return -(log_p.exp() * log_p).sum(dim=-1)
