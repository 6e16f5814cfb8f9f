"""Deprecated alias of :mod:`canopic.core.units` (kept for one release)."""
import warnings

from canopic.core.units import *  # noqa: F401,F403
from canopic.core.units import __all__  # noqa: F401

warnings.warn("canopic.units moved to canopic.core.units; the alias goes in the next release",
              DeprecationWarning, stacklevel=2)
