"""learn.adversaries: pool specs, the closed-form (ridge) adversary and its gradient, pair draws."""
from __future__ import annotations

import doctest
import math

import pytest
import torch

from learn import adversaries
from learn.adversaries import (closed_form_privacy, parse_pool, ridge_scores, sample_pairs,
                               sample_shots)
from learn.networks import make_flat_recogniser


def test_docstring_examples_run():
    result = doctest.testmod(adversaries)
    assert result.attempted > 0 and result.failed == 0


def test_pool_specs():
    assert parse_pool("cnn+linear") == ("cnn", "linear")
    assert parse_pool("linear") == ("linear",)
    for bad in ("", "cnn+cnn", "resnet", "cnn+"):
        with pytest.raises(ValueError, match="adversary_pool"):
            parse_pool(bad)


def _identifiable(people=4, dim=(2, 3, 3), noise=0.05, seed=0, dtype=torch.float64):
    """Two noisy copies of one random code per person: (fit, score, labels)."""
    g = torch.Generator().manual_seed(seed)
    centres = torch.randn(people, *dim, generator=g, dtype=dtype)
    fit = centres + noise * torch.randn(people, *dim, generator=g, dtype=dtype)
    score = centres + noise * torch.randn(people, *dim, generator=g, dtype=dtype)
    return fit, score, torch.arange(people)


def test_closed_form_gradient_matches_finite_differences():
    """torch.autograd.gradcheck (float64) of the scores and of the unclamped privacy term."""
    fit, score, labels = _identifiable()
    fit.requires_grad_(True)
    score.requires_grad_(True)
    assert torch.autograd.gradcheck(
        lambda f, s: ridge_scores(f, labels, s, 4, ridge=0.5), (fit, score))
    assert torch.autograd.gradcheck(
        lambda f, s: closed_form_privacy(f, labels, s, labels, 4, ridge=0.5, temperature=0.2,
                                         clamp=False)[0], (fit, score))
    # the clamped term is the same where the adversary beats chance (identifiable codes)
    clamped, parts = closed_form_privacy(fit, labels, score, labels, 4, ridge=0.5, temperature=0.2)
    assert parts["ridge_ce"] < math.log(4) and parts["ridge_acc"] == 1.0
    assert torch.autograd.gradcheck(
        lambda f, s: closed_form_privacy(f, labels, s, labels, 4, ridge=0.5, temperature=0.2)[0],
        (fit, score))


def test_ridge_identifies_people_and_ignores_a_global_gain():
    fit, score, labels = _identifiable(people=6, noise=0.2)
    scores = ridge_scores(fit, labels, score, 6)
    assert torch.equal(scores.argmax(-1), labels)
    torch.testing.assert_close(ridge_scores(7.0 * fit + 3.0, labels, 7.0 * score + 3.0, 6), scores,
                               rtol=1e-4, atol=1e-5)  # up to the normalisation's epsilon


def test_uninformative_codes_get_no_reward_beyond_chance():
    g = torch.Generator().manual_seed(1)
    fit, score = torch.randn(8, 1, 4, 4, generator=g), torch.randn(8, 1, 4, 4, generator=g)
    labels = torch.arange(8)
    term, parts = closed_form_privacy(fit, labels, score, labels, 8, temperature=0.01)
    assert parts["ridge_ce"] > math.log(8)          # over-confident on noise...
    assert float(term) == pytest.approx(-math.log(8))  # ...counts as chance, no more


def test_pairs_are_two_distinct_images_of_one_person_and_seeded():
    labels = torch.tensor([0, 0, 0, 1, 2, 2, 3, 3, 3, 3, 4])  # people 1 and 4 have one image
    fit, score, local = sample_pairs(labels, 10, torch.Generator().manual_seed(0))
    assert len(fit) == 3 and torch.equal(local, torch.arange(3))
    assert torch.equal(labels[fit], labels[score]) and not torch.any(fit == score)
    assert set(labels[fit].tolist()) <= {0, 2, 3}
    again = sample_pairs(labels, 10, torch.Generator().manual_seed(0))
    assert torch.equal(again[0], fit) and torch.equal(again[1], score)
    with pytest.raises(ValueError, match=">= 2 people"):
        sample_pairs(torch.tensor([0, 0, 1]), 4)


def test_shots_draw_distinct_images_of_people_with_enough_and_one_shot_is_the_pair_draw():
    labels = torch.tensor([0, 0, 0, 0, 1, 1, 2, 2, 2, 2, 2, 3, 3, 3])  # 4, 2, 5, 3 images
    fit, fit_labels, score, score_labels = sample_shots(labels, 10, 3,
                                                        torch.Generator().manual_seed(0))
    assert len(score) == 2 and set(labels[score].tolist()) == {0, 2}  # >= 4 images only
    assert torch.equal(score_labels, torch.arange(2))
    assert torch.equal(fit_labels, torch.tensor([0, 0, 0, 1, 1, 1]))
    for p in range(2):
        person = fit[3 * p:3 * p + 3]
        assert set(labels[person].tolist()) == {int(labels[score[p]])}
        assert len(set(person.tolist()) | {int(score[p])}) == 4     # four different images
    one = sample_shots(labels, 10, 1, torch.Generator().manual_seed(1))
    pairs = sample_pairs(labels, 10, torch.Generator().manual_seed(1))
    assert torch.equal(one[0], pairs[0]) and torch.equal(one[2], pairs[1])
    assert torch.equal(one[1], pairs[2]) and torch.equal(one[3], pairs[2])
    with pytest.raises(ValueError, match=">= 5 training images"):
        sample_shots(labels, 4, 4)
    with pytest.raises(ValueError, match="shots"):
        sample_shots(labels, 4, 0)


def test_more_shots_make_a_stronger_ridge_on_noisy_identities():
    """Person means plus strong per-image noise: one image a person barely identifies, the mean
    of four does (the many-image attacker the evaluation trains)."""
    generator = torch.Generator().manual_seed(0)
    people, dim = 32, 48
    means = torch.randn(people, dim, generator=generator, dtype=torch.float64)

    def faces(count):
        noise = 2.0 * torch.randn(people, count, dim, generator=generator, dtype=torch.float64)
        return (means[:, None] + noise).reshape(people * count, 3, 4, 4)

    labels = torch.arange(people)
    score = faces(1)
    accuracy = {}
    for shots in (1, 4):
        scores = ridge_scores(faces(shots), labels.repeat_interleave(shots), score, people,
                              ridge=0.1)
        accuracy[shots] = float((scores.argmax(dim=-1) == labels).double().mean())
    assert accuracy[4] > accuracy[1] + 0.2


def test_flat_recogniser_is_linear_on_the_normalised_code():
    net = make_flat_recogniser(3, 5, 8)
    assert tuple(net(torch.rand(2, 3, 8, 8)).shape) == (2, 5)
    assert sum(p.numel() for p in net.parameters()) == 3 * 64 * 5 + 5
    with pytest.raises(ValueError, match="x: shape"):
        net(torch.rand(2, 3, 4, 4))
