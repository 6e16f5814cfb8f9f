"""The attack suite can fail both ways: near-perfect on a separable problem, chance on noise labels.

References nobody here wrote: the Bayes accuracy of the synthetic problem (classes are separable,
so a consistent learner approaches 100 %), and the binomial distribution of the accuracy of any
classifier on labels independent of the input (mean 1/K).
"""
from __future__ import annotations

import dataclasses
import math

import pytest
import torch
from torch.nn import functional as F

from learn.attacks import (ATTACK_NAMES, AttackBudget, AttackData, accuracy, augment_images,
                           make_attack)

K = 5
#: CI budget: maxima (the best validation epoch is kept); a narrow decoder keeps the
#: reconstruction attack (two networks) short. The slow tests run the default decoder width.
BUDGET = AttackBudget(cnn_epochs=12, flat_epochs=30, decoder_epochs=8, patience=12,
                      batch_size=32, cnn_width=8, decoder_width=16)
FULL_DECODER = dataclasses.replace(BUDGET, decoder_epochs=12,
                                   decoder_width=AttackBudget().decoder_width)
TEST_COUNT = 400
SUITE = [pytest.param(name, BUDGET, id=name) for name in ATTACK_NAMES] + [
    pytest.param("reconstruct", FULL_DECODER, marks=pytest.mark.slow, id="reconstruct-full")]


def synthetic(count: int, seed: int, random_labels: bool = False):
    """Images 3x32x32: a class prototype (fixed) plus noise; the 'camera' is 4x4 max-pooling."""
    prototypes = torch.rand(K, 3, 8, 8, generator=torch.Generator().manual_seed(1234))
    generator = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, K, (count,), generator=generator)
    images = 0.6 * F.interpolate(prototypes[labels], scale_factor=4, mode="nearest") \
        + 0.4 * torch.rand(count, 3, 32, 32, generator=generator)
    codes = torch.round(15.0 * F.max_pool2d(images, 4))
    if random_labels:
        labels = torch.randint(0, K, (count,), generator=generator)
    return images, codes, labels


def attack_data(random_labels: bool) -> "tuple[AttackData, torch.Tensor, torch.Tensor]":
    train, val, test = (synthetic(n, s, random_labels) for n, s in ((200, 1), (100, 2), (TEST_COUNT, 3)))
    data = AttackData(train[1], train[2], val[1], val[2], K, train[0], val[0])
    return data, test[1], test[2]


@pytest.fixture(scope="module")
def separable():
    return attack_data(random_labels=False)


@pytest.fixture(scope="module")
def noise():
    return attack_data(random_labels=True)


@pytest.mark.parametrize("name, budget", SUITE)
def test_attack_learns_a_separable_problem(name, budget, separable):
    data, test_x, test_y = separable
    attack = make_attack(name, budget).fit(data, seed=0)
    assert accuracy(attack.scores(test_x), test_y) >= 0.9
    assert attack.record.val_top1 >= 0.9


@pytest.mark.parametrize("name, budget", SUITE)
def test_attack_is_at_chance_on_noise_labels(name, budget, noise):
    data, test_x, test_y = noise
    attack = make_attack(name, budget).fit(data, seed=0)
    top1 = accuracy(attack.scores(test_x), test_y)
    top2 = accuracy(attack.scores(test_x), test_y, k=2)
    # binomial: TEST_COUNT test samples, p = 1/K (top-1) or 2/K (top-2); 4 standard deviations
    for value, p in ((top1, 1 / K), (top2, 2 / K)):
        assert abs(value - p) <= 4 * math.sqrt(p * (1 - p) / TEST_COUNT)


@pytest.mark.parametrize("name", ("inception", "logistic", "knn"))
def test_same_seed_same_numbers(name, separable):
    data, test_x, _ = separable
    small = AttackBudget(cnn_epochs=2, flat_epochs=3, decoder_epochs=1, patience=2, cnn_width=4)
    first = make_attack(name, small).fit(data, seed=7).scores(test_x)
    second = make_attack(name, small).fit(data, seed=7).scores(test_x)
    assert torch.equal(first, second)


def test_different_seed_different_weights(separable):
    data, test_x, _ = separable
    small = AttackBudget(cnn_epochs=1, flat_epochs=1, decoder_epochs=1, patience=1, cnn_width=4)
    first = make_attack("inception", small).fit(data, seed=0).scores(test_x)
    second = make_attack("inception", small).fit(data, seed=1).scores(test_x)
    assert not torch.equal(first, second)


