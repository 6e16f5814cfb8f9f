"""Alternating optimisation of the camera against a recogniser and a detector (paper, eq. (1)).

    min_C  CE(D(C(x)), t)  -  alpha * H(R(C(x)))          (step 2: the camera C learns)
    min_R  CE(R(C(x)), identity),  min_D  CE(D(C(x)), t)   (step 1: R and D learn, C frozen)

``H`` is the Shannon entropy of R's softmax in nats; as in the authors' released code the
encoder loss is ``CE(D) + alpha * mean(sum p log p) / 100`` (alpha counts per 100 nats).

Defaults follow the authors' released code (references.md), kept as our defaults:

* each alternation ``a = 0, 1, ...`` runs the encoder step first and then R and D (so the first
  encoder step faces random R and D: no pretraining); ``order="networks_first"`` swaps them;
* the quantiser's hardness grows linearly, ``T = hardness_slope * (a + 1)`` with slope 5;
* thresholds start at k + 0.5 and stay sorted (``analog.FlashADC`` also keeps a minimum
  spacing, our addition); Conv(1) starts as a Gaussian (sigma 8 px), Conv(4) as four half-plane
  bars (``sensor.Camera`` does both);
* batch 32; the detector and the encoder see balanced batches (16 faces + 16 no-faces);
* R and D: Adam, lr 1e-2, weight decay 1e-4; R up to ``recogniser_epochs`` (100) with the lr
  divided by 10 after ``recogniser_patience`` (10) epochs without a better validation accuracy,
  stopping after another ``recogniser_patience`` epochs without one, best weights restored;
  D ``detector_epochs`` (10), best weights restored. The encoder: SGD, lr 1e-2, momentum 0.9,
  ``encoder_epochs`` (10). Optimisers are fresh at every step.

Our decisions (documented here, reported with the run):

* **What the networks see.** R and D are trained on the camera's *soft* output at the current
  hardness T (the authors' choice: the same relaxation the encoder step differentiates
  through, so R and D judge the codes the encoder is optimised against). As T grows the soft
  ADC approaches the hard one; ``network_input="hard"`` trains them on hard codes instead.
  The metrics log also scores both networks on *hard* codes of the validation data.
* **Encoding once per network step.** The camera is frozen during step 1, so the training
  images are encoded once per step (with the camera's noise, if any, sampled then).
* **Step size of the optics.** The per-frame gain maps every frame to the ADC's full range, so
  the codes do not change when the PSF is scaled and the gradient on a tap goes as 1 / (the
  PSF's scale). A unit-sum 63 x 63 Gaussian (sigma 8 px: peak tap 2.5e-3) under the encoder's SGD
  (lr 0.03) is 99 times its own norm away from the start after 30 steps (cosine 0.001 with it):
  the starting design is erased and the PSF becomes whatever the gradients draw (signed,
  structured fields: docs/results/learning_study/psfs.png). ``optics_lr`` gives the
  taps Adam of their own with the step ``optics_lr * max|initial taps|`` (a fraction of the
  starting peak per step, whatever the PSF's scale); the thresholds keep the SGD above.
* R learns the encoder identities only (``Splits.encoder_train``; ``encoder_val`` selects its
  best epoch); D learns encoder faces vs ``nonfaces_encoder`` (85 % train, 15 % validation).
  The evaluation identities are never touched here.
* Networks work on the code grid (see ``learn.networks``); ``upsample`` restores the authors'
  bilinear x8.
* Distributed: when ``torch.distributed`` is initialised (torchrun sets ``WORLD_SIZE``), every
  rank trains on its shard of the training images (``rank::world_size``, what a
  ``DistributedSampler`` without padding gives) and gradients are averaged across ranks before
  every optimiser step; validation data are not sharded, so every rank takes the same decisions.

Options against a gamed recogniser (issue 31; defaults keep the paper's method above; the user's
view and the study's status: docs/learning.md). Each is one ``AlternatingSettings`` field, so
``[training]`` of a run config and ``canopic train`` set it:

* ``adversary`` -- where the encoder's privacy term comes from:

  - ``"frozen"`` (default, the paper's): R, trained in step 1 and never re-initialised; the term
    is R's negative entropy on the soft codes of the encoder step's own training faces.
  - ``"fresh"``: every alternation each member of ``adversary_pool`` (``"cnn"``, the ResNet R;
    ``"linear"``, a linear model on the standardised code; default ``"cnn+linear"``) is
    re-initialised and trained to convergence (R's schedule: early stopping on the held-out
    encoder faces ``TrainingData.faces_val``) on HARD codes. The encoder step's term is the
    negative entropy, on soft codes of held-out faces (``faces_val``, never the members'
    training faces), of the strongest member on held-out faces
    (``adversary_combine="strongest"``) or the sum over members (``"sum"``).
  - ``"closed_form"``: each encoder step draws ``closed_form_people`` people with
    ``closed_form_shots`` + 1 training images each (two by default), fits ridge regression from
    the codes of ``closed_form_shots`` of them to identity one-hot in closed form and scores
    the last one (``learn.adversaries``: ridge ``closed_form_ridge``,
    softmax temperature ``closed_form_temperature``); the term is minus its held-out
    cross-entropy (clamped at chance, ``ln P``), differentiated through ``torch.linalg.solve``.
    The adversary is optimal for the current codes at every step, so it cannot be gamed. R is
    not trained in this mode (its metrics are nan); ``ridge_acc_last`` logs the ridge's accuracy.

  In every mode the term is in nats and alpha counts per 100 nats.
* ``select`` -- which alternation the run returns: ``"last"`` (default) or ``"validation"``:
  after every alternation a fresh logistic regression (not in the loop) is fitted on hard codes
  of the judge's people's training images and scored on their held-out images: ``judge_people``
  (100) encoder people taken out of the loop (``TrainingData.from_splits``; ``judge_folds`` = k
  > 0: the people with the most images, scored by k-fold cross-validation over all their
  images instead), so no test role and nothing the encoder learned from is among them (no
  evaluation part is read), beside D's accuracy on hard codes of its validation images
  (``judge_detector_epochs`` = k > 0: that of a copy of D trained k more epochs on hard codes of
  the alternation's camera); the design returned
  (:meth:`AlternatingTrainer.design`, the run's design bundle) is the most private alternation
  whose face accuracy reaches ``face_target`` (0.95), else the most useful one
  (``learn.selection``). Every alternation's metrics log ``select_identity_acc``,
  ``select_face_acc`` and ``selected_alternation`` (the choice so far); the checkpoint holds the
  choice, so a resumed run selects the same design. Selection draws no random number the
  training uses, but the loop learns from the people left after the judge's are taken out.
* ``utility`` -- how the encoder step weighs detection: ``"weighted"`` (default, the paper's:
  ``CE(D)`` with weight 1, so alpha alone sets the trade-off) or ``"constraint"``: the weight of
  ``CE(D)`` is a Lagrange multiplier lambda (starts at 1, kept in :data:`MULTIPLIER_RANGE`) and
  the loss is ``(lambda * CE(D) + alpha * privacy / 100) / max(1, lambda)`` (the larger weight
  is 1, so a large lambda does not become a large step of the encoder's SGD), with lambda
  updated by dual ascent after every encoder epoch, ``lambda *= exp(constraint_rate *
  (face_target - acc) * 100)``, where ``acc`` is D's accuracy (D as it is, frozen) on hard
  codes of the current camera's validation images. The camera keeps the utility target and
  gives the privacy term all the room the target leaves; sweeping ``face_target`` traces a
  frontier. No update before D has learned once (alternation 0 with ``"encoder_first"``).
  The multiplier is in the metrics (``utility_multiplier``) and the checkpoint.
"""
from __future__ import annotations

