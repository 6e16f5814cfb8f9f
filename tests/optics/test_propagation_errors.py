"""Bad input and violated sampling criteria give clear ValueErrors."""
import re

import numpy as np
import pytest
import torch

import optics
from optics.elements import thin_lens_phase

FIELD = torch.ones(64, 64, dtype=torch.complex64)


@pytest.mark.parametrize("kwargs, message", [
    (dict(dx=0.0), "dx must be finite and > 0"),
    (dict(dx=-1e-6), "dx must be finite and > 0"),
    (dict(wavelength=-532e-9), "wavelength must be finite and > 0"),
    (dict(wavelength=0.0), "wavelength must be finite and > 0"),
    (dict(wavelength=[532e-9, float("nan")]), "wavelength must be finite and > 0"),
    (dict(z=float("inf")), "z must be finite"),
    (dict(method="rayleigh"), "method must be one of"),
    (dict(pad=0.5), "pad must be a finite factor >= 1"),
    (dict(dtype="float32"), "dtype must be complex64 or complex128"),
])
def test_bad_arguments(kwargs, message):
    arguments = dict(field=FIELD, dx=2e-6, wavelength=532e-9, z=1e-4)
    arguments.update(kwargs)
    with pytest.raises(ValueError, match=message):
        optics.propagate(**arguments)


def test_nan_field_and_bad_shapes():
    field = FIELD.clone()
    field[3, 4] = float("nan")
    with pytest.raises(ValueError, match="NaN"):
        optics.propagate(field, 2e-6, 532e-9, 1e-4)
    with pytest.raises(ValueError, match=r"\[..., H, W\]"):
        optics.propagate(np.ones(8), 2e-6, 532e-9, 1e-4)
    with pytest.raises(ValueError, match="dim -3 must be 1 or 3"):
        optics.propagate(torch.ones(2, 8, 8), 2e-6, [1e-6, 2e-6, 3e-6], 1e-4)


def test_transfer_function_criterion_names_numbers_and_padding():
    n, dx, wavelength = 64, 2e-6, 500e-9
    limit = 2 * n * dx ** 2 / wavelength                  # padded N = 128
    optics.propagate(FIELD, dx, wavelength, 0.99 * limit, method="fresnel_tf")
    with pytest.raises(ValueError) as error:
        optics.propagate(FIELD, dx, wavelength, 1.5 * limit, method="fresnel_tf")
    text = str(error.value)
    assert "|z| <= N dx^2 / lambda" in text and "pad >= 3" in text and f"{limit:.6g}" in text
    # The proposed padding does satisfy the criterion.
    optics.propagate(FIELD, dx, wavelength, 1.5 * limit, method="fresnel_tf", pad=3)


def test_impulse_response_criterion_proposes_a_pitch():
    n, dx, wavelength = 64, 2e-6, 500e-9
    limit = 2 * n * dx ** 2 / wavelength
    optics.propagate(FIELD, dx, wavelength, 1.01 * limit, method="fresnel_ir")
    with pytest.raises(ValueError, match=r"\|z\| >= N dx\^2 / lambda.*pitch dx <= "):
        optics.propagate(FIELD, dx, wavelength, 0.5 * limit, method="fresnel_ir")


def test_asm_band_limit_criterion_proposes_padding_that_works():
    n, dx, wavelength = 64, 2e-6, 500e-9
    z = 3 * 2 * n * dx ** 2 / wavelength
    with pytest.raises(ValueError, match=r"asm band limit.*use pad >= ([0-9.]+)") as error:
        optics.propagate(FIELD, dx, wavelength, z)
    pad = float(re.search(r"use pad >= ([0-9.]+)", str(error.value)).group(1))
    optics.propagate(FIELD, dx, wavelength, z, pad=pad)
    optics.propagate(FIELD, dx, wavelength, z, check=False)


def test_lens_sampling_criterion():
    dx, wavelength, focal = 1e-6, 500e-9, 1e-3
    radius = wavelength * focal / (2 * dx)                 # 250 um: exactly at the limit
    thin_lens_phase(64, dx, wavelength, focal, radius=radius)
    with pytest.raises(ValueError, match=r"dx <= lambda \|f\| / \(2 R\).*pitch dx <= 5e-07"):
        thin_lens_phase(64, dx, wavelength, focal, radius=2 * radius)


def test_single_fft_requires_long_distance_and_one_wavelength():
    with pytest.raises(ValueError, match=r"\|z\| >= N dx\^2 / lambda"):
        optics.propagate_sft(FIELD, 2e-6, 532e-9, 1e-5)
    with pytest.raises(ValueError, match="one wavelength"):
        optics.propagate_sft(FIELD, 2e-6, [532e-9, 640e-9], 1.0)
    with pytest.raises(ValueError, match="non-zero"):
        optics.propagate_sft(FIELD, 2e-6, 532e-9, 0.0)


def test_zero_distance_is_identity_for_each_wavelength():
    out = optics.propagate(FIELD, 2e-6, [500e-9, 600e-9], 0.0)
    assert out.shape == (2, 64, 64) and torch.equal(out[1], FIELD)
