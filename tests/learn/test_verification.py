"""learn.verification: pair scores checked by brute force, and test pairs that never reach a fit."""
from __future__ import annotations

import dataclasses
import itertools

import numpy as np
import pytest
import torch

from learn.attacks import AttackBudget
from learn.datasets import to_srgb_uint8
from learn.lfw import Pairs, identity_roles, load_lfw
from learn.verification import (VerificationData, best_threshold, evaluate_verification,
                                pair_similarity, roc_auc, verification_data)

TINY = AttackBudget(cnn_epochs=1, flat_epochs=2, patience=1, batch_size=32, cnn_width=4)


def test_auc_is_the_fraction_of_matched_over_mismatched_pairs_counting_ties_half():
    rng = np.random.default_rng(0)
    similarity = np.round(rng.normal(size=60), 1)          # rounded: plenty of ties
    same = rng.random(60) < 0.4
    wins = [1.0 if p > n else 0.5 if p == n else 0.0
            for p, n in itertools.product(similarity[same], similarity[~same])]
    assert roc_auc(similarity, same) == pytest.approx(np.mean(wins), abs=1e-12)
    assert roc_auc([0.9, 0.8, 0.1], [True, True, False]) == 1.0
    assert roc_auc([0.1, 0.2, 0.9], [True, True, False]) == 0.0
    with pytest.raises(ValueError):
        roc_auc([0.1, 0.2], [True, True])


def test_the_threshold_is_the_best_of_every_possible_cut():
    rng = np.random.default_rng(1)
    similarity = rng.normal(size=41)
    same = rng.random(41) < 0.5
    threshold, accuracy = best_threshold(similarity, same)
    assert accuracy == np.mean((similarity > threshold) == same)
    exhaustive = max(np.mean((similarity > t) == same) for t in np.r_[similarity, -np.inf])
    assert accuracy == exhaustive


def test_pair_similarity_is_the_cosine_of_each_pair():
    embeddings = torch.tensor([[1.0, 0.0], [0.0, 2.0], [3.0, 3.0]])
    pairs = Pairs(np.array([0, 0, 2]), np.array([1, 2, 2]), np.array([False, True, True]),
                  np.zeros(3, dtype=np.int64))
    np.testing.assert_allclose(pair_similarity(embeddings, pairs), [0.0, 2 ** -0.5, 1.0])


@pytest.fixture(scope="module")
def small_data():
    return verification_data(seed=0, val_people=20, val_pairs=40, max_train_people=40,
                             max_test_pairs=60)


def test_roles_hold_in_the_data_no_test_person_is_trained_or_validated_on(small_data):
    assert len(small_data.test_pairs) == 60 and small_data.test_pairs.same.sum() == 30
    assert small_data.summary()["classes"] == 40
    # images are compared, not names: no test image equals a training or validation image
    test = small_data.test_images.flatten(1)
    for part in (small_data.train_images, small_data.select_images, small_data.val_images):
        assert not (torch.cdist(part.flatten(1), test) < 1e-6).any()
    lfw = load_lfw()
    roles = identity_roles(lfw)
    person_of = {image.tobytes(): lfw.names[label] for image, label in zip(lfw.images, lfw.labels)}

    def people(images: torch.Tensor) -> "set[str]":
        return {person_of[image.tobytes()] for image in to_srgb_uint8(images)}

    assert people(small_data.test_images) <= set(roles.verification)
    assert people(small_data.train_images) | people(small_data.select_images) | people(
        small_data.val_images) <= set(roles.attacker)


def test_poisoned_test_pairs_change_nothing_that_was_fitted(small_data):
    """Every model and threshold is fixed before the test images are read: replace them with
    noise and the validation scores and thresholds are unchanged, bit for bit."""
    encoder = lambda images, generator: images                      # noqa: E731 (clean)
    clean = evaluate_verification(encoder, small_data, seeds=(0,), attacks=("cosine", "mlp"),
                                  budget=TINY, progress=False)
    poisoned_images = torch.rand(small_data.test_images.shape, generator=torch.Generator()
                                 .manual_seed(5))
    poisoned = evaluate_verification(
        encoder, dataclasses.replace(small_data, test_images=poisoned_images), seeds=(0,),
        attacks=("cosine", "mlp"), budget=TINY, progress=False)
    for a, b in zip(clean.scores, poisoned.scores):
        assert (a.attack, a.val_accuracy, a.threshold) == (b.attack, b.val_accuracy, b.threshold)
    assert [s.test_auc for s in clean.scores] != [s.test_auc for s in poisoned.scores]


def test_an_encoder_that_destroys_everything_verifies_at_chance(small_data):
    blank = lambda images, generator: torch.zeros(len(images), 3, 8, 8)   # noqa: E731
    result = evaluate_verification(blank, small_data, seeds=(0,), attacks=("cosine",),
                                   progress=False)
    assert result.auc.mean == 0.5 and result.accuracy.mean == 0.5


def test_unknown_attacks_are_refused(small_data):
    with pytest.raises(ValueError, match="allowed: a non-empty subset"):
        evaluate_verification(lambda x, g: x, small_data, seeds=(0,), attacks=("sift",))
    assert isinstance(small_data, VerificationData)
