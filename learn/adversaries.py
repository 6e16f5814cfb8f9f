"""Adversaries the encoder cannot game (issue 31, items 1 and 2): fresh pools and a closed form.

Two building blocks of :mod:`learn.alternating` live here as plain functions:

* **Pool parsing** (``adversary = "fresh"``): which recognisers are re-initialised and trained to
  convergence on hard codes every alternation (:data:`POOL_MEMBERS`: ``"cnn"``, the ResNet
  recogniser of :func:`learn.networks.make_recogniser`, and ``"linear"``, the flat model of
  :func:`learn.networks.make_flat_recogniser`) and how the encoder step uses them
  (:data:`POOL_COMBINES`: the strongest on held-out faces, or the sum of their terms).
* **The closed-form adversary** (``adversary = "closed_form"``): ridge regression from codes to
  identity one-hot, fitted in closed form on one half of a batch of identity pairs and scored on
  the other half, differentiable w.r.t. the codes (``torch.linalg.solve``). It is the optimal
  linear-ridge attacker for the *current* codes at every encoder step, so the encoder cannot
  rearrange identity into a corner the adversary has not learned yet.

The closed form, for fit codes ``Z_f`` [n, D], score codes ``Z_s`` [m, D] (each image and channel
standardised, flattened, centred on the fit half's mean) and one-hot targets ``Y_f`` [n, P]::

    K_ff = Z_f Z_f^T,  lambda = ridge * mean(diag K_ff)
    scores = Z_s Z_f^T (K_ff + lambda I)^-1 (Y_f - mean(Y_f))        # [m, P], dual (kernel) form

(the dual form costs an n x n solve, cheaper than the D x D primal one when n < D; ``lambda``
relative to the kernel's scale keeps the adversary blind to a global gain of the codes). The
privacy term the encoder minimises is ``-min(CE(softmax(scores / temperature), y_s), ln P)``:
the held-out cross-entropy in nats, pushed up, with no reward beyond chance (``ln P``; a
held-out cross-entropy above it would mean *anti*-correlated, i.e. still informative, codes).

>>> import torch
>>> z = torch.randn(8, 3, 2, 2, dtype=torch.float64)
>>> labels = torch.arange(4).repeat(2)                      # people 0..3, two images each
>>> term, parts = closed_form_privacy(z[:4], labels[:4], z[4:], labels[4:], num_classes=4)
>>> float(term) >= -float(torch.log(torch.tensor(4.0))) - 1e-9
True
"""
from __future__ import annotations

import math
from typing import Optional

import torch
from torch.nn import functional as F

#: Members a fresh pool may hold (``AlternatingSettings.adversary_pool``, joined by "+").
POOL_MEMBERS = ("cnn", "linear")
#: How the encoder step uses a fresh pool (``AlternatingSettings.adversary_combine``).
POOL_COMBINES = ("strongest", "sum")


def parse_pool(text: str) -> "tuple[str, ...]":
    """Members of a pool spec such as ``"cnn+linear"`` (order kept, no repeats).

    Raises
    ------
    ValueError
        Empty, repeated or unknown members (names the allowed ones).
    """
    members = tuple(part.strip() for part in str(text).split("+"))
    if not members or any(m not in POOL_MEMBERS for m in members) or len(set(members)) != len(members):
        raise ValueError(f"adversary_pool: {text!r} is not allowed; need members of "
                         f"{list(POOL_MEMBERS)} joined by '+', each at most once (e.g. 'cnn+linear')")
    return members


def flatten_codes(codes: torch.Tensor, eps: float = 1e-5) -> torch.Tensor:
    """Codes [N, C, S, S] -> [N, C*S*S], each image and channel to zero mean, unit variance.

    The same per-frame normalisation as the networks' InstanceNorm: a global gain or offset of
    the codes carries no information for the adversary.
    """
    if codes.ndim < 3:
        raise ValueError(f"codes: shape {tuple(codes.shape)} is not allowed; need [N, C, H, W]")
    flat = codes.flatten(2)
    mean = flat.mean(dim=-1, keepdim=True)
    var = flat.var(dim=-1, unbiased=False, keepdim=True)
    return ((flat - mean) / torch.sqrt(var + eps)).flatten(1)


def ridge_scores(codes_fit: torch.Tensor, labels_fit: torch.Tensor, codes_score: torch.Tensor,
                 num_classes: int, ridge: float = 1.0) -> torch.Tensor:
    """Held-out scores [m, P] of ridge regression to one-hot identity, fitted in closed form.

    Parameters
    ----------
    codes_fit : torch.Tensor
        [n, C, S, S] codes the ridge is fitted on (differentiable).
    labels_fit : torch.Tensor
        int64 [n], identities ``0 .. num_classes - 1``.
    codes_score : torch.Tensor
        [m, C, S, S] codes to score (differentiable).
    num_classes : int
        P, the number of identities.
    ridge : float
        Regularisation relative to the kernel's mean diagonal (> 0).

    Returns
    -------
    torch.Tensor
        [m, P]; about 1 for the true identity and 0 elsewhere when the codes identify people.
    """
    if not ridge > 0:
        raise ValueError(f"ridge: {ridge!r} is not allowed; need a number > 0")
    fit, score = flatten_codes(codes_fit), flatten_codes(codes_score)
    centre = fit.mean(dim=0, keepdim=True)
    fit, score = fit - centre, score - centre
    targets = F.one_hot(labels_fit, num_classes).to(fit.dtype)
    targets = targets - targets.mean(dim=0, keepdim=True)
    kernel = fit @ fit.T
    lam = ridge * kernel.diagonal().mean().clamp_min(1e-12)
    eye = torch.eye(len(fit), dtype=fit.dtype, device=fit.device)
    return (score @ fit.T) @ torch.linalg.solve(kernel + lam * eye, targets)


