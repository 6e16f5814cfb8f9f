"""The protocol: test split read once, after every model is selected; seeds reproduce numbers."""
from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
import torch
from torch.nn import functional as F

import learn.evaluation as evaluation
from learn.attacks import AttackBudget
from learn.evaluation import (AttackScore, EvaluationData, Part, PrivacyResult, Spread,
                              evaluate_encoder, merge_seeds, relative_privacy)

TINY = AttackBudget(cnn_epochs=1, flat_epochs=2, decoder_epochs=1, patience=1, batch_size=16,
                    cnn_width=4)
K = 3


def part(count: int, seed: int, detection: bool = False) -> Part:
    generator = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, 2 if detection else K, (count,), generator=generator)
    images = 0.5 * torch.rand(count, 3, 16, 16, generator=generator) + 0.15 * labels[:, None, None, None]
    return Part(images, labels)


class SpyPart:
    """A test part that logs every read of its images or labels into a shared event list."""

    def __init__(self, inner: Part, log: list, name: str):
        self._inner, self._log, self._name = inner, log, name

    @property
    def images(self) -> torch.Tensor:
        self._log.append(f"read {self._name}")
        return self._inner.images

    @property
    def labels(self) -> torch.Tensor:
        self._log.append(f"read {self._name}")
        return self._inner.labels


def tiny_data(log: "list | None" = None) -> EvaluationData:
    id_test, det_test = part(24, 3), part(24, 6, detection=True)
    if log is not None:
        id_test, det_test = SpyPart(id_test, log, "id_test"), SpyPart(det_test, log, "det_test")
    return EvaluationData(part(30, 1), part(15, 2), id_test, part(30, 4, detection=True),
                          part(15, 5, detection=True), det_test, K)


