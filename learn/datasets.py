"""Face and no-face images: loading (bundled data or users' folders), identity splits, tensors.

Sources
-------
* Bundled data in ``data/`` (JPEG-in-npz, see ``data/README.md``): ``"faces64_wide"`` (the
  default, LFW at the paper's face scale), ``"faces64"`` (tight crop), ``"nonfaces64"``.
* Any ``.npz`` in the same format (``jpeg``, ``jpeg_offsets``, for faces ``labels`` and ``names``).
* A user's folder. Faces: one sub-folder per identity holding image files (VGGFace2 layout).
  No-faces: a folder of image files, searched recursively (so an ImageNet class tree works).
  Each image is centre-cropped to a square and resized to ``image_size`` by area averaging
  (``cv2.INTER_AREA``).

Decoded data sets are cached per (source, size), and their arrays are read-only, so callers
cannot corrupt the cache; copy before editing.

Splits (:func:`make_splits`)
----------------------------
Identities are split into two disjoint groups, seeded:

* **evaluation identities**: by default the ``n_eval_identities=30`` identities with the most
  images (ties broken by the seed). Each is capped at ``cap_per_identity=40`` images (a seeded
  random subset), then split per identity into train / val / test (default 60 / 20 / 20 %, at
  least one image each). Fewer, larger classes make the evaluation task meaningful on the 62
  bundled LFW identities: 30 classes of 40 images give 24 / 8 / 8 per class, enough for a clean
  CNN to pass 70 % top-1 (chance 3.3 %).
* **encoder identities**: all the others (32 on the bundled data), used only to learn the
  encoder (the recognition network R of eq. (1)); capped the same way and split into
  ``encoder_train`` / ``encoder_val`` (default 15 % val per identity).

No-face images are split by image (seeded) into encoder / eval-train / val / test parts
(default 40 / 30 / 15 / 15 %).
"""
from __future__ import annotations

import dataclasses
import functools
import os
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np

from canopic.core.filetypes import IMAGE_SUFFIXES, list_images
from canopic.core.paths import data_dir

BUNDLED_FACES = ("faces64_wide", "faces64")
BUNDLED_NONFACES = ("nonfaces64",)


# ----------------------------------------------------------------------------- containers
@dataclasses.dataclass(frozen=True)
class FaceSet:
    """Face images with identity labels.

    Attributes
    ----------
    images : np.ndarray
        uint8 [N, H, W, 3], sRGB.
    labels : np.ndarray
        int64 [N], index into ``names``.
    names : tuple of str
        Identity names, one per class.
    files : tuple of str
        Where each image came from (for provenance).
    """

    images: np.ndarray
    labels: np.ndarray
    names: tuple
    files: tuple

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    @property
    def num_classes(self) -> int:
        """Number of identities (classes)."""
        return len(self.names)

    def subset(self, index: np.ndarray) -> "FaceSet":
        """The images at ``index`` (labels and names unchanged)."""
        index = np.asarray(index, dtype=np.int64)
        return FaceSet(_readonly(self.images[index]), _readonly(self.labels[index]), self.names,
                       tuple(self.files[i] for i in index))


@dataclasses.dataclass(frozen=True)
class ImageSet:
    """Images without labels (the no-face images).

    Attributes
    ----------
    images : np.ndarray
        uint8 [N, H, W, 3], sRGB.
    files : tuple of str
        Where each image came from.
    """

    images: np.ndarray
    files: tuple

    def __len__(self) -> int:
        return int(self.images.shape[0])

    def subset(self, index: np.ndarray) -> "ImageSet":
        """The images at ``index``."""
        index = np.asarray(index, dtype=np.int64)
        return ImageSet(_readonly(self.images[index]), tuple(self.files[i] for i in index))


@dataclasses.dataclass(frozen=True)
class Splits:
    """Every part of the identity split (see the module docstring).

    Face parts used for the encoder carry labels ``0 .. len(encoder_identities) - 1``; the
    three evaluation parts share labels ``0 .. len(eval_identities) - 1``.
    """

    encoder_train: FaceSet
    encoder_val: FaceSet
    eval_train: FaceSet
    eval_val: FaceSet
    eval_test: FaceSet
    nonfaces_encoder: ImageSet
    nonfaces_train: ImageSet
    nonfaces_val: ImageSet
    nonfaces_test: ImageSet
    seed: int

    @property
    def encoder_identities(self) -> tuple:
        """Names of the identities used to learn the encoder."""
        return self.encoder_train.names

    @property
    def eval_identities(self) -> tuple:
        """Names of the identities used only for evaluation."""
        return self.eval_train.names

    def summary(self) -> dict:
        """Sizes of every part (for logs and reports)."""
        return {field.name: (len(getattr(self, field.name)) if field.name != "seed" else self.seed)
                for field in dataclasses.fields(self)} | {
            "encoder_identities": len(self.encoder_identities),
            "eval_identities": len(self.eval_identities)}


