"""learn.networks: shapes for every Table 1 input, the paper's input InstanceNorm, learning."""
from __future__ import annotations

import math

import pytest
import torch

from learn.networks import ResNetClassifier, entropy, make_detector, make_recogniser


@pytest.mark.parametrize("channels, size, upsample", [(3, 8, 1), (12, 8, 1), (12, 8, 8),
                                                      (3, 64, 1), (12, 64, 1)])
def test_output_shapes(channels, size, upsample):
    net = make_recogniser(channels, 30, size, width=8, upsample=upsample)
    assert net(torch.rand(3, channels, size, size)).shape == (3, 30)
    assert make_detector(channels, size, width=4)(torch.rand(2, channels, size, size)).shape == (2, 2)


def test_input_instance_norm_makes_the_net_blind_to_per_frame_gain_and_offset():
    # the paper's InstanceNorm on the input: per image and channel, a*x + b gives the same logits
    torch.manual_seed(0)
    net = make_recogniser(12, 5, 8, width=8).eval()
    x = torch.rand(4, 12, 8, 8)
    gain = torch.rand(4, 12, 1, 1) * 5 + 0.5
    offset = torch.randn(4, 12, 1, 1)
    torch.testing.assert_close(net(gain * x + offset), net(x), rtol=1e-4, atol=1e-4)


def test_entropy_matches_closed_forms():
    assert entropy(torch.zeros(1, 30)).item() == pytest.approx(math.log(30), rel=1e-6)
    assert entropy(torch.tensor([[100.0, 0.0, 0.0]])).item() == pytest.approx(0.0, abs=1e-30)
    p = torch.tensor([0.7, 0.2, 0.1])
    assert entropy(p.log()[None]).item() == pytest.approx(float(-(p * p.log()).sum()), rel=1e-6)


def test_recogniser_learns_separable_codes():
    # four identities whose codes differ in a spatial pattern (not in mean or scale, which the
    # input norm removes): the net must reach 100 % on them
    g = torch.Generator().manual_seed(0)
    patterns = torch.rand(4, 3, 8, 8, generator=g)
    labels = torch.arange(4).repeat(16)
    codes = patterns[labels] + 0.1 * torch.randn(64, 3, 8, 8, generator=g)
    torch.manual_seed(0)
    net = make_recogniser(3, 4, 8, width=8)
    optimiser = torch.optim.Adam(net.parameters(), lr=1e-2)
    for _ in range(40):
        optimiser.zero_grad()
        torch.nn.functional.cross_entropy(net(codes), labels).backward()
        optimiser.step()
    net.eval()
    assert (net(codes).argmax(-1) == labels).float().mean() == 1.0


def test_bad_arguments_name_the_parameter():
    with pytest.raises(ValueError, match="num_classes"):
        ResNetClassifier(3, 1, 8)
    with pytest.raises(ValueError, match="upsample"):
        ResNetClassifier(3, 4, 8, upsample=0)
    with pytest.raises(ValueError, match=r"x: shape \(2, 3, 8, 8\)"):
        make_recogniser(12, 4, 8)(torch.rand(2, 3, 8, 8))
