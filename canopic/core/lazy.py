"""Package names imported on first use, so that ``import optics`` (and ``canopic --help``)
stays cheap while ``optics.propagate`` still works.

>>> import types
>>> getattr_ = lazy_exports("demo", {"sqrt": "math"})
>>> getattr_("sqrt")(4.0)
2.0
"""
from __future__ import annotations

import importlib
from typing import Any, Callable, Mapping


def lazy_exports(package: str, exports: Mapping[str, str]) -> Callable[[str], Any]:
    """A module ``__getattr__`` for ``package`` that imports ``exports[name]`` on first use.

    ``exports`` maps each public name to the module that defines it; other names raise
    ``AttributeError`` as usual.
    """
    def __getattr__(name: str) -> Any:
        if name in exports:
            return getattr(importlib.import_module(exports[name]), name)
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    return __getattr__


__all__ = ["lazy_exports"]
