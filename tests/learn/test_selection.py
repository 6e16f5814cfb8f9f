"""learn.selection: the selection rule, its checkpoint state, the out-of-loop logistic judge."""
from __future__ import annotations

import doctest
import math

import torch

from learn import selection
from learn.selection import Selection, logistic_accuracy


def test_docstring_examples_run():
    result = doctest.testmod(selection)
    assert result.attempted > 0 and result.failed == 0


def _offer_all(target, scores):
    s = Selection(target)
    for a, (identity, face) in enumerate(scores):
        s.offer(a, identity, face, {"w": torch.tensor([float(a)])})
    return s


def test_most_private_design_meeting_the_target_else_the_most_useful():
    scores = [(0.40, 0.97), (0.20, 0.96), (0.10, 0.90), (0.20, 0.96), (0.30, 0.99)]
    s = _offer_all(0.95, scores)
    assert s.alternation == 1  # 0.10 misses the target; a full tie (alternation 3) keeps the earlier
    assert float(s.camera_state["w"]) == 1.0
    assert _offer_all(0.995, scores).alternation == 4  # none meets it: the most useful
    assert _offer_all(0.0, scores).alternation == 2
    assert _offer_all(0.95, [(0.2, 0.96), (0.2, 0.98)]).alternation == 1  # same privacy: more useful
    assert _offer_all(0.95, [(math.nan, 0.99), (0.5, 0.99)]).alternation == 1


def test_state_round_trip_continues_to_the_same_choice():
    scores = [(0.40, 0.97), (0.20, 0.96), (0.10, 0.90), (0.15, 0.98)]
    straight = _offer_all(0.95, scores)
    first = _offer_all(0.95, scores[:2])
    resumed = Selection(0.95)
    resumed.load_state_dict(first.state_dict())
    for a in (2, 3):
        resumed.offer(a, *scores[a], {"w": torch.tensor([float(a)])})
    assert (resumed.alternation, resumed.identity_acc) == (straight.alternation, straight.identity_acc)
    empty = Selection(0.9)
    empty.load_state_dict(Selection(0.9).state_dict())
    assert empty.alternation is None


def test_logistic_judge_reads_separable_codes_and_not_noise():
    g = torch.Generator().manual_seed(0)
    centres = 3 * torch.randn(5, 1, 4, 4, generator=g)
    labels = torch.arange(5).repeat(6)
    codes = centres[labels] + torch.randn(30, 1, 4, 4, generator=g)
    val = centres[labels] + torch.randn(30, 1, 4, 4, generator=g)
    assert logistic_accuracy(codes, labels, val, labels, 5) > 0.9
    noise = torch.randn(30, 1, 4, 4, generator=g)
    assert logistic_accuracy(codes, labels, noise, labels, 5) < 0.5
    again = logistic_accuracy(codes, labels, val, labels, 5)
    assert again == logistic_accuracy(codes, labels, val, labels, 5)  # deterministic


def test_folds_are_stratified_and_each_sample_is_in_one():
    labels = torch.tensor([0] * 7 + [1] * 3 + [2] * 10)
    fold = selection.fold_of_each(labels, 5)
    assert fold.shape == labels.shape and set(fold.tolist()) == set(range(5))
    for person, count in ((0, 7), (2, 10)):  # >= 5 images: in every fold, balanced within one
        per_fold = torch.bincount(fold[labels == person], minlength=5)
        assert per_fold.min() >= 1 and per_fold.max() - per_fold.min() <= 1
    assert torch.bincount(fold, minlength=5).tolist() == [4, 4, 4, 4, 4]


def test_cross_validated_judge_reaches_the_bayes_accuracy_of_two_gaussians():
    """Two classes, 1-D means -1 and +1, unit variance: the Bayes classifier's accuracy is
    Phi(1) = 0.8413 (closed form); 4000 samples put a fitted logistic regression within 2 %."""
    g = torch.Generator().manual_seed(1)
    labels = torch.arange(2).repeat(2000)
    codes = (2.0 * labels - 1.0).view(-1, 1) + torch.randn(4000, 1, generator=g)
    bayes = 0.5 * (1 + math.erf(1 / math.sqrt(2)))
    assert abs(selection.cross_validated_accuracy(codes, labels, 2, folds=5) - bayes) < 0.02
    # every sample is scored once: the folds' held-out accuracies, weighted by their sizes
    fold = selection.fold_of_each(labels, 5)
    parts = [logistic_accuracy(codes[fold != k], labels[fold != k], codes[fold == k],
                               labels[fold == k], 2) * int((fold == k).sum()) for k in range(5)]
    assert selection.cross_validated_accuracy(codes, labels, 2, folds=5) == sum(parts) / 4000
    # labels drawn independently of the codes: chance (0.5), within 4 binomial std errors
    shuffled = labels[torch.randperm(4000, generator=g)]
    assert abs(selection.cross_validated_accuracy(codes, shuffled, 2, folds=5) - 0.5) < 4 * 0.5 / math.sqrt(4000)


def test_cross_validated_judge_rejects_bad_folds():
    import pytest

    with pytest.raises(ValueError, match="folds"):
        selection.cross_validated_accuracy(torch.zeros(4, 2), torch.tensor([0, 1, 0, 1]), 2, folds=1)
    assert math.isnan(selection.cross_validated_accuracy(torch.zeros(0, 2), torch.zeros(0).long(), 2))
