"""The attack suite: every attacker trains from scratch on encoded data, selects on validation.

Attackers (each a :class:`Attack`; ``fit`` sees only train and validation data)
---------------------------------------------------------------------------------
* ``inception``   : a GoogLeNet-style CNN (the paper's adversary), best epoch on validation.
* ``mlp``         : a two-hidden-layer perceptron on the flattened, standardised code.
* ``logistic``    : multinomial logistic regression; weight decay picked on validation.
* ``knn``         : k nearest neighbours (Euclidean, standardised); k picked on validation.
* ``reconstruct`` : a decoder trained on simulated (image, code) pairs -- the attacker can run
  the camera on images of its own -- whose output is classified by a recogniser trained on
  clean images (best epochs of both on validation).

All randomness comes from the ``seed`` given to ``fit``: the same seed, the same numbers.
"""
from __future__ import annotations

import abc
import copy
import dataclasses
import math
from typing import Callable, Sequence

import torch
from torch import nn
from torch.nn import functional as F

from learn.attack_networks import (CodeDecoder, FlatClassifier, InceptionClassifier,
                                   standardise_modules, top_k_hits)
from learn.layout import adopt_layout, in_layout

ATTACK_NAMES = ("inception", "mlp", "logistic", "knn", "reconstruct")


# ----------------------------------------------------------------------------- data and budget
@dataclasses.dataclass
class AttackData:
    """What an attacker may train on: encoded train and validation sets (never the test set).

    Attributes
    ----------
    train_x, val_x : torch.Tensor
        float32 [N, C, H, W] camera outputs (codes 0..15 or images).
    train_y, val_y : torch.Tensor
        int64 [N] class labels in ``0 .. num_classes - 1``.
    num_classes : int
        Number of classes K.
    train_images, val_images : torch.Tensor or None
        Clean float32 [N, 3, S, S] images aligned row by row with ``train_x`` / ``val_x``: the
        attacker's simulated (image, code) pairs, needed by the reconstruction attack only.
    augment : callable or None
        ``augment(batch, generator) -> batch``, on-the-fly augmentation valid for these outputs
        (used by the CNN); None where the encoded data must not be transformed.
    """

    train_x: torch.Tensor
    train_y: torch.Tensor
    val_x: torch.Tensor
    val_y: torch.Tensor
    num_classes: int
    train_images: "torch.Tensor | None" = None
    val_images: "torch.Tensor | None" = None
    augment: "Callable[[torch.Tensor, torch.Generator], torch.Tensor] | None" = None

    def __post_init__(self) -> None:
        for name in ("train", "val"):
            x, y = getattr(self, f"{name}_x"), getattr(self, f"{name}_y")
            if x.ndim != 4 or y.ndim != 1 or x.shape[0] != y.shape[0] or x.shape[0] == 0:
                raise ValueError(f"{name}_x/{name}_y: shapes {tuple(x.shape)} / {tuple(y.shape)} "
                                 "are not allowed; need [N, C, H, W] and [N] with N >= 1")
            if int(y.min()) < 0 or int(y.max()) >= self.num_classes:
                raise ValueError(f"{name}_y: labels span [{int(y.min())}, {int(y.max())}]; "
                                 f"need [0, {self.num_classes - 1}]")
        if self.train_x.shape[1:] != self.val_x.shape[1:]:
            raise ValueError(f"val_x: shape {tuple(self.val_x.shape[1:])} per item differs from "
                             f"train_x {tuple(self.train_x.shape[1:])}")

    @property
    def in_channels(self) -> int:
        """Channels C of the encoded data."""
        return int(self.train_x.shape[1])

    @property
    def input_size(self) -> int:
        """Height H (= width) of the encoded data, in pixels."""
        return int(self.train_x.shape[2])


