"""Atomic file writing and hashing, shared by every package that writes user-facing files.

Nothing is written half-way: each writer writes ``<path>.part`` beside the target, flushes it
to disk and renames it over the target (``os.replace`` is atomic on POSIX and Windows).
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import zipfile
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


def _archive_error(path: str, what: str, error: BaseException) -> ValueError:
    """A ValueError naming ``what`` (the option or parameter) and the file for ``error``."""
    if isinstance(error, IsADirectoryError) or os.path.isdir(path):
        return ValueError(f"{what}: {path} is a folder; expected a file")
    if isinstance(error, FileNotFoundError):
        return ValueError(f"{what}: {path} does not exist")
    text = str(error)
    if "pickle" in text and "Object arrays" not in text:
        reason = "not a numpy file (neither a .npz zip archive nor .npy)"
    elif "Object arrays" in text:
        reason = "holds arrays of Python objects, which only pickle reads; expected plain arrays"
    elif isinstance(error, (zipfile.BadZipFile, EOFError)):
        reason = f"truncated or not a zip archive ({text})"
    else:
        reason = f"not a valid numpy file ({text})"
    return ValueError(f"{what}: {path} is {reason}" if reason.startswith("not")
                      else f"{what}: {path}: {reason}")


def read_npz(path: "str | os.PathLike[str]", what: str = "file") -> "dict[str, np.ndarray]":
    """Every array of the .npz archive at ``path``, read without pickle.

    A missing, truncated, non-zip or pickled file is a ``ValueError`` that names ``what`` (the
    option or parameter the file came from) and the file, never numpy's own message.
    """
    path = os.fspath(path)
    try:
        with np.load(path, allow_pickle=False) as archive:
            if not hasattr(archive, "files"):
                raise ValueError(f"{what}: {path} is a .npy array; expected a .npz archive")
            return {key: archive[key] for key in archive.files}
    except ValueError as error:
        if str(error).startswith(f"{what}: "):
            raise
        raise _archive_error(path, what, error) from None
    except (OSError, EOFError, zipfile.BadZipFile, KeyError, RuntimeError) as error:
        raise _archive_error(path, what, error) from None


def read_npy(path: "str | os.PathLike[str]", what: str = "file") -> np.ndarray:
    """The array of the .npy file at ``path``, read without pickle (errors as :func:`read_npz`)."""
    path = os.fspath(path)
    try:
        array = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as error:
        raise _archive_error(path, what, error) from None
    if not isinstance(array, np.ndarray):
        array.close()
        raise ValueError(f"{what}: {path} is a .npz archive; expected a .npy array")
    return array


def read_json_object(path: "str | os.PathLike[str]", what: str = "file",
                     expected: str = "an object") -> dict:
    """The JSON object in the text file at ``path``.

    A folder, a missing file, text that is not JSON and JSON that is not an object are each a
    ``ValueError`` naming ``what`` (the option or parameter the file came from) and the file;
    ``expected`` says what the object should be.
    """
    path = os.fspath(path)
    if os.path.isdir(path):
        raise ValueError(f"{what}: {path} is a folder; expected a .json file")
    if not os.path.isfile(path):
        raise ValueError(f"{what}: {path} does not exist")
    try:
        with open(path, encoding="utf-8") as handle:
            value = json.load(handle)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ValueError(f"{what}: {path} is not valid JSON ({error})") from None
    if not isinstance(value, dict):
        raise ValueError(f"{what}: {path} holds a JSON {type(value).__name__}; expected "
                         f"{expected}")
    return value


def prepare_output_folder(out_dir: "str | os.PathLike[str]", overwrite: bool) -> str:
    """Check ``out_dir`` may be written and return a fresh staging folder ``<out_dir>.part``.

    Raises ValueError if ``out_dir`` exists and ``overwrite`` is false.
    """
    out_dir = os.fspath(out_dir)
    if os.path.exists(out_dir) and not overwrite:
        raise ValueError(f"out_dir: {out_dir!r} exists; choose a new folder or pass overwrite")
    staging = f"{out_dir.rstrip(os.sep)}.part"
    shutil.rmtree(staging, ignore_errors=True)
    os.makedirs(staging)
    return staging


def publish_folder(staging: "str | os.PathLike[str]", out_dir: "str | os.PathLike[str]") -> None:
    """Move a finished staging folder onto ``out_dir`` (replacing it), as the last step."""
    staging, out_dir = os.fspath(staging), os.fspath(out_dir)
    if os.path.exists(out_dir):
        old = f"{out_dir.rstrip(os.sep)}.old"
        shutil.rmtree(old, ignore_errors=True)
        os.replace(out_dir, old)
        os.replace(staging, out_dir)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(staging, out_dir)


@contextlib.contextmanager
def staged_folder(out_dir: "str | os.PathLike[str]", overwrite: bool = False) -> Iterator[str]:
    """Yield a staging folder that becomes ``out_dir`` only if the block succeeds.

    A folder is written whole or not at all: on an exception the staging folder is removed and
    ``out_dir`` (if it existed) is untouched.
    """
    staging = prepare_output_folder(out_dir, overwrite)
    try:
        yield staging
        publish_folder(staging, out_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def sha256_file(path: "str | os.PathLike[str]") -> str:
    """Return the hex SHA-256 of the file at ``path``."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()

__all__ = ["read_npz", "read_npy", "read_json_object", "prepare_output_folder", "publish_folder", "staged_folder", 'atomic_path', 'write_bytes', 'write_text', 'write_json', 'save_npz', 'sha256_file']