def closed_form_privacy(codes_fit: torch.Tensor, labels_fit: torch.Tensor,
                        codes_score: torch.Tensor, labels_score: torch.Tensor, num_classes: int,
                        ridge: float = 1.0, temperature: float = 0.1,
                        clamp: bool = True) -> "tuple[torch.Tensor, dict]":
    """Privacy term (to minimise) of the closed-form adversary, and its parts as floats.

    ``term = -min(CE(softmax(scores / temperature), labels_score), ln P)`` in nats, with
    ``scores`` from :func:`ridge_scores`; ``clamp=False`` drops the ``min`` (gradient checks).

    Returns
    -------
    (torch.Tensor, dict)
        The scalar term (in ``[-ln P, 0]`` when clamped) and ``{"ridge_ce": nats,
        "ridge_acc": held-out top-1 accuracy of the ridge}``.
    """
    if not temperature > 0:
        raise ValueError(f"temperature: {temperature!r} is not allowed; need a number > 0")
    scores = ridge_scores(codes_fit, labels_fit, codes_score, num_classes, ridge)
    ce = F.cross_entropy(scores / temperature, labels_score)
    term = -torch.clamp(ce, max=math.log(num_classes)) if clamp else -ce
    accuracy = float((scores.argmax(dim=-1) == labels_score).float().mean())
    return term, {"ridge_ce": float(ce.detach()), "ridge_acc": accuracy}


def pair_people(labels: torch.Tensor) -> "tuple[torch.Tensor, torch.Tensor, torch.Tensor]":
    """Index of the people with >= 2 images: (people [Q], starts [Q], counts [Q]) into ``order``.

    ``order = torch.argsort(labels, stable=True)`` lists each person's images contiguously;
    person ``people[q]``'s images are ``order[starts[q] : starts[q] + counts[q]]``.
    """
    labels = labels.cpu()
    counts = torch.bincount(labels)
    starts = torch.cumsum(counts, 0) - counts
    people = torch.nonzero(counts >= 2).flatten()
    return people, starts[people], counts[people]


def sample_pairs(labels: torch.Tensor, people: int, generator: Optional[torch.Generator] = None
                 ) -> "tuple[torch.Tensor, torch.Tensor, torch.Tensor]":
    """Two distinct images each of ``people`` random people with >= 2 images (seeded).

    Parameters
    ----------
    labels : torch.Tensor
        int64 [N] identity of every image.
    people : int
        People to draw (at most as many as have two images; fewer if fewer exist).
    generator : torch.Generator, optional
        CPU generator of the draw.

    Returns
    -------
    (fit_index, score_index, local_labels)
        int64 [P] each: image ``fit_index[p]`` goes to the fit half, ``score_index[p]`` (the same
        person, another image) to the score half; both carry label ``local_labels[p] = p``.
    """
    order = torch.argsort(labels.cpu(), stable=True)
    candidates, starts, counts = pair_people(labels)
    if len(candidates) < 2:
        raise ValueError(f"closed-form adversary: need >= 2 people with >= 2 training images each, "
                         f"got {len(candidates)}")
    chosen = torch.randperm(len(candidates), generator=generator)[:people]
    n = counts[chosen]
    first = (torch.rand(len(chosen), generator=generator) * n).long().clamp_max(n - 1)
    step = 1 + (torch.rand(len(chosen), generator=generator) * (n - 1)).long().clamp_max(n - 2)
    second = (first + step) % n
    base = starts[chosen]
    return order[base + first], order[base + second], torch.arange(len(chosen))


def sample_shots(labels: torch.Tensor, people: int, shots: int,
                 generator: Optional[torch.Generator] = None
                 ) -> "tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]":
    """``shots`` fit images and one other, scored image each of ``people`` random people with at
    least ``shots + 1`` images (seeded; ``shots = 1`` is :func:`sample_pairs`' draw).

    Returns
    -------
    (fit_index [P * shots], fit_labels [P * shots], score_index [P], score_labels [P])
        Person p's fit images carry local label p (``fit_labels = p`` for its ``shots`` images,
        grouped by person), its scored image the same label; all images of one person differ.
    """
    if not (isinstance(shots, int) and shots >= 1):
        raise ValueError(f"shots: {shots!r} is not allowed; need an integer >= 1")
    if shots == 1:
        fit, score, local = sample_pairs(labels, people, generator)
        return fit, local, score, local
    order = torch.argsort(labels.cpu(), stable=True)
    counts = torch.bincount(labels.cpu())
    starts = torch.cumsum(counts, 0) - counts
    candidates = torch.nonzero(counts >= shots + 1).flatten()
    if len(candidates) < 2:
        raise ValueError(f"closed-form adversary: need >= 2 people with >= {shots + 1} training "
                         f"images each (closed_form_shots = {shots}), got {len(candidates)}")
    chosen = candidates[torch.randperm(len(candidates), generator=generator)[:people]]
    picks = [order[starts[person] + torch.randperm(int(counts[person]),
                                                   generator=generator)[:shots + 1]]
             for person in chosen]  # one short draw per person, not per pixel
    picks = torch.stack(picks)  # [P, shots + 1]
    local = torch.arange(len(chosen))
    return (picks[:, :shots].flatten(), local.repeat_interleave(shots), picks[:, shots], local)


__all__ = ["POOL_MEMBERS", "POOL_COMBINES", "parse_pool", "flatten_codes", "ridge_scores",
           "closed_form_privacy", "pair_people", "sample_pairs", "sample_shots"]