def _readonly(array: np.ndarray) -> np.ndarray:
    array = np.ascontiguousarray(array)
    array.setflags(write=False)
    return array


# ----------------------------------------------------------------------------- decoding
def _cv2():
    import cv2  # heavy import, only when images are decoded

    return cv2


def _square_resize(image_bgr: np.ndarray, size: int) -> np.ndarray:
    """Centre-crop to a square, resize by area to ``size`` x ``size``, return RGB uint8."""
    cv2 = _cv2()
    if image_bgr.ndim == 2:
        image_bgr = cv2.cvtColor(image_bgr, cv2.COLOR_GRAY2BGR)
    elif image_bgr.shape[2] == 4:
        image_bgr = cv2.cvtColor(image_bgr, cv2.COLOR_BGRA2BGR)
    if image_bgr.dtype != np.uint8:  # 16-bit PNG / TIFF
        image_bgr = (image_bgr.astype(np.float64) / np.iinfo(image_bgr.dtype).max * 255.0
                     + 0.5).astype(np.uint8)
    height, width = image_bgr.shape[:2]
    side = min(height, width)
    top, left = (height - side) // 2, (width - side) // 2
    image_bgr = image_bgr[top:top + side, left:left + side]
    if side != size:
        interpolation = cv2.INTER_AREA if side > size else cv2.INTER_CUBIC
        image_bgr = cv2.resize(image_bgr, (size, size), interpolation=interpolation)
    return image_bgr[:, :, ::-1]


def _decode(data: bytes | np.ndarray, name: str, size: int) -> np.ndarray:
    cv2 = _cv2()
    buffer = np.frombuffer(data, dtype=np.uint8) if isinstance(data, bytes) else data
    image = cv2.imdecode(buffer, cv2.IMREAD_UNCHANGED) if buffer.size else None
    if image is None:
        raise ValueError(f"image {name!r}: cannot decode (not an image file, or corrupt); "
                         f"allowed formats: {', '.join(IMAGE_SUFFIXES)}")
    return _square_resize(image, size)


def _decode_npz(path: Path, size: int) -> tuple[np.ndarray, dict]:
    from canopic.core.files import read_npz

    archive = read_npz(path, "source")   # a truncated or non-zip file: one clear error
    for key in ("jpeg", "jpeg_offsets"):
        if key not in archive:
            raise ValueError(f"source {str(path)!r}: missing array {key!r}; the archive must "
                             f"hold 'jpeg' and 'jpeg_offsets' (see data/README.md)")
    blob, offsets = archive["jpeg"], archive["jpeg_offsets"]
    extras = {key: value for key, value in archive.items() if key not in ("jpeg", "jpeg_offsets")}
    count = offsets.shape[0] - 1
    if count < 1:
        raise ValueError(f"source {str(path)!r}: holds no images (jpeg_offsets has "
                         f"{offsets.shape[0]} entries; need >= 2)")
    images = np.empty((count, size, size, 3), dtype=np.uint8)
    for i in range(count):
        images[i] = _decode(blob[offsets[i]:offsets[i + 1]], f"{path.name}[{i}]", size)
    return images, extras


def _read_files(files: Sequence[Path], size: int, desc: str) -> np.ndarray:
    from tqdm import tqdm

    images = np.empty((len(files), size, size, 3), dtype=np.uint8)
    for i, path in enumerate(tqdm(files, desc=desc, unit="img", leave=False,
                                  disable=len(files) < 500)):
        images[i] = _decode(np.fromfile(path, dtype=np.uint8), str(path), size)
    return images


def _resolve(source: "str | os.PathLike[str]", bundled: tuple, kind: str) -> Path:
    text = os.fspath(source)
    if text in bundled:
        return data_dir() / f"{text}.npz"
    path = Path(text).expanduser()
    if not path.exists():
        raise ValueError(f"{kind} source {text!r}: not found; give one of {list(bundled)}, "
                         f"an .npz in the data/README.md format, or a folder of images")
    return path.resolve()


