"""Deprecated alias of :mod:`canopic.core.files` (kept for one release)."""
import warnings

from canopic.core.files import *  # noqa: F401,F403
from canopic.core.files import __all__  # noqa: F401

warnings.warn("canopic.files moved to canopic.core.files; the alias goes in the next release",
              DeprecationWarning, stacklevel=2)
