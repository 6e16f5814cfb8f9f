"""Deprecated alias of :mod:`canopic.core.bundle` (kept for one release)."""
import warnings

from canopic.core.bundle import *  # noqa: F401,F403
from canopic.core.bundle import __all__  # noqa: F401

warnings.warn("canopic.bundle moved to canopic.core.bundle; the alias goes in the next release",
              DeprecationWarning, stacklevel=2)