def test_geometric_augmentation_is_identity_or_mirror():
    # no shift, no jitter: each output is exactly the input or its left-right mirror
    images = torch.rand(64, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    out = augment_images(images, torch.Generator().manual_seed(1), max_shift=0.0, jitter=0.0,
                         max_zoom=0.0, max_rotation_deg=0.0)
    same = (out - images).abs().amax(dim=(1, 2, 3)) < 1e-5
    mirrored = (out - images.flip(-1)).abs().amax(dim=(1, 2, 3)) < 1e-5
    assert bool((same | mirrored).all())
    assert 10 < int(mirrored.sum()) < 54           # flips happen about half the time


def test_shift_moves_content_by_whole_pixels():
    images = torch.zeros(1, 3, 16, 16)
    images[..., 8, 8] = 1.0
    generator = torch.Generator().manual_seed(3)
    out = augment_images(images.expand(200, -1, -1, -1), generator, max_shift=2.0, jitter=0.0,
                         max_zoom=0.0, max_rotation_deg=0.0)
    # the centroid stays within the allowed shift of the original bright pixel (8, 8)
    ys, xs = torch.meshgrid(torch.arange(16.0), torch.arange(16.0), indexing="ij")
    mass = out[:, 0].sum(dim=(1, 2))
    cy = (out[:, 0] * ys).sum(dim=(1, 2)) / mass
    cx = (out[:, 0] * xs).sum(dim=(1, 2)) / mass
    assert float((cy - 8).abs().max()) <= 2.0 + 1e-4
    assert float((cx - 7.5).abs().max()) <= 2.5 + 1e-4   # a mirror maps column 8 to 7
    assert float(cy.std()) > 0.3


def test_zoom_and_rotation_act_about_the_centre():
    # a centred bright disc: rotation and zoom about the centre keep its centroid and only
    # scale its area by zoom^2 (closed form), within the allowed range
    ys, xs = torch.meshgrid(torch.arange(32.0), torch.arange(32.0), indexing="ij")
    radius2 = (ys - 15.5) ** 2 + (xs - 15.5) ** 2
    disc = (radius2 <= 36.0).float().expand(300, 3, -1, -1)
    out = augment_images(disc, torch.Generator().manual_seed(5), max_shift=0.0, jitter=0.0,
                         max_zoom=0.2, max_rotation_deg=30.0)[:, 0]
    mass = out.sum(dim=(1, 2))
    assert float(((out * ys).sum(dim=(1, 2)) / mass - 15.5).abs().max()) < 0.05
    assert float(((out * xs).sum(dim=(1, 2)) / mass - 15.5).abs().max()) < 0.05
    area_ratio = mass / disc[0, 0].sum()
    # theta maps output to input: a zoom factor s shrinks the disc's area by 1 / s^2
    assert float(area_ratio.min()) >= 1 / 1.2 ** 2 - 0.05
    assert float(area_ratio.max()) <= 1 / 0.8 ** 2 + 0.05
    assert float(area_ratio.std()) > 0.05                  # the zoom does vary


def test_rotation_turns_an_off_centre_dot():
    # zero zoom and shift, no flip possible to tell apart: a dot right of centre stays on the
    # circle of its radius (a rotation, not a shear), at angles within the allowed range
    images = torch.zeros(1, 3, 33, 33)
    images[..., 16, 26] = 1.0                               # radius 10 px from centre (16, 16)
    out = augment_images(images.expand(400, -1, -1, -1), torch.Generator().manual_seed(2),
                         max_shift=0.0, jitter=0.0, max_zoom=0.0, max_rotation_deg=20.0)[:, 0]
    ys, xs = torch.meshgrid(torch.arange(33.0), torch.arange(33.0), indexing="ij")
    mass = out.sum(dim=(1, 2))
    dy = (out * ys).sum(dim=(1, 2)) / mass - 16.0
    dx = (out * xs).sum(dim=(1, 2)) / mass - 16.0
    radius = torch.sqrt(dx ** 2 + dy ** 2)
    assert float((radius - 10.0).abs().max()) < 0.6         # bilinear smear of one pixel
    angle = torch.rad2deg(torch.atan2(dy, dx.abs()))       # mirror-free angle from the x axis
    assert float(angle.abs().max()) <= 20.0 + 3.0
    assert float(angle.abs().max()) > 10.0


def test_bad_input_is_a_clear_error():
    x = torch.zeros(4, 3, 8, 8)
    with pytest.raises(ValueError, match="train_y"):
        AttackData(x, torch.tensor([0, 1, 2, 9]), x, torch.zeros(4, dtype=torch.int64), 3)
    with pytest.raises(ValueError, match="attack"):
        make_attack("svm")
    with pytest.raises(ValueError, match="cnn_epochs"):
        AttackBudget(cnn_epochs=0)
    data = AttackData(x, torch.zeros(4, dtype=torch.int64), x, torch.zeros(4, dtype=torch.int64), 2)
    with pytest.raises(ValueError, match="reconstruct"):
        make_attack("reconstruct", BUDGET).fit(data, seed=0)
    with pytest.raises(RuntimeError, match="fit"):
        make_attack("mlp").scores(x)
