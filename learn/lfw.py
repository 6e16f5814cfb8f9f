"""All of LFW with its published protocol, and the identity roles of an honest evaluation.

The bundled ``data/lfw/lfw64_wide.npz`` (data/lfw/README.md) holds the 13,233 LFW images of
5,749 people at the project's crop, and LFW's protocol files as published: View 1
(``peopleDevTrain``, ``peopleDevTest``: disjoint people; ``pairsDevTrain``, ``pairsDevTest``)
and View 2 (``people``, ``pairs``: 10 folds).

Roles (:func:`identity_roles`), person-level and disjoint, checked rather than assumed:

- **E** (encoder): people whose images may be used to learn an encoder.
- **A** (attacker): people an attacker may train on (and select its model on).
- **T** (test): people only ever tested. ``T_verification`` = the ``peopleDevTest`` people less
  the 62 ``faces64_wide`` identities (16 of them are in ``peopleDevTest``; Table 1's encoders learn
  from or are identified on those 62); the verification attack is scored on the
  ``pairsDevTest`` pairs of T people. ``T_identification`` = the evaluation identities of
  ``faces64_wide`` (Table 1's closed-set identification stays comparable).

E and A are the two halves (seeded) of ``peopleDevTrain`` less every ``faces64_wide`` identity,
so nothing learned in E or A has seen a T person.

>>> lfw = load_lfw()                                            # doctest: +SKIP
>>> roles = identity_roles(lfw, seed=0)                         # doctest: +SKIP
>>> len(roles.encoder), len(roles.attacker), len(roles.verification)  # doctest: +SKIP
(1996, 1996, 1695)
"""
from __future__ import annotations

import dataclasses
import functools
import os
from pathlib import Path
from typing import Iterable, Mapping, Sequence

import numpy as np

from canopic.core.paths import data_dir, lfw_dir

#: The protocol arrays the bundle must hold (LFW's file names without .txt).
PROTOCOL_ARRAYS = ("people", "peopleDevTrain", "peopleDevTest", "pairs", "pairsDevTrain",
                   "pairsDevTest")


def lfw_path() -> Path:
    """The bundled LFW file, ``<data>/lfw/lfw64_wide.npz``."""
    return lfw_dir() / "lfw64_wide.npz"


@dataclasses.dataclass(frozen=True)
class Pairs:
    """Verification pairs as image indices into :attr:`LFW.images`.

    Attributes
    ----------
    first, second : numpy.ndarray
        int64 [P], the two images of each pair.
    same : numpy.ndarray
        bool [P], True for a matched pair (the same person).
    fold : numpy.ndarray
        int64 [P], the View 2 fold (0 for the single set of View 1).
    """

    first: np.ndarray
    second: np.ndarray
    same: np.ndarray
    fold: np.ndarray

    def __len__(self) -> int:
        return int(self.same.size)

    def people(self, labels: np.ndarray) -> "set[int]":
        """Labels of every person in any pair."""
        return set(labels[self.first].tolist()) | set(labels[self.second].tolist())