def _check_size(image_size: int) -> int:
    if not isinstance(image_size, (int, np.integer)) or not 8 <= int(image_size) <= 1024:
        raise ValueError(f"image_size: {image_size!r} is not allowed; need an integer in [8, 1024]")
    return int(image_size)


# ----------------------------------------------------------------------------- loaders
def load_faces(source: "str | os.PathLike[str]" = "faces64_wide", image_size: int = 64) -> FaceSet:
    """Load face images with identity labels (cached; arrays are read-only).

    Parameters
    ----------
    source : str or path-like
        ``"faces64_wide"`` (default), ``"faces64"``, a path to such an ``.npz``, or a folder
        with one sub-folder of image files per identity.
    image_size : int
        Output side in pixels (bundled data are 64; others are centre-cropped and resized).

    Returns
    -------
    FaceSet
        images uint8 [N, image_size, image_size, 3] (sRGB), labels int64 [N].

    Raises
    ------
    ValueError
        Unknown source, an unreadable image, no images, or fewer than two identities.
    """
    path = _resolve(source, BUNDLED_FACES, "faces")
    return _load_faces_cached(str(path), _mtime(path), _check_size(image_size))


def load_nonfaces(source: "str | os.PathLike[str]" = "nonfaces64", image_size: int = 64) -> ImageSet:
    """Load images that contain no face (cached; arrays are read-only).

    Parameters
    ----------
    source : str or path-like
        ``"nonfaces64"`` (default), a path to such an ``.npz``, or a folder of image files
        (searched recursively).
    image_size : int
        Output side in pixels.

    Returns
    -------
    ImageSet
        images uint8 [N, image_size, image_size, 3] (sRGB).
    """
    path = _resolve(source, BUNDLED_NONFACES, "nonfaces")
    return _load_nonfaces_cached(str(path), _mtime(path), _check_size(image_size))


def _mtime(path: Path) -> float:
    return path.stat().st_mtime


@functools.lru_cache(maxsize=8)
def _load_faces_cached(path_text: str, _mtime_key: float, size: int) -> FaceSet:
    path = Path(path_text)
    if path.is_dir():
        folders = sorted(p for p in path.iterdir() if p.is_dir())
        files, labels, names = [], [], []
        for folder in folders:
            found = list_images(folder, recursive=False)
            if found:
                labels += [len(names)] * len(found)
                names.append(folder.name)
                files += found
        if not files:
            raise ValueError(f"faces source {path_text!r}: no image files found; expected one "
                             f"sub-folder per identity holding {'/'.join(IMAGE_SUFFIXES)} files")
        images = _read_files(files, size, "faces")
        labels = np.asarray(labels, dtype=np.int64)
        file_names = tuple(str(p) for p in files)
    else:
        images, extras = _decode_npz(path, size)
        if "labels" not in extras or "names" not in extras:
            raise ValueError(f"faces source {path_text!r}: needs arrays 'labels' and 'names'")
        labels = extras["labels"].astype(np.int64)
        names = [str(n) for n in extras["names"]]
        if labels.shape != (images.shape[0],) or labels.min() < 0 or labels.max() >= len(names):
            raise ValueError(f"faces source {path_text!r}: 'labels' must be [N] in "
                             f"[0, {len(names) - 1}]")
        file_names = tuple(str(f) for f in extras.get("files", [f"{path.name}[{i}]"
                                                               for i in range(len(labels))]))
    if len(names) < 2:
        raise ValueError(f"faces source {path_text!r}: found {len(names)} identity; need at least "
                         f"2 (one sub-folder per identity)")
    return FaceSet(_readonly(images), _readonly(labels), tuple(names), file_names)


@functools.lru_cache(maxsize=8)
def _load_nonfaces_cached(path_text: str, _mtime_key: float, size: int) -> ImageSet:
    path = Path(path_text)
    if path.is_dir():
        files = list_images(path, recursive=True)
        if not files:
            raise ValueError(f"nonfaces source {path_text!r}: no image files found (searched "
                             f"recursively for {'/'.join(IMAGE_SUFFIXES)})")
        return ImageSet(_readonly(_read_files(files, size, "nonfaces")),
                        tuple(str(p) for p in files))
    images, extras = _decode_npz(path, size)
    names = extras.get("files", [f"{path.name}[{i}]" for i in range(images.shape[0])])
    return ImageSet(_readonly(images), tuple(str(f) for f in names))


