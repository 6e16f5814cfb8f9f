"""Verification of unseen people: "are these two encoded frames the same person?"

The realistic threat to a privacy camera is re-identification of people nobody has labelled.
This is LFW's verification protocol, run on encoded images, with identity roles
(:mod:`learn.lfw`) that keep every test person out of every fit:

1. An attacker trains an embedding from scratch on encoded images of role A: an identity
   classifier whose last hidden layer is the embedding (:class:`learn.attacks.InceptionAttack`'s
   CNN, the suite's strongest backbone, and :class:`learn.attacks.MLPAttack`'s shallow model on
   the codes), with early stopping on one held-out image per person.
2. Its decision threshold on the cosine similarity of two embeddings is chosen on validation
   pairs built from A people held out of training (the threshold with the best accuracy).
3. The test pairs (``pairsDevTest`` less the pairs of ``faces64_wide`` people: 473 matched and
   473 mismatched pairs of role-T people, :func:`test_pairs_of`) are encoded and read once, after
   every model and threshold is fixed: verification accuracy (chance 50 %) and ROC AUC.

The attack an adversary tries first needs no training: ``"cosine"`` compares the raw codes
(flattened, centred on A's mean code). As in the identification suite, the strongest attack (the
highest mean test accuracy over seeds) is the one reported.

>>> data = verification_data(seed=0)                                   # doctest: +SKIP
>>> result = evaluate_verification(identity_encoder, data, seeds=(0,))  # doctest: +SKIP
>>> result.accuracy.mean, result.strongest                              # doctest: +SKIP
"""
from __future__ import annotations

import dataclasses
from typing import Callable, Sequence

import numpy as np
import torch

from learn.attacks import AttackBudget, AttackData, InceptionAttack, MLPAttack
from learn.evaluation import (Spread, _seed_list, encode, encoder_for_seed, online_augmentation,
                             spreads_by_attack, strongest_attack)
from learn.lfw import LFW, Pairs, Roles, identity_roles, load_lfw

#: The verification attacks: raw-code cosine similarity, then two trained embeddings.
VERIFICATION_ATTACKS = ("cosine", "mlp", "inception")
_NETWORKS = {"mlp": MLPAttack, "inception": InceptionAttack}


# ----------------------------------------------------------------------------- data
@dataclasses.dataclass(frozen=True)
class VerificationData:
    """The protocol's images (float32 linear RGB [N, 3, 64, 64]) and pairs.

    Attributes
    ----------
    train_images, train_labels : torch.Tensor
        A's training people (labels 0 .. num_classes - 1).
    select_images, select_labels : torch.Tensor
        One held-out image of each training person with three or more images (early stopping).
    val_images : torch.Tensor
        Images of the A people held out of training; ``val_pairs`` index into it.
    val_pairs : learn.lfw.Pairs
        Matched and mismatched validation pairs: each attack's decision threshold (early
        stopping uses ``select_*``; the reported attack is the strongest on the test pairs, the
        conservative choice of the identification suite too).
    test_images : torch.Tensor
        The images of ``pairsDevTest`` (role T); ``test_pairs`` index into it.
    test_pairs : learn.lfw.Pairs
    num_classes : int
    """

    train_images: torch.Tensor
    train_labels: torch.Tensor
    select_images: torch.Tensor
    select_labels: torch.Tensor
    val_images: torch.Tensor
    val_pairs: Pairs
    test_images: torch.Tensor
    test_pairs: Pairs
    num_classes: int

    def to(self, device) -> "VerificationData":
        """The same data with its images on ``device``."""
        return dataclasses.replace(
            self, **{field: getattr(self, field).to(device) for field in (
                "train_images", "train_labels", "select_images", "select_labels", "val_images",
                "test_images")})

    def summary(self) -> dict:
        """Sizes of every part."""
        return {"classes": self.num_classes, "train_images": len(self.train_labels),
                "select_images": len(self.select_labels), "val_images": len(self.val_images),
                "val_pairs": len(self.val_pairs), "test_images": len(self.test_images),
                "test_pairs": len(self.test_pairs)}


