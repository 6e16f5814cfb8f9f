"""Rebuild the compact data files in this folder from the uncompressed bundle.

The source bundle (uint8 [N, 64, 64, 3] arrays; see PROVENANCE.md) is re-encoded image by
image as JPEG inside an .npz so that the repository stays small (about 25 MB for all three
sets). The product never needs the source bundle: this script exists so that anyone can
check or redo the conversion.

Usage::

    python data/convert_bundle.py SOURCE_DIR [OUT_DIR]

Every array of the source file except ``images`` is copied unchanged; ``images`` becomes
``jpeg`` (uint8, all encoded images concatenated) and ``jpeg_offsets`` (int64 [N + 1]).
"""
from __future__ import annotations

import hashlib
import os
import sys

import cv2
import numpy as np

#: JPEG quality per set: the default sets at 95, the extra tight crop at 90.
QUALITY = {"faces64_wide": 95, "nonfaces64": 95, "faces64": 90}


def encode_set(src: str, dst: str, quality: int) -> None:
    data = np.load(src, allow_pickle=False)
    images = data["images"]
    blobs = [cv2.imencode(".jpg", img[:, :, ::-1], [cv2.IMWRITE_JPEG_QUALITY, quality])[1]
             for img in images]
    offsets = np.zeros(len(blobs) + 1, dtype=np.int64)
    offsets[1:] = np.cumsum([len(b) for b in blobs])
    arrays = {k: data[k] for k in data.files if k != "images"}
    arrays["jpeg"] = np.concatenate(blobs).astype(np.uint8)
    arrays["jpeg_offsets"] = offsets
    arrays["jpeg_quality"] = np.int32(quality)
    tmp = dst + ".part.npz"
    np.savez_compressed(tmp, **arrays)
    os.replace(tmp, dst)


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__)
        return 2
    src_dir = argv[0]
    out_dir = argv[1] if len(argv) > 1 else os.path.dirname(os.path.abspath(__file__))
    for name, quality in QUALITY.items():
        dst = os.path.join(out_dir, name + ".npz")
        encode_set(os.path.join(src_dir, name + ".npz"), dst, quality)
        digest = hashlib.sha256(open(dst, "rb").read()).hexdigest()
        print(f"{digest}  {name}.npz")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
