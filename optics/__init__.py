"""optics: scalar wave propagation, thin elements, dispersion, and phase-mask PSFs.

Public API (SI units; torch or numpy in, the same kind out):

- :func:`propagate` (band-limited angular spectrum, Fresnel TF / IR, auto) and
  :func:`propagate_sft` (single-FFT Fresnel, new output pitch); criteria in :mod:`optics.sampling`.
- :mod:`optics.materials`: :func:`refractive_index`, :func:`register_material`.
- :mod:`optics.elements`: :func:`phase_from_height`, apertures, :func:`thin_lens_phase`, grids.
- :mod:`optics.psf`: :func:`mask_psf` and the learnable :class:`MaskPSF` module.
"""
from .elements import (amplitude_mask, circular_aperture, field_from_phase, grid, grid_coordinates,
                       phase_from_height, rectangular_aperture, thin_lens_phase)
from .materials import MATERIALS, refractive_index, register_material, two_pi_height
from .propagation import METHODS, TRANSFER_CACHE, propagate, propagate_sft
from .psf import (DESIGN_WAVELENGTH, MASK_PITCH, MASK_SENSOR_DISTANCE, RGB_WAVELENGTHS, MaskPSF,
                  mask_psf)

__all__ = [
    "propagate", "propagate_sft", "METHODS", "TRANSFER_CACHE",
    "refractive_index", "register_material", "two_pi_height", "MATERIALS",
    "phase_from_height", "thin_lens_phase", "circular_aperture", "rectangular_aperture",
    "amplitude_mask", "field_from_phase", "grid", "grid_coordinates",
    "mask_psf", "MaskPSF", "RGB_WAVELENGTHS", "DESIGN_WAVELENGTH", "MASK_PITCH",
    "MASK_SENSOR_DISTANCE",
]
