"""Held-out validation: each validation image scored by a model that did not select on it."""
from __future__ import annotations

import statistics

import pytest
import torch

from learn.attacks import AttackBudget
from learn.evaluation import EvaluationData, Part
from learn.heldout import (crossfit_folds, crossfit_validation, fold_indices, half_indices,
                          heldout_validation, validation_halves)
from tests.learn.test_evaluation import TINY, pooled_camera, tiny_data

K = 5


def test_halves_split_every_class_and_cover_the_part_once():
    labels = torch.tensor([0] * 7 + [1] * 4 + [2] * 1 + [3] * 6)
    first, second = half_indices(labels, seed=3)
    assert sorted(first.tolist() + second.tolist()) == list(range(len(labels)))
    for label, count in ((0, 7), (1, 4), (3, 6)):
        a, b = int((labels[first] == label).sum()), int((labels[second] == label).sum())
        assert a + b == count and abs(a - b) <= 1
    again = half_indices(labels, seed=3)
    assert torch.equal(first, again[0]) and torch.equal(second, again[1])
    other = half_indices(labels, seed=4)
    assert not torch.equal(first, other[0])
    assert abs(len(first) - len(second)) <= 1          # odd classes alternate their extra item


def test_folds_swap_the_halves_and_leave_the_test_parts_out():
    log: list = []
    data = tiny_data(log)                          # test parts that log every read
    one, two = validation_halves(data, seed=0)
    assert torch.equal(one.id_val.images, two.id_test.images)
    assert torch.equal(one.id_test.labels, two.id_val.labels)
    assert torch.equal(one.det_val.images, two.det_test.images)
    held = torch.cat([one.id_val.images, one.id_test.images])
    assert held.shape[0] == data.id_val.images.shape[0]
    for fold in (one, two):
        assert fold.id_train is data.id_train and fold.det_train is data.det_train
    heldout_validation(pooled_camera, data, seed=0, budget=TINY, n_augment=0)
    assert log == []


def test_test_parts_are_never_read():
    data = tiny_data()
    poisoned = EvaluationData(data.id_train, data.id_val,
                              Part(torch.full_like(data.id_test.images, float("nan")),
                                   torch.zeros_like(data.id_test.labels)),
                              data.det_train, data.det_val,
                              Part(torch.full_like(data.det_test.images, float("nan")),
                                   torch.zeros_like(data.det_test.labels)), data.num_classes)
    clean = heldout_validation(pooled_camera, data, seed=1, budget=TINY, n_augment=0)
    assert heldout_validation(pooled_camera, poisoned, seed=1, budget=TINY, n_augment=0) == clean
    assert 0 <= clean["identity"] <= 1 and 0 <= clean["face"] <= 1
    assert clean["identity"] == max(clean["val_top1"].values())


def _identity_free_data(seed: int) -> EvaluationData:
    generator = torch.Generator().manual_seed(seed)

    def faces(count: int) -> Part:
        return Part(torch.rand(count, 3, 8, 8, generator=generator),
                    torch.arange(count) % K)

    def detection(count: int) -> Part:
        return Part(torch.rand(count, 3, 8, 8, generator=generator), torch.arange(count) % 2)

    return EvaluationData(faces(60), faces(20), faces(10), detection(10), detection(10),
                          detection(10), K)


