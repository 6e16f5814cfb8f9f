"""Attacker networks, sized for a CPU: an Inception-style classifier, an MLP and a code decoder.

Every network takes NCHW float tensors. Inputs are standardised inside the network with
per-channel statistics of the attacker's own training data (:class:`Standardise`), so the same
architecture works on 4-bit codes (values 0..15) and on images in [0, 1].
"""
from __future__ import annotations

import torch
from torch import nn


#: Smallest input side (px) the Inception-style classifier takes (two 2x2 poolings).
MIN_INPUT_SIZE = 4


class Standardise(nn.Module):
    """Subtract a per-channel mean and divide by a per-channel standard deviation.

    Parameters
    ----------
    channels : int
        Number of input channels C.

    Notes
    -----
    Call :meth:`fit` with the training tensor [N, C, H, W] before training; the statistics are
    buffers, so they are saved with ``state_dict`` and never see validation or test data.
    """

    def __init__(self, channels: int):
        super().__init__()
        self.register_buffer("mean", torch.zeros(1, channels, 1, 1))
        self.register_buffer("std", torch.ones(1, channels, 1, 1))

    @torch.no_grad()
    def fit(self, x: torch.Tensor) -> "Standardise":
        """Set the statistics from ``x`` [N, C, H, W]; returns ``self``."""
        self.mean.copy_(x.mean(dim=(0, 2, 3), keepdim=True))
        self.std.copy_(x.std(dim=(0, 2, 3), keepdim=True).clamp_min(1e-6))
        return self

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.std


