"""The evaluation protocol: privacy (identity attacks) and utility (face vs no-face) of an encoder.

Protocol (see docs/evaluation.md)
---------------------------------
1. The encoder is the camera in ``mode="hard"`` (hardware quantiser, noise sampled from a
   generator seeded per evaluation seed), applied to identities the encoder never saw.
2. For each seed, every attack of the suite and the face vs no-face detector train FROM SCRATCH
   on the encoded train part (plus ``n_augment`` encoded augmented copies: flips, shifts, colour
   jitter applied to the scene before the camera) and select their epoch / hyper-parameters on
   the encoded validation part.
3. Only after every model of every seed is fixed is the test part read -- once -- encoded per
   seed, and scored: top-1 and top-5 identity accuracy per attack, face vs no-face accuracy.
4. Reported: mean and spread (sample standard deviation) over seeds; chance levels; the privacy
   figure = the strongest attack's mean test top-1 (the maximum over attacks: a conservative,
   attacker-favouring choice).
"""
from __future__ import annotations

import dataclasses
import math
import statistics
from typing import Callable, Mapping, Protocol, Sequence

import numpy as np
import torch
from tqdm.auto import tqdm

from learn.attack_networks import InceptionClassifier, top_k_hits
from learn.attacks import (ATTACK_NAMES, AttackBudget, AttackData, augment_geometric,
                           augment_images, make_attack, predict_logits, train_classifier)

#: ``encoder(images [N, 3, H, W] linear RGB, generator) -> outputs [N, C, h, w]``.
Encoder = Callable[[torch.Tensor, torch.Generator], torch.Tensor]


class LabelledPart(Protocol):
    """One split part: ``images`` float32 [N, 3, H, W] linear RGB in [0, 1], ``labels`` int64 [N]."""

    images: torch.Tensor
    labels: torch.Tensor


@dataclasses.dataclass
class Part:
    """A concrete :class:`LabelledPart`."""

    images: torch.Tensor
    labels: torch.Tensor


@dataclasses.dataclass
class EvaluationData:
    """Identity and detection parts. Identities here must be disjoint from the encoder's.

    Attributes
    ----------
    id_train, id_val, id_test : LabelledPart
        Faces of the evaluation identities, labels ``0 .. num_classes - 1``.
    det_train, det_val, det_test : LabelledPart
        Faces (label 1) and no-face images (label 0) for the utility task.
    num_classes : int
        Number of evaluation identities K.
    """

    id_train: LabelledPart
    id_val: LabelledPart
    id_test: LabelledPart
    det_train: LabelledPart
    det_val: LabelledPart
    det_test: LabelledPart
    num_classes: int

    def to(self, device) -> "EvaluationData":
        """A copy with every part's images and labels on ``device`` (``torch.device`` or str)."""
        def moved(part: LabelledPart) -> Part:
            return Part(part.images.to(device), part.labels.to(device))

        return EvaluationData(*(moved(getattr(self, name)) for name in _PART_NAMES),
                              num_classes=self.num_classes)


_PART_NAMES = ("id_train", "id_val", "id_test", "det_train", "det_val", "det_test")


def balanced_subset(labels: np.ndarray, count: int) -> np.ndarray:
    """Indices of ``count`` items spread evenly over the classes (round robin), in input order.

    Taking the first ``count`` items of an identity-sorted part would keep only the first few
    identities (and train and test would then hold different ones); this takes each class's
    first item, then each class's second, and so on.

    Parameters
    ----------
    labels : numpy.ndarray
        int [N] class of each item (for an unlabelled set, ``np.arange(N)`` spreads evenly).
    count : int
        Items to keep (all when >= N).

    Returns
    -------
    numpy.ndarray
        int64 [min(count, N)] sorted indices.
    """
    labels = np.asarray(labels)
    if count >= len(labels):
        return np.arange(len(labels))
    order = np.argsort(labels, kind="stable")
    sorted_labels = labels[order]
    first = np.searchsorted(sorted_labels, sorted_labels, side="left")
    rank = np.arange(len(labels)) - first                    # position within its class
    chosen = order[np.lexsort((sorted_labels, rank))[:count]]
    return np.sort(chosen)


