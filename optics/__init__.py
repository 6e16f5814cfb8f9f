"""optics: scalar wave propagation, thin elements, dispersion, and phase-mask PSFs.

Public API (SI units; torch or numpy in, the same kind out):

- :func:`propagate` (band-limited angular spectrum, Fresnel TF / IR, auto) and
  :func:`propagate_sft` (single-FFT Fresnel, new output pitch); criteria in :mod:`optics.sampling`.
- :mod:`optics.materials`: :func:`refractive_index`, :func:`register_material`.
- :mod:`optics.elements`: :func:`phase_from_height`, apertures, :func:`thin_lens_phase`, grids.
- :mod:`optics.psf`: :func:`mask_psf` and the learnable :class:`MaskPSF` module.

Names are imported on first use, so ``import optics`` (and ``canopic --help``) stays cheap.
"""
from canopic.core.lazy import lazy_exports

_EXPORTS = {
    "amplitude_mask": "optics.elements",
    "circular_aperture": "optics.elements",
    "field_from_phase": "optics.elements",
    "grid": "optics.elements",
    "grid_coordinates": "optics.elements",
    "phase_from_height": "optics.elements",
    "rectangular_aperture": "optics.elements",
    "thin_lens_phase": "optics.elements",
    "MATERIALS": "optics.materials",
    "refractive_index": "optics.materials",
    "register_material": "optics.materials",
    "two_pi_height": "optics.materials",
    "METHODS": "optics.propagation",
    "TRANSFER_CACHE": "optics.propagation",
    "propagate": "optics.propagation",
    "propagate_sft": "optics.propagation",
    "DESIGN_WAVELENGTH": "optics.psf",
    "MASK_PITCH": "optics.psf",
    "MASK_SENSOR_DISTANCE": "optics.psf",
    "RGB_WAVELENGTHS": "optics.psf",
    "MaskPSF": "optics.psf",
    "mask_psf": "optics.psf",
}
__all__ = sorted(_EXPORTS)
__getattr__ = lazy_exports(__name__, _EXPORTS)
