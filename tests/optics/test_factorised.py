"""optics.factorised: the PSF is the convolution of its factors, and a camera learns through it."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.signal import convolve2d

from optics.factorised import FactorisedPSF


def _dilated(kernel: np.ndarray, dilation: int) -> np.ndarray:
    side = 1 + (kernel.shape[0] - 1) * dilation
    out = np.zeros((side, side))
    out[::dilation, ::dilation] = kernel
    return out


def test_the_psf_is_the_convolution_of_its_dilated_factors_by_scipy():
    """Width 1: the chain of PyTorch correlations has the impulse response flip(k_1 * ... * k_L)
    (a correlation's impulse response is its flipped kernel), computed here by scipy."""
    psf = FactorisedPSF(size=33, dilations=(1, 3, 5), width=1, seed=4).double()
    kernels = [layer.weight.detach().double().numpy()[0, 0] for layer in psf.factors[:-1]]
    expected = np.ones((1, 1))
    for kernel, dilation in zip(kernels, psf.dilations):
        expected = convolve2d(expected, _dilated(kernel, dilation))
    expected = expected[::-1, ::-1] * float(psf.factors[-1].weight.detach())
    assert expected.shape == (psf.support, psf.support) == (19, 19)
    full = np.zeros((33, 33))
    full[7:26, 7:26] = expected
    np.testing.assert_allclose(psf().detach().numpy()[0, 0], full, atol=1e-12)


def test_support_seed_and_bad_settings():
    psf = FactorisedPSF(size=63, seed=2)
    kernel = psf().detach()[0, 0]
    assert psf.support == 31 and kernel[16:47, 16:47].abs().max() > 0
    outside = kernel.clone()
    outside[16:47, 16:47] = 0
    assert outside.abs().max() == 0
    assert torch.equal(FactorisedPSF(size=63, seed=2)().detach(), psf().detach())
    assert not torch.equal(FactorisedPSF(size=63, seed=3)().detach(), psf().detach())
    for kwargs, field in [(dict(size=29), "size"), (dict(size=64), "size"),
                          (dict(dilations=()), "dilations"), (dict(dilations=(1, 0)), "dilations"),
                          (dict(width=0), "width")]:
        with pytest.raises(ValueError, match=field):
            FactorisedPSF(**kwargs)


def test_a_camera_learns_through_the_factors_and_its_bundle_gives_the_same_codes(tmp_path):
    from sensor import Camera, CameraConfig
    from sensor.design_bundle import load_design_bundle, save_design_bundle

    camera = Camera(CameraConfig(conv="custom"), psf_source=FactorisedPSF(seed=0))
    scenes = torch.rand(4, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    codes = camera(scenes, mode="soft", hardness=5.0)
    codes[:, :, :4].sum().backward()
    assert all(layer.weight.grad is not None and layer.weight.grad.abs().max() > 0
               for layer in camera.optics.factors)
    save_design_bundle(camera, tmp_path / "design", 200.0, 0)
    again = load_design_bundle(tmp_path / "design").make_camera()
    with torch.no_grad():
        assert torch.equal(again(scenes), camera(scenes))


def test_the_camera_option_builds_the_factorised_psf_from_its_seed():
    from sensor import Camera, CameraConfig

    camera = Camera(CameraConfig(psf_parameterisation="factorised", seed=5))
    assert isinstance(camera.optics, FactorisedPSF)
    assert torch.equal(camera.psf[0, 0], FactorisedPSF(size=63, seed=5)().detach()[0, 0])
    assert Camera(CameraConfig(psf_parameterisation="factorised", kernel_size=41)).psf.shape[-1] == 41
    for changes in (dict(conv="conv4"), dict(kernel_mode="two_mask"), dict(psf_sigma=4.0),
                    dict(psf_parameterisation="layers")):
        with pytest.raises(ValueError, match="psf_parameterisation"):
            CameraConfig(**{"psf_parameterisation": "factorised", **changes})


def test_canopic_train_takes_the_parameterisation_flag():
    import argparse

    from canopic.app.commands import train

    parser = argparse.ArgumentParser()
    train.register(parser.add_subparsers())
    args = parser.parse_args(["train", "--psf-parameterisation", "factorised", "--out", "x"])
    assert train.build_config(args).camera.psf_parameterisation == "factorised"
    args = parser.parse_args(["train", "--out", "x"])
    assert train.build_config(args).camera.psf_parameterisation == "taps"


def test_a_factorised_run_resumes_after_a_kill_and_its_bundle_holds_the_learned_psf(tmp_path):
    """A run of canopic train's machinery with the factorised PSF: the checkpoint holds the
    factors (a resumed run ends where an uninterrupted one does) and the design bundle holds
    the learned PSF, not the starting one."""
    from learn import runs
    from sensor.design_bundle import load_design_bundle

    config = runs.smoke_config(conv="conv1").updated("camera", psf_parameterisation="factorised")
    whole = runs.train(config, tmp_path / "whole", progress=False)
    runs.train(config.updated("training", alternations=1), tmp_path / "cut", progress=False)
    resumed = runs.train(config, tmp_path / "cut", resume=True, progress=False)
    assert torch.equal(resumed.camera.psf, whole.camera.psf)
    start = FactorisedPSF(size=63, seed=0)().detach()[0, 0]
    saved = torch.from_numpy(load_design_bundle(tmp_path / "whole" / "design").psf)[0, 0]
    assert torch.allclose(saved, whole.camera.psf[0, 0]) and not torch.allclose(saved, start)


def test_custom_and_factorised_designs_go_through_the_physical_twin_and_any_override(tmp_path):
    """A bundle of a factorised camera (or of one built with conv 'custom' around the same PSF
    module) goes to the physical camera (noise, two captures) and takes config overrides that
    change the conv kind: the PSF is fixed there, how it was learned no longer matters."""
    from learn.table1_cameras import physical_twin
    from sensor import Camera, CameraConfig
    from sensor.camera import factorised_psf
    from sensor.design_bundle import load_design_bundle, save_design_bundle

    scenes = torch.rand(2, 3, 64, 64, generator=torch.Generator().manual_seed(1))
    for config, source in ((CameraConfig(psf_parameterisation="factorised", seed=3), None),
                           (CameraConfig(conv="custom", seed=3), FactorisedPSF(seed=3))):
        camera = Camera(config, psf_source=source)
        assert torch.equal(camera.psf, Camera(CameraConfig(psf_parameterisation="factorised"),
                                              psf_source=factorised_psf(config)).psf)
        twin = physical_twin(camera, masks=None)
        codes = twin(scenes, generator=torch.Generator().manual_seed(0))
        assert tuple(codes.shape) == (2, 3, 8, 8)
        save_design_bundle(camera, tmp_path / config.conv, 200.0, 0)
        bundle = load_design_bundle(tmp_path / config.conv)
        assert torch.equal(bundle.make_camera(kernel_mode="two_mask").psf, camera.psf)
    with pytest.raises(ValueError, match="kernel_size"):
        CameraConfig(psf_parameterisation="factorised", kernel_size=29)