def _spread_subset(count: int, keep: "int | None") -> np.ndarray:
    """``keep`` indices evenly spaced over ``range(count)`` (all when ``keep`` is None)."""
    if keep is None or keep >= count:
        return np.arange(count)
    return np.unique(np.linspace(0, count - 1, keep).round().astype(np.int64))


def detection_part(faces: torch.Tensor, nonfaces: torch.Tensor) -> Part:
    """The face vs no-face part of ``faces`` [F, 3, H, W] (label 1) then ``nonfaces``
    [G, 3, H, W] (label 0), images as given."""
    return Part(torch.cat([faces, nonfaces]),
                torch.cat([torch.ones(faces.shape[0], dtype=torch.int64),
                           torch.zeros(nonfaces.shape[0], dtype=torch.int64)]))


def data_from_splits(splits, max_per_part: "int | None" = None) -> EvaluationData:
    """Build :class:`EvaluationData` from ``learn.datasets.Splits`` (evaluation parts only).

    Parameters
    ----------
    splits : learn.datasets.Splits
    max_per_part : int, optional
        Keep at most this many images of each face and no-face part (for quick runs): faces
        spread evenly over the identities (:func:`balanced_subset`), no-face images evenly over
        the part (its order follows the source classes).
    """
    from learn.datasets import to_tensor

    def face_index(part) -> np.ndarray:
        labels = np.asarray(part.labels)
        return balanced_subset(labels, len(labels) if max_per_part is None else max_per_part)

    def faces(part) -> Part:
        index = face_index(part)
        return Part(to_tensor(part.images[index]),
                    torch.as_tensor(np.asarray(part.labels)[index], dtype=torch.int64))

    def detection(face_part, nonface_part) -> Part:
        return detection_part(
            to_tensor(face_part.images[face_index(face_part)]),
            to_tensor(nonface_part.images[_spread_subset(len(nonface_part), max_per_part)]))

    return EvaluationData(
        id_train=faces(splits.eval_train), id_val=faces(splits.eval_val),
        id_test=faces(splits.eval_test),
        det_train=detection(splits.eval_train, splits.nonfaces_train),
        det_val=detection(splits.eval_val, splits.nonfaces_val),
        det_test=detection(splits.eval_test, splits.nonfaces_test),
        num_classes=splits.eval_train.num_classes)


# ----------------------------------------------------------------------------- results
@dataclasses.dataclass
class Spread:
    """Mean and sample standard deviation (0 for one value) of per-seed values, in [0, 1]."""

    mean: float
    std: float
    values: "tuple[float, ...]"

    @classmethod
    def of(cls, values: Sequence[float]) -> "Spread":
        values = tuple(float(v) for v in values)
        if any(math.isnan(v) for v in values):  # a part not measured (validation-only runs)
            return cls(math.nan, math.nan, values)
        std = statistics.stdev(values) if len(values) > 1 else 0.0
        return cls(statistics.fmean(values), std, values)


@dataclasses.dataclass
class AttackScore:
    """One attack, one seed: validation top-1 (selection) and test top-1 / top-5."""

    attack: str
    seed: int
    val_top1: float
    test_top1: float
    test_top5: float


def spreads_by_attack(scores: Sequence, keys: Sequence[str]) -> "dict[str, dict[str, Spread]]":
    """``{attack: {key: Spread over seeds}}`` of per-(attack, seed) score records (each with an
    ``attack`` attribute and one attribute per key), attacks in their first order."""
    names = list(dict.fromkeys(score.attack for score in scores))
    return {name: {key: Spread.of([getattr(s, key) for s in scores if s.attack == name])
                   for key in keys} for name in names}


def strongest_attack(table: "dict[str, dict[str, Spread]]", key: str) -> str:
    """The attack of :func:`spreads_by_attack`'s ``table`` with the highest mean ``key`` (ties:
    the first)."""
    return max(table, key=lambda name: table[name][key].mean)