def pooled_camera(images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """A stand-in camera: 4x4 max-pooling, per-frame gain and 16 levels, plus seeded noise."""
    pooled = F.max_pool2d(images, 4) + 0.01 * torch.randn(images.shape[0], 3, 4, 4,
                                                          generator=generator)
    low = pooled.amin(dim=(1, 2, 3), keepdim=True)
    high = pooled.amax(dim=(1, 2, 3), keepdim=True)
    return torch.round(15 * (pooled - low) / (high - low))


def test_test_split_is_read_once_after_model_selection(monkeypatch):
    log: list = []
    real_make_attack, real_fit_detector = evaluation.make_attack, evaluation._fit_detector

    def spy_make_attack(name, budget, recognisers):
        attack = real_make_attack(name, budget, recognisers)
        fit = attack.fit

        def logged_fit(data, seed):
            log.append(f"fit {name} {seed}")
            return fit(data, seed)

        attack.fit = logged_fit
        return attack

    def spy_fit_detector(*args):
        log.append("fit detector")
        return real_fit_detector(*args)

    monkeypatch.setattr(evaluation, "make_attack", spy_make_attack)
    monkeypatch.setattr(evaluation, "_fit_detector", spy_fit_detector)
    result = evaluate_encoder(pooled_camera, tiny_data(log), seeds=(0, 1), budget=TINY)
    reads = [i for i, event in enumerate(log) if event.startswith("read")]
    fits = [i for i, event in enumerate(log) if event.startswith("fit")]
    assert len(fits) == 2 * (5 + 1)                 # 5 attacks + detector, per seed
    assert reads and min(reads) > max(fits)          # nothing read before every model is fixed
    assert log.count("read id_test") == 2            # images and labels, once
    assert log.count("read det_test") == 2
    assert len(result.privacy.scores) == 10


def test_validation_only_never_reads_the_test_split():
    log: list = []
    dev = evaluate_encoder(pooled_camera, tiny_data(log), seeds=(0, 1), budget=TINY,
                           attacks=("logistic", "mlp"), read_test=False)
    full = evaluate_encoder(pooled_camera, tiny_data(), seeds=(0, 1), budget=TINY,
                            attacks=("logistic", "mlp"))
    assert log == []
    assert [s.val_top1 for s in dev.privacy.scores] == [s.val_top1 for s in full.privacy.scores]
    assert all(math.isnan(s.test_top1) for s in dev.privacy.scores)
    per_attack = dev.privacy.per_attack()
    assert per_attack["mlp"]["val_top1"] == full.privacy.per_attack()["mlp"]["val_top1"]
    assert math.isnan(per_attack["mlp"]["test_top1"].mean)
    assert dev.utility.val_accuracy == full.utility.val_accuracy
    assert math.isnan(dev.utility.test_accuracy.mean)


def test_same_seeds_same_numbers_and_spread():
    first = evaluate_encoder(pooled_camera, tiny_data(), seeds=(0, 1), budget=TINY)
    second = evaluate_encoder(pooled_camera, tiny_data(), seeds=(0, 1), budget=TINY)
    assert first.privacy.scores == second.privacy.scores
    assert first.utility.test_accuracy == second.utility.test_accuracy
    assert first.privacy.seeds == [0, 1]
    spread = first.privacy.top1
    assert len(spread.values) == 2
    assert spread.std == pytest.approx(abs(spread.values[0] - spread.values[1]) / math.sqrt(2))


def test_strongest_attack_and_relative_privacy():
    scores = [AttackScore("a", 0, 0.5, 0.30, 0.6), AttackScore("a", 1, 0.5, 0.50, 0.7),
              AttackScore("b", 0, 0.9, 0.35, 0.9), AttackScore("b", 1, 0.9, 0.35, 0.8)]
    privacy = PrivacyResult(scores, num_classes=20)
    assert privacy.strongest == "a"                  # mean 0.40 > 0.35
    assert privacy.top1.mean == pytest.approx(0.40)
    assert privacy.top5.mean == pytest.approx(0.65)
    assert privacy.chance_top1 == pytest.approx(0.05)
    assert privacy.chance_top5 == pytest.approx(0.25)
    clean = PrivacyResult([AttackScore("a", 0, 1, 0.8, 1)], num_classes=20)
    assert relative_privacy(privacy, clean) == pytest.approx(0.5)
    assert Spread.of([0.2]).std == 0.0


def test_per_seed_encoders_each_serve_their_own_seed():
    """A {seed: encoder} mapping: seed s's attacks and detector see only encoder s's codes."""
    calls: list = []

    def tagged(tag):
        def encoder(images, generator):
            calls.append(tag)
            return pooled_camera(images, generator)
        return encoder

    mapped = evaluate_encoder({0: tagged(0), 1: tagged(1)}, tiny_data(), seeds=(0, 1),
                              budget=TINY, attacks=("logistic",))
    single = evaluate_encoder(pooled_camera, tiny_data(), seeds=(0, 1), budget=TINY,
                              attacks=("logistic",))
    assert mapped.privacy.scores == single.privacy.scores   # same codes, so the same numbers
    assert calls.count(0) == calls.count(1) > 0
    with pytest.raises(ValueError, match="no encoder for seed 2"):
        evaluate_encoder({0: pooled_camera}, tiny_data(), seeds=(0, 2), budget=TINY)


def test_bad_arguments():
    with pytest.raises(ValueError, match="seeds"):
        evaluate_encoder(pooled_camera, tiny_data(), seeds=(), budget=TINY)
    with pytest.raises(ValueError, match="seeds"):
        evaluate_encoder(pooled_camera, tiny_data(), seeds=(1, 1), budget=TINY)
    with pytest.raises(ValueError, match="n_augment"):
        evaluate_encoder(pooled_camera, tiny_data(), seeds=(0,), budget=TINY, n_augment=-1)


def test_balanced_subset_keeps_every_class_evenly():
    labels = np.repeat(np.arange(6), [9, 2, 7, 5, 8, 3])
    index = evaluation.balanced_subset(labels, 13)
    counts = np.bincount(labels[index], minlength=6)
    # round robin: every class once, then every class with items left again, ...
    assert counts.tolist() == [3, 2, 2, 2, 2, 2]
    assert np.all(np.diff(index) > 0)
    assert evaluation.balanced_subset(labels, 100).tolist() == list(range(len(labels)))


def test_quick_subset_of_splits_covers_every_identity():
    from learn import datasets

    rng = np.random.default_rng(1)
    labels = np.repeat(np.arange(8), 10)
    faces = datasets.FaceSet(rng.integers(0, 255, (80, 16, 16, 3), dtype=np.uint8), labels,
                             tuple(f"id{i}" for i in range(8)), tuple(f"f{i}" for i in range(80)))
    nonfaces = datasets.ImageSet(rng.integers(0, 255, (40, 16, 16, 3), dtype=np.uint8),
                                 tuple(f"n{i}" for i in range(40)))
    splits = datasets.make_splits(faces, nonfaces, seed=0, n_eval_identities=5)
    data = evaluation.data_from_splits(splits, max_per_part=10)
    for part in (data.id_train, data.id_val, data.id_test):
        assert sorted(set(part.labels.tolist())) == list(range(5))     # no identity dropped
    assert data.id_train.labels.shape[0] == 10
    assert int(data.det_train.labels.sum()) == 10 and int((data.det_train.labels == 0).sum()) == 10


def test_seeds_evaluated_one_by_one_merge_to_the_same_numbers():
    """learn.table1 runs one task per seed: merging them must equal one call over all seeds."""
    together = evaluate_encoder(pooled_camera, tiny_data(), seeds=(0, 1), budget=TINY)
    apart = merge_seeds([evaluate_encoder(pooled_camera, tiny_data(), seeds=(seed,), budget=TINY)
                         for seed in (0, 1)])
    assert apart.privacy.scores == together.privacy.scores
    assert apart.privacy.top1 == together.privacy.top1
    assert apart.utility == together.utility


def test_merge_seeds_refuses_what_does_not_belong_together():
    one = evaluate_encoder(pooled_camera, tiny_data(), seeds=(0,), budget=TINY, utility=False)
    with pytest.raises(ValueError, match="nothing to merge"):
        merge_seeds([])
    with pytest.raises(ValueError, match="repeat"):
        merge_seeds([one, one])
    other = dataclasses.replace(one, privacy=PrivacyResult(
        [dataclasses.replace(s, seed=1) for s in one.privacy.scores], K + 1))
    with pytest.raises(ValueError, match="numbers of identities"):
        merge_seeds([one, other])
    utility = evaluation.UtilityResult(Spread.of([0.9]), Spread.of([0.8]), 0.5)
    with pytest.raises(ValueError, match="some have a face"):
        merge_seeds([one, dataclasses.replace(one, privacy=dataclasses.replace(
            other.privacy, num_classes=K), utility=utility)])


def test_same_outputs_tells_interchangeable_encoders_from_others():
    """same_outputs: true for two encoders computing the same noiseless function on every
    protocol input; false for another function, another output shape, or noise (the same
    encoder with two generators differs)."""
    from sensor.baselines import gaussian_blur

    data = tiny_data()
    blur = lambda images, generator: gaussian_blur(images, sigma_px=2.0)
    blur_again = lambda images, generator: gaussian_blur(images.clone(), sigma_px=2.0)
    # differs from blur only on augmented copies of the training scenes (brighter than 0.8)
    clipped = lambda images, generator: gaussian_blur(images.clamp(max=0.8), sigma_px=2.0)
    raw = (data.id_train, data.id_val, data.id_test, data.det_train, data.det_val, data.det_test)
    assert all(float(p.images.max()) <= 0.8 for p in raw)
    assert evaluation.same_outputs(blur, blur_again, data, n_augment=1, seed=0)
    assert not evaluation.same_outputs(blur, lambda x, g: gaussian_blur(x, sigma_px=3.0), data, 1, 0)
    assert not evaluation.same_outputs(blur, lambda x, g: blur(x, g)[..., :8, :8], data, 1, 0)
    assert not evaluation.same_outputs(pooled_camera, pooled_camera, data, 1, 0)
    assert not evaluation.same_outputs(blur, clipped, data, 1, 0)