def _pairs_among(labels: np.ndarray, count: int, rng: np.random.Generator) -> Pairs:
    """``count`` matched and ``count`` mismatched pairs of distinct images (indices of labels)."""
    by_person = {}
    for index, label in enumerate(labels):
        by_person.setdefault(int(label), []).append(index)
    multi = [person for person, images in by_person.items() if len(images) >= 2]
    people = list(by_person)
    if not multi or len(people) < 2:
        raise ValueError("validation people: need one person with two images and two people")
    first, second, same = [], [], []
    for _ in range(count):
        a, b = rng.choice(by_person[multi[rng.integers(len(multi))]], 2, replace=False)
        first.append(a), second.append(b), same.append(True)
    for _ in range(count):
        p, q = rng.choice(len(people), 2, replace=False)
        first.append(rng.choice(by_person[people[p]]))
        second.append(rng.choice(by_person[people[q]]))
        same.append(False)
    return Pairs(np.asarray(first, dtype=np.int64), np.asarray(second, dtype=np.int64),
                 np.asarray(same), np.zeros(2 * count, dtype=np.int64))


def verification_data(lfw: "LFW | None" = None, roles: "Roles | None" = None, seed: int = 0,
                      val_people: int = 100, val_pairs: int = 300,
                      max_train_people: "int | None" = None,
                      max_test_pairs: "int | None" = None) -> VerificationData:
    """The verification protocol's data for ``seed`` (module docstring).

    Parameters
    ----------
    lfw, roles
        :func:`learn.lfw.load_lfw` and :func:`learn.lfw.identity_roles` (defaults: the bundle,
        roles of seed 0).
    seed : int
        Seed of the choice of held-out people and of the validation pairs.
    val_people : int
        A people with two or more images held out of training to build validation pairs.
    val_pairs : int
        Matched (and as many mismatched) validation pairs.
    max_train_people : int, optional
        Cap on A's training people (CI-sized runs).
    max_test_pairs : int, optional
        Cap on test pairs (:func:`test_pairs_of`; CI-sized runs). None: all 946.
    """
    from learn.datasets import to_tensor

    lfw = load_lfw() if lfw is None else lfw
    roles = identity_roles(lfw) if roles is None else roles.check()
    rng = np.random.default_rng(seed)
    counts = np.bincount(lfw.labels, minlength=len(lfw.names))
    attacker = [lfw.label_of[name] for name in roles.attacker if counts[lfw.label_of[name]] >= 2]
    attacker = [attacker[i] for i in rng.permutation(len(attacker))]
    if len(attacker) < val_people + 2:
        raise ValueError(f"val_people: {val_people} leaves fewer than 2 of the {len(attacker)} "
                         f"A people with two or more images for training")
    held_out, training = attacker[:val_people], attacker[val_people:]
    if max_train_people is not None:
        training = training[:max_train_people]
    classes = {label: i for i, label in enumerate(sorted(training))}
    train_index, select_index = [], []
    for label in sorted(training):
        images = np.flatnonzero(lfw.labels == label)
        if len(images) >= 3:
            select_index.append(images[-1])
            images = images[:-1]
        train_index.extend(images.tolist())
    val_index = np.flatnonzero(np.isin(lfw.labels, held_out))
    pairs = _pairs_among(lfw.labels[val_index], val_pairs, rng)
    test = test_pairs_of(lfw, roles, max_test_pairs)
    test_index, inverse = np.unique(np.concatenate([test.first, test.second]), return_inverse=True)
    half = len(test.first)
    test_pairs = Pairs(inverse[:half], inverse[half:], test.same, test.fold)
    train_index, select_index = np.asarray(train_index), np.asarray(select_index, dtype=np.int64)
    relabel = np.vectorize(classes.__getitem__, otypes=[np.int64])
    return VerificationData(
        train_images=to_tensor(lfw.images[train_index]),
        train_labels=torch.as_tensor(relabel(lfw.labels[train_index])),
        select_images=to_tensor(lfw.images[select_index]),
        select_labels=torch.as_tensor(relabel(lfw.labels[select_index])),
        val_images=to_tensor(lfw.images[val_index]), val_pairs=pairs,
        test_images=to_tensor(lfw.images[test_index]), test_pairs=test_pairs,
        num_classes=len(classes))


