"""Deprecated alias of :mod:`canopic.app.cli` (kept for one release)."""
import warnings

from canopic.app.cli import build_parser, main  # noqa: F401

warnings.warn("canopic.cli moved to canopic.app.cli; the alias goes in the next release",
              DeprecationWarning, stacklevel=2)
