"""The faces an encoder learns from: LFW's role E (hundreds of people) or the face set's own.

Alternating optimisation (``learn.alternating``) needs faces with identity labels for its
in-loop recogniser R (and faces for its detector D). Two sources:

* ``"lfw-e"`` (what ``"auto"``, the default, means for the bundled face sets): the people of role E of :func:`learn.lfw.identity_roles` (roles
  seed 0: one half of LFW's ``peopleDevTrain`` less the 62 ``faces64_wide`` identities) who have
  at least ``min_images`` images -- 572 people, 2,180 images at the defaults. Each person's
  images are split (seeded) into R's training part and a held-out part of the same people (at
  least one image each) on which R selects its epoch. Role A (the attacker's people) and the
  test roles never appear here, so nothing the encoder learns from is ever tested or attacked.
* ``"faces"`` (what ``"auto"`` means for a user's own face set): the encoder identities of the
  face set itself (``learn.datasets.make_splits``:
  the 32 ``faces64_wide`` people left after the 30 evaluation identities; 662 images), as
  before this module existed.

>>> from learn import datasets
>>> splits = datasets.default_splits(0)                          # doctest: +SKIP
>>> splits = with_encoder_faces(splits, "lfw-e")                  # doctest: +SKIP
>>> splits.encoder_train.num_classes, len(splits.encoder_train)   # doctest: +SKIP
(572, 1572)
"""
from __future__ import annotations

import dataclasses

import numpy as np

from learn.datasets import FaceSet, Splits

#: The accepted ``source`` names of :func:`with_encoder_faces` (``"auto"``: see
#: :func:`resolve_encoder_faces`).
ENCODER_FACE_SOURCES = ("auto", "lfw-e", "faces")


def resolve_encoder_faces(source: str, faces: str) -> str:
    """The concrete source of ``source`` for the face set ``faces`` (a bundled name or a path).

    ``"auto"`` is ``"lfw-e"`` for the bundled face sets (LFW people, whose names role E is
    checked against) and ``"faces"`` for a user's own face set: a user's people are learned
    from their own encoder identities, never replaced by LFW's behind their back.
    """
    from learn.datasets import BUNDLED_FACES

    if source not in ENCODER_FACE_SOURCES:
        raise ValueError(f"encoder faces: {source!r} is not allowed; choose one of "
                         f"{list(ENCODER_FACE_SOURCES)}")
    if source != "auto":
        return source
    return "lfw-e" if str(faces) in BUNDLED_FACES else "faces"


