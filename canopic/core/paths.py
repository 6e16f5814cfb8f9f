"""Where the bundled data lives.

The bundled data set is the repository's ``data/`` folder. ``CANOPIC_DATA`` (an environment
variable) points elsewhere, e.g. at a copy for an installed, non-editable package.
"""
from __future__ import annotations

import os
from pathlib import Path


def data_dir() -> Path:
    """The bundled data folder (``$CANOPIC_DATA`` or ``<repository>/data``)."""
    override = os.environ.get("CANOPIC_DATA")
    path = Path(override) if override else Path(__file__).resolve().parents[2] / "data"
    if not path.is_dir():
        raise FileNotFoundError(f"bundled data folder not found at {path}; set CANOPIC_DATA to "
                                f"the folder holding faces64_wide.npz and reference_encoders/")
    return path


def reference_encoder_dir() -> Path:
    """The folder of the paper's published encoders."""
    return data_dir() / "reference_encoders"

__all__ = ['data_dir', 'reference_encoder_dir']
