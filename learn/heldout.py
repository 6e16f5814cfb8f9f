"""Validation scores free of the attackers' own model selection (cross-fitting).

Every attack of the suite and the face detector choose their epoch (the logistic regression
also its weight decay, k-NN its k) on the validation part; the validation accuracy they report is the
best one seen, so it is optimistic, and by an amount that differs from encoder to encoder
(noisy validation curves of a 12,288-value blurred image profit more from the maximum than those
of an 8 x 8 code). Comparing encoders on those numbers compares their luck as well.

:func:`heldout_validation` scores an encoder on validation images its models did not select
on: the validation parts are halved (per identity, and faces / no-faces apart,
:func:`validation_halves`); fold k selects on half k and is scored on the other half, which
:func:`learn.evaluation.evaluate_encoder` reads as that fold's test part. Each validation image
is scored once, by the fold that did not select on it. :func:`crossfit_validation` scores more
images: the training and validation parts pooled and cut into k blocks per person, each block
scored by models trained on k - 2 others and selected on the next. The test parts are never
read. :func:`unseen_identity_data` gives either of them people that encoders learned from LFW
never saw and no study choice was made on (a replication).

>>> from learn import datasets                                          # doctest: +SKIP
>>> from learn.evaluation import data_from_splits                       # doctest: +SKIP
>>> data = data_from_splits(datasets.default_splits(0))                 # doctest: +SKIP
>>> scores = heldout_validation(encoder, data, seed=0)                  # doctest: +SKIP
>>> scores["identity"], scores["face"], scores["selected_identity"]     # doctest: +SKIP
"""
from __future__ import annotations

from typing import Optional, Sequence

import numpy as np
import torch

from learn.evaluation import EvaluationData, Part, evaluate_encoder

#: Attacks :func:`heldout_validation` scores with by default (the strongest on 8 x 8 codes).
DEFAULT_ATTACKS = ("logistic", "mlp")


def fold_indices(labels: torch.Tensor, k: int, seed: int) -> "tuple[torch.Tensor, ...]":
    """``k`` disjoint index sets covering ``labels`` [N], each class cut into ``k`` contiguous
    blocks of a seeded random order of its items; a class's remainder items go to the folds
    after those the previous remainders filled, so the folds' sizes differ by at most one.

    Returns
    -------
    tuple of ``k`` int64 tensors, each sorted.
    """
    if not isinstance(k, int) or k < 2:
        raise ValueError(f"k: {k!r} is not allowed; need an integer >= 2")
    values = np.asarray(labels.cpu())
    rng = np.random.default_rng(int(seed))
    folds: "list[list[np.ndarray]]" = [[] for _ in range(k)]
    offset = 0
    for label in np.unique(values):
        members = rng.permutation(np.flatnonzero(values == label))
        size, extra = divmod(len(members), k)
        edges = np.cumsum([0] + [size + ((f - offset) % k < extra) for f in range(k)])
        for f in range(k):
            folds[f].append(members[edges[f]:edges[f + 1]])
        offset = (offset + extra) % k
    return tuple(torch.as_tensor(np.sort(np.concatenate(fold)), dtype=torch.int64)
                 for fold in folds)


def half_indices(labels: torch.Tensor, seed: int) -> "tuple[torch.Tensor, torch.Tensor]":
    """:func:`fold_indices` with k = 2: each class split in half, the odd item of an
    odd-sized class going to the first and the second half in turn."""
    return fold_indices(labels, 2, seed)


def _take(part, index: torch.Tensor) -> Part:
    return Part(part.images[index], part.labels[index])


def validation_halves(data: EvaluationData, seed: int = 0
                      ) -> "tuple[EvaluationData, EvaluationData]":
    """The two folds of :func:`heldout_validation`.

    Fold k's validation parts are half k of ``data``'s (identity: per person; detection: faces
    and no-faces apart, :func:`half_indices`), its test parts the other half; its training
    parts are ``data``'s. ``data``'s test parts are in neither fold.

    Raises ValueError when a validation part is too small to halve (fewer than 2 items, or a
    class of the detection part with fewer than 2).
    """
    halves = {}
    for name in ("id_val", "det_val"):
        part = getattr(data, name)
        if len(part.labels) < 2:
            raise ValueError(f"{name}: {len(part.labels)} image(s) cannot be halved; held-out "
                             f"validation needs at least 2")
        first, second = half_indices(part.labels, seed)
        if name == "det_val" and any(len(torch.unique(part.labels[h])) < 2
                                     for h in (first, second)):
            raise ValueError("det_val: each half needs faces and no-faces (at least 2 of each)")
        halves[name] = (_take(part, first), _take(part, second))
    folds = []
    for k in (0, 1):
        folds.append(EvaluationData(
            id_train=data.id_train, id_val=halves["id_val"][k], id_test=halves["id_val"][1 - k],
            det_train=data.det_train, det_val=halves["det_val"][k],
            det_test=halves["det_val"][1 - k], num_classes=data.num_classes))
    return folds[0], folds[1]


