"""Comparator-tree max-pooling against torch's max_pool2d and an independent Monte-Carlo tree."""
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import analog


def _blocks(x, block):
    n, c, h, w = x.shape
    return (x.reshape(n, c, h // block, block, w // block, block)
            .permute(0, 1, 2, 4, 3, 5).reshape(n, c, h // block, w // block, block * block))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("block", [8, 4, 3, 2, 1])
def test_ideal_tree_is_max_pool2d_bit_for_bit(dtype, block):
    gen = torch.Generator().manual_seed(1)
    shape = (3, 4, 6 * block, 5 * block)
    ties = torch.randint(0, 4, shape, generator=gen).to(dtype)          # many ties
    spread = torch.randn(shape, generator=gen, dtype=dtype) * 1e3
    tiny = torch.randn(shape, generator=gen, dtype=dtype) * 1e-30
    for x in (ties, spread, tiny, -ties):
        out = analog.comparator_tree_max(x, block=block)
        assert out.dtype == x.dtype
        assert torch.equal(out, F.max_pool2d(x, block))


def test_comparator_count():
    assert analog.comparator_count(8) == 63
    assert analog.comparator_count(3) == 8


def _independent_tree_error_fraction(n_blocks, sigma, rng):
    """Plain numpy: a recursive (halving) tree of noisy compare-and-select cells per block."""
    values = rng.uniform(0.0, 1.0, size=(n_blocks, 64))

    def tree(v):
        if v.shape[1] == 1:
            return v[:, 0]
        half = v.shape[1] // 2
        left, right = tree(v[:, :half]), tree(v[:, half:])
        decision = left - right + rng.normal(0.0, sigma, size=n_blocks) > 0
        return np.where(decision, left, right)

    return float(np.mean(tree(values) != values.max(axis=1)))


@pytest.mark.parametrize("sigma", [0.002, 0.01])
@pytest.mark.parametrize("kind", ["offset", "noise"])
def test_error_fraction_matches_independent_monte_carlo(sigma, kind):
    rng = np.random.default_rng(123)
    n_ref = 40000
    reference = _independent_tree_error_fraction(n_ref, sigma, rng)
    gen = torch.Generator().manual_seed(5)
    side = 100
    x = torch.rand((1, 4, 8 * side, 8 * side), generator=gen, dtype=torch.float64)  # 1 V
    kwargs = {"offset_sigma": sigma} if kind == "offset" else {"noise_sigma": sigma}
    out = analog.comparator_tree_max(x, 8, generator=gen, **kwargs)
    truth = F.max_pool2d(x, 8)
    n_impl = out.numel()
    measured = float((out != truth).double().mean())
    pooled = (reference * n_ref + measured * n_impl) / (n_ref + n_impl)
    tolerance = 4.0 * math.sqrt(pooled * (1 - pooled) * (1 / n_ref + 1 / n_impl))
    assert abs(measured - reference) < tolerance, (measured, reference, tolerance)
    print(f"{kind} sigma={sigma}: tree {measured:.4f}, independent MC {reference:.4f}")
    # always one of the block's inputs, never above the true max
    assert bool((_blocks(x, 8) == out[..., None]).any(dim=-1).all())
    assert bool((out <= truth).all())


def test_reference_figure_10mV_about_21_percent():
    # references.md: 10 mV over inputs spread over 1 V -> about 21 % of outputs not the max.
    # (Its 2 mV -> 7 % does not reproduce: this model and the independent MC give about 5 %.)
    gen = torch.Generator().manual_seed(9)
    x = torch.rand((1, 1, 8 * 200, 8 * 200), generator=gen, dtype=torch.float64)
    out = analog.comparator_tree_max(x, 8, offset_sigma=0.01, generator=gen)
    fraction = float((out != F.max_pool2d(x, 8)).double().mean())
    assert abs(fraction - 0.21) < 0.02


def test_module_offsets_fixed_per_seed_and_shared_across_batch():
    gen = torch.Generator().manual_seed(0)
    frame = torch.rand((1, 2, 32, 32), generator=gen)
    batch = frame.repeat(3, 1, 1, 1)
    pool = analog.ComparatorTreeMaxPool(offset_sigma=0.05, seed=11)
    out = pool(batch)
    assert out.shape == (3, 2, 4, 4)
    assert torch.equal(out[0], out[1]) and torch.equal(out[0], out[2])   # one chip
    again = analog.ComparatorTreeMaxPool(offset_sigma=0.05, seed=11)(batch)
    assert torch.equal(out, again)
    other = analog.ComparatorTreeMaxPool(offset_sigma=0.05, seed=12)(batch)
    assert not torch.equal(out, other)
    assert bool((out <= F.max_pool2d(batch, 8)).all())


def test_module_noise_reproducible_with_generator():
    x = torch.rand((2, 3, 16, 16), generator=torch.Generator().manual_seed(2))
    pool = analog.ComparatorTreeMaxPool(noise_sigma=0.05, seed=0)
    a = pool(x, generator=torch.Generator().manual_seed(7))
    b = pool(x, generator=torch.Generator().manual_seed(7))
    c = pool(x, generator=torch.Generator().manual_seed(8))
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_soft_mode_differentiable_and_converges_to_hard():
    x = torch.rand((2, 3, 16, 16), generator=torch.Generator().manual_seed(3),
                   dtype=torch.float64, requires_grad=True)
    pool = analog.ComparatorTreeMaxPool(offset_sigma=0.0)
    soft = pool(x, mode="soft")
    assert torch.equal(soft, F.max_pool2d(x, 8))
    smooth = pool(x, mode="soft", hardness=1e7)
    assert torch.allclose(smooth, F.max_pool2d(x, 8), atol=1e-6)
    smooth.sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0
    # with offsets: a hard soft-tree equals the hard tree with the same chip
    chip = analog.ComparatorTreeMaxPool(offset_sigma=0.02, seed=4)
    y = x.detach()
    assert torch.allclose(chip(y, mode="soft", hardness=1e9), chip(y, mode="hard"), atol=1e-9)


@pytest.mark.parametrize("bad, message", [
    (torch.full((1, 1, 8, 8), float("nan")), "NaN or inf"),
    (torch.zeros((1, 8, 8)), "NCHW"),
    (torch.zeros((1, 1, 9, 8)), "multiple of block"),
    (torch.zeros((1, 1, 8, 8), dtype=torch.int64), "floating-point"),
])
def test_bad_input(bad, message):
    with pytest.raises(ValueError, match=message):
        analog.comparator_tree_max(bad)


def test_bad_parameters():
    x = torch.zeros((1, 1, 8, 8))
    with pytest.raises(ValueError, match="offset_sigma"):
        analog.comparator_tree_max(x, offset_sigma=-1.0)
    with pytest.raises(ValueError, match="block"):
        analog.comparator_tree_max(x, block=0)
    with pytest.raises(ValueError, match="mode"):
        analog.ComparatorTreeMaxPool()(x, mode="fuzzy")


def test_values_too_large_for_a_finite_difference_are_rejected():
    x = torch.zeros((1, 1, 8, 8))
    x[0, 0, 0, 0] = 3e38
    with pytest.raises(ValueError, match="allowed range"):
        analog.comparator_tree_max(x)