@dataclasses.dataclass(frozen=True)
class LFW:
    """LFW images with identity labels, the image numbers of each person, and the protocol.

    Attributes
    ----------
    images : numpy.ndarray
        uint8 [N, 64, 64, 3], sRGB, read-only.
    labels : numpy.ndarray
        int64 [N], index into ``names``.
    names : tuple of str
        [5749] person names, sorted.
    numbers : numpy.ndarray
        int64 [N], the image's number within its person (1-based, as in ``Name_0003.jpg``).
    protocol : dict
        The protocol arrays by name (:data:`PROTOCOL_ARRAYS`), each a tuple of lines.
    path : str
        The file read.
    """

    images: np.ndarray
    labels: np.ndarray
    names: tuple
    numbers: np.ndarray
    protocol: Mapping[str, tuple]
    path: str

    @functools.cached_property
    def label_of(self) -> "dict[str, int]":
        """Person name -> label."""
        return {name: i for i, name in enumerate(self.names)}

    @functools.cached_property
    def _index(self) -> "dict[tuple[int, int], int]":
        return {(int(l), int(n)): i for i, (l, n) in enumerate(zip(self.labels, self.numbers))}

    def image(self, name: str, number: int, entry: str = "image") -> int:
        """The index of image ``number`` (1-based) of person ``name``; ValueError if absent."""
        if name not in self.label_of:
            raise ValueError(f"{self.path}: {entry}: unknown person {name!r}")
        index = self._index.get((self.label_of[name], int(number)))
        if index is None:
            raise ValueError(f"{self.path}: {entry}: {name} has no image {int(number)} "
                             f"(file {name}/{name}_{int(number):04d}.jpg is not in the set)")
        return index

    def people(self, entry: str) -> "dict[str, int]":
        """A people list (``people``, ``peopleDevTrain`` or ``peopleDevTest``): name -> count.

        The count each line gives is checked against the images present.
        """
        lines = self._lines(entry)
        people: "dict[str, int]" = {}
        for number, line in enumerate(lines, start=1):
            fields = line.split("\t")
            if len(fields) == 1 and fields[0].strip().isdigit():
                continue                      # a (sub)list's header: how many lines follow
            if len(fields) != 2 or not fields[1].strip().isdigit():
                raise ValueError(f"{self.path}: {entry} line {number}: {line!r} is not "
                                 f"'name<TAB>count'")
            name, count = fields[0], int(fields[1])
            label = self.label_of.get(name)
            if label is None:
                raise ValueError(f"{self.path}: {entry} line {number}: unknown person {name!r}")
            present = int(np.count_nonzero(self.labels == label))
            if present != count:
                raise ValueError(f"{self.path}: {entry} line {number}: {name} has {present} "
                                 f"images in the set, the list says {count}")
            people[name] = count
        return people

    def pairs(self, entry: str) -> Pairs:
        """A pairs list (``pairs``, ``pairsDevTrain``, ``pairsDevTest``) as image indices."""
        lines = self._lines(entry)
        header = lines[0].split("\t") if lines else []
        if not header or not all(field.strip().isdigit() for field in header):
            raise ValueError(f"{self.path}: {entry} line 1: {lines[:1]!r} is not a header "
                             f"('count' or 'folds<TAB>count')")
        if len(header) > 2:
            raise ValueError(f"{self.path}: {entry} line 1: {lines[0]!r} is not a header "
                             f"('count' or 'folds<TAB>count')")
        folds, per_kind = (1, int(header[0])) if len(header) == 1 else map(int, header)
        first, second, same, fold = [], [], [], []
        for number, line in enumerate(lines[1:], start=2):
            fields = line.split("\t")
            where = f"{entry} line {number}"
            numbers = fields[1:] if len(fields) == 3 else fields[1::2] if len(fields) == 4 else []
            if not all(field.strip().isdigit() for field in numbers):
                raise ValueError(f"{self.path}: {where}: {line!r} has an image number that is not "
                                 f"a whole number")
            if len(fields) == 3:
                name, a, b = fields
                first.append(self.image(name, int(a), where))
                second.append(self.image(name, int(b), where))
                same.append(True)
            elif len(fields) == 4:
                first.append(self.image(fields[0], int(fields[1]), where))
                second.append(self.image(fields[2], int(fields[3]), where))
                same.append(False)
            else:
                raise ValueError(f"{self.path}: {where}: {line!r} is neither 'name n1 n2' nor "
                                 f"'name1 n1 name2 n2'")
            fold.append((number - 2) // (2 * per_kind))
        if len(same) != folds * 2 * per_kind:
            raise ValueError(f"{self.path}: {entry}: {len(same)} pairs; the header promises "
                             f"{folds} fold(s) of {per_kind} matched + {per_kind} mismatched")
        return Pairs(np.asarray(first, dtype=np.int64), np.asarray(second, dtype=np.int64),
                     np.asarray(same, dtype=bool), np.asarray(fold, dtype=np.int64))

    def _lines(self, entry: str) -> tuple:
        if entry not in self.protocol:
            raise ValueError(f"{self.path}: no protocol array {entry!r}; known: "
                             f"{sorted(self.protocol)}")
        return self.protocol[entry]


def load_lfw(source: "str | os.PathLike[str] | None" = None) -> LFW:
    """Read the LFW bundle (cached per file; images decoded once).

    Raises ValueError naming the file and the entry for a missing protocol array, a file name
    that does not say ``<name>/<name>_<n>.jpg``, or labels out of range.
    """
    path = Path(source) if source is not None else lfw_path()
    if not path.is_file():
        raise ValueError(f"LFW: {str(path)!r} not found (the bundle is data/lfw/lfw64_wide.npz; "
                         f"data/lfw/README.md says how it was built)")
    return _load(str(path.resolve()), path.stat().st_mtime)


@functools.lru_cache(maxsize=2)
def _load(path: str, _mtime: float) -> LFW:
    from learn.datasets import load_faces

    with np.load(path, allow_pickle=False) as archive:
        missing = [name for name in PROTOCOL_ARRAYS + ("files",) if name not in archive.files]
        if missing:
            raise ValueError(f"{path}: missing protocol array(s) {missing}; an LFW bundle holds "
                             f"{list(PROTOCOL_ARRAYS)} and 'files' (data/lfw/README.md)")
        protocol = {name: tuple(str(line) for line in archive[name]) for name in PROTOCOL_ARRAYS}
        files = [str(f) for f in archive["files"]]
    faces = load_faces(path)
    numbers = np.empty(len(files), dtype=np.int64)
    for i, (file, label) in enumerate(zip(files, faces.labels)):
        name = faces.names[label]
        stem = os.path.splitext(os.path.basename(file))[0]
        if not stem.startswith(f"{name}_") or not stem[len(name) + 1:].isdigit():
            raise ValueError(f"{path}: files[{i}] = {file!r} is not '<name>/<name>_<n>.jpg' for "
                             f"its label's person {name!r}")
        numbers[i] = int(stem[len(name) + 1:])
    numbers.setflags(write=False)
    return LFW(faces.images, faces.labels, faces.names, numbers, protocol, path)


@dataclasses.dataclass(frozen=True)
class Roles:
    """Person names in each role (see the module docstring); disjoint where it matters.

    Attributes
    ----------
    encoder, attacker : tuple of str
        E and A.
    verification : tuple of str
        T for verification: the people of ``peopleDevTest`` less the excluded ``faces64_wide``
        identities.
    identification : tuple of str
        T for identification: the evaluation identities of ``faces64_wide``.
    """

    encoder: tuple
    attacker: tuple
    verification: tuple
    identification: tuple

    def check(self) -> "Roles":
        """Raise ValueError if a person is in E and A, or in E or A and a test role."""
        check_disjoint({"E (encoder)": self.encoder, "A (attacker)": self.attacker,
                        "T (verification)": self.verification,
                        "T (identification)": self.identification},
                       allowed={frozenset({"T (verification)", "T (identification)"})})
        return self


def check_disjoint(roles: "Mapping[str, Iterable[str]]",
                   allowed: "Iterable[frozenset]" = ()) -> None:
    """Raise ValueError naming the first person found in two roles (pairs in ``allowed`` excepted)."""
    allowed = {frozenset(pair) for pair in allowed}
    sets = {role: set(people) for role, people in roles.items()}
    names = list(sets)
    for i, first in enumerate(names):
        for second in names[i + 1:]:
            if frozenset({first, second}) in allowed:
                continue
            shared = sorted(sets[first] & sets[second])
            if shared:
                raise ValueError(f"identity roles leak: {len(shared)} person(s) in both "
                                 f"{first} and {second}, e.g. {shared[0]!r}")


def identity_roles(lfw: LFW, seed: int = 0,
                   identification: "Sequence[str] | None" = None,
                   excluded: "Sequence[str] | None" = None) -> Roles:
    """The E / A / T roles of :class:`Roles` for ``seed`` (a seeded shuffle halves E and A).

    Parameters
    ----------
    lfw : LFW
        The data (:func:`load_lfw`).
    seed : int
        Seed of the shuffle that halves ``peopleDevTrain`` into E and A.
    identification : sequence of str, optional
        The identification test people; default: the evaluation identities that
        :func:`learn.datasets.make_splits` picks from ``faces64_wide`` with seed 0 (the 30 with
        most images; :func:`learn.datasets.evaluation_identities`).
    excluded : sequence of str, optional
        People kept out of E and A; default: every ``faces64_wide`` identity (62), which today's
        Table 1 protocol uses for its encoder and its identification test.
    """
    if identification is None or excluded is None:
        from learn.datasets import evaluation_identities

        with np.load(data_dir() / "faces64_wide.npz", allow_pickle=False) as archive:
            names = tuple(str(name) for name in archive["names"])
            labels = archive["labels"].astype(np.int64)
        excluded = names if excluded is None else excluded
        if identification is None:
            identification = evaluation_identities(labels, names, seed=0)
    dev_train = [name for name in lfw.people("peopleDevTrain") if name not in set(excluded)]
    order = np.random.default_rng(seed).permutation(len(dev_train))
    shuffled = [dev_train[i] for i in order]
    half = len(shuffled) // 2
    roles = Roles(encoder=tuple(sorted(shuffled[:half])),
                  attacker=tuple(sorted(shuffled[half:])),
                  verification=tuple(sorted(set(lfw.people("peopleDevTest")) - set(excluded))),
                  identification=tuple(sorted(identification)))
    return roles.check()


__all__ = ["LFW", "PROTOCOL_ARRAYS", "Pairs", "Roles", "check_disjoint", "identity_roles",
           "lfw_path", "load_lfw"]