@dataclasses.dataclass
class PrivacyResult:
    """Identity accuracies of the suite over seeds."""

    scores: "list[AttackScore]"
    num_classes: int

    @property
    def seeds(self) -> "list[int]":
        """The evaluation seeds, in order."""
        return list(dict.fromkeys(score.seed for score in self.scores))

    @property
    def chance_top1(self) -> float:
        return 1.0 / self.num_classes

    @property
    def chance_top5(self) -> float:
        return min(1.0, 5.0 / self.num_classes)

    def per_attack(self) -> "dict[str, dict[str, Spread]]":
        """``{attack: {"test_top1": Spread, "test_top5": Spread, "val_top1": Spread}}``."""
        return spreads_by_attack(self.scores, ("test_top1", "test_top5", "val_top1"))

    @property
    def strongest(self) -> str:
        """Name of the attack with the highest mean test top-1 (ties: the first in the suite)."""
        return strongest_attack(self.per_attack(), "test_top1")

    @property
    def top1(self) -> Spread:
        """The privacy figure: the strongest attack's test top-1 over seeds."""
        return self.per_attack()[self.strongest]["test_top1"]

    @property
    def top5(self) -> Spread:
        """The strongest attack's test top-5 over seeds."""
        return self.per_attack()[self.strongest]["test_top5"]


@dataclasses.dataclass
class UtilityResult:
    """Face vs no-face accuracy of the detector over seeds, with the majority-class chance."""

    val_accuracy: Spread
    test_accuracy: Spread
    chance: float


@dataclasses.dataclass
class EvaluationResult:
    """Privacy and utility of one encoder; ``verification`` the LFW verification attack's
    result (:mod:`learn.verification`) where it was run."""

    privacy: PrivacyResult
    utility: "UtilityResult | None"
    verification: "VerificationResult | None" = None  # noqa: F821 (learn.verification)


# ----------------------------------------------------------------------------- protocol
@torch.no_grad()
def encode(encoder: Encoder, images: torch.Tensor, generator: torch.Generator,
           batch_size: int = 256) -> torch.Tensor:
    """Apply ``encoder`` in batches (no gradients) -> float32 outputs [N, ...].

    ``generator`` is a CPU generator; for images on another device (CUDA) the encoder gets a
    generator on that device, seeded from ``generator``.
    """
    generator = _generator_on(images.device, generator)
    return torch.cat([encoder(images[i:i + batch_size], generator).float()
                      for i in range(0, images.shape[0], batch_size)])


def _generator_on(device: torch.device, generator: torch.Generator) -> torch.Generator:
    """``generator`` itself on its own device, else a generator on ``device`` seeded from it."""
    if device.type == generator.device.type:
        return generator
    seed = int(torch.randint(0, 2 ** 62, (1,), generator=generator))
    return torch.Generator(device=device).manual_seed(seed)


def encoded_training_set(encoder: Encoder, part: LabelledPart, n_augment: int, seed: int
                         ) -> "tuple[torch.Tensor, torch.Tensor, torch.Tensor]":
    """(codes, labels, scenes) of ``part`` plus ``n_augment`` augmented copies, all encoded.

    The attacker may run the camera on any scene, so augmenting the scene and encoding it is a
    legitimate way to enlarge the encoded training set.
    """
    scenes, generator = _training_scenes(part, n_augment, seed)
    labels = part.labels.repeat(n_augment + 1)
    return encode(encoder, scenes, generator), labels, scenes


def _training_scenes(part: LabelledPart, n_augment: int, seed: int
                     ) -> "tuple[torch.Tensor, torch.Generator]":
    """The scenes :func:`encoded_training_set` encodes [(n_augment + 1) N, 3, H, W], and the
    generator (seeded with ``seed``, past the augmentation) that encodes them."""
    generator = torch.Generator().manual_seed(seed)
    scenes = [part.images] + [augment_images(part.images, generator) for _ in range(n_augment)]
    return torch.cat(scenes), generator


