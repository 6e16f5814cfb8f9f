"""Deprecated alias of :mod:`canopic.core.paths` (kept for one release)."""
import warnings

from canopic.core.paths import *  # noqa: F401,F403
from canopic.core.paths import __all__  # noqa: F401

warnings.warn("canopic.paths moved to canopic.core.paths; the alias goes in the next release",
              DeprecationWarning, stacklevel=2)