def lfw_encoder_faces(seed: int = 0, min_images: int = 2, val_fraction: float = 0.15,
                      cap_per_identity: int = 40, image_size: int = 64, lfw=None, roles=None
                      ) -> "tuple[FaceSet, FaceSet]":
    """Role E's faces as (train, val) :class:`learn.datasets.FaceSet`, labels ``0 .. P - 1``.

    Parameters
    ----------
    seed : int
        Seed of each person's image shuffle (which images go to val, which are capped).
    min_images : int
        People with fewer images are left out (>= 2: everyone keeps a train and a val image).
    val_fraction : float
        Per person, this fraction of its (capped) images is held out, at least one image; at
        least one stays for training.
    cap_per_identity : int
        At most this many images per person (a seeded subset), so no person dominates.
    image_size : int
        Side of the returned images in pixels (LFW's 64 x 64 crops resized by area where it
        differs, as ``learn.datasets.load_faces`` does).
    lfw, roles : optional
        :func:`learn.lfw.load_lfw` and :func:`learn.lfw.identity_roles` (defaults: the bundle,
        roles of seed 0, the ones :mod:`learn.verification` uses).

    Returns
    -------
    (FaceSet, FaceSet)
        Images uint8 [N, image_size, image_size, 3] sRGB; both parts hold the same P people (names sorted).
    """
    from learn.lfw import identity_roles, load_lfw

    if not isinstance(min_images, int) or min_images < 2:
        raise ValueError(f"min_images: {min_images!r} is not allowed; need an integer >= 2")
    if not 0.0 < val_fraction < 1.0:
        raise ValueError(f"val_fraction: {val_fraction!r} is not allowed; need (0, 1)")
    if not isinstance(image_size, int) or image_size < 1:
        raise ValueError(f"image_size: {image_size!r} is not allowed; need an integer >= 1")
    if not isinstance(cap_per_identity, int) or cap_per_identity < 2:
        raise ValueError(f"cap_per_identity: {cap_per_identity!r} is not allowed; need an "
                         f"integer >= 2")
    lfw = load_lfw() if lfw is None else lfw
    roles = identity_roles(lfw) if roles is None else roles.check()
    rng = np.random.default_rng(seed)
    people = [name for name in roles.encoder
              if np.count_nonzero(lfw.labels == lfw.label_of[name]) >= min_images]
    if not people:
        raise ValueError(f"role E has no person with >= {min_images} images")
    train, val, train_labels, val_labels = [], [], [], []
    for label, name in enumerate(people):
        members = rng.permutation(np.flatnonzero(lfw.labels == lfw.label_of[name]))
        members = members[:cap_per_identity]
        held_out = min(len(members) - 1, max(1, int(round(len(members) * val_fraction))))
        val.append(np.sort(members[:held_out]))
        train.append(np.sort(members[held_out:]))
        val_labels.append(np.full(held_out, label, dtype=np.int64))
        train_labels.append(np.full(len(members) - held_out, label, dtype=np.int64))

    def face_set(index: "list[np.ndarray]", labels: "list[np.ndarray]") -> FaceSet:
        index, labels = np.concatenate(index), np.concatenate(labels)
        images = np.ascontiguousarray(lfw.images[index])
        if images.shape[1] != image_size:
            import cv2

            images = np.stack([cv2.resize(image, (image_size, image_size),
                                          interpolation=cv2.INTER_AREA) for image in images])
        images.setflags(write=False)
        labels.setflags(write=False)
        files = tuple(f"{lfw.names[lfw.labels[i]]}/{lfw.names[lfw.labels[i]]}_"
                      f"{int(lfw.numbers[i]):04d}.jpg" for i in index)
        return FaceSet(images, labels, tuple(people), files)

    return face_set(train, train_labels), face_set(val, val_labels)


def with_encoder_faces(splits: Splits, source: str = "lfw-e", seed: int = 0) -> Splits:
    """``splits`` with its encoder parts taken from ``source`` (:data:`ENCODER_FACE_SOURCES`).

    ``"faces"`` returns ``splits`` unchanged. ``"lfw-e"`` replaces ``encoder_train`` and
    ``encoder_val`` with :func:`lfw_encoder_faces` (``seed``: its image shuffle; images at the
    side of the split's own) after checking
    that no E person is one of the split's evaluation identities (ValueError naming the person
    otherwise: the encoder must never learn a person it is evaluated on). The no-face parts and
    the evaluation parts are unchanged.
    """
    from learn.lfw import check_disjoint

    if source not in ENCODER_FACE_SOURCES or source == "auto":
        raise ValueError(f"encoder faces: {source!r} is not allowed; choose one of "
                         f"{[name for name in ENCODER_FACE_SOURCES if name != 'auto']} "
                         f"(resolve_encoder_faces turns 'auto' into one)")
    if source == "faces":
        return splits
    train, val = lfw_encoder_faces(seed=seed, image_size=int(splits.eval_train.images.shape[1]))
    check_disjoint({"E (encoder faces)": train.names,
                    "evaluation identities": splits.eval_identities})
    return dataclasses.replace(splits, encoder_train=train, encoder_val=val)


__all__ = ["ENCODER_FACE_SOURCES", "lfw_encoder_faces", "resolve_encoder_faces",
           "with_encoder_faces"]