@dataclasses.dataclass(frozen=True)
class AttackBudget:
    """Training budget of the suite (epochs are maxima: the best validation epoch is kept).

    Attributes
    ----------
    cnn_epochs : int
        Epochs of the Inception-style classifier (and of the clean recogniser).
    flat_epochs : int
        Epochs of the MLP and of each logistic-regression fit.
    decoder_epochs : int
        Epochs of the reconstruction decoder.
    patience : int
        Stop after this many epochs without a better validation score.
    batch_size : int
        Minibatch size.
    cnn_width : int
        Channels per inception branch (capacity of the CNNs).
    decoder_width : int
        Feature channels of the reconstruction decoder.
    detector_epochs : int
        Epochs of the face vs no-face detector (0: the same as ``cnn_epochs``); face vs no-face
        is learnt in far fewer epochs than identity.
    decoder_cells : int
        Grid (cells per side) the reconstruction decoder computes on; larger outputs (clean or
        blurred 64x64 images, un-pooled codes) are folded onto it
        (``learn.attack_networks.CodeDecoder``); 8x8 codes are not. 64 decodes full-size
        outputs at full resolution, as before this field existed.
    detector_width : int
        Channels per inception branch of the face vs no-face detector (0: ``cnn_width``).
    """

    cnn_epochs: int = 80
    flat_epochs: int = 150
    decoder_epochs: int = 40
    patience: int = 25
    batch_size: int = 64
    cnn_width: int = 16
    decoder_width: int = 64
    detector_epochs: int = 0
    decoder_cells: int = 16
    detector_width: int = 0

    def __post_init__(self) -> None:
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if not isinstance(value, int) or value < (0 if field.name.startswith("detector_")
                                                      else 1):
                raise ValueError(f"AttackBudget.{field.name}: {value!r} is not allowed; "
                                 "need an integer >= 1 (detector_epochs, detector_width: >= 0)")


QUICK_BUDGET = AttackBudget(cnn_epochs=5, flat_epochs=15, decoder_epochs=2, patience=3,
                            batch_size=32, cnn_width=8, decoder_width=32)


# ----------------------------------------------------------------------------- augmentation
def augment_images(images: torch.Tensor, generator: torch.Generator, max_shift: float = 4.0,
                   jitter: float = 0.2, clamp: bool = True, max_zoom: float = 0.1,
                   max_rotation_deg: float = 10.0) -> torch.Tensor:
    """Random flips, small shifts, zooms and rotations, and colour jitter, batched (no loops).

    Parameters
    ----------
    images : torch.Tensor
        float32 [N, 3, H, W] linear RGB in [0, 1].
    generator : torch.Generator
        Source of every random draw.
    max_shift : float
        Largest shift, in pixels, along each axis (edges replicated).
    jitter : float
        Brightness, contrast and per-channel gain are drawn from [1 - jitter, 1 + jitter].
    clamp : bool
        Clip the result to [0, 1] (for images; off for other value ranges).
    max_zoom : float
        The scale is drawn from [1 - max_zoom, 1 + max_zoom] (about the image centre).
    max_rotation_deg : float
        The rotation, in degrees, is drawn from [-max_rotation_deg, max_rotation_deg] (about the
        image centre; square images keep their aspect ratio).

    Returns
    -------
    torch.Tensor
        float32 [N, 3, H, W] in [0, 1].
    """
    n, _, h, w = images.shape

    def uniform(*shape: int) -> torch.Tensor:  # drawn on the generator's device, then moved
        return (torch.rand(*shape, generator=generator) * 2.0 - 1.0).to(images.device)

    flip = torch.where(torch.rand(n, generator=generator) < 0.5, -1.0, 1.0).to(images.device)
    # theta maps output to input coordinates: zoom * rotation, then the mirror of the x axis
    scale = 1.0 + max_zoom * uniform(n)
    angle = torch.deg2rad(max_rotation_deg * uniform(n))
    cos, sin = scale * torch.cos(angle), scale * torch.sin(angle)
    theta = torch.zeros(n, 2, 3, device=images.device)
    theta[:, 0, 0], theta[:, 0, 1] = cos * flip, -sin
    theta[:, 1, 0], theta[:, 1, 1] = sin * flip, cos
    theta[:, 0, 2] = uniform(n) * 2.0 * max_shift / w
    theta[:, 1, 2] = uniform(n) * 2.0 * max_shift / h
    grid = F.affine_grid(theta, list(images.shape), align_corners=False)
    out = F.grid_sample(images, grid, mode="bilinear", padding_mode="border", align_corners=False)
    mean = out.mean(dim=(1, 2, 3), keepdim=True)
    contrast = 1.0 + jitter * uniform(n, 1, 1, 1)
    brightness = 1.0 + jitter * uniform(n, 1, 1, 1)
    gain = 1.0 + 0.5 * jitter * uniform(n, 3, 1, 1)
    out = ((out - mean) * contrast + mean) * brightness * gain
    return out.clamp(0.0, 1.0) if clamp else out