def heldout_validation(encoder, data: EvaluationData, seed: int,
                       attacks: Sequence[str] = DEFAULT_ATTACKS, budget=None,
                       n_augment: Optional[int] = None, utility: bool = True) -> dict:
    """Validation scores of ``encoder`` at evaluation seed ``seed`` on images no model selected on.

    Parameters
    ----------
    encoder : callable
        ``encoder(images, generator) -> codes``, as :func:`learn.evaluation.evaluate_encoder`.
    data : EvaluationData
        Its train and validation parts are used; its test parts are not read.
    seed : int
        Evaluation seed (attack weights, batches, the camera's noise, and the halving).
    attacks : sequence of str
        Suite members (:data:`learn.attacks.ATTACK_NAMES`).
    budget : learn.attacks.AttackBudget, optional
        Default: the full profile's (``learn.table1_rows.FULL``).
    n_augment : int, optional
        Default: the full profile's.
    utility : bool
        Also the face vs no-face detector (else ``face`` and ``selected_face`` are None).

    Returns
    -------
    dict
        ``val_top1`` (attack -> top-1 on held-out validation images, 0..1: hits over both
        halves / images), ``identity`` (its maximum over attacks), ``face`` (the detector's
        held-out accuracy, 0..1), and the selection-biased figures for comparison:
        ``selected_top1`` (attack -> the two folds' best validation top-1, averaged by half
        size), ``selected_identity``, ``selected_face``.
    """
    return score_folds(encoder, validation_halves(data, seed), seed, attacks, budget,
                       n_augment, utility)


def crossfit_folds(data: EvaluationData, k: int = 5, seed: int = 0) -> "list[EvaluationData]":
    """``k`` folds over ``data``'s training and validation parts pooled (identity: per person;
    detection: faces and no-faces apart; :func:`fold_indices`): fold f scores block f (its test
    part), selects on block f + 1 (mod k) and trains on the other k - 2. Every pooled image is
    scored once, by models that neither trained nor selected on it; ``data``'s test parts are
    in no fold.

    Raises ValueError for k < 3 (a fold needs blocks to train, select and score on), a pooled
    part with fewer than k items, a detection class with fewer than k or a person with fewer
    than 3 (each fold trains on every person).
    """
    if not isinstance(k, int) or k < 3:
        raise ValueError(f"k: {k!r} is not allowed; need an integer >= 3 (train, select, score)")
    pooled, blocks = {}, {}
    for task in ("id", "det"):
        train, val = getattr(data, f"{task}_train"), getattr(data, f"{task}_val")
        pooled[task] = Part(torch.cat([train.images, val.images]),
                            torch.cat([train.labels, val.labels]))
        if len(pooled[task].labels) < k:
            raise ValueError(f"{task}_train + {task}_val: {len(pooled[task].labels)} images "
                             f"cannot make {k} folds")
        counts = torch.bincount(pooled[task].labels)
        need = k if task == "det" else 3      # det: both classes in every block; id: a person
        if int(counts[counts > 0].min()) < need:  # in every fold's training part
            raise ValueError(f"{task}_train + {task}_val: a class has "
                             f"{int(counts[counts > 0].min())} images; {k} folds need at least "
                             f"{need} of each")
        blocks[task] = fold_indices(pooled[task].labels, k, seed)
    folds = []
    for f in range(k):
        parts = {}
        for task in ("id", "det"):
            rest = torch.cat([blocks[task][g] for g in range(k) if g not in (f, (f + 1) % k)])
            parts[f"{task}_train"] = _take(pooled[task], rest.sort().values)
            parts[f"{task}_val"] = _take(pooled[task], blocks[task][(f + 1) % k])
            parts[f"{task}_test"] = _take(pooled[task], blocks[task][f])
        folds.append(EvaluationData(**parts, num_classes=data.num_classes))
    return folds


def crossfit_validation(encoder, data: EvaluationData, seed: int, k: int = 5,
                        attacks: Sequence[str] = DEFAULT_ATTACKS, budget=None,
                        n_augment: Optional[int] = None, utility: bool = True) -> dict:
    """:func:`heldout_validation` over :func:`crossfit_folds`: every training and validation
    image of ``data`` scored once (913 images of the bundled split instead of its 228
    validation images), by models trained on 3/5 of them and selected on 1/5 (k = 5). Costs k
    evaluations. Same keys as :func:`heldout_validation`."""
    return score_folds(encoder, crossfit_folds(data, k, seed), seed, attacks, budget,
                       n_augment, utility)