def crop_encoder(images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """A corner of the scene: of :func:`_identity_free_data`'s random scenes, nothing of the
    person, so an attacker's true accuracy is chance, 1/K (it can memorise its training codes,
    and its validation accuracy wanders from epoch to epoch)."""
    return images[:, :, :4, :4]


def test_an_identity_free_encoder_scores_chance_held_out_but_not_when_selected_on():
    # The answer is known: nothing in the codes, so any accuracy above 1/K is selection luck.
    budget = AttackBudget(flat_epochs=100, patience=100, batch_size=16)
    runs = [heldout_validation(crop_encoder, _identity_free_data(seed), seed=seed,
                               attacks=("logistic",), budget=budget, n_augment=0,
                               utility=False) for seed in range(24)]
    held = statistics.fmean(r["identity"] for r in runs)
    selected = statistics.fmean(r["selected_identity"] for r in runs)
    # 24 seeds x 20 validation images = 480 predictions at p = 1/5: standard error 0.018
    three_errors = 3 * (0.2 * 0.8 / 480) ** 0.5
    assert abs(held - 1 / K) < three_errors
    assert selected > 1 / K + three_errors
    assert all(r["face"] is None for r in runs)


def test_an_identifying_encoder_scores_high_held_out():
    def data_with_signature() -> EvaluationData:
        generator = torch.Generator().manual_seed(0)

        def faces(count: int) -> Part:
            labels = torch.arange(count) % K
            images = 0.05 * torch.rand(count, 3, 8, 8, generator=generator)
            images[torch.arange(count), 0, 0, labels] = 1.0     # the identity, one-hot
            return Part(images, labels)

        return EvaluationData(faces(60), faces(40), faces(10), faces(10), faces(10), faces(10), K)

    scores = heldout_validation(lambda images, generator: images, data_with_signature(), seed=0,
                                attacks=("logistic",),
                                budget=AttackBudget(flat_epochs=60, patience=60, batch_size=16),
                                n_augment=0, utility=False)
    assert scores["identity"] > 0.9


def test_too_small_validation_parts_are_refused():
    data = tiny_data()
    tiny = EvaluationData(data.id_train, Part(data.id_val.images[:1], data.id_val.labels[:1]),
                          data.id_test, data.det_train, data.det_val, data.det_test,
                          data.num_classes)
    with pytest.raises(ValueError, match="id_val: 1 image"):
        validation_halves(tiny)
    faces_only = Part(data.det_val.images[:4], torch.ones(4, dtype=torch.int64))
    lopsided = EvaluationData(data.id_train, data.id_val, data.id_test, data.det_train,
                              faces_only, data.det_test, data.num_classes)
    with pytest.raises(ValueError, match="faces and no-faces"):
        validation_halves(lopsided)


def test_fold_indices_balance_every_class_and_the_folds():
    labels = torch.tensor([0] * 7 + [1] * 4 + [2] * 1 + [3] * 6 + [4] * 3)
    folds = fold_indices(labels, 3, seed=1)
    assert sorted(torch.cat(folds).tolist()) == list(range(len(labels)))
    sizes = [len(f) for f in folds]
    assert max(sizes) - min(sizes) <= 1
    for label in range(5):
        counts = [int((labels[f] == label).sum()) for f in folds]
        assert max(counts) - min(counts) <= 1
    with pytest.raises(ValueError, match="k: 1"):
        fold_indices(labels, 1, seed=0)


def test_crossfit_scores_every_training_and_validation_image_once_never_the_test():
    log: list = []
    data = tiny_data(log)
    folds = crossfit_folds(data, k=3, seed=0)
    pooled = torch.cat([data.id_train.images, data.id_val.images])
    scored = torch.cat([fold.id_test.images for fold in folds])
    assert scored.shape[0] == pooled.shape[0]
    key = lambda images: sorted(map(tuple, images.flatten(1)[:, :4].tolist()))
    assert key(scored) == key(pooled)
    for f, fold in enumerate(folds):
        # train, select and score on disjoint blocks; fold f selects on what fold f + 1 scores
        assert torch.equal(fold.id_val.images, folds[(f + 1) % 3].id_test.images)
        assert len(fold.id_train.labels) + len(fold.id_val.labels) + len(
            fold.id_test.labels) == pooled.shape[0]
        assert set(fold.det_test.labels.tolist()) == {0, 1}
    scores = crossfit_validation(pooled_camera, data, seed=0, k=3, budget=TINY, n_augment=0)
    assert log == []
    assert 0 <= scores["identity"] <= 1 and 0 <= scores["face"] <= 1
    with pytest.raises(ValueError, match="k: 2"):
        crossfit_folds(data, k=2)


def test_crossfit_of_an_identity_free_encoder_scores_chance():
    budget = AttackBudget(flat_epochs=100, patience=100, batch_size=16)
    runs = [crossfit_validation(crop_encoder, _identity_free_data(seed), seed=seed, k=4,
                                attacks=("logistic",), budget=budget, n_augment=0,
                                utility=False) for seed in range(6)]
    held = statistics.fmean(r["identity"] for r in runs)
    # 6 seeds x 80 pooled images = 480 predictions at p = 1/5
    assert abs(held - 1 / K) < 3 * (0.2 * 0.8 / 480) ** 0.5


def test_crossfit_refuses_classes_too_small_for_its_folds():
    data = tiny_data()
    few = Part(torch.cat([data.det_val.images[:2], data.det_val.images[:6]]),
               torch.tensor([0, 0] + [1] * 6))
    lopsided = EvaluationData(data.id_train, data.id_val, data.id_test,
                              Part(few.images[:0], few.labels[:0]), few, data.det_test,
                              data.num_classes)
    with pytest.raises(ValueError, match="det_train \\+ det_val: a class has 2 images"):
        crossfit_folds(lopsided, k=3)
    lonely = Part(torch.cat([data.id_train.images, data.id_val.images[:1]]),
                  torch.cat([data.id_train.labels, torch.tensor([7])]))
    sparse = EvaluationData(lonely, Part(data.id_val.images[:0], data.id_val.labels[:0]),
                            data.id_test, data.det_train, data.det_val, data.det_test, 8)
    with pytest.raises(ValueError, match="id_train \\+ id_val: a class has 1 images"):
        crossfit_folds(sparse, k=3)


def test_half_indices_are_pinned():
    # the committed held-out records (docs/results/learning_study/heldout.jsonl) used these
    first, second = half_indices(torch.tensor([0, 0, 0, 1, 1, 2, 2, 2]), seed=0)
    assert (first.tolist(), second.tolist()) == ([0, 2, 4, 5], [1, 3, 6, 7])


def test_unseen_identities_are_nobody_a_study_design_saw():
    from learn import datasets
    from learn.encoder_faces import with_encoder_faces
    from learn.heldout import unseen_identity_data

    splits = datasets.default_splits(0)
    data = unseen_identity_data(splits)
    people = set(splits.encoder_train.names)
    assert data.num_classes == len(people) == 32
    # not the evaluation identities, nor the people the study's designs learn from
    assert not people & set(splits.eval_train.names)
    learned_from = with_encoder_faces(splits, "lfw-e", seed=0)
    assert not people & set(learned_from.encoder_train.names)
    # none of the scored images is an evaluation image or one the designs learned from
    scored = {image.tobytes() for image in
              torch.cat([data.id_train.images, data.id_val.images]).numpy()}
    assert len(scored) == 775

    def seen(parts) -> set:
        return {image.tobytes() for part in parts
                for image in datasets.to_tensor(part.images).numpy()}
    assert not scored & seen((splits.eval_train, splits.eval_val, splits.eval_test,
                              learned_from.encoder_train, learned_from.encoder_val))
    # detection: these faces and the evaluation split's training / validation no-faces only
    assert int((data.det_val.labels == 0).sum()) == len(splits.nonfaces_val)
    assert int((data.det_train.labels == 0).sum()) == len(splits.nonfaces_train)
    assert len(data.id_test.labels) == len(data.det_test.labels) == 0
    folds = crossfit_folds(data, k=5, seed=0)
    assert sum(len(fold.id_test.labels) for fold in folds) == 775
    # the designs' own people are refused: they are not unseen
    with pytest.raises(ValueError, match="E \\(encoder\\)"):
        unseen_identity_data(learned_from)
