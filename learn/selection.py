"""Validation-gated selection of the learned design (issue 31, item 4).

After every alternation the *hard* encoder is scored on validation data by judges that are not
in the optimisation loop, and the returned design is

* the most private alternation (lowest identity accuracy) among those whose face accuracy meets
  ``face_target``; or, when none does,
* the most useful one (highest face accuracy; the lower identity accuracy breaks ties).

Ties keep the earlier alternation. The rule is a total order, so keeping only the best
candidate so far (:class:`Selection`) gives the same answer as scoring them all at the end, and
the state is small enough to live in the checkpoint (resume gives the same design).

The judges (:mod:`learn.alternating` calls them):

* identity: :func:`logistic_accuracy`, a fresh multinomial logistic regression fitted on hard
  codes of the judge's people's training images and scored on their held-out images (or,
  ``judge_folds`` > 0, :func:`cross_validated_accuracy` over all their images): encoder
  people taken out of the loop (``learn.alternating.TrainingData.from_splits``,
  ``judge_people``), so the encoder never learned from them and no test role holds them; no
  evaluation part of the split is read.
* utility: the detector's accuracy on hard codes of its validation images (held-out encoder
  faces and no-faces, ``detector_val_acc_hard``).

>>> s = Selection(face_target=0.9)
>>> s.offer(0, identity_acc=0.5, face_acc=0.95, camera_state={})
True
>>> s.offer(1, identity_acc=0.3, face_acc=0.85, camera_state={})   # too little utility
False
>>> s.alternation
0
"""
from __future__ import annotations

import copy
import math
from typing import Optional

import torch
from torch.nn import functional as F

#: ``AlternatingSettings.select`` values.
SELECTS = ("last", "validation")


def logistic_accuracy(train_codes: torch.Tensor, train_labels: torch.Tensor,
                      val_codes: torch.Tensor, val_labels: torch.Tensor, num_classes: int,
                      weight_decay: float = 1e-2, max_iter: int = 100) -> float:
    """Top-1 accuracy on ``val`` of a logistic regression fitted on ``train`` (deterministic).

    Parameters
    ----------
    train_codes, val_codes : torch.Tensor
        [N, ...] codes (flattened; each feature standardised with the training part's mean and
        standard deviation).
    train_labels, val_labels : torch.Tensor
        int64 [N] classes ``0 .. num_classes - 1``.
    num_classes : int
    weight_decay : float
        L2 weight on the weights (not the bias), per training sample's mean loss.
    max_iter : int
        L-BFGS iterations (full batch, zero start, strong-Wolfe line search: no randomness).

    Returns
    -------
    float
        Fraction of ``val`` classified correctly (nan when ``val`` is empty).
    """
    if len(val_labels) == 0:
        return float("nan")
    with torch.enable_grad():
        x = train_codes.detach().flatten(1).double()
        mean, std = x.mean(dim=0), x.std(dim=0, unbiased=False).clamp_min(1e-6)
        x = (x - mean) / std
        y = train_labels.to(x.device)
        weight = torch.zeros(x.shape[1], num_classes, dtype=x.dtype, device=x.device,
                             requires_grad=True)
        bias = torch.zeros(num_classes, dtype=x.dtype, device=x.device, requires_grad=True)
        optimiser = torch.optim.LBFGS([weight, bias], max_iter=max_iter,
                                      line_search_fn="strong_wolfe")

        def closure():
            optimiser.zero_grad()
            loss = F.cross_entropy(x @ weight + bias, y) + weight_decay * weight.square().sum()
            loss.backward()
            return loss

        optimiser.step(closure)
    with torch.no_grad():
        v = (val_codes.detach().flatten(1).double() - mean) / std
        hits = ((v @ weight + bias).argmax(dim=-1) == val_labels.to(v.device)).double().mean()
    return float(hits)