# ----------------------------------------------------------------------------- splits
def _check_fraction(name: str, value: float, low: float = 0.0, high: float = 1.0) -> float:
    if not isinstance(value, (int, float)) or not low <= float(value) < high:
        raise ValueError(f"{name}: {value!r} is not allowed; need a number in [{low}, {high})")
    return float(value)


def _split_counts(count: int, fractions: Sequence[float], minimum: int) -> list[int]:
    """Integer part sizes summing to ``count``, each >= ``minimum``, close to ``fractions``."""
    sizes = [max(minimum, int(round(count * f))) for f in fractions[1:]]
    return [count - sum(sizes)] + sizes


def _identities_by_size(labels: np.ndarray, num_classes: int, rng: np.random.Generator
                        ) -> np.ndarray:
    """Labels of the identities present, most images first; a random key (one draw of ``rng``
    per identity) breaks ties."""
    counts = np.bincount(labels, minlength=num_classes)
    present = np.flatnonzero(counts > 0)
    return present[np.lexsort((rng.random(len(present)), -counts[present]))]


def evaluation_identities(labels: np.ndarray, names: Sequence[str], n_eval_identities: int = 30,
                          seed: int = 0) -> "tuple[str, ...]":
    """The names of the identities :func:`make_splits` keeps for evaluation with this ``seed``
    (the ``n_eval_identities`` with the most images), from the labels alone (no images)."""
    order = _identities_by_size(np.asarray(labels), len(names), np.random.default_rng(seed))
    return tuple(names[i] for i in np.sort(order[:n_eval_identities]))