def unseen_identity_data(splits) -> EvaluationData:
    """Evaluation data of the face set's ENCODER identities, for encoders that never learned
    from them (learned from LFW's role E, ``learn.encoder_faces``): with the bundled
    ``faces64_wide`` the 32 people outside the 30 evaluation identities, 775 images.

    No study design learned from these people or was chosen on their images, so
    :func:`crossfit_validation` on them replicates a comparison made on the evaluation
    identities with images nothing has seen. Identity parts: ``splits.encoder_train`` and
    ``splits.encoder_val``; detection parts: the same faces and the ``nonfaces_train`` /
    ``nonfaces_val`` images (the no-faces are those of the evaluation split's detection parts,
    so face accuracy is not as unseen as identity). The test parts are empty: the evaluation
    split's test images are not read.

    Parameters
    ----------
    splits : learn.datasets.Splits
        As ``learn.datasets.default_splits`` makes them, NOT passed through
        ``learn.encoder_faces.with_encoder_faces`` (its encoder parts are the people the
        designs learn from).

    Returns
    -------
    EvaluationData
        Labels ``0 .. P - 1`` over the P encoder identities; images float32 [N, 3, 64, 64].

    Raises
    ------
    ValueError
        When the encoder parts are empty or hold a person of LFW's role E or A
        (``learn.lfw.identity_roles``: the people learned from and attacked with).
    """
    from learn.datasets import to_tensor
    from learn.evaluation import detection_part
    from learn.lfw import check_disjoint, identity_roles, load_lfw

    train, val = splits.encoder_train, splits.encoder_val
    if len(train) == 0:
        raise ValueError("splits: the encoder parts are empty; there is nobody to score")
    roles = identity_roles(load_lfw())
    check_disjoint({"the encoder parts": set(train.names) | set(val.names),
                    "E (encoder)": roles.encoder, "A (attacker)": roles.attacker},
                   allowed={frozenset({"E (encoder)", "A (attacker)"})})

    def faces(part) -> Part:
        labels = torch.as_tensor(np.array(part.labels), dtype=torch.int64)
        return Part(to_tensor(part.images), labels)

    def detection(face_part, nonface_part) -> Part:
        return detection_part(to_tensor(face_part.images), to_tensor(nonface_part.images))

    id_train, id_val = faces(train), faces(val)
    empty = Part(id_train.images[:0], id_train.labels[:0])
    return EvaluationData(id_train=id_train, id_val=id_val, id_test=empty,
                          det_train=detection(train, splits.nonfaces_train),
                          det_val=detection(val, splits.nonfaces_val), det_test=empty,
                          num_classes=train.num_classes)


def score_folds(encoder, folds: "Sequence[EvaluationData]", seed: int,
                attacks: Sequence[str] = DEFAULT_ATTACKS, budget=None,
                n_augment: Optional[int] = None, utility: bool = True) -> dict:
    """Evaluate ``encoder`` on each fold (selection on its validation part, scores on its test
    part) and pool: held-out figures weighted by test-part size, selected-on figures by
    validation-part size (keys of :func:`heldout_validation`)."""
    from learn.table1_rows import FULL

    results = [evaluate_encoder(encoder, fold, seeds=(int(seed),), attacks=tuple(attacks),
                                budget=budget or FULL.budget,
                                n_augment=FULL.n_augment if n_augment is None else n_augment,
                                utility=utility, progress=False) for fold in folds]

    def weighted(values: Sequence[float], part: str) -> float:
        sizes = [len(getattr(fold, part).labels) for fold in folds]
        return float(sum(v * n for v, n in zip(values, sizes)) / sum(sizes))

    held, selected = {}, {}
    for attack in attacks:
        scores = [next(s for s in r.privacy.scores if s.attack == attack) for r in results]
        held[attack] = weighted([s.test_top1 for s in scores], "id_test")
        selected[attack] = weighted([s.val_top1 for s in scores], "id_val")
    face = selected_face = None
    if utility:
        face = weighted([r.utility.test_accuracy.mean for r in results], "det_test")
        selected_face = weighted([r.utility.val_accuracy.mean for r in results], "det_val")
    return {"val_top1": held, "identity": max(held.values()), "face": face,
            "selected_top1": selected, "selected_identity": max(selected.values()),
            "selected_face": selected_face}


__all__ = ["DEFAULT_ATTACKS", "crossfit_folds", "crossfit_validation", "fold_indices",
           "half_indices", "heldout_validation", "score_folds", "unseen_identity_data",
           "validation_halves"]
