"""Where the bundled data lives: one resolver for every module.

The bundled data sets (``faces64_wide.npz``, ``faces64.npz``, ``nonfaces64.npz``,
``lfw/lfw64_wide.npz``, ``reference_encoders/``; data/README.md) are looked for, in order:

1. ``$CANOPIC_DATA``, when set (and not empty): a folder holding them. If it is set but is not
   such a folder, that is an error naming it; the resolver does not fall back silently.
2. The installed copy: the package ``canopic_data`` that ``pip install .`` puts beside
   ``canopic`` (setup.cfg maps it onto the repository's ``data/``; in an editable install it
   *is* that folder).
3. The checkout's ``data/`` (``<repository>/data``), for a source tree used without installing.

>>> from canopic.core.paths import data_dir, reference_encoder_dir
>>> (data_dir() / "faces64_wide.npz").is_file()          # doctest: +SKIP
True
"""
from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from typing import Optional

#: The environment variable that points at a data folder of one's own.
ENV_VAR = "CANOPIC_DATA"
#: The import name of the installed data (setup.cfg ``package_dir``: canopic_data = data).
PACKAGE = "canopic_data"
#: What a folder must hold, at least one of, to count as a data folder.
MARKERS = ("faces64_wide.npz", "faces64.npz", "nonfaces64.npz", "reference_encoders")


def _holds_data(path: Optional[Path]) -> bool:
    return path is not None and path.is_dir() and any((path / m).exists() for m in MARKERS)


def installed_data_dir() -> Optional[Path]:
    """The folder of the installed package ``canopic_data``, or None where it is not installed.

    Found with :func:`importlib.util.find_spec`, so nothing is imported.
    """
    try:
        spec = importlib.util.find_spec(PACKAGE)
    except (ImportError, ValueError):
        return None
    if spec is None:
        return None
    if spec.origin and spec.origin not in ("namespace", "built-in", "frozen"):
        return Path(spec.origin).resolve().parent
    locations = list(spec.submodule_search_locations or [])
    return Path(locations[0]).resolve() if locations else None


def checkout_data_dir() -> Path:
    """``<repository>/data``: the data folder of a source checkout (it may not exist)."""
    return Path(__file__).resolve().parents[2] / "data"


def data_dir() -> Path:
    """The bundled data folder: ``$CANOPIC_DATA``, else the installed copy, else the checkout's.

    Returns
    -------
    pathlib.Path
        A folder holding the bundled ``.npz`` files and ``reference_encoders/``.

    Raises
    ------
    FileNotFoundError
        ``CANOPIC_DATA`` is set but is not a folder holding the data (the message names it), or
        no data folder is found (the message names every place looked at).
    """
    override = os.environ.get(ENV_VAR)
    if override:
        path = Path(override).expanduser()
        if not _holds_data(path):
            what = "does not exist" if not path.exists() else (
                "is not a folder" if not path.is_dir() else f"holds none of {list(MARKERS)}")
            raise FileNotFoundError(
                f"{ENV_VAR}={override!r}: {what}; point {ENV_VAR} at a folder holding the bundled "
                f"data ({', '.join(MARKERS)}), or unset it to use the installed data")
        return path
    installed, checkout = installed_data_dir(), checkout_data_dir()
    for path in (installed, checkout):
        if _holds_data(path):
            return path
    raise FileNotFoundError(
        f"bundled data not found; looked at: ${ENV_VAR} (not set), the installed package "
        f"{PACKAGE!r} ({installed if installed is not None else 'not installed'}), the "
        f"checkout's data folder ({checkout}). Reinstall the package (pip install .) or set "
        f"{ENV_VAR} to a folder holding {', '.join(MARKERS)}")


def reference_encoder_dir() -> Path:
    """The folder of the paper's published encoders, ``<data>/reference_encoders``."""
    return data_dir() / "reference_encoders"


def lfw_dir() -> Path:
    """The folder of the bundled LFW file and its README, ``<data>/lfw``."""
    return data_dir() / "lfw"


__all__ = ['ENV_VAR', 'PACKAGE', 'checkout_data_dir', 'data_dir', 'installed_data_dir', 'lfw_dir',
           'reference_encoder_dir']
