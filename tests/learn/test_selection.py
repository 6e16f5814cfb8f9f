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
