"""Flash ADC: thresholds, parameterisation, hard and soft modes, mismatch and noise."""
import math

import numpy as np
import pytest
import torch
from scipy.stats import norm

import analog
from analog.adc import logits_to_thresholds


def test_default_is_the_paper_uniform_quantiser():
    adc = analog.FlashADC()
    assert torch.allclose(adc.thresholds, torch.arange(15, dtype=torch.float64) + 0.5,
                          atol=1e-12, rtol=0)
    x = torch.rand(10000, generator=torch.Generator().manual_seed(0)) * 17 - 1
    expected = torch.clamp(torch.floor(x + 0.5), 0, 15)          # round half up, clipped
    assert torch.equal(adc(x), expected)


def test_heaviside_convention_counts_equal_inputs():
    # paper / authors' code: U(x - b) with U(0) = 1
    codes = analog.quantize_hard(torch.tensor([0.5, 1.5, 1.4999]), [0.5, 1.5])
    assert codes.tolist() == [1.0, 2.0, 1.0]


def test_quantize_hard_accepts_repeated_published_thresholds():
    thresholds = [2.0, 4.0, 4.0, 9.0]
    x = torch.tensor([1.0, 3.0, 4.0, 5.0, 10.0])
    assert analog.quantize_hard(x, thresholds).tolist() == [0.0, 1.0, 3.0, 3.0, 4.0]


def test_user_thresholds_round_trip_through_parameterisation():
    wanted = np.array([0.2, 0.9, 1.3, 2.0, 3.5, 4.0, 4.4, 6.0, 7.7, 8.0, 9.9, 11.0, 12.5, 14.0,
                       14.95])
    adc = analog.FlashADC(thresholds=wanted, min_spacing=0.3)
    np.testing.assert_allclose(adc.thresholds.detach().numpy(), wanted, atol=1e-10, rtol=0)
    edge = np.linspace(0.0, 15.0, 15)                             # touching both ends
    np.testing.assert_allclose(analog.FlashADC(thresholds=edge).thresholds.detach().numpy(),
                               edge, atol=1e-10, rtol=0)


@pytest.mark.parametrize("min_spacing", [1e-3, 0.25, 1.0, 1.07])
def test_parameterisation_guarantees_order_spacing_and_range(min_spacing):
    gen = torch.Generator().manual_seed(4)
    for scale in (1.0, 30.0, 300.0):
        logits = torch.randn((200, 16), generator=gen, dtype=torch.float64) * scale
        for row in logits:
            t = logits_to_thresholds(row, 16, min_spacing)
            assert t.min() >= 0 and t.max() <= 15
            assert bool((torch.diff(t) >= min_spacing * (1 - 1e-9)).all())


def test_training_cannot_collapse_thresholds():
    adc = analog.FlashADC(min_spacing=0.2)
    for _ in range(100):                    # plain gradient steps pulling every threshold to 7
        adc.logits.grad = None
        ((adc.thresholds - 7.0) ** 2).sum().backward()
        with torch.no_grad():               # (torch.optim's first import costs seconds)
            adc.logits -= 0.5 * adc.logits.grad
        t = adc.thresholds.detach()
        assert bool((torch.diff(t) >= 0.2 * (1 - 1e-9)).all())
        assert t.min() >= 0 and t.max() <= 15
    assert float(t[-1] - t[0]) < 14 * 0.2 + 1e-6        # pushed against the spacing floor
    assert len(adc(torch.linspace(-1.0, 16.0, 5000)).unique()) == 16   # all codes reachable


@pytest.mark.parametrize("thresholds, message", [
    (np.r_[np.arange(7) + 0.5, 6.5, np.arange(8, 15) + 0.5], r"thresholds\[7\] = 6\.5 is collapsed onto thresholds\[6\] = 6\.5"),
    (np.r_[np.arange(7) + 0.5, 5.0, np.arange(8, 15) + 0.5], r"thresholds\[7\] = 5\.0 is below thresholds\[6\]"),
    (np.r_[np.arange(7) + 0.5, 6.55, np.arange(8, 15) + 0.5], r"too close.*min_spacing = 0\.1"),
    (np.r_[-0.5, np.arange(1, 15) + 0.5], r"thresholds\[0\] = -0\.5.*\[0, 15\]"),
    (np.r_[np.arange(14) + 0.5, 15.5], r"thresholds\[14\] = 15\.5.*\[0, 15\]"),
    (np.r_[np.arange(14) + 0.5, np.nan], r"thresholds\[14\] = nan"),
    (np.arange(14) + 0.5, r"expected shape \(15,\)"),
])
def test_threshold_validation(thresholds, message):
    with pytest.raises(ValueError, match=message):
        analog.FlashADC(thresholds=thresholds)


def test_published_collapsed_thresholds_are_rejected_by_the_module():
    alpha1 = [2.3304, 3.3832, 4.7243, 4.7243, 5.8716, 5.8716, 6.7036, 6.7036, 7.4046, 7.4046,
              8.7139, 8.7139, 9.651, 10.8145, 14.8255]
    with pytest.raises(ValueError, match=r"thresholds\[3\] = 4\.7243 is collapsed"):
        analog.FlashADC(thresholds=alpha1)


