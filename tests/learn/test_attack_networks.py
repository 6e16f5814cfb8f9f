"""The reconstruction decoder: shapes, the receptive field its design promises, clear errors.

Reference: the closed-form receptive field of stacked 3x3 convolutions (n layers at full
resolution see 2n + 1 pixels; on a grid folded by f, every layer widens it by f pixels per side).
"""
from __future__ import annotations

import pytest
import torch
from torch import nn

from learn.attack_networks import CodeDecoder
from learn.attacks import AttackBudget, AttackData, ReconstructionAttack


@pytest.mark.parametrize("channels, size, output, cells", [
    (12, 8, 64, 16), (3, 8, 64, 16), (3, 64, 64, 16), (3, 64, 64, 64), (3, 32, 32, 8),
    (3, 48, 64, 16)])  # the last folds by 3: no stage at 48 px, so no skip
def test_output_shape_and_range(channels, size, output, cells):
    decoder = CodeDecoder(channels, size, output, width=16, cells=cells).eval()
    with torch.no_grad():
        out = decoder(torch.rand(2, channels, size, size))
    assert out.shape == (2, 3, output, output)
    assert float(out.min()) >= 0.0 and float(out.max()) <= 1.0


def _input_reach(decoder: nn.Module, size: int, centre: int = 31) -> int:
    """Largest Chebyshev distance (px) from output pixel ``centre`` of an input pixel it depends on."""
    decoder.eval()
    x = torch.rand(1, 3, size, size, requires_grad=True)
    decoder(x)[0, :, centre, centre].sum().backward()
    rows, cols = torch.nonzero(x.grad.abs().sum(dim=1)[0] > 0, as_tuple=True)
    return int(torch.maximum((rows - centre).abs(), (cols - centre).abs()).max())


def test_full_resolution_decoder_sees_three_pixels_per_side():
    # two 3x3 convolutions and the 3x3 output convolution, all at full resolution: 7x7
    torch.manual_seed(0)
    assert _input_reach(CodeDecoder(3, 64, 64, width=16, cells=64), 64) == 3


def test_folded_decoder_sees_several_blocks():
    # the two 3x3 convolutions on the 16x16 grid alone reach 2 cells of 4 px past the block
    torch.manual_seed(0)
    decoder = CodeDecoder(3, 64, 64, width=16, cells=16)
    assert isinstance(decoder.fold, nn.PixelUnshuffle)
    assert _input_reach(decoder, 64) >= 2 * 4 + 3


def test_inputs_no_larger_than_the_grid_are_not_folded():
    for decoder in (CodeDecoder(12, 8, 64, cells=16), CodeDecoder(3, 64, 64, cells=64)):
        assert isinstance(decoder.fold, nn.Identity) and not decoder.skip
    assert CodeDecoder(3, 64, 64, cells=16).skip
    assert not CodeDecoder(3, 48, 64, cells=16).skip


@pytest.mark.parametrize("kwargs, match", [
    (dict(in_channels=3, input_size=64, output_size=64, cells=0), "cells"),
    (dict(in_channels=3, input_size=64, output_size=64, cells=24), "multiple of cells"),
    (dict(in_channels=3, input_size=8, output_size=48), "power of two"),
])
def test_bad_arguments_name_the_parameter(kwargs, match):
    with pytest.raises(ValueError, match=match):
        CodeDecoder(**kwargs)


def test_reconstruction_attack_uses_the_budget_grid():
    generator = torch.Generator().manual_seed(0)
    images = torch.rand(40, 3, 32, 32, generator=generator)
    labels = torch.arange(40) % 4
    data = AttackData(images, labels, images[:8], labels[:8], 4, images, images[:8])
    budget = AttackBudget(cnn_epochs=1, flat_epochs=1, decoder_epochs=1, patience=1,
                          batch_size=16, cnn_width=4, decoder_width=16, decoder_cells=8)
    attack = ReconstructionAttack(budget).fit(data, seed=0)
    assert isinstance(attack.decoder.fold, nn.PixelUnshuffle)
    assert attack.decoder.fold.downscale_factor == 4
    assert attack.scores(images[:3]).shape == (3, 4)