def fold_of_each(labels: torch.Tensor, folds: int) -> torch.Tensor:
    """int64 [N] fold (``0 .. folds - 1``) of each sample: the samples, ordered by class (stable),
    are dealt round-robin to the folds, so the folds' sizes differ by at most one and every
    class with >= ``folds`` samples is in all of them, evenly."""
    labels = labels.long().cpu()
    fold = torch.empty_like(labels)
    fold[torch.sort(labels, stable=True).indices] = torch.arange(len(labels)) % folds
    return fold


def cross_validated_accuracy(codes: torch.Tensor, labels: torch.Tensor, num_classes: int,
                             folds: int = 5, **logistic) -> float:
    """Stratified k-fold accuracy of :func:`logistic_accuracy` (deterministic).

    Every sample is scored once, by the regression fitted on the other folds
    (:func:`fold_of_each`), so all ``N`` samples count, not one held-out part: the score's
    standard error shrinks with ``1 / sqrt(N)``. ``codes`` [N, ...]; ``labels`` int64 [N];
    ``logistic``: :func:`logistic_accuracy`'s ``weight_decay`` / ``max_iter``. Returns the
    fraction classified correctly (nan when ``N`` is 0).
    """
    if not (isinstance(folds, int) and folds >= 2):
        raise ValueError(f"folds: {folds!r} is not allowed; need an integer >= 2")
    if len(labels) == 0:
        return float("nan")
    fold = fold_of_each(labels, folds)
    hits = 0.0
    for k in range(folds):
        held = (fold == k).to(codes.device)
        if bool(held.any()) and bool((~held).any()):
            hits += logistic_accuracy(codes[~held], labels[~held], codes[held], labels[held],
                                      num_classes, **logistic) * int(held.sum())
    return hits / len(labels)


class Selection:
    """The best alternation so far under the rule of the module docstring.

    Parameters
    ----------
    face_target : float
        Utility target in [0, 1] (face vs no-face validation accuracy).
    """

    def __init__(self, face_target: float):
        self.face_target = float(face_target)
        self.alternation: Optional[int] = None
        self.identity_acc = math.nan
        self.face_acc = math.nan
        self.camera_state: Optional[dict] = None

    def key(self, identity_acc: float, face_acc: float) -> tuple:
        """Sort key, larger is better: meeting the target first, then privacy, else utility."""
        identity_acc = 1.0 if math.isnan(identity_acc) else identity_acc
        face_acc = 0.0 if math.isnan(face_acc) else face_acc
        if face_acc >= self.face_target:
            return (1, -identity_acc, face_acc)
        return (0, face_acc, -identity_acc)

    def offer(self, alternation: int, identity_acc: float, face_acc: float,
              camera_state: dict) -> bool:
        """Consider one alternation's scores; keep a copy of its camera if it is better.

        Returns True when it becomes the selection.
        """
        if self.alternation is not None and not (
                self.key(identity_acc, face_acc) > self.key(self.identity_acc, self.face_acc)):
            return False
        self.alternation, self.identity_acc, self.face_acc = int(alternation), identity_acc, face_acc
        self.camera_state = {k: v.detach().clone() for k, v in camera_state.items()}
        return True

    def state_dict(self) -> dict:
        """Plain types and tensors only (checkpoints load with weights_only=True)."""
        return {"alternation": -1 if self.alternation is None else self.alternation,
                "identity_acc": float(self.identity_acc), "face_acc": float(self.face_acc),
                "camera": {} if self.camera_state is None else copy.copy(self.camera_state)}

    def load_state_dict(self, state: dict) -> None:
        """Restore :meth:`state_dict` (ValueError when entries are missing)."""
        missing = {"alternation", "identity_acc", "face_acc", "camera"} - set(state)
        if missing:
            raise ValueError(f"checkpoint: its selection misses {sorted(missing)}")
        alternation = int(state["alternation"])
        self.alternation = None if alternation < 0 else alternation
        self.identity_acc, self.face_acc = float(state["identity_acc"]), float(state["face_acc"])
        self.camera_state = dict(state["camera"]) if self.alternation is not None else None


__all__ = ["SELECTS", "cross_validated_accuracy", "fold_of_each", "logistic_accuracy", "Selection"]
