"""Refractive-index models of mask materials (dispersion).

A material maps a vacuum wavelength (m) to a refractive index. Two models are provided:

* Sellmeier, ``n^2 = 1 + sum_i B_i l^2 / (l^2 - C_i)`` with ``l`` in micrometres; fused silica
  uses Malitson (1965), J. Opt. Soc. Am. 55, 1205 (valid 0.21-3.71 um).
* Cauchy, ``n = A + B / l^2 + C / l^4`` with ``l`` in micrometres; SU-8 uses the MicroChem
  SU-8 2000 data-sheet coefficients A = 1.566, B = 0.00796 um^2, C = 0.00014 um^4 (n = 1.596 at
  532 nm).

``register_material`` adds a material (any callable wavelength -> index, or one of the model
classes). Wavelengths may be floats, numpy arrays or torch tensors; the index comes back as the
same kind.

>>> round(refractive_index("fused_silica", 532e-9), 4)
1.4607
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Dict, Sequence, Union

import numpy as np

_UM = 1e-6


def _as_micrometres(wavelength, name: str = "wavelength"):
    """Check ``wavelength`` (m) is finite and positive; return it in micrometres, same kind."""
    try:
        import torch
        is_tensor = isinstance(wavelength, torch.Tensor)
    except ImportError:  # pragma: no cover - torch is a dependency
        is_tensor = False
    values = wavelength.detach().cpu().numpy() if is_tensor else np.asarray(wavelength, dtype=float)
    if not np.all(np.isfinite(values)) or np.any(values <= 0):
        raise ValueError(f"{name} must be finite and > 0 m, got {wavelength!r}")
    return wavelength / _UM, values / _UM


@dataclass(frozen=True)
class Sellmeier:
    """Sellmeier dispersion ``n^2 = 1 + sum B_i l^2 / (l^2 - C_i)``, ``l`` in um.

    Parameters
    ----------
    b : sequence of float
        Dimensionless oscillator strengths ``B_i``.
    c : sequence of float
        Resonance terms ``C_i`` in um^2.
    valid_range : (float, float)
        Wavelength range (m) where the fit holds; outside it ``__call__`` raises ValueError.
    """

    b: Sequence[float]
    c: Sequence[float]
    valid_range: tuple = (0.0, math.inf)

    def __call__(self, wavelength):
        lam_um, values_um = _as_micrometres(wavelength)
        _check_range(values_um * _UM, self.valid_range)
        lam2 = lam_um * lam_um
        n2 = 1.0
        for b, c in zip(self.b, self.c):
            n2 = n2 + b * lam2 / (lam2 - c)
        return n2 ** 0.5


@dataclass(frozen=True)
class Cauchy:
    """Cauchy dispersion ``n = A + B / l^2 + C / l^4``, ``l`` in um.

    Parameters
    ----------
    a : float
        Constant term (dimensionless).
    b : float
        um^2.
    c : float
        um^4.
    valid_range : (float, float)
        Wavelength range (m) where the fit holds.
    """

    a: float
    b: float
    c: float = 0.0
    valid_range: tuple = (0.0, math.inf)

    def __call__(self, wavelength):
        lam_um, values_um = _as_micrometres(wavelength)
        _check_range(values_um * _UM, self.valid_range)
        lam2 = lam_um * lam_um
        return self.a + self.b / lam2 + self.c / (lam2 * lam2)


def _check_range(values_m: np.ndarray, valid_range: tuple) -> None:
    low, high = valid_range
    if np.any(values_m < low) or np.any(values_m > high):
        raise ValueError(f"wavelength {values_m.tolist()} m is outside the dispersion model's "
                         f"valid range [{low:g}, {high:g}] m")


#: Known materials: name -> callable wavelength (m) -> refractive index.
MATERIALS: Dict[str, Callable] = {
    "fused_silica": Sellmeier(b=(0.6961663, 0.4079426, 0.8974794),
                              c=(0.0684043 ** 2, 0.1162414 ** 2, 9.896161 ** 2),
                              valid_range=(0.21e-6, 3.71e-6)),
    "su8": Cauchy(a=1.566, b=0.00796, c=0.00014, valid_range=(0.35e-6, 1.6e-6)),
}

_ALIASES = {"fused silica": "fused_silica", "fusedsilica": "fused_silica", "silica": "fused_silica",
            "sio2": "fused_silica", "su-8": "su8", "su_8": "su8"}


def _canonical(name: str) -> str:
    key = str(name).strip().lower()
    return _ALIASES.get(key, key)


def register_material(name: str, model: Union[Callable, float]) -> None:
    """Add (or replace) a material.

    Parameters
    ----------
    name : str
        Name used by :func:`refractive_index` (case-insensitive).
    model : callable or float
        ``model(wavelength_m) -> n`` (e.g. a :class:`Sellmeier` or :class:`Cauchy`), or a
        constant index (> 1 expected for a mask material, must be > 0).
    """
    if not callable(model):
        index = float(model)
        if not math.isfinite(index) or index <= 0:
            raise ValueError(f"model: a constant refractive index must be finite and > 0, got {model!r}")
        model = Cauchy(a=index, b=0.0, c=0.0)
    MATERIALS[_canonical(name)] = model


def get_material(material: Union[str, Callable]) -> Callable:
    """Return the dispersion callable of ``material`` (a name or a callable passed through)."""
    if callable(material):
        return material
    key = _canonical(material)
    if key not in MATERIALS:
        raise ValueError(f"material: unknown material {material!r}; known: {sorted(MATERIALS)} "
                         f"(add one with optics.materials.register_material)")
    return MATERIALS[key]


def refractive_index(material: Union[str, Callable], wavelength):
    """Refractive index of ``material`` at vacuum ``wavelength``.

    Parameters
    ----------
    material : str or callable
        A known material name (``"fused_silica"``, ``"su8"``, or one registered) or a callable.
    wavelength : float, array or torch.Tensor
        Vacuum wavelength(s) in metres, > 0.

    Returns
    -------
    float, array or torch.Tensor
        Index, same kind and shape as ``wavelength``.
    """
    return get_material(material)(wavelength)


def two_pi_height(material: Union[str, Callable], wavelength: float) -> float:
    """Height (m) of material whose phase delay in air is 2 pi: ``lambda / (n - 1)``."""
    n = float(refractive_index(material, float(wavelength)))
    if n <= 1.0:
        raise ValueError(f"material: index {n} <= 1 at {wavelength} m gives no positive 2 pi height")
    return float(wavelength) / (n - 1.0)
