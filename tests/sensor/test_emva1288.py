"""EMVA 1288 photon-transfer characterisation of the simulated pixel array.

The frames come from sensor/ (pixel array + ideal characterisation ADC); the analysis is done by
the independent PyPI package ``emva1288`` (its ``get_int_imgs``, ``Data1288`` and
``Results1288``), which must recover the configured parameters (issue 2): K within 2 %, QE within
2 %, temporal dark noise within 5 %, dark current within 10 %, DSNU and PRNU within 10 %.

Protocol (EMVA 1288 release 3/4, "variation of exposure time" method): a constant irradiance,
exposure times from 1 ms to 100 ms; at each a pair of dark and a pair of bright frames (temporal
series; the dark current comes from the dark signal versus exposure time); one exposure near 50 %
of saturation with stacks of L dark and bright frames for the spatial non-uniformities. The ADC
saturates before the full well, so the saturation search of emva1288 finds a clean plateau.
"""
import logging
import math

import numpy as np
import pytest
import torch

if not hasattr(np, "asfarray"):  # emva1288 calls np.asfarray, removed in numpy 2
    np.asfarray = lambda a, dtype=np.float64: np.asarray(a, dtype=dtype)

emva_routines = pytest.importorskip("emva1288.process.routines")
from emva1288.process.data import Data1288  # noqa: E402
from emva1288.process.results import Results1288  # noqa: E402

from sensor.emva import CharacterisationADC, flat_field_frames  # noqa: E402
from sensor.pixel import PixelArray, SensorParams  # noqa: E402

CONFIGURED = dict(quantum_efficiency=0.6, dark_noise=6.0, dark_current=200.0,
                  saturation_capacity=20_000.0, dsnu=3.0, prnu=0.01, pixel_pitch=2e-6,
                  conversion_gain=40e-6)
SYSTEM_GAIN = 0.25  # DN/e-
BITS = 12
HEIGHT = WIDTH = 96
EXPOSURES_S = np.linspace(1e-3, 0.1, 40)
SPATIAL_EXPOSURE_S = 0.05
SPATIAL_FRAMES = 24


@pytest.fixture(scope="module")
def characterisation():
    params = SensorParams(**CONFIGURED)
    pixels = PixelArray(params, seed=11)
    adc = CharacterisationADC.for_system_gain(params, SYSTEM_GAIN, bits=BITS, dark_level=64.0)
    generator = torch.Generator().manual_seed(2024)
    # Irradiance such that the longest exposure drives the ADC 10 % past full scale.
    adc_saturation_electrons = (adc.max_code - 64.0) / SYSTEM_GAIN
    photon_rate = 1.1 * adc_saturation_electrons / params.quantum_efficiency / EXPOSURES_S[-1]

    def capture(photons, frames, t_exp):
        dn = flat_field_frames(pixels, adc, photons, frames, HEIGHT, WIDTH,
                               exposure_time=float(t_exp), generator=generator)
        return list(dn.numpy())

    def temporal_entry(frames):
        stats = emva_routines.get_int_imgs(frames)
        return {"sum": np.sum(stats["sum"]), "pvar": np.sum(stats["pvar"]),
                "dmean": stats["dmean"]}

    temporal = {}
    for t_exp in EXPOSURES_S:
        photons = float(photon_rate * t_exp)
        temporal[t_exp * 1e9] = {0.0: temporal_entry(capture(0.0, 2, t_exp)),
                                 photons: temporal_entry(capture(photons, 2, t_exp))}
    spatial_photons = float(photon_rate * SPATIAL_EXPOSURE_S)
    spatial = {SPATIAL_EXPOSURE_S * 1e9: {
        0.0: emva_routines.get_int_imgs(capture(0.0, SPATIAL_FRAMES, SPATIAL_EXPOSURE_S)),
        spatial_photons: emva_routines.get_int_imgs(
            capture(spatial_photons, SPATIAL_FRAMES, SPATIAL_EXPOSURE_S))}}
    data = Data1288({"temporal": temporal, "spatial": spatial, "height": HEIGHT, "width": WIDTH},
                    loglevel=logging.WARNING)
    results = Results1288(data.data, pixel_area=(params.pixel_pitch * 1e6) ** 2,
                          loglevel=logging.WARNING)
    recovered = {
        "K": results.K, "QE": results.QE / 100.0, "sigma_d": results.sigma_d,
        "dark_current_mean": results.u_I_mean, "dark_current_var": results.u_I_var,
        "DSNU": results.DSNU1288, "PRNU": results.PRNU1288 / 100.0,
    }
    print("\nEMVA 1288 (emva1288 package) recovered vs configured:")
    configured = {"K": SYSTEM_GAIN, "QE": params.quantum_efficiency, "sigma_d": params.dark_noise,
                  "dark_current_mean": params.dark_current, "dark_current_var": params.dark_current,
                  "DSNU": params.dsnu, "PRNU": params.prnu}
    for name, value in recovered.items():
        print(f"  {name:18s} {value:10.5g}  configured {configured[name]:10.5g}  "
              f"({100 * (value / configured[name] - 1):+.2f} %)")
    return recovered, configured, adc


def _relative_error(recovered, configured, name):
    value = recovered[name]
    assert math.isfinite(value), f"{name}: emva1288 returned {value}"
    return abs(value / configured[name] - 1.0)


def test_adc_gives_the_configured_system_gain(characterisation):
    _, _, adc = characterisation
    assert adc.system_gain(SensorParams(**CONFIGURED)) == pytest.approx(SYSTEM_GAIN, rel=1e-12)


@pytest.mark.parametrize("name, tolerance", [
    ("K", 0.02), ("QE", 0.02), ("sigma_d", 0.05), ("dark_current_mean", 0.10),
    ("dark_current_var", 0.10), ("DSNU", 0.10), ("PRNU", 0.10)])
def test_emva1288_recovers_configured_parameters(characterisation, name, tolerance):
    recovered, configured, _ = characterisation
    error = _relative_error(recovered, configured, name)
    assert error <= tolerance, (f"{name}: recovered {recovered[name]:.5g}, configured "
                                f"{configured[name]:.5g} ({100 * error:.2f} % > "
                                f"{100 * tolerance} %)")
