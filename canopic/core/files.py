"""Atomic file writing and hashing, shared by every package that writes user-facing files.

Nothing is written half-way: each writer writes ``<path>.part`` beside the target, flushes it
to disk and renames it over the target (``os.replace`` is atomic on POSIX and Windows).
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
from typing import Any, Iterator

import numpy as np


@contextlib.contextmanager
def atomic_path(path: "str | os.PathLike[str]", suffix: str = "") -> Iterator[str]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` only on success.

    ``suffix`` is appended to the temporary name (some writers need a known extension, e.g.
    ``".npz"``). On an exception the temporary file is removed and ``path`` is untouched.
    """
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    tmp = f"{path}.part{suffix}"
    try:
        yield tmp
        with open(tmp, "rb+") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.remove(tmp)
        raise


def write_bytes(path: "str | os.PathLike[str]", data: bytes) -> None:
    """Write ``data`` to ``path`` atomically."""
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as handle:
            handle.write(data)


def write_text(path: "str | os.PathLike[str]", text: str) -> None:
    """Write UTF-8 ``text`` to ``path`` atomically."""
    write_bytes(path, text.encode("utf-8"))


def write_json(path: "str | os.PathLike[str]", obj: Any) -> None:
    """Write ``obj`` as indented JSON to ``path`` atomically."""
    write_text(path, json.dumps(obj, indent=2, sort_keys=False) + "\n")


def save_npz(path: "str | os.PathLike[str]", **arrays: Any) -> None:
    """Save numpy arrays to ``path`` atomically (compressed; readable with allow_pickle=False)."""
    for key, value in arrays.items():
        if np.asarray(value).dtype == object:
            raise TypeError(f"save_npz: array {key!r} has dtype object, which needs pickle")
    with atomic_path(path, suffix=".npz") as tmp:
        np.savez_compressed(tmp, **arrays)


def sha256_file(path: "str | os.PathLike[str]") -> str:
    """Return the hex SHA-256 of the file at ``path``."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()

__all__ = ['atomic_path', 'write_bytes', 'write_text', 'write_json', 'save_npz', 'sha256_file']