import contextlib
import copy
import dataclasses
import math
import time
from typing import Optional

import torch
from torch import nn
from torch.nn import functional as F

from learn import datasets
from learn.adversaries import POOL_COMBINES, closed_form_privacy, parse_pool, sample_shots
from learn.networks import entropy, make_detector, make_flat_recogniser, make_recogniser
from learn.selection import SELECTS, Selection, cross_validated_accuracy, logistic_accuracy

ORDERS = ("encoder_first", "networks_first")
NETWORK_INPUTS = ("soft", "hard")
#: ``AlternatingSettings.adversary`` values (module docstring).
ADVERSARIES = ("frozen", "fresh", "closed_form")
#: ``AlternatingSettings.utility`` values (module docstring).
UTILITIES = ("weighted", "constraint")
#: Bounds of the constraint's multiplier on the detection loss.
MULTIPLIER_RANGE = (1e-3, 1e3)
_OWN = object()  # "the trainer's own noise generator" (see AlternatingTrainer._encode)


@dataclasses.dataclass
class AlternatingSettings:
    """Hyper-parameters of the alternating optimisation (defaults: the authors' released code).

    Attributes
    ----------
    alpha : float
        Weight of the entropy term, per 100 nats (>= 0).
    alternations : int
        Number of alternations.
    order : {"encoder_first", "networks_first"}
        Which step opens each alternation.
    encoder_epochs, recogniser_epochs, detector_epochs : int
        Epochs per step (the recogniser's is a maximum).
    recogniser_patience : int
        Epochs without a better validation accuracy before the lr drops /10 (and, after the drop,
        before R stops).
    steps_per_epoch : int or None
        Cap on optimiser steps per epoch (quick profiles); None = whole epochs.
    batch_size : int
        Images per batch (even; half faces, half no-faces where balanced).
    network_lr, network_weight_decay : float
        Adam settings of R and D.
    encoder_lr, encoder_momentum : float
        SGD settings of the camera's parameters.
    hardness_slope : float
        Quantiser hardness of alternation a is ``hardness_slope * (a + 1)``.
    network_input : {"soft", "hard"}
        Which camera output R and D learn from (see the module docstring).
    recogniser_width, detector_width, upsample : int
        Network sizes (see ``learn.networks``).
    adversary : {"frozen", "fresh", "closed_form"}
        Source of the encoder's privacy term (module docstring); "frozen" is the paper's.
    adversary_pool : str
        Members of a fresh pool, ``"cnn"``, ``"linear"`` or ``"cnn+linear"`` ("fresh" only).
    adversary_combine : {"strongest", "sum"}
        A fresh pool's term: its strongest member on held-out faces, or the sum over members.
    closed_form_people : int
        People per closed-form batch (>= 2), each with ``closed_form_shots`` fit images and one
        scored image.
    closed_form_shots : int
        Fit images per person of the closed-form ridge (>= 1; 1: one-shot, the ridge then
        compares a face with one other image of each person; k: only people with >= k + 1
        training images are drawn, and the ridge sees each person k times, like an attacker
        that trains on many images a person).
    closed_form_ridge : float
        Ridge weight relative to the mean diagonal of the code kernel (> 0).
    closed_form_temperature : float
        Softmax temperature of the ridge's one-hot scores (> 0; scores are ~1 / ~0).
    select : {"last", "validation"}
        Which alternation's camera the run returns (module docstring).
    face_target : float
        Utility target of ``select="validation"`` and ``utility="constraint"``: D's hard
        validation accuracy, in [0, 1].
    judge_people : int
        Encoder people taken out of the loop to judge ``select="validation"`` (>= 2; at most
        half of those with a training and a held-out image).
    judge_folds : int
        0 (default): the judge's people are a seeded random choice, its logistic regression is
        fitted on their training images and scored on their held-out ones (about one image a
        person). k >= 2: the people with the most images, scored by k-fold cross-validation
        over all their images (every image scored once), a judge with several images per
        person like the evaluation's, whose score varies less.
    judge_detector_epochs : int
        0 (default): selection's utility is D's own validation accuracy on hard codes; k > 0:
        that of a copy of D trained k more epochs on hard codes of the alternation's camera
        (:meth:`AlternatingTrainer.selection_face_accuracy`), which reads less low than D.
    utility : {"weighted", "constraint"}
        "weighted": the detection loss has weight 1 (alpha alone trades privacy for utility,
        the paper's); "constraint": its weight is a Lagrange multiplier that holds D's
        validation accuracy at ``face_target`` (module docstring).
    constraint_rate : float
        Dual-ascent step of the multiplier's logarithm per point (1 %) of face accuracy below
        the target, after every encoder epoch (> 0).
    optics_lr : float or None
        None (default, the authors'): the PSF taps share the encoder's SGD. A number (> 0): the
        taps get Adam with the learning rate ``optics_lr * max|initial taps|``, so a step moves
        a tap by about that fraction of the starting PSF's peak (module docstring, "Step size of
        the optics"). 0: the PSF is held as it starts and the ADC thresholds alone learn (e.g.
        for a mask already made; they give most of learning's gain over the Gaussian camera,
        docs/evaluation.md).
    """

    alpha: float = 1.0
    alternations: int = 20
    order: str = "encoder_first"
    encoder_epochs: int = 10
    recogniser_epochs: int = 100
    recogniser_patience: int = 10
    detector_epochs: int = 10
    steps_per_epoch: Optional[int] = None
    batch_size: int = 32
    network_lr: float = 1e-2
    network_weight_decay: float = 1e-4
    encoder_lr: float = 1e-2
    encoder_momentum: float = 0.9
    hardness_slope: float = 5.0
    network_input: str = "soft"
    recogniser_width: int = 32
    detector_width: int = 16
    upsample: int = 1
    adversary: str = "frozen"
    adversary_pool: str = "cnn+linear"
    adversary_combine: str = "strongest"
    closed_form_people: int = 64
    closed_form_ridge: float = 1.0
    closed_form_temperature: float = 0.1
    closed_form_shots: int = 1
    select: str = "last"
    face_target: float = 0.95
    judge_people: int = 100
    judge_folds: int = 0
    judge_detector_epochs: int = 0
    utility: str = "weighted"
    constraint_rate: float = 0.25
    optics_lr: Optional[float] = None

    def __post_init__(self) -> None:
        def need(name: str, ok: bool, allowed: str) -> None:
            if not ok:
                raise ValueError(f"{name}: {getattr(self, name)!r} is not allowed; need {allowed}")

        def is_int(value) -> bool:
            return isinstance(value, int) and not isinstance(value, bool)

        def is_num(value) -> bool:
            return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)

        need("alpha", is_num(self.alpha) and self.alpha >= 0, "a finite number >= 0")
        need("alternations", is_int(self.alternations) and self.alternations >= 1, "an integer >= 1")
        need("order", self.order in ORDERS, f"one of {ORDERS}")
        for name in ("encoder_epochs", "recogniser_epochs", "detector_epochs"):
            need(name, is_int(getattr(self, name)) and getattr(self, name) >= 0, "an integer >= 0")
        need("recogniser_patience", is_int(self.recogniser_patience) and self.recogniser_patience >= 1,
             "an integer >= 1")
        need("steps_per_epoch", self.steps_per_epoch is None or (
            is_int(self.steps_per_epoch) and self.steps_per_epoch >= 1), "None or an integer >= 1")
        need("batch_size", is_int(self.batch_size) and self.batch_size >= 2 and self.batch_size % 2 == 0,
             "an even integer >= 2")
        for name in ("network_lr", "encoder_lr", "hardness_slope"):
            need(name, is_num(getattr(self, name)) and getattr(self, name) > 0, "a finite number > 0")
        need("network_weight_decay", is_num(self.network_weight_decay) and self.network_weight_decay >= 0,
             "a finite number >= 0")
        need("encoder_momentum", is_num(self.encoder_momentum) and 0 <= self.encoder_momentum < 1,
             "a number in [0, 1)")
        need("network_input", self.network_input in NETWORK_INPUTS, f"one of {NETWORK_INPUTS}")
        for name in ("recogniser_width", "detector_width", "upsample"):
            need(name, is_int(getattr(self, name)) and getattr(self, name) >= 1, "an integer >= 1")
        need("adversary", self.adversary in ADVERSARIES, f"one of {ADVERSARIES}")
        parse_pool(self.adversary_pool)
        need("adversary_combine", self.adversary_combine in POOL_COMBINES, f"one of {POOL_COMBINES}")
        need("closed_form_people", is_int(self.closed_form_people) and self.closed_form_people >= 2,
             "an integer >= 2")
        need("closed_form_shots", is_int(self.closed_form_shots) and self.closed_form_shots >= 1,
             "an integer >= 1")
        for name in ("closed_form_ridge", "closed_form_temperature"):
            need(name, is_num(getattr(self, name)) and getattr(self, name) > 0, "a finite number > 0")
        need("select", self.select in SELECTS, f"one of {SELECTS}")
        need("judge_people", is_int(self.judge_people) and self.judge_people >= 2,
             "an integer >= 2")
        need("judge_detector_epochs", is_int(self.judge_detector_epochs)
             and self.judge_detector_epochs >= 0, "an integer >= 0")
        need("judge_folds", is_int(self.judge_folds) and (self.judge_folds == 0
                                                          or self.judge_folds >= 2),
             "0 or an integer >= 2")
        need("face_target", is_num(self.face_target) and 0 <= self.face_target <= 1,
             "a number in [0, 1]")
        need("utility", self.utility in UTILITIES, f"one of {UTILITIES}")
        need("constraint_rate", is_num(self.constraint_rate) and self.constraint_rate > 0,
             "a finite number > 0")
        need("optics_lr", self.optics_lr is None or (is_num(self.optics_lr) and self.optics_lr >= 0),
             "None or a finite number >= 0")

    def hardness(self, alternation: int) -> float:
        """Quantiser hardness T of ``alternation`` (0-based): ``hardness_slope * (a + 1)``."""
        return float(self.hardness_slope * (alternation + 1))

    def judge(self) -> dict:
        """The judge keywords of :meth:`TrainingData.from_splits` these settings need (no judge
        unless ``select="validation"``; the richest people when ``judge_folds`` > 0)."""
        people = self.judge_people if self.select == "validation" else 0
        return {"judge_people": people,
                "judge_pick": "most_images" if self.judge_folds else "random"}


