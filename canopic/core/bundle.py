"""Reader of the bundled image files (JPEG-in-npz; format in data/README.md).

>>> from canopic.core.bundle import read_image_bundle
>>> faces = read_image_bundle("faces64_wide")          # doctest: +SKIP
>>> faces["images"].shape, faces["labels"].shape       # doctest: +SKIP
((3023, 64, 64, 3), (3023,))
"""
from __future__ import annotations

import functools
from pathlib import Path

import numpy as np

from canopic.core.paths import data_dir


def bundle_path(name_or_path: str) -> Path:
    """Path of a bundled set by name ("faces64_wide", "faces64", "nonfaces64") or path."""
    path = Path(name_or_path)
    if path.suffix != ".npz":
        path = data_dir() / f"{name_or_path}.npz"
    if not path.is_file():
        known = sorted(p.stem for p in data_dir().glob("*.npz"))
        raise ValueError(f"source: no bundled image set {name_or_path!r}; known: {known}")
    return path


def decode_jpeg_array(blob: np.ndarray, offsets: np.ndarray, indices=None) -> np.ndarray:
    """Decode JPEG images packed as one uint8 buffer: uint8 [N, H, W, 3] RGB."""
    import cv2

    idx = range(len(offsets) - 1) if indices is None else indices
    images = []
    for i in idx:
        bgr = cv2.imdecode(blob[offsets[i]:offsets[i + 1]], cv2.IMREAD_COLOR)
        if bgr is None:
            raise ValueError(f"image {i}: cannot be decoded as JPEG")
        images.append(bgr[:, :, ::-1])
    return np.ascontiguousarray(np.stack(images))


@functools.lru_cache(maxsize=4)
def _read(path: str) -> "dict[str, np.ndarray]":
    from canopic.core.files import read_npz

    arrays = read_npz(path, "image bundle")
    if "images" not in arrays:
        if "jpeg" not in arrays or "jpeg_offsets" not in arrays:
            raise ValueError(f"{path}: neither 'images' nor 'jpeg'+'jpeg_offsets' arrays inside")
        arrays["images"] = decode_jpeg_array(arrays.pop("jpeg"), arrays.pop("jpeg_offsets"))
    for key in arrays:
        arrays[key].setflags(write=False)
    return arrays


def read_image_bundle(name_or_path: str) -> "dict[str, np.ndarray]":
    """All arrays of a bundled set, with ``images`` decoded to uint8 [N, 64, 64, 3] RGB.

    Read-only arrays, cached per file (decoding 3,000 images takes about a second).
    """
    return dict(_read(str(bundle_path(name_or_path))))

__all__ = ['bundle_path', 'decode_jpeg_array', 'read_image_bundle']
