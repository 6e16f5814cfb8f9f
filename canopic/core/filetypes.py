"""The one registry of file types the tool reads: images and videos, by suffix.

>>> is_image("face.JPG"), is_video("clip.mp4"), is_image("notes.txt")
(True, True, False)
"""
from __future__ import annotations

import os
from pathlib import Path

#: Still images OpenCV decodes (lower case, with the dot).
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp", ".ppm", ".pgm")
#: Videos OpenCV reads frame by frame.
VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".m4v", ".webm")


def is_image(path: "str | os.PathLike[str]") -> bool:
    """True if ``path``'s suffix (any case) is one of :data:`IMAGE_SUFFIXES`."""
    return Path(path).suffix.lower() in IMAGE_SUFFIXES


def is_video(path: "str | os.PathLike[str]") -> bool:
    """True if ``path``'s suffix (any case) is one of :data:`VIDEO_SUFFIXES`."""
    return Path(path).suffix.lower() in VIDEO_SUFFIXES


def list_images(folder: "str | os.PathLike[str]", recursive: bool = True) -> "list[Path]":
    """The image files in ``folder`` (and below it when ``recursive``), sorted by path."""
    folder = Path(folder)
    candidates = folder.rglob("*") if recursive else folder.iterdir()
    return sorted(p for p in candidates if p.is_file() and is_image(p))


__all__ = ["IMAGE_SUFFIXES", "VIDEO_SUFFIXES", "is_image", "is_video", "list_images"]
