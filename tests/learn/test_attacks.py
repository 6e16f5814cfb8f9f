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
from torch import nn
from torch.nn import functional as F

from learn.attack_networks import CodeDecoder
from learn.attacks import (ATTACK_NAMES, AttackBudget, AttackData, accuracy, augment_images, fit,
                           make_attack, train_decoder)

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


class Scale(nn.Module):
    """``w * x`` with one scalar weight ``w`` (0 at the start)."""

    def __init__(self):
        super().__init__()
        self.w = nn.Parameter(torch.zeros(()))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.w * x


def test_loop_restores_the_best_epoch_and_counts_patience_from_it():
    # scripted validation scores: epoch 2 is best; epoch 4 only ties it (no improvement); with
    # patience 3 the loop stops after epoch 5 = 2 + 3 and never sees epoch 6's better score
    scripted = iter([0.2, 0.5, 0.4, 0.5, 0.3, 0.9])
    model, weights = Scale(), []

    def score(outputs, targets):
        weights.append(model.w.detach().clone())            # the weights this epoch ended with
        return next(scripted)

    x = torch.rand(8, 1, 2, 2, generator=torch.Generator().manual_seed(0))
    outcome = fit(model, x, 2.0 * x, x, x, loss=F.l1_loss, score=score, worst=-math.inf,
                  epochs=10, patience=3, batch_size=4, seed=0, lr=0.05, weight_decay=0.0)
    assert (outcome.best_epoch, outcome.epochs_run, outcome.best_score) == (2, 5, 0.5)
    assert len(weights) == 5
    assert len({float(w) for w in weights}) == 5                   # every epoch moved w
    assert torch.equal(model.w.detach(), weights[1])               # epoch 2's weights
    assert not model.training


def test_decoder_keeps_the_epoch_before_validation_got_worse():
    # training pulls w towards 2 (targets 2x) in steps of about lr; validation wants w = 1
    # (targets x), so its L1 error |w - 1| mean|x| falls, then rises once w passes 1
    generator = torch.Generator().manual_seed(0)
    codes, val_codes = torch.rand(16, 1, 2, 2, generator=generator), torch.rand(8, 1, 2, 2,
                                                                                generator=generator)
    decoder, seen = Scale(), []
    decoder.register_forward_hook(
        lambda module, args, out: seen.append(module.w.detach().clone()) if not module.training
        else None)                                            # one validation pass per epoch
    error = train_decoder(decoder, codes, 2.0 * codes, val_codes, val_codes, epochs=40,
                          patience=3, batch_size=4, seed=0, lr=0.1)
    errors = [float((w * val_codes - val_codes).abs().mean()) for w in seen]
    k = min(range(len(errors)), key=errors.__getitem__)
    assert 0 < k < len(seen) - 1 and errors[-1] > errors[k]       # it did get worse after k
    assert len(seen) == k + 1 + 3                                 # stopped after patience 3
    assert torch.equal(decoder.w.detach(), seen[k])
    assert error == pytest.approx(errors[k], rel=1e-6)


def test_loop_trains_on_the_plugged_in_loss():
    # a decoder trained on a loss that is identically zero (and no weight decay) keeps every
    # parameter bit for bit (Adam's step is 0 / (0 + eps) = 0); the L1 loss does move them
    generator = torch.Generator().manual_seed(0)
    codes, images = torch.rand(12, 3, 4, 4, generator=generator), torch.rand(12, 3, 8, 8,
                                                                             generator=generator)
    shapes = []

    def zero(outputs, targets):
        shapes.append((tuple(outputs.shape), tuple(targets.shape)))
        return 0.0 * outputs.sum()

    moved = {}
    for name, loss in (("zero", zero), ("l1", F.l1_loss)):
        torch.manual_seed(0)
        decoder = CodeDecoder(3, 4, 8, width=16, cells=4)
        start = {k: v.detach().clone() for k, v in decoder.named_parameters()}
        fit(decoder, codes, images, codes, images, loss=loss, score=lambda o, t: 0.0,
            worst=-1.0, epochs=2, patience=5, batch_size=5, seed=0, lr=1e-2, weight_decay=0.0)
        moved[name] = [k for k, v in decoder.named_parameters() if not torch.equal(v, start[k])]
    assert moved["zero"] == []
    assert len(moved["l1"]) == len(start)
    # 12 rows in batches of 5: 5, 5, then a tail of 2 -- three steps per epoch, two epochs
    full, tail = ((5, 3, 8, 8), (5, 3, 8, 8)), ((2, 3, 8, 8), (2, 3, 8, 8))
    assert shapes == [full, full, tail] * 2


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
