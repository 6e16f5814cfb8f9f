"""Gain stage: the paper's per-frame min-max normalisation and a fixed gain, with inverses."""
import pytest
import torch

import analog


def test_per_frame_maps_each_frames_min_max_over_all_channels_to_0_15():
    gen = torch.Generator().manual_seed(0)
    x = torch.rand((4, 12, 8, 8), generator=gen, dtype=torch.float64)
    x[:, 3] *= 5.0                                 # channels with different ranges share a gain
    x[1] += 2.0
    stage = analog.GainStage("per_frame")
    y = stage(x)
    flat_x, flat_y = x.reshape(4, -1), y.reshape(4, -1)
    # closed form of the authors' normalisation: (x - min) / (max - min) * 15, per sample
    low = flat_x.min(dim=1, keepdim=True).values
    high = flat_x.max(dim=1, keepdim=True).values
    assert torch.allclose(flat_y, (flat_x - low) / (high - low) * 15, atol=1e-12)
    assert torch.equal(flat_y.min(dim=1).values, torch.zeros(4, dtype=torch.float64))
    assert torch.allclose(flat_y.max(dim=1).values, torch.full((4,), 15.0, dtype=torch.float64))
    assert torch.allclose(stage.inverse(y), x, atol=1e-12)
    assert stage.last_scale.shape == (4, 1, 1, 1)


def test_per_frame_codes_map_back_like_the_paper():
    x = torch.rand((2, 3, 8, 8), generator=torch.Generator().manual_seed(1))
    stage, adc = analog.GainStage(), analog.FlashADC()
    y, scale, offset = stage(x, return_mapping=True)
    codes = adc(y)
    back = stage.inverse(codes, scale, offset)                 # y * scale + min
    assert (back - x).abs().max() <= 0.5 * scale.max() + 1e-6  # within half a code


def test_flat_frame_maps_to_zero():
    y = analog.GainStage()(torch.full((2, 1, 4, 4), 0.3))
    assert torch.equal(y, torch.zeros_like(y))


def test_fixed_gain_and_clipping():
    stage = analog.GainStage("fixed", gain=10.0, offset="0.2V")
    x = torch.tensor([[0.0, 0.2, 0.95, 1.9, 3.0]], dtype=torch.float64)
    assert torch.allclose(stage(x), torch.tensor([[0.0, 0.0, 7.5, 15.0, 15.0]],
                                                 dtype=torch.float64))
    assert torch.allclose(stage.inverse(torch.tensor([7.5], dtype=torch.float64)),
                          torch.tensor([0.95], dtype=torch.float64))


def test_gradients_flow_through_per_frame_gain():
    x = torch.rand((2, 3, 4, 4), generator=torch.Generator().manual_seed(2), requires_grad=True)
    (analog.GainStage()(x) ** 2).sum().backward()
    assert torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0


@pytest.mark.parametrize("kwargs, name", [
    ({"mode": "auto"}, "mode"), ({"full_scale": 0.0}, "full_scale"),
    ({"mode": "fixed", "gain": -1.0}, "gain"), ({"mode": "fixed", "offset": "1 m"}, "offset"),
])
def test_bad_parameters(kwargs, name):
    with pytest.raises(ValueError, match=name):
        analog.GainStage(**kwargs)


def test_bad_input():
    with pytest.raises(ValueError, match="NaN or inf"):
        analog.GainStage()(torch.tensor([[1.0, float("nan")]]))
    with pytest.raises(ValueError, match="inverse|forward"):
        analog.GainStage().inverse(torch.zeros(1))


def test_forward_keeps_no_autograd_graph():
    """The stored mapping is detached, so a camera can be deep-copied after a training step."""
    import copy

    stage = analog.GainStage()
    x = torch.rand(3, 1, 4, 4, requires_grad=True)
    y, scale, _ = stage(x, return_mapping=True)
    assert scale.grad_fn is not None                      # the returned mapping is differentiable
    assert stage.last_scale.grad_fn is None and stage.last_offset.grad_fn is None
    copy.deepcopy(stage)
    y.sum().backward()
    assert x.grad is not None