def make_splits(faces: FaceSet, nonfaces: ImageSet, seed: int = 0, n_eval_identities: int = 30,
                cap_per_identity: int = 40, eval_val_fraction: float = 0.2,
                eval_test_fraction: float = 0.2, encoder_val_fraction: float = 0.15,
                nonface_fractions: Sequence[float] = (0.4, 0.3, 0.15, 0.15)) -> Splits:
    """Split faces by identity and no-faces by image, deterministically for a given ``seed``.

    Parameters
    ----------
    faces : FaceSet
        All face images (at least ``n_eval_identities + 1`` identities).
    nonfaces : ImageSet
        All no-face images (at least 4).
    seed : int
        Seed of every random choice (ties among identity sizes, capping, image assignment).
    n_eval_identities : int
        Identities kept for evaluation: the ones with the most images. The rest learn the encoder.
    cap_per_identity : int
        At most this many images per identity (a seeded random subset), so classes stay balanced.
    eval_val_fraction, eval_test_fraction : float
        Per evaluation identity, the fractions of its images in val and test (each >= 1 image);
        the rest is eval train (>= 1 image). Identities need >= 3 images.
    encoder_val_fraction : float
        Per encoder identity, the fraction held out to validate the recogniser R.
    nonface_fractions : sequence of 4 floats
        Fractions of no-face images for encoder / eval-train / val / test (summing to 1).

    Returns
    -------
    Splits
    """
    if not isinstance(seed, (int, np.integer)):
        raise ValueError(f"seed: {seed!r} is not allowed; need an integer")
    counts = np.bincount(faces.labels, minlength=faces.num_classes)
    present = np.flatnonzero(counts > 0)
    if not isinstance(n_eval_identities, (int, np.integer)) or not (
            1 <= n_eval_identities <= len(present) - 1):
        raise ValueError(f"n_eval_identities: {n_eval_identities!r} is not allowed; need an "
                         f"integer in [1, {len(present) - 1}] (the data have {len(present)} "
                         f"identities and at least one must learn the encoder)")
    if not isinstance(cap_per_identity, (int, np.integer)) or cap_per_identity < 3:
        raise ValueError(f"cap_per_identity: {cap_per_identity!r} is not allowed; need an "
                         f"integer >= 3")
    _check_fraction("eval_val_fraction", eval_val_fraction)
    _check_fraction("eval_test_fraction", eval_test_fraction)
    if eval_val_fraction + eval_test_fraction >= 1.0:
        raise ValueError(f"eval_val_fraction + eval_test_fraction: {eval_val_fraction} + "
                         f"{eval_test_fraction} is not allowed; need a sum < 1")
    _check_fraction("encoder_val_fraction", encoder_val_fraction)
    fractions = np.asarray(nonface_fractions, dtype=np.float64)
    if fractions.shape != (4,) or (fractions <= 0).any() or abs(fractions.sum() - 1.0) > 1e-6:
        raise ValueError(f"nonface_fractions: {tuple(nonface_fractions)} is not allowed; need 4 "
                         f"positive fractions (encoder, eval-train, val, test) summing to 1")
    if len(nonfaces) < 4:
        raise ValueError(f"nonfaces: {len(nonfaces)} images is not enough; need at least 4")

    rng = np.random.default_rng(seed)
    order = _identities_by_size(faces.labels, faces.num_classes, rng)
    eval_ids = np.sort(order[:n_eval_identities])
    encoder_ids = np.sort(order[n_eval_identities:])
    small = [faces.names[i] for i in eval_ids if counts[i] < 3]
    if small:
        raise ValueError(f"faces: evaluation identities {small} have fewer than 3 images; need "
                         f">= 3 each (train, val, test), or lower n_eval_identities")

    def per_identity(ids: np.ndarray, part_fractions: Sequence[float], minimum: int) -> list:
        parts: list[list[np.ndarray]] = [[] for _ in part_fractions]
        labels: list[list[np.ndarray]] = [[] for _ in part_fractions]
        for new_label, identity in enumerate(ids):
            members = np.flatnonzero(faces.labels == identity)
            members = rng.permutation(members)[:cap_per_identity]
            sizes = _split_counts(len(members), part_fractions, minimum)
            edges = np.cumsum([0] + sizes)
            for p in range(len(part_fractions)):
                chosen = np.sort(members[edges[p]:edges[p + 1]])
                parts[p].append(chosen)
                labels[p].append(np.full(len(chosen), new_label, dtype=np.int64))
        names = tuple(faces.names[i] for i in ids)
        return [_relabel(faces, np.concatenate(idx), np.concatenate(lab), names)
                for idx, lab in zip(parts, labels)]

    eval_train, eval_val, eval_test = per_identity(
        eval_ids, (1 - eval_val_fraction - eval_test_fraction, eval_val_fraction,
                   eval_test_fraction), minimum=1)
    encoder_train, encoder_val = per_identity(
        encoder_ids, (1 - encoder_val_fraction, encoder_val_fraction), minimum=0)

    shuffled = rng.permutation(len(nonfaces))
    sizes = _split_counts(len(nonfaces), fractions[[0, 1, 2, 3]], minimum=1)
    edges = np.cumsum([0] + sizes)
    nonface_parts = [nonfaces.subset(np.sort(shuffled[edges[p]:edges[p + 1]])) for p in range(4)]
    return Splits(encoder_train, encoder_val, eval_train, eval_val, eval_test, *nonface_parts,
                  seed=int(seed))


def _relabel(faces: FaceSet, index: np.ndarray, labels: np.ndarray, names: tuple) -> FaceSet:
    return FaceSet(_readonly(faces.images[index]), _readonly(labels), names,
                   tuple(faces.files[i] for i in index))


def default_splits(seed: int = 0, faces: str = "faces64_wide", nonfaces: str = "nonfaces64",
                   **kwargs) -> Splits:
    """``make_splits(load_faces(faces), load_nonfaces(nonfaces), seed, **kwargs)``."""
    return make_splits(load_faces(faces), load_nonfaces(nonfaces), seed=seed, **kwargs)


# ----------------------------------------------------------------------------- tensors
@functools.lru_cache(maxsize=1)
def _srgb_lut():
    import torch

    from sensor.colour import srgb_to_linear

    return srgb_to_linear(torch.arange(256, dtype=torch.float64) / 255.0).to(torch.float32)