def augment_geometric(images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Flips and shifts only (no colour jitter, no clipping): for outputs that are not images."""
    return augment_images(images, generator, jitter=0.0, clamp=False)


# ----------------------------------------------------------------------------- training loop
@torch.no_grad()
def predict_logits(model: nn.Module, x: torch.Tensor, batch_size: int = 256) -> torch.Tensor:
    """``model`` in eval mode on ``x`` [N, ...] in batches -> float32 [N, K]."""
    model.eval()
    return torch.cat([model(in_layout(x[i:i + batch_size]))
                      for i in range(0, x.shape[0], batch_size)])


def accuracy(logits: torch.Tensor, labels: torch.Tensor, k: int = 1) -> float:
    """Fraction of rows whose label is among the top-``k`` logits."""
    return float(top_k_hits(logits, labels, k).float().mean())


@dataclasses.dataclass
class FitRecord:
    """What model selection chose: the best epoch and its validation accuracy (top-1)."""

    best_epoch: int
    val_top1: float
    epochs_run: int


@dataclasses.dataclass
class LoopOutcome:
    """What :func:`fit` chose: the best validation score, its epoch and the epochs run.

    Attributes
    ----------
    best_score : object
        The best value ``score`` returned (higher is better); ``worst`` if no epoch beat it.
    best_epoch : int
        1-based epoch whose weights the model ends holding (0: none beat ``worst``; the
        weights are then the initial ones).
    epochs_run : int
        Epochs trained before the budget or the patience ran out.
    """

    best_score: object
    best_epoch: int
    epochs_run: int


def fit(model: nn.Module, x: torch.Tensor, y: torch.Tensor, val_x: torch.Tensor,
        val_y: torch.Tensor, *, loss: "Callable[[torch.Tensor, torch.Tensor], torch.Tensor]",
        score: "Callable[[torch.Tensor, torch.Tensor], object]", worst: object, epochs: int,
        patience: int, batch_size: int, seed: int, lr: float, weight_decay: float,
        cosine: bool = False,
        augment: "Callable[[torch.Tensor, torch.Generator], torch.Tensor] | None" = None
        ) -> LoopOutcome:
    """The training loop of every attacker: AdamW minibatches, the best validation epoch kept.

    Seeds torch's global generator (weights drawn later, dropout) and a CPU generator
    (shuffling, then augmentation, in that order each epoch) with ``seed``; fits the input
    standardisation of ``model`` on ``x``. Each epoch trains on a fresh permutation of ``x`` in
    minibatches (a batch of fewer than two rows is skipped: BatchNorm needs two), then scores the
    model in eval mode on the validation set. A score strictly above the best so far keeps a copy
    of the weights; training stops after ``patience`` epochs without one. ``model`` ends holding
    the best weights, in eval mode.

    Parameters
    ----------
    model : nn.Module
        Maps [B, ...] inputs to outputs that ``loss`` and ``score`` compare with targets; moved
        to ``x``'s device.
    x, y : torch.Tensor
        Training inputs [N, ...] and targets [N, ...] (row ``i`` of ``y`` belongs to row ``i``
        of ``x``): int64 labels [N] for a classifier, float32 images [N, 3, S, S] for a decoder.
    val_x, val_y : torch.Tensor
        Validation inputs and targets (model selection only).
    loss : callable
        ``loss(outputs [B, ...], targets [B, ...]) -> scalar tensor``, minimised on each batch.
    score : callable
        ``score(outputs [M, ...], val_y [M, ...]) -> comparable``: the validation criterion,
        higher is better (compared with ``>``; ties are no improvement).
    worst : object
        A score below every real one (the starting "best"); a ``score`` that never exceeds it
        (NaN, say) keeps the initial weights.
    epochs, patience, batch_size : int
        Budget (see :class:`AttackBudget`).
    seed : int
        Seeds the weights, the shuffling, dropout and the augmentation.
    lr, weight_decay : float
        AdamW settings.
    cosine : bool
        Anneal the learning rate to 0 over ``epochs`` full epochs of steps (cosine, per step);
        off: a constant ``lr``.
    augment : callable, optional
        ``augment(batch, generator) -> batch`` applied to each training batch.

    Returns
    -------
    LoopOutcome

    Notes
    -----
    Training runs on ``x``'s device; shuffling and augmentation draw from a CPU generator, so
    they do not depend on the device.
    """
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    adopt_layout(model, x.device)
    for module in standardise_modules(model):
        module.fit(x)
    optimiser = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
    schedule = None
    if cosine:
        steps_per_epoch = math.ceil(x.shape[0] / batch_size)
        schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimiser, epochs * steps_per_epoch)
    best, best_epoch, epoch = worst, 0, 0
    best_state = copy.deepcopy(model.state_dict())
    for epoch in range(1, epochs + 1):
        model.train()
        order = torch.randperm(x.shape[0], generator=generator).to(x.device)
        for start in range(0, x.shape[0], batch_size):
            index = order[start:start + batch_size]
            if index.numel() < 2:  # BatchNorm needs two samples
                continue
            batch = x[index] if augment is None else augment(x[index], generator)
            batch_loss = loss(model(in_layout(batch)), y[index])
            optimiser.zero_grad(set_to_none=True)
            batch_loss.backward()
            optimiser.step()
            if schedule is not None:
                schedule.step()
        value = score(predict_logits(model, val_x), val_y)
        if value > best:
            best, best_epoch = value, epoch
            best_state = copy.deepcopy(model.state_dict())
        elif epoch - best_epoch >= patience:
            break
    model.load_state_dict(best_state)
    model.eval()
    return LoopOutcome(best_score=best, best_epoch=best_epoch, epochs_run=epoch)


def classification_score(logits: torch.Tensor, labels: torch.Tensor) -> "tuple[float, float]":
    """Validation criterion of the classifiers: (top-1 accuracy, minus the cross-entropy in nats).

    ``logits`` float32 [M, K], ``labels`` int64 [M]; compared as a tuple, so the loss only breaks
    ties of the accuracy.
    """
    return accuracy(logits, labels), -float(F.cross_entropy(logits, labels))


def train_classifier(model: nn.Module, x: torch.Tensor, y: torch.Tensor, val_x: torch.Tensor,
                     val_y: torch.Tensor, epochs: int, patience: int, batch_size: int,
                     seed: int, lr: float = 2e-3, weight_decay: float = 5e-4,
                     augment: "Callable[[torch.Tensor, torch.Generator], torch.Tensor] | None"
                     = None, label_smoothing: float = 0.0) -> FitRecord:
    """Train ``model`` with cross-entropy; keep the weights of the best validation epoch.

    :func:`fit` with AdamW and a cosine learning-rate schedule; the input standardisation of
    ``model`` is fitted on ``x``. Validation top-1 selects the epoch (ties: the lower validation
    loss, :func:`classification_score`); training stops after ``patience`` epochs without
    improvement. ``model`` ends holding the best weights.

    Parameters
    ----------
    model : nn.Module
        Maps [B, ...] to logits [B, K].
    x, y : torch.Tensor
        Training inputs [N, ...] and int64 labels [N].
    val_x, val_y : torch.Tensor
        Validation inputs and labels (model selection only).
    epochs, patience, batch_size, seed, lr, weight_decay, augment
        As in :func:`fit` (budget: :class:`AttackBudget`; ``seed`` also seeds the weights).
    label_smoothing : float
        Label smoothing of the training loss, in [0, 1) (the validation loss has none).

    Returns
    -------
    FitRecord
        ``val_top1`` is the best epoch's validation top-1 accuracy, a fraction in [0, 1].

    Notes
    -----
    Training runs on ``x``'s device (``model`` is moved there); see :func:`fit`.
    """
    if not 0.0 <= label_smoothing < 1.0:
        raise ValueError(f"label_smoothing: {label_smoothing} is not allowed; need [0, 1)")

    def loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(logits, labels, label_smoothing=label_smoothing)

    outcome = fit(model, x, y, val_x, val_y, loss=loss, score=classification_score,
                  worst=(-1.0, -math.inf), epochs=epochs, patience=patience,
                  batch_size=batch_size, seed=seed, lr=lr, weight_decay=weight_decay,
                  cosine=True, augment=augment)
    return FitRecord(best_epoch=outcome.best_epoch, val_top1=outcome.best_score[0],
                     epochs_run=outcome.epochs_run)


# ----------------------------------------------------------------------------- attacks
class Attack(abc.ABC):
    """An attacker: ``fit`` on :class:`AttackData` (train + val), then ``scores`` on new data."""

    name: str = "attack"

    def __init__(self, budget: AttackBudget = AttackBudget()):
        self.budget = budget
        self.record: "FitRecord | None" = None

    @abc.abstractmethod
    def fit(self, data: AttackData, seed: int) -> "Attack":
        """Train from scratch on ``data`` with ``seed``; select on its validation part."""

    @abc.abstractmethod
    def scores(self, x: torch.Tensor) -> torch.Tensor:
        """Class scores [N, K] (higher = more likely) for encoded inputs ``x`` [N, C, H, W]."""

    def _require_fit(self) -> None:
        if self.record is None:
            raise RuntimeError(f"attack {self.name!r}: call fit() before scores()")


class NetworkAttack(Attack):
    """An attack that is one classifier network trained by :func:`train_classifier`."""

    lr: float = 2e-3
    weight_decay: float = 5e-4
    label_smoothing: float = 0.0

    def __init__(self, budget: AttackBudget = AttackBudget()):
        super().__init__(budget)
        self.model: "nn.Module | None" = None

    @abc.abstractmethod
    def build(self, data: AttackData) -> nn.Module:
        """A freshly initialised network for ``data``'s shape and classes."""

    uses_augmentation: bool = False

    def epochs(self) -> int:
        return self.budget.flat_epochs

    def fit(self, data: AttackData, seed: int) -> "NetworkAttack":
        torch.manual_seed(seed)
        self.model = self.build(data)
        augment = data.augment if self.uses_augmentation else None
        self.record = train_classifier(self.model, data.train_x, data.train_y, data.val_x,
                                       data.val_y, self.epochs(), self.budget.patience,
                                       self.budget.batch_size, seed, self.lr, self.weight_decay,
                                       augment=augment, label_smoothing=self.label_smoothing)
        return self

    def scores(self, x: torch.Tensor) -> torch.Tensor:
        self._require_fit()
        return predict_logits(self.model, x)


class InceptionAttack(NetworkAttack):
    """The paper's adversary: a GoogLeNet-style CNN trained on the encoded data."""

    name = "inception"
    uses_augmentation = True
    label_smoothing = 0.1

    def build(self, data: AttackData) -> nn.Module:
        return InceptionClassifier(data.in_channels, data.num_classes, data.input_size,
                                   width=self.budget.cnn_width)

    def epochs(self) -> int:
        return self.budget.cnn_epochs


class MLPAttack(NetworkAttack):
    """A perceptron with two hidden layers (512, 256) on the flattened code."""

    name = "mlp"
    weight_decay = 1e-2

    def build(self, data: AttackData) -> nn.Module:
        return FlatClassifier(data.in_channels, data.num_classes, data.input_size,
                              hidden=(512, 256), dropout=0.3)


class LogisticAttack(Attack):
    """Multinomial logistic regression; the L2 weight is chosen on validation from a grid."""

    name = "logistic"

    def __init__(self, budget: AttackBudget = AttackBudget(),
                 weight_decays: Sequence[float] = (1e-3, 1e-2, 1e-1)):
        super().__init__(budget)
        self.weight_decays = tuple(weight_decays)
        self.model: "nn.Module | None" = None
        self.weight_decay: "float | None" = None

    def fit(self, data: AttackData, seed: int) -> "LogisticAttack":
        best = None
        for weight_decay in self.weight_decays:
            torch.manual_seed(seed)
            model = FlatClassifier(data.in_channels, data.num_classes, data.input_size)
            record = train_classifier(model, data.train_x, data.train_y, data.val_x, data.val_y,
                                      self.budget.flat_epochs, self.budget.patience,
                                      self.budget.batch_size, seed, lr=5e-3,
                                      weight_decay=weight_decay)
            if best is None or record.val_top1 > best[0].val_top1:
                best = (record, model, weight_decay)
        self.record, self.model, self.weight_decay = best
        return self

    def scores(self, x: torch.Tensor) -> torch.Tensor:
        self._require_fit()
        return predict_logits(self.model, x)


class KNNAttack(Attack):
    """k nearest neighbours on standardised flattened codes; k chosen on validation.

    Scores are neighbour votes, with ties (and the classes no neighbour voted for) ranked by the
    distance to each class's nearest training sample, so top-5 is well defined.
    """

    name = "knn"

    def __init__(self, budget: AttackBudget = AttackBudget(),
                 ks: Sequence[int] = (1, 3, 5, 9, 15)):
        super().__init__(budget)
        self.ks = tuple(ks)
        self.k: "int | None" = None

    def _features(self, x: torch.Tensor) -> torch.Tensor:
        return ((x.reshape(x.shape[0], -1) - self.mean) / self.std).float()

    def _scores_for_k(self, x: torch.Tensor, k: int) -> torch.Tensor:
        distances = torch.cdist(self._features(x), self.train_features)       # [N, M]
        k = min(k, distances.shape[1])
        nearest = distances.topk(k, dim=1, largest=False).indices
        votes = torch.zeros(x.shape[0], self.num_classes, device=x.device)
        votes.scatter_add_(1, self.train_y[nearest], torch.ones(nearest.shape, device=x.device))
        per_class = torch.full((x.shape[0], self.num_classes), math.inf, device=x.device)
        per_class.scatter_reduce_(1, self.train_y.expand(x.shape[0], -1), distances, "amin")
        closeness = 1.0 / (1.0 + per_class)                                 # in (0, 1]
        return votes + 0.5 * closeness

    def fit(self, data: AttackData, seed: int) -> "KNNAttack":
        flat = data.train_x.reshape(data.train_x.shape[0], -1)
        self.mean, self.std = flat.mean(dim=0), flat.std(dim=0).clamp_min(1e-6)
        self.train_features = self._features(data.train_x)
        self.train_y, self.num_classes = data.train_y, data.num_classes
        results = [(accuracy(self._scores_for_k(data.val_x, k), data.val_y), -k) for k in self.ks]
        val_top1, neg_k = max(results)
        self.k = -neg_k
        self.record = FitRecord(best_epoch=0, val_top1=val_top1, epochs_run=0)
        return self

    def scores(self, x: torch.Tensor) -> torch.Tensor:
        self._require_fit()
        return self._scores_for_k(x, self.k)


def train_decoder(decoder: nn.Module, codes: torch.Tensor, images: torch.Tensor,
                  val_codes: torch.Tensor, val_images: torch.Tensor, epochs: int, patience: int,
                  batch_size: int, seed: int, lr: float = 2e-3) -> float:
    """Fit ``decoder`` (codes -> images) with an L1 loss; keep the best validation epoch.

    :func:`fit` with AdamW (weight decay 1e-4, constant ``lr``), no augmentation; the lowest
    validation mean absolute error selects the epoch.

    Parameters
    ----------
    decoder : nn.Module
        Maps codes [B, C, H, W] to images [B, 3, S, S].
    codes, images : torch.Tensor
        Training pairs: float32 codes [N, C, H, W] and clean float32 images [N, 3, S, S].
    val_codes, val_images : torch.Tensor
        Validation pairs (model selection only).
    epochs, patience, batch_size, seed : int
        Budget and seed, as in :func:`train_classifier`.
    lr : float
        AdamW learning rate.

    Returns
    -------
    float
        The best validation mean absolute error (image units, [0, 1] scale).
    """
    def negative_l1(outputs: torch.Tensor, targets: torch.Tensor) -> float:
        return -float(F.l1_loss(outputs, targets))

    outcome = fit(decoder, codes, images, val_codes, val_images, loss=F.l1_loss,
                  score=negative_l1, worst=-math.inf, epochs=epochs, patience=patience,
                  batch_size=batch_size, seed=seed, lr=lr, weight_decay=1e-4)
    return -outcome.best_score


class ReconstructionAttack(Attack):
    """Decode the code back to an image, then recognise it with a clean-image recogniser.

    Parameters
    ----------
    budget : AttackBudget
    recognisers : dict, optional
        Cache ``{seed: trained clean recogniser}`` shared between attacks on the SAME split (the
        clean recogniser depends only on the clean images, the budget and the seed). Give each
        split its own; ``learn.recogniser_store.RecogniserStore`` keeps them on disk.
    """

    name = "reconstruct"

    def __init__(self, budget: AttackBudget = AttackBudget(),
                 recognisers: "dict[int, nn.Module] | None" = None):
        super().__init__(budget)
        self.recognisers = {} if recognisers is None else recognisers
        self.decoder: "nn.Module | None" = None
        self.recogniser: "nn.Module | None" = None
        self.decoder_val_l1: "float | None" = None

    def _clean_recogniser(self, data: AttackData, seed: int) -> nn.Module:
        if seed not in self.recognisers:
            torch.manual_seed(seed)
            model = InceptionClassifier(3, data.num_classes, data.train_images.shape[-1],
                                        width=self.budget.cnn_width)
            train_classifier(model, data.train_images, data.train_y, data.val_images, data.val_y,
                             self.budget.cnn_epochs, self.budget.patience,
                             self.budget.batch_size, seed, augment=augment_images,
                             label_smoothing=InceptionAttack.label_smoothing)
            self.recognisers[seed] = model
        # a recogniser read back from disk (learn.recogniser_store) comes on the CPU
        return adopt_layout(self.recognisers[seed], data.train_images.device)

    def fit(self, data: AttackData, seed: int) -> "ReconstructionAttack":
        if data.train_images is None or data.val_images is None:
            raise ValueError("reconstruct: AttackData.train_images/val_images are None; the "
                             "reconstruction attack needs the clean (image, code) pairs")
        self.recogniser = self._clean_recogniser(data, seed)
        torch.manual_seed(seed)
        self.decoder = CodeDecoder(data.in_channels, data.input_size,
                                   data.train_images.shape[-1], width=self.budget.decoder_width,
                                   cells=self.budget.decoder_cells)
        self.decoder_val_l1 = train_decoder(
            self.decoder, data.train_x, data.train_images, data.val_x, data.val_images,
            self.budget.decoder_epochs, self.budget.patience, self.budget.batch_size, seed)
        val_top1 = accuracy(self.scores_unchecked(data.val_x), data.val_y)
        self.record = FitRecord(best_epoch=0, val_top1=val_top1, epochs_run=0)
        return self

    def scores_unchecked(self, x: torch.Tensor) -> torch.Tensor:
        return predict_logits(self.recogniser, predict_logits(self.decoder, x))

    def scores(self, x: torch.Tensor) -> torch.Tensor:
        self._require_fit()
        return self.scores_unchecked(x)


ATTACK_CLASSES = {cls.name: cls for cls in (InceptionAttack, MLPAttack, LogisticAttack,
                                            KNNAttack, ReconstructionAttack)}


def make_attack(name: str, budget: AttackBudget = AttackBudget(),
                recognisers: "dict[int, nn.Module] | None" = None) -> Attack:
    """A fresh attack by name (one of :data:`ATTACK_NAMES`)."""
    if name not in ATTACK_CLASSES:
        raise ValueError(f"attack: {name!r} is not allowed; choose from {ATTACK_NAMES}")
    if name == "reconstruct":
        return ReconstructionAttack(budget, recognisers)
    return ATTACK_CLASSES[name](budget)