def _conv_bn(c_in: int, c_out: int, kernel: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(c_in, c_out, kernel, stride, kernel // 2, bias=False),
                         nn.BatchNorm2d(c_out), nn.ReLU(inplace=True))


class InceptionBlock(nn.Module):
    """GoogLeNet's inception module: 1x1, 1x1->3x3, 1x1->3x3->3x3 (the 5x5 branch), pool->1x1.

    Parameters
    ----------
    c_in : int
        Input channels.
    width : int
        Channels of each of the four branches; the output has ``4 * width`` channels.
    """

    def __init__(self, c_in: int, width: int):
        super().__init__()
        self.branch1 = _conv_bn(c_in, width, 1)
        self.branch3 = nn.Sequential(_conv_bn(c_in, width, 1), _conv_bn(width, width, 3))
        self.branch5 = nn.Sequential(_conv_bn(c_in, width, 1), _conv_bn(width, width, 3),
                                     _conv_bn(width, width, 3))
        self.branch_pool = nn.Sequential(nn.MaxPool2d(3, 1, 1), _conv_bn(c_in, width, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.branch1(x), self.branch3(x), self.branch5(x),
                          self.branch_pool(x)], dim=1)


class InceptionClassifier(nn.Module):
    """A small GoogLeNet-style classifier (the paper's adversary architecture, scaled to a CPU).

    Parameters
    ----------
    in_channels : int
        Input channels: 3 (RGB, Conv(1) codes) or 12 (Conv(4) codes).
    num_classes : int
        Number of output classes K.
    input_size : int
        Height = width of the input in pixels (8 for codes, 64 for images). The stem strides
        down to at most 16 px, so an 8x8 code keeps its full resolution (the paper's stride-1
        first layer) and a 64x64 image is reduced 4x before the inception blocks.
    width : int
        Channels per branch of the first inception stage (the second uses twice this).
    dropout : float
        Dropout before the final linear layer (GoogLeNet used 0.4).

    Shapes
    ------
    forward: [N, in_channels, input_size, input_size] -> logits [N, num_classes].
    """

    def __init__(self, in_channels: int, num_classes: int, input_size: int, width: int = 16,
                 dropout: float = 0.4):
        super().__init__()
        if input_size < MIN_INPUT_SIZE:
            raise ValueError(f"input_size={input_size} px: must be >= {MIN_INPUT_SIZE}")
        #: the constructor's arguments, to rebuild the network from a saved state_dict
        self.config = dict(in_channels=in_channels, num_classes=num_classes,
                           input_size=input_size, width=width, dropout=dropout)
        self.standardise = Standardise(in_channels)
        stem_channels = 2 * width
        if input_size > 16:
            stride = 2
            stem = [_conv_bn(in_channels, stem_channels, 5, stride=2)]
            size = (input_size + 1) // 2
            while size > 16:
                stem.append(nn.MaxPool2d(3, 2, 1))
                size = (size + 1) // 2
                stride *= 2
        else:
            stem = [_conv_bn(in_channels, stem_channels, 3)]
        stem.append(_conv_bn(stem_channels, stem_channels, 3))
        self.stem = nn.Sequential(*stem)
        self.stage1 = nn.Sequential(InceptionBlock(stem_channels, width),
                                    InceptionBlock(4 * width, width))
        self.pool = nn.MaxPool2d(3, 2, 1)
        self.stage2 = nn.Sequential(InceptionBlock(4 * width, 2 * width),
                                    InceptionBlock(8 * width, 2 * width))
        # a 2x2 pooled map, not global pooling: where a feature sits in an 8x8 code matters
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(2), nn.Flatten(), nn.Dropout(dropout),
                                  nn.Linear(4 * 8 * width, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head[-1](self.head[-2](self.features(x)))

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The input to the final layer: [N, 32 * width] (an embedding of each input)."""
        x = self.stem(self.standardise(x))
        return self.head[:-2](self.stage2(self.pool(self.stage1(x))))


class FlatClassifier(nn.Module):
    """Logistic regression (``hidden=()``) or an MLP on the flattened, standardised input.

    Parameters
    ----------
    in_channels : int
        Input channels C.
    num_classes : int
        Number of classes K.
    input_size : int
        Height = width H of the input; the flattened dimension is C * H * H.
    hidden : tuple of int
        Hidden layer widths; empty for a linear (multinomial logistic) model.
    dropout : float
        Dropout after each hidden layer.
    """

    def __init__(self, in_channels: int, num_classes: int, input_size: int,
                 hidden: "tuple[int, ...]" = (), dropout: float = 0.3):
        super().__init__()
        self.standardise = Standardise(in_channels)
        layers: list[nn.Module] = [nn.Flatten()]
        width = in_channels * input_size * input_size
        for h in hidden:
            layers += [nn.Linear(width, h), nn.BatchNorm1d(h), nn.ReLU(inplace=True),
                       nn.Dropout(dropout)]
            width = h
        layers.append(nn.Linear(width, num_classes))
        self.body = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body[-1](self.features(x))

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The input to the final layer: [N, last hidden width] (the flattened input if none)."""
        return self.body[:-1](self.standardise(x))


class CodeDecoder(nn.Module):
    """Decode a camera output back to an RGB image (the reconstruction attack's inverse model).

    Parameters
    ----------
    in_channels : int
        Channels of the camera output (3 or 12 for codes, 3 for blurred images).
    input_size : int
        Height = width of the camera output (8 for codes, 64 for images).
    output_size : int
        Height = width of the reconstructed image (64). Must be the decoder's grid,
        ``min(input_size, cells)``, times a power of two.
    width : int
        Feature channels on the coarsest grid (halved at each upsampling, at least 16).
    cells : int
        Side of the coarsest grid the decoder computes on. An input larger than ``cells`` x
        ``cells`` is first folded onto it without loss (pixel unshuffle: each f x f block of
        pixels becomes f * f channels, f = input_size / cells), which gives the decoder's
        3x3 convolutions a receptive field of several blocks (deblurring needs one as wide as
        the blur) at a fraction of the cost of convolving at full resolution. Inputs no larger
        than ``cells`` are decoded as they are; ``cells >= input_size`` never folds. A folded
        input also goes, unfolded, into the upsampling stage at its own resolution (a U-Net
        skip), so fine detail that survives the camera (clean images, mild blur) need not pass
        through the coarse grid.

    Shapes
    ------
    forward: [N, in_channels, input_size, input_size] -> [N, 3, output_size, output_size],
    values in [0, 1] (sigmoid output).
    """

    def __init__(self, in_channels: int, input_size: int, output_size: int = 64, width: int = 64,
                 cells: int = 16):
        super().__init__()
        if not isinstance(cells, int) or cells < 1:
            raise ValueError(f"cells={cells!r} is not allowed; need an integer >= 1")
        grid = min(input_size, cells)
        fold = input_size // grid
        if fold * grid != input_size:
            raise ValueError(f"input_size={input_size} px must be a multiple of cells={cells}")
        ratio = output_size // grid
        if ratio < 1 or ratio * grid != output_size or ratio & (ratio - 1):
            raise ValueError(f"output_size={output_size} px must be the decoder's grid of "
                             f"{grid} cells times a power of two")
        self.standardise = Standardise(in_channels)
        self.fold = nn.PixelUnshuffle(fold) if fold > 1 else nn.Identity()
        self.skip = False  # set below where an upsampling stage has the input's resolution
        coarse: list[nn.Module] = [_conv_bn(in_channels * fold * fold, width, 3),
                                   _conv_bn(width, width, 3)]
        fine: list[nn.Module] = []
        stage, channels, size = coarse, width, grid
        while size < output_size:
            out = max(channels // 2, 16)
            stage.append(nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False))
            size *= 2
            extra = 0
            if fold > 1 and size == input_size:  # the unfolded input joins here
                stage, extra, self.skip = fine, in_channels, True
            stage += [_conv_bn(channels + extra, out, 3), _conv_bn(out, out, 3)]
            channels = out
        fine.append(nn.Conv2d(channels, 3, 3, padding=1))
        self.coarse = nn.Sequential(*coarse)
        self.fine = nn.Sequential(*fine)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.standardise(x)
        features = self.coarse(self.fold(x))
        if self.skip:
            features = torch.cat([features, x], dim=1)
        return torch.sigmoid(self.fine(features))


def standardise_modules(model: nn.Module) -> "list[Standardise]":
    """Return every :class:`Standardise` inside ``model`` (to fit them on training data)."""
    return [m for m in model.modules() if isinstance(m, Standardise)]


def top_k_hits(logits: torch.Tensor, labels: torch.Tensor, k: int) -> torch.Tensor:
    """Boolean [N]: whether ``labels`` is among the ``k`` largest ``logits`` [N, K] of each row."""
    k = min(k, logits.shape[1])
    return (logits.topk(k, dim=1).indices == labels[:, None]).any(dim=1)


__all__ = ["Standardise", "InceptionBlock", "InceptionClassifier", "FlatClassifier",
           "CodeDecoder", "standardise_modules", "top_k_hits"]