def to_tensor(images: np.ndarray, device=None):
    """uint8 sRGB images NHWC -> float32 NCHW **linear** RGB in [0, 1] (IEC 61966-2-1 decoding).

    The camera sees light, so the sRGB transfer curve is undone: ``c / 12.92`` for
    ``c <= 0.04045``, else ``((c + 0.055) / 1.055) ** 2.4``.

    Parameters
    ----------
    images : np.ndarray or torch.Tensor
        uint8 [N, H, W, 3] (or one image [H, W, 3]).
    device : torch.device or str, optional

    Returns
    -------
    torch.Tensor
        float32 [N, 3, H, W] in [0, 1].
    """
    import torch

    if isinstance(images, torch.Tensor):
        tensor = images
    else:
        array = np.asarray(images)
        tensor = torch.from_numpy(array if array.flags.writeable else array.copy())
    if tensor.dtype != torch.uint8:
        raise ValueError(f"images: dtype {tensor.dtype} is not allowed; need uint8 sRGB")
    if tensor.ndim == 3:
        tensor = tensor[None]
    if tensor.ndim != 4 or tensor.shape[-1] != 3:
        raise ValueError(f"images: shape {tuple(tensor.shape)} is not allowed; need [N, H, W, 3]")
    lut = _srgb_lut().to(tensor.device)
    linear = lut[tensor.long()].permute(0, 3, 1, 2).contiguous()
    return linear if device is None else linear.to(device)


def to_srgb_uint8(linear) -> np.ndarray:
    """float NCHW linear RGB in [0, 1] -> uint8 NHWC sRGB (the inverse of :func:`to_tensor`)."""
    import torch

    from sensor.colour import linear_to_srgb

    encoded = linear_to_srgb(torch.as_tensor(linear).detach().to("cpu", torch.float64))
    return (encoded * 255.0 + 0.5).to(torch.uint8).permute(0, 2, 3, 1).numpy()


# ----------------------------------------------------------------------------- batching
def shard_indices(count: int, rank: int = 0, world_size: int = 1) -> np.ndarray:
    """One process's share of ``range(count)`` under DDP: ``rank::world_size`` of the padded list.

    As ``torch.utils.data.DistributedSampler`` (padding on, no shuffle): the list is padded by
    wrapping around to ``ceil(count / world_size) * world_size`` items, so every rank gets the
    same number of images, runs the same number of batches and so joins the same number of
    gradient all-reduces (unequal shards would leave one rank waiting forever).
    """
    if not 0 <= rank < world_size:
        raise ValueError(f"rank: {rank} is not allowed; need an integer in [0, {world_size - 1}]")
    if count < 1:
        return np.arange(0)
    padded = -(-count // world_size) * world_size
    return (np.arange(padded) % count)[rank::world_size]


def iterate_batches(count: int, batch_size: int, generator=None, shuffle: bool = True,
                    drop_last: bool = False) -> Iterator:
    """Yield int64 index tensors covering ``range(count)`` in batches of ``batch_size``.

    Parameters
    ----------
    count : int
        Number of items.
    batch_size : int
        Items per batch (>= 1).
    generator : torch.Generator, optional
        Source of the shuffle (reproducible runs pass their own).
    shuffle : bool
        Random order (else 0, 1, 2, ...).
    drop_last : bool
        Skip the final short batch.
    """
    import torch

    if not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ValueError(f"batch_size: {batch_size!r} is not allowed; need an integer >= 1")
    order = (torch.randperm(count, generator=generator) if shuffle
             else torch.arange(count))
    for start in range(0, count, batch_size):
        batch = order[start:start + batch_size]
        if drop_last and len(batch) < batch_size:
            return
        yield batch


def balanced_batches(face_count: int, nonface_count: int, batch_size: int,
                     generator=None) -> Iterator:
    """Yield (face_index, nonface_index) tensors with ``batch_size // 2`` of each per batch.

    One epoch is the larger set seen once; the smaller set is re-shuffled as often as needed
    (the authors' detector sees 16 faces + 16 no-faces per batch of 32).
    """
    import torch

    if not isinstance(batch_size, (int, np.integer)) or batch_size < 2:
        raise ValueError(f"batch_size: {batch_size!r} is not allowed; need an integer >= 2")
    if face_count < 1 or nonface_count < 1:
        raise ValueError(f"balanced_batches: need >= 1 face and >= 1 no-face image, got "
                         f"{face_count} and {nonface_count}")
    half = batch_size // 2
    steps = -(-max(face_count, nonface_count) // half)

    def stream(count: int) -> torch.Tensor:
        repeats = -(-steps * half // count)
        return torch.cat([torch.randperm(count, generator=generator) for _ in range(repeats)])

    faces, nonfaces = stream(face_count), stream(nonface_count)
    for step in range(steps):
        yield faces[step * half:(step + 1) * half], nonfaces[step * half:(step + 1) * half]