@pytest.mark.parametrize("kwargs, name", [
    ({"levels": 1}, "levels"), ({"min_spacing": -0.1}, "min_spacing"), ({"min_spacing": 0.0}, "min_spacing"),
    ({"min_spacing": 1.5}, "min_spacing"), ({"mismatch_sigma": float("inf")}, "mismatch_sigma"),
    ({"noise_sigma": -1.0}, "noise_sigma"),
])
def test_bad_parameters(kwargs, name):
    with pytest.raises(ValueError, match=name):
        analog.FlashADC(**kwargs)


@pytest.mark.parametrize("value", [float("nan"), float("inf"), -float("inf")])
def test_non_finite_input_rejected(value):
    x = torch.tensor([1.0, value])
    adc = analog.FlashADC()
    for call in (lambda: adc(x), lambda: adc(x, mode="soft", hardness=5.0),
                 lambda: analog.quantize_hard(x, [1.0]),
                 lambda: analog.quantize_soft(x, [1.0], 2.0)):
        with pytest.raises(ValueError, match="NaN or inf"):
            call()


def test_soft_converges_to_hard_with_the_sigmoid_tail_bound():
    adc = analog.FlashADC(thresholds=np.linspace(0.3, 14.6, 15), mismatch_sigma=0.05,
                          seed=2)
    x = torch.rand(20000, generator=torch.Generator().manual_seed(1), dtype=torch.float64) * 16
    x = x - 0.5
    hard = adc(x)
    distance = (x[:, None] - (adc.thresholds + adc.mismatch).detach()).abs().min(dim=1).values
    previous = math.inf
    for hardness in (1.0, 10.0, 100.0, 1000.0, 10000.0):
        soft = adc(x, mode="soft", hardness=hardness).detach()
        error = (soft - hard).abs()
        # each of the 15 sigmoids is within sigmoid(-T d) of its step
        assert bool((error <= 15 * torch.sigmoid(-hardness * distance) + 1e-12).all())
        assert error.mean() < previous
        previous = float(error.mean())
    assert previous < 1e-3


def test_gradients_flow_to_thresholds_in_soft_mode():
    adc = analog.FlashADC()
    x = torch.rand(500, generator=torch.Generator().manual_seed(0)) * 15
    adc(x, mode="soft", hardness=4.0).sum().backward()
    grad = adc.logits.grad
    assert grad is not None and torch.isfinite(grad).all() and grad.abs().max() > 1e-3
    # analytic check of the plain function: d/d b_i sum_x sigmoid(T(x - b_i)) = -T sum s(1 - s)
    b = torch.tensor([3.0, 7.0], dtype=torch.float64, requires_grad=True)
    xs = torch.linspace(0, 15, 31, dtype=torch.float64)
    analog.quantize_soft(xs, b, 2.0).sum().backward()
    s = torch.sigmoid(2.0 * (xs[:, None] - b.detach()))
    assert torch.allclose(b.grad, -2.0 * (s * (1 - s)).sum(dim=0))


def test_mismatch_fixed_per_seed_and_sorted_by_count_of_ones():
    a = analog.FlashADC(mismatch_sigma=0.8, min_spacing=0.1, seed=5)
    b = analog.FlashADC(mismatch_sigma=0.8, min_spacing=0.1, seed=5)
    c = analog.FlashADC(mismatch_sigma=0.8, min_spacing=0.1, seed=6)
    assert torch.equal(a.mismatch, b.mismatch) and not torch.equal(a.mismatch, c.mismatch)
    raw = (a.thresholds + a.mismatch).detach()
    assert torch.equal(a.actual_thresholds, torch.sort(raw).values)
    x = torch.linspace(-1, 16, 5001, dtype=torch.float64)
    expected = (x[:, None] >= raw).sum(dim=1).to(x.dtype)       # count of ones, any order
    assert torch.equal(a(x), expected)
    assert bool((torch.diff(a(x)) >= 0).all())                  # monotonic transfer function


def test_same_seed_same_noisy_codes():
    adc = analog.FlashADC(mismatch_sigma=0.05, noise_sigma=0.3, seed=1)
    x = torch.rand((2, 3, 8, 8), generator=torch.Generator().manual_seed(0)) * 15
    a = adc(x, generator=torch.Generator().manual_seed(3))
    b = adc(x, generator=torch.Generator().manual_seed(3))
    c = adc(x, generator=torch.Generator().manual_seed(4))
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert a.shape == x.shape and a.dtype == x.dtype
    assert set(a.unique().tolist()) <= set(range(16))


def test_soft_mode_with_noise_is_the_expected_noisy_code():
    sigma = 0.4
    adc = analog.FlashADC(noise_sigma=sigma)
    x = torch.linspace(0.0, 15.0, 61, dtype=torch.float64)
    trials = 4000
    gen = torch.Generator().manual_seed(0)
    mean = adc(x.repeat(trials, 1), generator=gen).mean(dim=0)
    expected = adc(x, mode="soft").detach()                     # hardness None: noisy step
    t = adc.thresholds.detach()
    exact = torch.from_numpy(norm.cdf((x[:, None] - t).numpy() / sigma).sum(axis=1))
    # sigmoid(1.702 z) vs Phi(z): at most 0.0095 per threshold; at most 3 thresholds lie
    # within 2.5 sigma of any x (spacing 1 = 2.5 sigma), the others add < 1e-3
    assert torch.allclose(expected, exact, atol=3 * 0.0095)
    stderr = torch.sqrt(torch.clamp(exact * 0 + 0.25, min=0.0) / trials) * 2  # < 2 codes spread
    assert bool(((mean - exact).abs() <= 4 * stderr + 1e-12).all())