@torch.no_grad()
def same_outputs(first: Encoder, second: Encoder, data: EvaluationData, n_augment: int,
                 seed: int) -> bool:
    """True when two encoders are indistinguishable to :func:`evaluate_encoder` at ``seed``.

    Both encoders are run on every input the protocol feeds an encoder at evaluation seed
    ``seed``: the identity and detection training parts with their ``n_augment`` augmented
    copies, and the validation and test parts; each twice, with two different noise
    generators. True only if all four outputs agree bit for bit on every input: neither encoder
    draws noise, and they compute the same function there. Since everything else the protocol
    draws is seeded by ``seed`` alone, ``evaluate_encoder`` then gives both the same result, so
    one evaluation serves both (``learn.table1.SAME_ENCODER``).
    """
    inputs = [_training_scenes(data.id_train, n_augment, seed)[0],
              _training_scenes(data.det_train, n_augment, seed)[0],
              data.id_val.images, data.id_test.images, data.det_val.images, data.det_test.images]
    for images in inputs:
        reference = encode(first, images, torch.Generator().manual_seed(1))
        for encoder, generator_seed in ((second, 1), (first, 2), (second, 2)):
            output = encode(encoder, images, torch.Generator().manual_seed(generator_seed))
            if output.shape != reference.shape or not torch.equal(output, reference):
                return False
    return True


def online_augmentation(codes: torch.Tensor, scenes: torch.Tensor):
    """The on-the-fly augmentation valid for an encoder's outputs, or None.

    Outputs with the scene's shape and range (clean, blurred images) get flips, shifts and colour
    jitter; full-size outputs in another range (quantised images) flips and shifts only; pooled
    codes none (a one-pixel shift of an 8x8 code is an 8-pixel shift of the scene; the encoded
    augmented copies of :func:`encoded_training_set` cover them).
    """
    if codes.shape[1:] != scenes.shape[1:]:
        return None
    if float(codes.min()) >= 0.0 and float(codes.max()) <= 1.0:
        return augment_images
    return augment_geometric


def encoder_for_seed(encoder: "Encoder | Mapping[int, Encoder]", seed: int) -> Encoder:
    """The encoder of evaluation seed ``seed``: ``encoder`` itself, or ``encoder[seed]``.

    A mapping gives each seed its own encoder (for example a camera learned with that seed), so
    the spread over seeds includes the spread of the encoder's own training.
    """
    if isinstance(encoder, Mapping):
        if seed not in encoder:
            raise ValueError(f"encoder: no encoder for seed {seed}; the mapping has seeds "
                             f"{sorted(encoder)}")
        return encoder[seed]
    return encoder


def _seed_list(seeds: Sequence[int]) -> "list[int]":
    seeds = [int(s) for s in seeds]
    if not seeds or len(set(seeds)) != len(seeds):
        raise ValueError(f"seeds: {seeds} is not allowed; need at least one, all different")
    return seeds


