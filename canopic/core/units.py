"""One parser from human quantities ("532nm", "3.45um", "2 mm", "10ms") to SI floats.

Config files and CLI flags may use these strings; inside the code every quantity is SI
(metres, seconds, volts, ...). Plain numbers pass through unchanged (they are taken as SI).

>>> parse_quantity("532nm", "m")
5.32e-07
>>> parse_quantity("1.869 mm", "m")
0.001869
>>> parse_quantity(0.5, "s")
0.5
"""
from __future__ import annotations

import math
import re
from decimal import Decimal

#: Decimal exponent of each SI prefix (the number's digits are scaled exactly, then rounded
#: once, so "450nm" is the float closest to 4.5e-7, the same as the literal 450e-9).
_PREFIX = {"": 0, "k": 3, "m": -3, "u": -6, "µ": -6, "μ": -6, "n": -9, "p": -12, "c": -2}
_UNITS = {"m": "m", "s": "s", "V": "V", "A": "A", "Hz": "Hz", "e": "e"}
_PATTERN = re.compile(r"^\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*([a-zA-Zµμ]*)\s*$")


class UnitError(ValueError):
    """A quantity string could not be read in the expected unit."""


def parse_quantity(value: "str | float | int", unit: str, name: str = "value") -> float:
    """Return ``value`` in SI units of ``unit`` (one of m, s, V, A, Hz, e).

    Parameters
    ----------
    value : str or float
        A number (taken as already SI) or a string such as ``"532nm"``, ``"2 um"``, ``"1.5mm"``,
        ``"10ms"``, ``"3.3V"``.
    unit : str
        The SI base unit expected.
    name : str
        The parameter's name, used in error messages.

    Raises
    ------
    UnitError
        If the string is not a number followed by a known prefix and the expected unit, or is
        not finite.
    """
    if unit not in _UNITS:
        raise UnitError(f"{name}: unknown unit {unit!r}; allowed: {sorted(_UNITS)}")
    if isinstance(value, bool):
        raise UnitError(f"{name}: expected a quantity in {unit}, got a boolean")
    if isinstance(value, (int, float)):
        result = float(value)
    else:
        match = _PATTERN.match(str(value))
        if not match:
            raise UnitError(f"{name}: cannot read {value!r} as a quantity in {unit} "
                            f"(examples: '532nm', '2um', '1.869mm')")
        digits, suffix = match.group(1), match.group(2)
        if suffix == "":
            exponent = 0
        elif suffix.endswith(unit) and suffix[: -len(unit)] in _PREFIX:
            exponent = _PREFIX[suffix[: -len(unit)]]
        else:
            raise UnitError(f"{name}: unknown unit {suffix!r} in {value!r}; expected {unit} "
                            f"with an optional prefix from {sorted(k for k in _PREFIX if k)}")
        result = float(Decimal(digits).scaleb(exponent))
    if not math.isfinite(result):
        raise UnitError(f"{name}: {value!r} is not finite")
    return result

__all__ = ['UnitError', 'parse_quantity']