def test_pairs_of(lfw: LFW, roles: Roles, max_pairs: "int | None" = None) -> Pairs:
    """The ``pairsDevTest`` pairs whose two people are both in role T, as many matched as
    mismatched (the first of each kind in the published order; chance stays 50 %).

    Of the published 500 + 500, 27 matched and 8 mismatched pairs involve a ``faces64_wide``
    person and are left out: 473 + 473 remain. ``max_pairs`` caps the total (CI-sized runs).
    """
    pairs = lfw.pairs("pairsDevTest")
    tested = set(roles.verification)
    in_t = np.array([lfw.names[lfw.labels[a]] in tested and lfw.names[lfw.labels[b]] in tested
                     for a, b in zip(pairs.first, pairs.second)], dtype=bool)
    matched = np.flatnonzero(in_t & pairs.same)
    mismatched = np.flatnonzero(in_t & ~pairs.same)
    count = min(len(matched), len(mismatched))
    if max_pairs is not None:
        count = min(count, max_pairs // 2)
    if count == 0:
        raise ValueError("pairsDevTest: no matched and mismatched pair of role-T people")
    keep = np.sort(np.concatenate([matched[:count], mismatched[:count]]))
    return Pairs(pairs.first[keep], pairs.second[keep], pairs.same[keep], pairs.fold[keep])


# ----------------------------------------------------------------------------- scores
def pair_similarity(embeddings: torch.Tensor, pairs: Pairs) -> np.ndarray:
    """Cosine similarity [P] (float64) of the two embeddings [N, D] of each pair."""
    unit = torch.nn.functional.normalize(embeddings.double().flatten(1), dim=1)
    first, second = torch.as_tensor(pairs.first), torch.as_tensor(pairs.second)
    first, second = first.to(unit.device), second.to(unit.device)
    return (unit[first] * unit[second]).sum(dim=1).cpu().numpy()


def best_threshold(similarity: np.ndarray, same: np.ndarray) -> "tuple[float, float]":
    """``(threshold, accuracy)``: "same" when similarity > threshold, the best accuracy on these
    pairs (thresholds between consecutive distinct similarities, and below all of them)."""
    similarity = np.asarray(similarity, dtype=np.float64)
    same = np.asarray(same, dtype=bool)
    values = np.unique(similarity)
    candidates = np.concatenate([[values[0] - 1.0], (values[:-1] + values[1:]) / 2, [values[-1]]])
    accuracies = [float(np.mean((similarity > t) == same)) for t in candidates]
    best = int(np.argmax(accuracies))
    return float(candidates[best]), accuracies[best]


def roc_auc(similarity: np.ndarray, same: np.ndarray) -> float:
    """Area under the ROC curve: the probability that a matched pair scores above a mismatched
    one (ties count a half; the Mann-Whitney U statistic over the product of the class sizes)."""
    from scipy.stats import rankdata

    similarity = np.asarray(similarity, dtype=np.float64)
    same = np.asarray(same, dtype=bool)
    positives, negatives = int(same.sum()), int((~same).sum())
    if positives == 0 or negatives == 0:
        raise ValueError("roc_auc: need matched and mismatched pairs")
    ranks = rankdata(similarity)
    return float((ranks[same].sum() - positives * (positives + 1) / 2) / (positives * negatives))


# ----------------------------------------------------------------------------- results
@dataclasses.dataclass
class VerificationScore:
    """One attack, one seed: validation accuracy (selection) and test accuracy and AUC."""

    attack: str
    seed: int
    val_accuracy: float
    threshold: float
    test_accuracy: float
    test_auc: float


@dataclasses.dataclass
class VerificationResult:
    """Verification scores of every attack over seeds; the strongest attack is reported."""

    scores: "list[VerificationScore]"
    #: ``{"<attack> seed <s>": {"similarity": [...], "same": [...]}}``, the test pairs' scores,
    #: kept only when asked for (ROC curves); not part of a result's identity.
    similarities: "dict | None" = dataclasses.field(default=None, repr=False, compare=False)

    def per_attack(self) -> "dict[str, dict[str, Spread]]":
        """``{attack: {"test_accuracy", "test_auc", "val_accuracy": Spread}}``."""
        return spreads_by_attack(self.scores, ("test_accuracy", "test_auc", "val_accuracy"))

    @property
    def strongest(self) -> str:
        """The attack with the highest mean test accuracy (ties: the first)."""
        return strongest_attack(self.per_attack(), "test_accuracy")

    @property
    def accuracy(self) -> Spread:
        """The strongest attack's verification accuracy over seeds (chance 0.5)."""
        return self.per_attack()[self.strongest]["test_accuracy"]

    @property
    def auc(self) -> Spread:
        """The strongest attack's ROC AUC over seeds."""
        return self.per_attack()[self.strongest]["test_auc"]


# ----------------------------------------------------------------------------- the protocol
Encoder = Callable[[torch.Tensor, torch.Generator], torch.Tensor]


def _embedder(name: str, codes: torch.Tensor, labels: torch.Tensor, data: VerificationData,
              encoder: Encoder, seed: int, budget: AttackBudget
              ) -> "Callable[[torch.Tensor], torch.Tensor]":
    """A fitted embedding ``codes [N, ...] -> [N, D]`` of attack ``name``."""
    if name == "cosine":
        centre = codes.mean(dim=0, keepdim=True)
        return lambda x: (x - centre).flatten(1)
    if name not in _NETWORKS:
        raise ValueError(f"attack: {name!r} is not one of {VERIFICATION_ATTACKS}")
    select = encode(encoder, data.select_images, torch.Generator().manual_seed(40_000 + seed))
    attack = _NETWORKS[name](budget).fit(
        AttackData(codes, labels, select, data.select_labels, data.num_classes,
                   augment=online_augmentation(codes, data.train_images)), seed)
    model = attack.model.eval()

    @torch.no_grad()
    def embed(x: torch.Tensor) -> torch.Tensor:
        from learn.layout import in_layout

        return torch.cat([model.features(in_layout(x[i:i + 256])) for i in range(0, len(x), 256)])

    return embed


def evaluate_verification(encoder: "Encoder | dict", data: VerificationData,
                          seeds: Sequence[int] = (0, 1, 2),
                          attacks: Sequence[str] = VERIFICATION_ATTACKS,
                          budget: AttackBudget = AttackBudget(), progress: bool = True,
                          keep_similarities: bool = False) -> VerificationResult:
    """Run the verification protocol (module docstring) for one encoder.

    Parameters
    ----------
    encoder : callable or mapping of int to callable
        ``encoder(images, generator) -> outputs``, or ``{seed: encoder}``.
    data : VerificationData
    seeds : sequence of int
        Seeds of the attackers' weights, shuffling and the camera's noise.
    attacks : sequence of str
        Names from :data:`VERIFICATION_ATTACKS`.
    budget : learn.attacks.AttackBudget
        Epochs and widths of the trained embeddings.
    progress : bool
        Show a progress bar (one step per attack and seed).
    keep_similarities : bool
        Keep every test pair's similarity in :attr:`VerificationResult.similarities`.
    """
    from tqdm import tqdm

    seeds = _seed_list(seeds)
    unknown = [name for name in attacks if name not in VERIFICATION_ATTACKS]
    if unknown or not attacks:
        raise ValueError(f"attacks: {list(attacks)!r}; allowed: a non-empty subset of "
                         f"{list(VERIFICATION_ATTACKS)}")
    fitted = []
    with tqdm(total=len(seeds) * len(attacks), desc="verification", leave=False,
              disable=not progress) as bar:
        for seed in seeds:
            seed_encoder = encoder_for_seed(encoder, seed)
            codes = encode(seed_encoder, data.train_images, torch.Generator().manual_seed(seed))
            val_codes = encode(seed_encoder, data.val_images,
                               torch.Generator().manual_seed(10_000 + seed))
            for name in attacks:
                bar.set_postfix_str(f"seed {seed} {name}")
                embed = _embedder(name, codes, data.train_labels, data, seed_encoder, seed, budget)
                threshold, val_accuracy = best_threshold(
                    pair_similarity(embed(val_codes), data.val_pairs), data.val_pairs.same)
                fitted.append((seed, name, embed, threshold, val_accuracy))
                bar.update()
    # -- the test pairs, read once, after every embedding and threshold is fixed --------------
    scores, test_codes, kept = [], {}, {}
    for seed, name, embed, threshold, val_accuracy in fitted:
        if seed not in test_codes:
            test_codes[seed] = encode(encoder_for_seed(encoder, seed), data.test_images,
                                      torch.Generator().manual_seed(20_000 + seed))
        similarity = pair_similarity(embed(test_codes[seed]), data.test_pairs)
        kept[f"{name} seed {seed}"] = {"similarity": similarity.tolist(),
                                       "same": data.test_pairs.same.tolist()}
        scores.append(VerificationScore(
            name, seed, val_accuracy, threshold,
            float(np.mean((similarity > threshold) == data.test_pairs.same)),
            roc_auc(similarity, data.test_pairs.same)))
    return VerificationResult(scores, kept if keep_similarities else None)


__all__ = ["VERIFICATION_ATTACKS", "VerificationData", "VerificationResult", "VerificationScore",
           "best_threshold", "evaluate_verification", "pair_similarity", "roc_auc",
           "test_pairs_of", "verification_data"]