def evaluate_encoder(encoder: "Encoder | Mapping[int, Encoder]", data: EvaluationData, seeds: Sequence[int] = (0, 1, 2),
                     attacks: Sequence[str] = ATTACK_NAMES, budget: AttackBudget = AttackBudget(),
                     n_augment: int = 1, utility: bool = True, desc: str = "encoder",
                     recognisers: "dict | None" = None, read_test: bool = True,
                     progress: bool = True) -> EvaluationResult:
    """Run the protocol (module docstring) for one encoder.

    Parameters
    ----------
    encoder : Encoder or mapping of int to Encoder
        ``encoder(images, generator) -> outputs``; the camera in hard mode, a baseline, or the
        identity for clean images. A mapping ``{seed: encoder}`` gives every evaluation seed its
        own encoder (:func:`encoder_for_seed`).
    data : EvaluationData
    seeds : sequence of int
        Evaluation seeds (>= 3 for a report; attack weights, shuffling, augmentation and the
        camera's per-frame noise all follow the seed).
    attacks : sequence of str
        Names from :data:`learn.attacks.ATTACK_NAMES`.
    budget : AttackBudget
    n_augment : int
        Encoded augmented copies of each training image (>= 0).
    utility : bool
        Also train and score the face vs no-face detector.
    desc : str
        Label of the progress bar.
    recognisers : dict, optional
        Cache of clean recognisers per seed for the reconstruction attack; share it between
        encoders evaluated on the same ``data`` only.
    read_test : bool
        False: stop after model selection and never read the test parts (test scores are NaN).
        For choosing hyper-parameters (alpha, learning rates) on validation scores only, so the
        test split stays untouched until the configuration is fixed.
    progress : bool
        Show the progress bar (one step per attack and seed, and the detector).

    Returns
    -------
    EvaluationResult
    """
    seeds = _seed_list(seeds)
    for seed in seeds:
        encoder_for_seed(encoder, seed)  # every seed has an encoder, before any training
    if not isinstance(n_augment, int) or n_augment < 0:
        raise ValueError(f"n_augment: {n_augment!r} is not allowed; need an integer >= 0")
    recognisers = {} if recognisers is None else recognisers
    fitted: "list[tuple[int, list]]" = []
    detectors: "list[tuple[int, torch.nn.Module, float]]" = []
    steps = len(seeds) * (len(attacks) + int(utility))
    with tqdm(total=steps, desc=desc, leave=False, disable=not progress) as bar:
        # -- model selection: train + validation only ------------------------------------
        for seed in seeds:
            seed_encoder = encoder_for_seed(encoder, seed)
            codes, labels, scenes = encoded_training_set(seed_encoder, data.id_train, n_augment,
                                                         seed)
            val_generator = torch.Generator().manual_seed(10_000 + seed)
            val_codes = encode(seed_encoder, data.id_val.images, val_generator)
            attack_data = AttackData(codes, labels, val_codes, data.id_val.labels,
                                     data.num_classes, scenes, data.id_val.images,
                                     augment=online_augmentation(codes, scenes))
            suite = []
            for name in attacks:
                bar.set_postfix_str(f"seed {seed} {name}")
                suite.append(make_attack(name, budget, recognisers).fit(attack_data, seed))
                bar.update()
            fitted.append((seed, suite))
            if utility:
                bar.set_postfix_str(f"seed {seed} detector")
                detectors.append(_fit_detector(seed_encoder, data, seed, budget, n_augment))
                bar.update()
    if not read_test:
        return _validation_only(fitted, detectors, data.num_classes, utility)
    # -- the test part, read once, after every model is fixed ------------------------------
    id_test_images, id_test_labels = data.id_test.images, data.id_test.labels
    scores = []
    for seed, suite in fitted:
        test_codes = encode(encoder_for_seed(encoder, seed), id_test_images,
                            torch.Generator().manual_seed(20_000 + seed))
        for attack in suite:
            logits = attack.scores(test_codes)
            scores.append(AttackScore(attack.name, seed, attack.record.val_top1,
                                      float(top_k_hits(logits, id_test_labels, 1).float().mean()),
                                      float(top_k_hits(logits, id_test_labels, 5).float().mean())))
    privacy = PrivacyResult(scores, data.num_classes)
    utility_result = None
    if utility:
        det_test_images, det_test_labels = data.det_test.images, data.det_test.labels
        test_accuracy = []
        for seed, detector, _ in detectors:
            det_codes = encode(encoder_for_seed(encoder, seed), det_test_images,
                               torch.Generator().manual_seed(30_000 + seed))
            hits = top_k_hits(predict_logits(detector, det_codes), det_test_labels, 1)
            test_accuracy.append(float(hits.float().mean()))
        majority = float(det_test_labels.float().mean())
        utility_result = UtilityResult(Spread.of([d[2] for d in detectors]),
                                       Spread.of(test_accuracy), max(majority, 1.0 - majority))
    return EvaluationResult(privacy, utility_result)