@dataclasses.dataclass
class TrainingData:
    """Linear-RGB tensors [N, 3, H, W] for one run (one rank's shard of the training parts).

    Attributes
    ----------
    faces, face_labels : torch.Tensor
        Encoder-identity training faces and their identity labels (int64 [N]).
    faces_val, face_labels_val : torch.Tensor
        Encoder-identity validation faces (model selection of R and D).
    nonfaces, nonfaces_val : torch.Tensor
        No-face images for training and validating D (and the encoder's detection term).
    num_identities : int
        Classes of R.
    select_faces, select_labels, select_faces_val, select_labels_val : torch.Tensor or None
        The judge's people (encoder people held out of the loop, :meth:`from_splits`):
        training and held-out faces for ``select="validation"`` (``learn.selection``); None
        without them.
    select_num_identities : int
        Classes of those parts (0 without them).
    """

    faces: torch.Tensor
    face_labels: torch.Tensor
    faces_val: torch.Tensor
    face_labels_val: torch.Tensor
    nonfaces: torch.Tensor
    nonfaces_val: torch.Tensor
    num_identities: int
    select_faces: Optional[torch.Tensor] = None
    select_labels: Optional[torch.Tensor] = None
    select_faces_val: Optional[torch.Tensor] = None
    select_labels_val: Optional[torch.Tensor] = None
    select_num_identities: int = 0

    @classmethod
    def from_splits(cls, splits: "datasets.Splits", device="cpu", nonface_val_fraction: float = 0.15,
                    rank: int = 0, world_size: int = 1, judge_people: int = 0,
                    judge_pick: str = "random") -> "TrainingData":
        """The encoder parts of ``splits`` as tensors; training parts sharded by rank.

        ``judge_people`` > 0 (for ``select="validation"``): that many encoder people (at most
        half of those with a training and a held-out image) are taken out of the loop and fill
        the ``select_*`` fields instead (their training images to fit the judge, their held-out
        images to score it), so the judge's people are people the encoder never learned from
        and no test role holds. ``judge_pick``: ``"random"`` (a fixed seeded choice) or
        ``"most_images"`` (those with the most images, ties to the lower label: the judge of
        ``judge_folds`` > 0, which cross-validates over all their images). No evaluation part
        of ``splits`` (``eval_*``, ``nonfaces_test``) is read.
        """
        nonfaces = splits.nonfaces_encoder
        count_val = max(1, int(round(len(nonfaces) * nonface_val_fraction)))
        if len(nonfaces) - count_val < 1 or len(splits.encoder_train) < 1 or len(splits.encoder_val) < 1:
            raise ValueError(f"splits: the encoder parts are too small to train on (encoder_train "
                             f"{len(splits.encoder_train)}, encoder_val {len(splits.encoder_val)}, "
                             f"nonfaces_encoder {len(nonfaces)}); need >= 1 image each and >= 2 "
                             f"no-faces")
        train, val, select = splits.encoder_train, splits.encoder_val, {}
        if judge_people:
            train, val, judge_train, judge_val = _split_off_judge(train, val, judge_people,
                                                                  judge_pick)
            select = dict(
                select_faces=datasets.to_tensor(judge_train.images, device),
                select_labels=torch.tensor(judge_train.labels, device=device),
                select_faces_val=datasets.to_tensor(judge_val.images, device),
                select_labels_val=torch.tensor(judge_val.labels, device=device),
                select_num_identities=judge_train.num_classes)
        face_shard = datasets.shard_indices(len(train), rank, world_size)
        nonface_shard = datasets.shard_indices(len(nonfaces) - count_val, rank, world_size)
        train_nonfaces = nonfaces.images[count_val:][nonface_shard]
        return cls(
            faces=datasets.to_tensor(train.images[face_shard], device),
            face_labels=torch.tensor(train.labels[face_shard], device=device),
            faces_val=datasets.to_tensor(val.images, device),
            face_labels_val=torch.tensor(val.labels, device=device),
            nonfaces=datasets.to_tensor(train_nonfaces, device),
            nonfaces_val=datasets.to_tensor(nonfaces.images[:count_val], device),
            num_identities=train.num_classes, **select)


