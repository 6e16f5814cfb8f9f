"""Comparator: Pelgrom offsets, noisy decision probability against the normal CDF."""
import math

import numpy as np
import pytest
import torch
from scipy.stats import norm

import analog


def test_pelgrom_closed_form():
    # A_VT = 3.5 mV um, W = 2 um, L = 0.5 um -> 3.5 mV / sqrt(1 um^2) = 3.5 mV
    assert analog.pelgrom_offset_sigma(3.5e-9, 2e-6, 0.5e-6) == pytest.approx(3.5e-3)
    with pytest.raises(ValueError, match="width"):
        analog.pelgrom_offset_sigma(3.5e-9, 0.0, 1e-6)


def test_offsets_fixed_per_seed_with_requested_sigma():
    a = analog.Comparator(count=20000, offset_sigma=0.002, seed=3)
    b = analog.Comparator(count=20000, offset_sigma=0.002, seed=3)
    assert torch.equal(a.offsets, b.offsets)
    assert float(a.offsets.std()) == pytest.approx(0.002, rel=4 * math.sqrt(1 / (2 * 20000)))


@pytest.mark.parametrize("difference", [-0.01, -0.002, 0.0, 0.003, 0.008])
def test_noisy_decision_probability_is_the_normal_cdf(difference):
    sigma, n = 0.005, 200000
    plus = torch.full((n,), 0.5 + difference, dtype=torch.float64)
    minus = torch.full((n,), 0.5, dtype=torch.float64)
    gen = torch.Generator().manual_seed(1)
    fraction = float(analog.decide(plus, minus, 0.0, sigma, gen).double().mean())
    expected = norm.cdf(difference / sigma)
    assert abs(fraction - expected) <= 4 * math.sqrt(expected * (1 - expected) / n) + 1e-9
    # the soft decision with T = 1.702 / sigma is within 0.0095 of the normal CDF
    slope = analog.effective_hardness(None, sigma)
    soft = float(analog.soft_decide(plus[:1], minus[:1], 0.0, slope))
    assert abs(soft - expected) <= 0.0095


def test_effective_hardness_limits():
    assert analog.effective_hardness(None, 0.0) is None
    assert analog.effective_hardness(7.0, 0.0) == pytest.approx(7.0)
    assert analog.effective_hardness(1e12, 0.1) == pytest.approx(17.02)
    with pytest.raises(ValueError, match="hardness"):
        analog.effective_hardness(0.0, 0.1)


def test_comparator_module_modes():
    bank = analog.Comparator(count=3, offset_sigma=0.01, seed=0)
    plus = torch.zeros((5, 3), dtype=torch.float64)
    minus = torch.zeros((5, 3), dtype=torch.float64)
    decisions = bank(plus, minus)
    assert torch.equal(decisions, (bank.offsets > 0).expand(5, 3))
    probability = bank(plus, minus, mode="soft", hardness=1e9)
    assert torch.allclose(probability, decisions.double())
    with pytest.raises(ValueError, match="hardness"):
        bank(plus, minus, mode="soft")
    assert np.all(np.isfinite(bank.offsets.numpy()))