def _validation_only(fitted: list, detectors: list, num_classes: int, utility: bool
                     ) -> EvaluationResult:
    """The validation half of the result (test scores NaN, chance of the detector NaN)."""
    nan = float("nan")
    scores = [AttackScore(attack.name, seed, attack.record.val_top1, nan, nan)
              for seed, suite in fitted for attack in suite]
    utility_result = None
    if utility:
        utility_result = UtilityResult(Spread.of([d[2] for d in detectors]),
                                       Spread.of([nan] * len(detectors)), nan)
    return EvaluationResult(PrivacyResult(scores, num_classes), utility_result)


def _fit_detector(encoder: Encoder, data: EvaluationData, seed: int, budget: AttackBudget,
                  n_augment: int) -> "tuple[int, torch.nn.Module, float]":
    """Train the face vs no-face detector (Inception-style, as the paper's GoogLeNet) on codes."""
    codes, labels, scenes = encoded_training_set(encoder, data.det_train, n_augment, seed)
    val_codes = encode(encoder, data.det_val.images, torch.Generator().manual_seed(40_000 + seed))
    torch.manual_seed(seed)
    detector = InceptionClassifier(codes.shape[1], 2, codes.shape[-1],
                                   width=budget.detector_width or budget.cnn_width)
    record = train_classifier(detector, codes, labels, val_codes, data.det_val.labels,
                              budget.detector_epochs or budget.cnn_epochs, budget.patience,
                              budget.batch_size, seed,
                              augment=online_augmentation(codes, scenes))
    return seed, detector, record.val_top1


def merge_seeds(results: "Sequence[EvaluationResult]") -> EvaluationResult:
    """One result over the seeds of several results (each from its own seeds, none shared).

    ``evaluate_encoder`` seeds every model, generator and split read by the evaluation seed
    alone, so evaluating seeds one by one and merging gives the numbers of one call over all
    of them (tests/learn/test_evaluation.py checks this); ``learn.table1`` runs one task per
    (row, seed) that way.

    Raises ``ValueError`` for no results, a seed in two results, different class counts or
    face vs no-face test sets, or a mix of results with and without utility.
    """
    results = list(results)
    if not results:
        raise ValueError("results: nothing to merge")
    seeds = [seed for result in results for seed in result.privacy.seeds]
    if len(set(seeds)) != len(seeds):
        raise ValueError(f"results: seeds {seeds} repeat; each seed may come from one result")
    classes = {result.privacy.num_classes for result in results}
    if len(classes) != 1:
        raise ValueError(f"results: different numbers of identities {sorted(classes)}")
    privacy = PrivacyResult([score for result in results for score in result.privacy.scores],
                            classes.pop())
    verification = _merge_verification([result.verification for result in results])
    utilities = [result.utility for result in results]
    if all(u is None for u in utilities):
        return EvaluationResult(privacy, None, verification)
    if any(u is None for u in utilities):
        raise ValueError("results: some have a face vs no-face result and some do not")
    chances = {"nan" if math.isnan(u.chance) else u.chance for u in utilities}
    if len(chances) != 1:
        raise ValueError(f"results: face vs no-face test sets differ (chance {sorted(map(str, chances))})")
    return EvaluationResult(privacy, UtilityResult(
        Spread.of([v for u in utilities for v in u.val_accuracy.values]),
        Spread.of([v for u in utilities for v in u.test_accuracy.values]), utilities[0].chance),
        verification)


def _merge_verification(results: list):
    """The verification results of several seeds as one (None unless every seed has one)."""
    if any(result is None for result in results):
        if any(result is not None for result in results):
            raise ValueError("results: some have a verification result and some do not")
        return None
    return type(results[0])([score for result in results for score in result.scores])


def relative_privacy(encoded: PrivacyResult, clean: PrivacyResult) -> float:
    """The strongest attack's mean top-1 as a fraction of the suite's mean top-1 on clean images."""
    reference = clean.top1.mean
    return math.nan if reference <= 0 else encoded.top1.mean / reference