#: ``TrainingData.from_splits``' ways of choosing the judge's people.
JUDGE_PICKS = ("random", "most_images")


def _split_off_judge(train: "datasets.FaceSet", val: "datasets.FaceSet", count: int,
                     pick: str = "random"):
    """(loop train, loop val, judge train, judge val): ``count`` people (at most half of those
    with images in both parts; a seeded choice, or those with the most images) moved from the
    loop's parts to the judge's, each side relabelled ``0 .. P - 1``. ValueError if fewer than
    4 people have images in both."""
    import numpy as np

    if pick not in JUDGE_PICKS:
        raise ValueError(f"judge_pick: {pick!r} is not allowed; choose one of {JUDGE_PICKS}")
    both = np.intersect1d(np.unique(train.labels), np.unique(val.labels))
    if len(both) < 4:
        raise ValueError(f"select='validation': only {len(both)} encoder people have a training "
                         f"and a held-out image; the judge needs its own people (>= 2) and the "
                         f"loop keeps the rest (more people, or select='last': canopic train "
                         f"--select last, or --recipe paper)")
    count = min(count, len(both) // 2)
    if pick == "random":
        chosen = np.sort(np.random.default_rng(0).choice(both, count, replace=False))
    else:
        images = (np.bincount(train.labels, minlength=train.num_classes)
                  + np.bincount(val.labels, minlength=train.num_classes))[both]
        chosen = np.sort(both[np.argsort(-images, kind="stable")[:count]])

    def part(faces: "datasets.FaceSet", people: np.ndarray) -> "datasets.FaceSet":
        keep = np.isin(faces.labels, people)
        relabel = {int(old): new for new, old in enumerate(people)}
        images = np.ascontiguousarray(faces.images[keep])
        labels = np.asarray([relabel[int(l)] for l in faces.labels[keep]], dtype=np.int64)
        return datasets.FaceSet(images, labels, tuple(faces.names[i] for i in people),
                                tuple(f for f, k in zip(faces.files, keep) if k))

    loop_people = np.setdiff1d(np.arange(train.num_classes), chosen)
    return (part(train, loop_people), part(val, loop_people), part(train, chosen),
            part(val, chosen))


# --------------------------------------------------------------------------- distributed
def world() -> "tuple[int, int]":
    """(rank, world_size) of the initialised process group, else (0, 1)."""
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        return torch.distributed.get_rank(), torch.distributed.get_world_size()
    return 0, 1


def average_gradients(parameters) -> None:
    """All-reduce and average the gradients of ``parameters`` across ranks (no-op on one rank)."""
    if not (torch.distributed.is_available() and torch.distributed.is_initialized()):
        return
    _, size = world()
    for parameter in parameters:
        if parameter.grad is not None:
            torch.distributed.all_reduce(parameter.grad)
            parameter.grad /= size


def broadcast_buffers(module: nn.Module) -> None:
    """Copy rank 0's buffers (BatchNorm running statistics) to every rank (no-op on one rank).

    What ``DistributedDataParallel(broadcast_buffers=True)`` does: parameters stay equal through
    averaged gradients, but running statistics come from each rank's own shard; without this the
    ranks would score validation differently and could take different decisions (best epoch,
    learning-rate drop, early stop).
    """
    if not (torch.distributed.is_available() and torch.distributed.is_initialized()):
        return
    for buffer in module.buffers():
        torch.distributed.broadcast(buffer, src=0)


# --------------------------------------------------------------------------- the trainer
def _check_state_matches(module: nn.Module, state: dict, name: str) -> None:
    """ValueError unless ``state`` has exactly ``module``'s entries with the same shapes."""
    own = module.state_dict()
    if not isinstance(state, dict) or set(state) != set(own):
        keys = set(state) if isinstance(state, dict) else set()
        raise ValueError(f"checkpoint: its {name} does not match this run's config (missing "
                         f"{sorted(set(own) - keys)[:5]}, unexpected {sorted(keys - set(own))[:5]})")
    for key, value in own.items():
        if not isinstance(state[key], torch.Tensor) or state[key].shape != value.shape:
            got = getattr(state[key], "shape", type(state[key]).__name__)
            raise ValueError(f"checkpoint: its {name} does not match this run's config ({key}: "
                             f"shape {tuple(got)} in the checkpoint, {tuple(value.shape)} here)")


def _accuracy(logits: torch.Tensor, labels: torch.Tensor) -> float:
    return float((logits.argmax(dim=-1) == labels).float().mean()) if len(labels) else float("nan")


class AlternatingTrainer:
    """Runs alternations of eq. (1) on one camera; holds R, D and the data-order generator.

    Parameters
    ----------
    camera : sensor.Camera
        The camera to learn (its trainable parameters: PSF module and ADC thresholds).
    data : TrainingData
    settings : AlternatingSettings
    seed : int
        Seeds the networks' initialisation and the generator of batch order and camera noise.
    device : str or torch.device
    """

    def __init__(self, camera: nn.Module, data: TrainingData, settings: AlternatingSettings,
                 seed: int = 0, device="cpu"):
        self.camera = camera.to(device)
        self.data, self.settings, self.device = data, settings, torch.device(device)
        self.seed = int(seed)
        torch.manual_seed(seed)
        self.generator = torch.Generator(device="cpu").manual_seed(seed)
        with torch.no_grad():
            probe = self._encode(data.faces[:2], mode="hard", hardness=None)
        if probe.ndim != 4 or probe.shape[-1] != probe.shape[-2]:
            raise ValueError(f"camera: output shape {tuple(probe.shape)} is not allowed; need "
                             f"[N, C, S, S]")
        channels, size = int(probe.shape[1]), int(probe.shape[-1])
        self._code_shape = (channels, size)
        self.recogniser = make_recogniser(channels, data.num_identities, size,
                                          width=settings.recogniser_width,
                                          upsample=settings.upsample).to(device)
        self.detector = make_detector(channels, size, width=settings.detector_width,
                                      upsample=settings.upsample).to(device)
        self.pool = parse_pool(settings.adversary_pool) if settings.adversary == "fresh" else ("cnn",)
        self.flat_recogniser = (make_flat_recogniser(channels, data.num_identities, size).to(device)
                                if "linear" in self.pool else None)
        self.adversary_scores: "dict[str, float]" = {}  # member -> held-out accuracy, last R step
        self._check_options()
        self.selection = Selection(settings.face_target) if settings.select == "validation" else None
        self.utility_multiplier = 1.0  # weight of the detection loss ("constraint" moves it)
        optics = self._optics_parameters()
        # the starting PSF's peak |tap|: the unit of optics_lr (in the checkpoint)
        self.optics_scale = max((float(p.detach().abs().max()) for p in optics), default=0.0)

    def _check_options(self) -> None:
        """ValueError when the data cannot serve the chosen adversary or selection."""
        settings, data = self.settings, self.data
        need = settings.closed_form_shots + 1
        if settings.adversary == "closed_form" and int(
                (torch.bincount(data.face_labels.cpu()) >= need).sum()) < 2:
            raise ValueError(f"adversary: 'closed_form' needs >= 2 encoder identities with >= "
                             f"{need} training images each (closed_form_shots + 1; canopic "
                             f"train --adversary frozen, or --recipe paper, learns from fewer)")
        if settings.select == "validation" and (data.select_faces is None
                                                or data.select_faces_val is None):
            raise ValueError("select: 'validation' needs the judge's own people "
                             "(TrainingData.select_*: from_splits(..., judge_people=N)); this "
                             "data has none")

    # ---------------------------------------------------------------- helpers
    def camera_parameters(self) -> list:
        """The camera's trainable parameters (PSF module and ADC thresholds)."""
        return [p for p in self.camera.parameters() if p.requires_grad]

    def _optics_parameters(self) -> list:
        """The trainable parameters of the camera's PSF module (none without optics)."""
        optics = getattr(self.camera, "optics", None)
        return [] if optics is None else [p for p in optics.parameters() if p.requires_grad]

    def _encoder_optimisers(self, parameters: list) -> list:
        """SGD over ``parameters``; with ``optics_lr``, the PSF taps move to Adam of their own
        (``optics_lr = 0``: to no optimiser, they stay)."""
        settings = self.settings
        optics = self._optics_parameters() if settings.optics_lr is not None else []
        ids = {id(p) for p in optics}
        rest = [p for p in parameters if id(p) not in ids]
        optimisers = [torch.optim.SGD(rest, lr=settings.encoder_lr,
                                      momentum=settings.encoder_momentum)] if rest else []
        if optics and settings.optics_lr > 0:  # 0: the PSF is held
            optimisers.append(torch.optim.Adam(optics, lr=settings.optics_lr * self.optics_scale))
        return optimisers

    def _noise_generator(self) -> Optional[torch.Generator]:
        return self.generator if self.device.type == "cpu" else None

    def _encode(self, images: torch.Tensor, mode: str, hardness: Optional[float],
                generator=_OWN) -> torch.Tensor:
        """Camera output of ``images``; noise from ``generator`` (default: the trainer's own)."""
        quantises = getattr(self.camera, "adc", None) is not None
        generator = self._noise_generator() if generator is _OWN else generator
        return self.camera(images, mode=mode, hardness=hardness if quantises else None,
                           generator=generator)

    def _encode_all(self, images: torch.Tensor, mode: str, hardness: Optional[float],
                    chunk: int = 512, generator=_OWN) -> torch.Tensor:
        with torch.no_grad():
            return torch.cat([self._encode(images[i:i + chunk], mode, hardness, generator)
                              for i in range(0, len(images), chunk)])

    @contextlib.contextmanager
    def _scoring_noise(self, offset: int):
        """Camera noise for scoring outside the training (selection, the constraint): a generator
        of its own on CPU (seed ``seed * 1_000_003 + offset``; None on CUDA, where the global
        RNG draws), with the global RNG state restored afterwards, so scoring changes nothing
        the training draws."""
        devices = [self.device] if self.device.type == "cuda" else []
        with torch.random.fork_rng(devices=devices):
            yield (torch.Generator().manual_seed(self.seed * 1_000_003 + offset)
                   if self.device.type == "cpu" else None)

    def _network_input_mode(self) -> str:
        return self.settings.network_input

    def _limit(self, batches):
        cap = self.settings.steps_per_epoch
        for step, batch in enumerate(batches):
            if cap is not None and step >= cap:
                return
            yield batch

    def _adam(self, module: nn.Module) -> torch.optim.Optimizer:
        return torch.optim.Adam(module.parameters(), lr=self.settings.network_lr,
                                weight_decay=self.settings.network_weight_decay)

    @staticmethod
    def _set_frozen(module: nn.Module, frozen: bool) -> None:
        module.train(not frozen)
        for parameter in module.parameters():
            parameter.requires_grad_(not frozen)

    # ---------------------------------------------------------------- adversaries
    def adversaries(self) -> "dict[str, nn.Module]":
        """The recognisers of the pool by member name (``{"cnn": R}`` unless "fresh")."""
        nets = {"cnn": self.recogniser, "linear": self.flat_recogniser}
        return {name: nets[name] for name in self.pool}

    def _trains_cnn(self) -> bool:
        return self.settings.adversary != "closed_form" and "cnn" in self.pool

    def strongest(self) -> str:
        """The pool member with the best held-out accuracy of the last R step (first on ties)."""
        scores = [self.adversary_scores.get(name, -1.0) for name in self.pool]
        return self.pool[max(range(len(scores)), key=lambda i: (scores[i], -i))]

    def _reinitialise(self, name: str) -> nn.Module:
        """A freshly initialised pool member (torch's global RNG) that replaces the old one."""
        channels, size = self._code_shape
        if name == "cnn":
            self.recogniser = make_recogniser(channels, self.data.num_identities, size,
                                              width=self.settings.recogniser_width,
                                              upsample=self.settings.upsample).to(self.device)
            return self.recogniser
        self.flat_recogniser = make_flat_recogniser(channels, self.data.num_identities,
                                                    size).to(self.device)
        return self.flat_recogniser

    def _privacy_batch(self) -> "Optional[tuple[torch.Tensor, Optional[torch.Tensor]]]":
        """Faces (and labels) of one encoder step's privacy term; None for "frozen".

        "fresh": ``batch_size // 2`` random held-out faces (``faces_val``), labels None.
        "closed_form": ``(shots + 1) P`` training faces, the ``shots P`` fit images (grouped by
        person) then the ``P`` scored ones, and their local labels ``0 .. P - 1``
        (:func:`learn.adversaries.sample_shots`).
        """
        settings, data = self.settings, self.data
        if settings.adversary == "fresh":
            index = torch.randint(len(data.faces_val), (settings.batch_size // 2,),
                                  generator=self.generator)
            return data.faces_val[index.to(data.faces_val.device)], None
        if settings.adversary == "closed_form":
            fit, fit_labels, score, labels = sample_shots(
                data.face_labels, settings.closed_form_people, settings.closed_form_shots,
                generator=self.generator)
            index = torch.cat([fit, score]).to(data.faces.device)
            return data.faces[index], torch.cat([fit_labels, labels]).to(self.device)
        return None

    def privacy_term(self, face_codes: torch.Tensor, privacy, hardness: float
                     ) -> "tuple[torch.Tensor, dict]":
        """The privacy term in nats (to minimise; ``-H`` or minus a held-out CE) and its parts.

        ``face_codes``: soft codes of the batch's training faces (the "frozen" term uses them);
        ``privacy``: :meth:`_privacy_batch`'s images and labels (the other modes encode them
        at ``hardness``).
        """
        settings = self.settings
        if settings.adversary == "frozen":
            face_entropy = entropy(self.recogniser(face_codes)).mean()
            return -face_entropy, {"identity_entropy": float(face_entropy.detach())}
        images, labels = privacy
        codes = self._encode(images, mode="soft", hardness=hardness)
        if settings.adversary == "closed_form":
            people = len(labels) // (settings.closed_form_shots + 1)  # scored images last
            fit = len(labels) - people
            return closed_form_privacy(codes[:fit], labels[:fit], codes[fit:], labels[fit:],
                                       people,
                                       ridge=settings.closed_form_ridge,
                                       temperature=settings.closed_form_temperature)
        nets = self.adversaries()
        names = list(nets) if settings.adversary_combine == "sum" else [self.strongest()]
        total = sum(entropy(nets[name](codes)).mean() for name in names)
        return -total, {"identity_entropy": float(total.detach())}

    # ---------------------------------------------------------------- step 2: the camera
    def encoder_loss(self, faces: torch.Tensor, nonfaces: torch.Tensor, hardness: float,
                     privacy=_OWN) -> "tuple[torch.Tensor, dict]":
        """``CE(D(C(x)), t) + alpha * privacy_term / 100`` on one balanced batch (``utility=
        "constraint"``: ``(lambda CE + alpha * privacy_term / 100) / max(1, lambda)``).

        With ``adversary="frozen"`` the privacy term is ``mean(sum p log p)`` of R on the batch's
        faces (the paper's); otherwise see :meth:`privacy_term` (``privacy`` defaults to a new
        :meth:`_privacy_batch`). Returns the loss (differentiable w.r.t. the camera) and its
        parts as floats.
        """
        privacy = self._privacy_batch() if privacy is _OWN else privacy
        codes = self._encode(torch.cat([faces, nonfaces]), mode="soft", hardness=hardness)
        targets = torch.cat([torch.ones(len(faces)), torch.zeros(len(nonfaces))]).long().to(codes.device)
        detection = F.cross_entropy(self.detector(codes), targets)
        term, parts = self.privacy_term(codes[:len(faces)], privacy, hardness)
        weight = self.utility_multiplier  # 1 unless utility="constraint"
        loss = (weight * detection + self.settings.alpha * term / 100.0) / max(1.0, weight)
        return loss, {"detection_ce": float(detection.detach())} | parts

    def _freeze_networks(self, frozen: bool) -> None:
        for net in [*self.adversaries().values(), self.detector]:
            self._set_frozen(net, frozen)

    def encoder_step(self, alternation: int, progress=None) -> dict:
        """Train the camera's parameters with R and D frozen; returns mean losses per epoch."""
        settings, hardness = self.settings, self.settings.hardness(alternation)
        parameters = self.camera_parameters()
        if not parameters or settings.encoder_epochs == 0:
            return {"encoder_loss_first": float("nan"), "encoder_loss_last": float("nan")}
        self._freeze_networks(True)
        self.camera.train()
        optimisers = self._encoder_optimisers(parameters)
        epoch_means = []
        last_parts = {"detection_ce": float("nan"), "identity_entropy": float("nan")}
        for epoch in range(settings.encoder_epochs):
            total, count = 0.0, 0
            for face_index, nonface_index in self._limit(datasets.balanced_batches(
                    len(self.data.faces), len(self.data.nonfaces), settings.batch_size,
                    generator=self.generator)):
                for optimiser in optimisers:
                    optimiser.zero_grad(set_to_none=True)
                loss, parts = self.encoder_loss(self.data.faces[face_index],
                                                self.data.nonfaces[nonface_index], hardness)
                loss.backward()
                average_gradients(parameters)
                for optimiser in optimisers:
                    optimiser.step()
                total, count = total + float(loss.detach()), count + 1
                last_parts = parts
                if progress is not None:
                    progress.update(len(face_index) + len(nonface_index))
            epoch_means.append(total / max(count, 1))
            if settings.utility == "constraint" and (alternation > 0 or settings.order ==
                                                     "networks_first"):  # D has learned once
                last_parts["constraint_face_acc"] = self.update_multiplier(alternation, epoch)
        self._freeze_networks(False)
        constraint = ({"utility_multiplier": self.utility_multiplier}
                      if settings.utility == "constraint" else {})
        return {"encoder_loss_first": epoch_means[0], "encoder_loss_last": epoch_means[-1]} | {
            f"{key}_last": value for key, value in last_parts.items()} | constraint

    def update_multiplier(self, alternation: int = 0, epoch: int = 0) -> float:
        """One dual-ascent step of ``utility="constraint"``; returns the face accuracy it used.

        D (as it is, frozen) scores hard codes of the current camera on its validation images
        (held-out encoder faces vs validation no-faces); the multiplier of the detection loss
        is multiplied by ``exp(constraint_rate * (face_target - accuracy) * 100)``: up while
        the camera is less useful than the target, down while it is more, so the privacy term
        gets all the room the target leaves. Kept in :data:`MULTIPLIER_RANGE`. Camera noise
        comes from a generator of its own (seeded by the run's seed, ``alternation`` and
        ``epoch``) and the global RNG is restored, so scoring draws nothing the training uses.
        """
        with self._scoring_noise(7_919 * (alternation + 1) + epoch) as generator:
            codes, targets = self._detection_val("hard", None, generator)
        accuracy = self._evaluate(self.detector, codes, targets)
        step = self.settings.constraint_rate * (self.settings.face_target - accuracy) * 100.0
        low, high = MULTIPLIER_RANGE
        self.utility_multiplier = float(min(high, max(low, self.utility_multiplier * math.exp(step))))
        return accuracy

    # ---------------------------------------------------------------- step 1: R and D
    def recogniser_step(self, alternation: int, progress=None) -> dict:
        """Train R (identity CE) on encoded encoder-identity faces; best val epoch restored.

        "frozen": R continues from its weights on the ``network_input`` codes. "fresh": every
        pool member is re-initialised and trained on hard codes (:meth:`_fresh_recogniser_step`).
        "closed_form": nothing is trained (nan metrics).
        """
        if self.settings.adversary == "closed_form":
            return {"recogniser_epochs": 0, "recogniser_train_acc": float("nan"),
                    "recogniser_val_acc": float("nan")}
        if self.settings.adversary == "fresh":
            return self._fresh_recogniser_step(progress)
        mode, hardness = self._network_input_mode(), self.settings.hardness(alternation)
        codes = self._encode_all(self.data.faces, mode, hardness)
        codes_val = self._encode_all(self.data.faces_val, mode, hardness)
        return self._fit_recogniser(self.recogniser, codes, codes_val, progress)

    def _fresh_recogniser_step(self, progress=None) -> dict:
        """Re-initialise and train every pool member on hard codes; log each one's accuracy."""
        codes = self._encode_all(self.data.faces, "hard", None)
        codes_val = self._encode_all(self.data.faces_val, "hard", None)
        metrics = {"recogniser_epochs": 0, "recogniser_train_acc": float("nan"),
                   "recogniser_val_acc": float("nan")}
        for name in self.pool:
            result = self._fit_recogniser(self._reinitialise(name), codes, codes_val, progress)
            self.adversary_scores[name] = result["recogniser_val_acc"]
            metrics[f"adversary_val_acc_{name}"] = result["recogniser_val_acc"]
            if name == "cnn":
                metrics.update(result)
        metrics["adversary_in_loop"] = (self.strongest() if self.settings.adversary_combine ==
                                        "strongest" else "+".join(self.pool))
        return metrics

    def _fit_recogniser(self, net: nn.Module, codes: torch.Tensor, codes_val: torch.Tensor,
                        progress=None) -> dict:
        """Adam on identity CE with R's schedule (lr /10 on a plateau, early stop); best epoch kept.

        ``codes`` [N, C, S, S] with labels ``data.face_labels``; ``codes_val`` with
        ``data.face_labels_val`` selects the epoch.
        """
        settings = self.settings
        labels, labels_val = self.data.face_labels, self.data.face_labels_val
        optimiser = self._adam(net)
        best_acc, best_state, since_best, lowered, epochs = -1.0, None, 0, False, 0
        train_acc = float("nan")
        for _ in range(settings.recogniser_epochs):
            net.train()
            hits, seen = 0, 0
            for index in self._limit(datasets.iterate_batches(len(codes), settings.batch_size,
                                                              generator=self.generator)):
                if len(index) < 2:  # BatchNorm needs two samples
                    continue
                optimiser.zero_grad(set_to_none=True)
                logits = net(codes[index])
                F.cross_entropy(logits, labels[index]).backward()
                average_gradients(net.parameters())
                optimiser.step()
                hits += int((logits.argmax(-1) == labels[index]).sum())
                seen += len(index)
                if progress is not None:
                    progress.update(len(index))
            epochs += 1
            train_acc = hits / max(seen, 1)
            val_acc = self._evaluate(net, codes_val, labels_val)
            if val_acc > best_acc:
                best_acc, best_state, since_best = val_acc, copy.deepcopy(net.state_dict()), 0
                continue
            since_best += 1
            if since_best >= settings.recogniser_patience:
                if lowered:
                    break
                for group in optimiser.param_groups:
                    group["lr"] /= 10.0
                lowered, since_best = True, 0
        if best_state is not None:
            net.load_state_dict(best_state)
        net.eval()
        return {"recogniser_epochs": epochs, "recogniser_train_acc": train_acc,
                "recogniser_val_acc": best_acc}

    def detector_step(self, alternation: int, progress=None) -> dict:
        """Train D (face vs no-face CE, balanced batches); best val epoch restored."""
        settings, hardness = self.settings, self.settings.hardness(alternation)
        mode = self._network_input_mode()
        faces = self._encode_all(self.data.faces, mode, hardness)
        nonfaces = self._encode_all(self.data.nonfaces, mode, hardness)
        val_codes, val_targets = self._detection_val(mode, hardness)
        best_acc = self._train_detector(self.detector, faces, nonfaces, val_codes, val_targets,
                                        settings.detector_epochs, self.generator, progress)
        return {"detector_val_acc": best_acc}

    def _train_detector(self, net: nn.Module, faces: torch.Tensor, nonfaces: torch.Tensor,
                        val_codes: torch.Tensor, val_targets: torch.Tensor, epochs: int,
                        generator: torch.Generator, progress=None) -> float:
        """Train ``net`` (face vs no-face CE, balanced batches in ``generator``'s order) for
        ``epochs`` epochs on codes; restore its best validation epoch; return that accuracy
        (-1.0 when ``epochs`` is 0)."""
        optimiser = self._adam(net)
        best_acc, best_state = -1.0, None
        for _ in range(epochs):
            net.train()
            for face_index, nonface_index in self._limit(datasets.balanced_batches(
                    len(faces), len(nonfaces), self.settings.batch_size, generator=generator)):
                optimiser.zero_grad(set_to_none=True)
                batch = torch.cat([faces[face_index], nonfaces[nonface_index]])
                targets = torch.cat([torch.ones(len(face_index)),
                                     torch.zeros(len(nonface_index))]).long().to(batch.device)
                F.cross_entropy(net(batch), targets).backward()
                average_gradients(net.parameters())
                optimiser.step()
                if progress is not None:
                    progress.update(len(batch))
            val_acc = self._evaluate(net, val_codes, val_targets)
            if val_acc > best_acc:
                best_acc, best_state = val_acc, copy.deepcopy(net.state_dict())
        if best_state is not None:
            net.load_state_dict(best_state)
        net.eval()
        return best_acc

    def _detection_val(self, mode: str, hardness: Optional[float], generator=_OWN
                       ) -> "tuple[torch.Tensor, torch.Tensor]":
        faces = self._encode_all(self.data.faces_val, mode, hardness, generator=generator)
        nonfaces = self._encode_all(self.data.nonfaces_val, mode, hardness, generator=generator)
        targets = torch.cat([torch.ones(len(faces)), torch.zeros(len(nonfaces))]).long()
        return torch.cat([faces, nonfaces]), targets.to(faces.device)

    @staticmethod
    def _evaluate(net: nn.Module, codes: torch.Tensor, labels: torch.Tensor) -> float:
        broadcast_buffers(net)
        net.eval()
        with torch.no_grad():
            logits = torch.cat([net(codes[i:i + 1024]) for i in range(0, len(codes), 1024)])
        return _accuracy(logits, labels)

    def hard_metrics(self) -> dict:
        """R and D validation accuracy on hard (hardware) codes of the current camera.

        R's is nan where R is not trained (``adversary="closed_form"``, a pool without "cnn").
        """
        codes = self._encode_all(self.data.faces_val, "hard", None)
        det_codes, det_targets = self._detection_val("hard", None)
        recogniser = (self._evaluate(self.recogniser, codes, self.data.face_labels_val)
                      if self._trains_cnn() else float("nan"))
        return {"recogniser_val_acc_hard": recogniser,
                "detector_val_acc_hard": self._evaluate(self.detector, det_codes, det_targets)}

    # ---------------------------------------------------------------- selection (item 4)
    def selection_identity_accuracy(self, alternation: int) -> float:
        """Held-out accuracy of a fresh logistic regression on hard codes of ``select_*`` faces.

        Fitted on ``data.select_faces`` (the judge's people, training part), scored on
        ``data.select_faces_val``; with ``judge_folds`` = k > 0, k-fold cross-validated over
        both parts (``learn.selection.cross_validated_accuracy``: every judge image is scored
        once, by a model that did not see it). Camera noise comes from a generator of its own
        (seeded by the run's seed and ``alternation``) and the global RNG is restored, so
        scoring changes nothing the training draws.
        """
        data, classes = self.data, max(self.data.select_num_identities, 2)
        with self._scoring_noise(alternation) as generator:
            train = self._encode_all(data.select_faces, "hard", None, generator=generator)
            val = self._encode_all(data.select_faces_val, "hard", None, generator=generator)
        if self.settings.judge_folds:
            return cross_validated_accuracy(torch.cat([train, val]),
                                            torch.cat([data.select_labels, data.select_labels_val]),
                                            classes, self.settings.judge_folds)
        return logistic_accuracy(train, data.select_labels, val, data.select_labels_val, classes)

    def selection_face_accuracy(self, alternation: int) -> float:
        """Validation accuracy, on hard codes, of a copy of D trained ``judge_detector_epochs``
        more epochs on hard codes of the current camera (best epoch; D itself is unchanged).

        D learns a few epochs per alternation while the camera moves under it, so its own
        accuracy reads low, most at the first alternations (docs/learning.md); the copy reads
        what a detector trained on this camera's codes reaches. Camera noise and batch order
        come from generators of their own, and the global RNG is restored, so scoring changes
        nothing the training draws.
        """
        with self._scoring_noise(104_729 + alternation) as generator:
            faces = self._encode_all(self.data.faces, "hard", None, generator=generator)
            nonfaces = self._encode_all(self.data.nonfaces, "hard", None, generator=generator)
            val_codes, val_targets = self._detection_val("hard", None, generator)
            order = torch.Generator().manual_seed(self.seed * 1_000_003 + 104_729 + alternation)
            return self._train_detector(copy.deepcopy(self.detector), faces, nonfaces, val_codes,
                                        val_targets, self.settings.judge_detector_epochs, order)

    def selection_step(self, alternation: int, metrics: dict) -> dict:
        """Score this alternation (its utility: ``metrics["detector_val_acc_hard"]``, or
        :meth:`selection_face_accuracy` with ``judge_detector_epochs`` > 0); offer it."""
        identity_acc = self.selection_identity_accuracy(alternation)
        face_acc = (self.selection_face_accuracy(alternation)
                    if self.settings.judge_detector_epochs
                    else float(metrics["detector_val_acc_hard"]))
        self.selection.offer(alternation, identity_acc, face_acc, self.camera.state_dict())
        return {"select_identity_acc": identity_acc, "select_face_acc": face_acc,
                "selected_alternation": self.selection.alternation}

    def design(self) -> "tuple[nn.Module, Optional[int]]":
        """The camera the run returns and its alternation (None: the live, last camera).

        With ``select="validation"`` a copy of the camera holding the selected alternation's
        parameters; otherwise ``self.camera`` itself.
        """
        if self.selection is None or self.selection.alternation is None:
            return self.camera, None
        camera = copy.deepcopy(self.camera)
        camera.load_state_dict(self.selection.camera_state)
        return camera, self.selection.alternation

    # ---------------------------------------------------------------- one alternation
    def images_per_alternation(self) -> int:
        """Upper bound of images processed by one alternation (sizes the progress bar)."""
        s, half = self.settings, self.settings.batch_size // 2
        balanced = 2 * half * -(-max(len(self.data.faces), len(self.data.nonfaces)) // half)
        per_r = len(self.data.faces)
        if s.steps_per_epoch is not None:
            balanced = min(balanced, s.steps_per_epoch * 2 * half)
            per_r = min(per_r, s.steps_per_epoch * s.batch_size)
        recognisers = 0 if s.adversary == "closed_form" else len(self.pool)
        encoder = balanced * s.encoder_epochs if self.camera_parameters() else 0
        return encoder + per_r * s.recogniser_epochs * recognisers + balanced * s.detector_epochs

    def run_alternation(self, alternation: int, progress=None) -> dict:
        """One alternation (encoder step and network steps in ``settings.order``); metrics."""
        start = time.perf_counter()
        metrics = {"alternation": alternation, "hardness": self.settings.hardness(alternation)}
        steps = [self.encoder_step, self.recogniser_step, self.detector_step]
        if self.settings.order == "networks_first":
            steps = steps[1:] + steps[:1]
        for step in steps:
            metrics.update(step(alternation, progress))
        metrics.update(self.hard_metrics())
        if self.selection is not None:
            metrics.update(self.selection_step(alternation, metrics))
        thresholds = getattr(self.camera, "thresholds", None)
        if thresholds is not None:
            metrics["thresholds"] = [round(float(t), 5) for t in thresholds]
        metrics["seconds"] = round(time.perf_counter() - start, 3)
        return metrics

    # ---------------------------------------------------------------- state
    def _modules(self) -> "dict[str, nn.Module]":
        modules = {"camera": self.camera, "recogniser": self.recogniser, "detector": self.detector}
        if self.flat_recogniser is not None:
            modules["recogniser_linear"] = self.flat_recogniser
        return modules

    def state_dict(self) -> dict:
        """Everything a resumed run needs (tensors and plain types, loadable with weights_only=True).

        Beyond the camera, R, D and the RNG states: ``recogniser_linear`` (a fresh pool's flat
        member), ``adversary_scores`` ("fresh") and ``selection`` (``select="validation"``).
        """
        state = {name: module.state_dict() for name, module in self._modules().items()}
        state |= {"generator": self.generator.get_state(), "torch_rng": torch.get_rng_state()}
        if self.settings.adversary == "fresh":
            state["adversary_scores"] = dict(self.adversary_scores)
        if self.selection is not None:
            state["selection"] = self.selection.state_dict()
        if self.settings.utility == "constraint":
            state["utility_multiplier"] = float(self.utility_multiplier)
        if self.settings.optics_lr is not None:
            state["optics_scale"] = float(self.optics_scale)
        return state

    def load_state_dict(self, state: dict) -> None:
        """Restore :meth:`state_dict` (strict: a mismatched checkpoint raises ValueError)."""
        modules = self._modules()
        required = set(modules) | {"generator", "torch_rng"}
        required |= {"adversary_scores"} if self.settings.adversary == "fresh" else set()
        required |= {"selection"} if self.selection is not None else set()
        required |= {"utility_multiplier"} if self.settings.utility == "constraint" else set()
        required |= {"optics_scale"} if self.settings.optics_lr is not None else set()
        missing = required - set(state)
        if missing:
            raise ValueError(f"checkpoint: missing entries {sorted(missing)}")
        for name, module in modules.items():  # check everything before changing anything
            _check_state_matches(module, state[name], name)
        if self.selection is not None and state["selection"]["camera"]:
            _check_state_matches(self.camera, state["selection"]["camera"], "selected camera")
        for name, module in modules.items():
            module.load_state_dict(state[name])
        self.generator.set_state(state["generator"])
        torch.set_rng_state(state["torch_rng"])
        if "adversary_scores" in required:
            self.adversary_scores = {str(k): float(v) for k, v in state["adversary_scores"].items()}
        if self.selection is not None:
            self.selection.load_state_dict(state["selection"])
        if "utility_multiplier" in required:
            self.utility_multiplier = float(state["utility_multiplier"])
        if "optics_scale" in required:
            self.optics_scale = float(state["optics_scale"])
