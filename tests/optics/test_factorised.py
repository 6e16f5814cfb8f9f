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
    for changes in (dict(conv="custom"), dict(conv="none"), dict(kernel_mode="nonnegative"),
                    dict(psf_sigma=4.0), dict(psf_parameterisation="layers")):
        with pytest.raises(ValueError, match="psf_parameterisation"):
            CameraConfig(**{"psf_parameterisation": "factorised", **changes})


def test_several_filters_share_the_dilated_layers_and_each_mixes_them_by_its_own_row():
    """Filter f of an F-filter chain is the one-filter chain whose last 1 x 1 layer is row f of
    the F-filter one's (same dilated layers); one filter is the chain it always was."""
    four = FactorisedPSF(size=35, seed=7, filters=4).double()
    psfs = four().detach()
    assert tuple(psfs.shape) == (4, 1, 35, 35)
    one = FactorisedPSF(size=35, seed=7).double()
    for dilated, shared in zip(one.factors[:-1], four.factors[:-1]):
        assert torch.equal(dilated.weight, shared.weight)  # the seed draws the trunk first
    for f in range(4):
        with torch.no_grad():
            one.factors[-1].weight.copy_(four.factors[-1].weight[f:f + 1])
        np.testing.assert_allclose(psfs[f].numpy(), one().detach()[0].numpy(), atol=1e-15)
    assert all(not torch.allclose(psfs[0], psfs[f]) for f in (1, 2, 3))
    assert torch.equal(FactorisedPSF(size=35, seed=7, filters=1)().detach(),
                       FactorisedPSF(size=35, seed=7)().detach())
    for bad in (0, 1.5, True):
        with pytest.raises(ValueError, match="filters"):
            FactorisedPSF(filters=bad)


def test_a_factorised_conv4_camera_captures_each_filter_as_its_own_psf_would():
    """Conv(4) with factorised PSFs: four 31 px PSFs (Conv(4)'s 11 px is below the support),
    each filter's pooled volts those of a one-filter camera with that PSF (channels
    filter-major), and the kernel size cannot undercut the support."""
    from sensor import Camera, CameraConfig
    from sensor.design_bundle import FixedPSF

    camera = Camera(CameraConfig(conv="conv4", psf_parameterisation="factorised", seed=3,
                                 quantize=False))
    assert isinstance(camera.optics, FactorisedPSF) and camera.optics.filters == 4
    psfs = camera.psf
    assert tuple(psfs.shape) == (4, 3, 31, 31)
    torch.testing.assert_close(psfs[:, :1], FactorisedPSF(size=31, seed=3, filters=4)().detach())
    scenes = torch.rand(2, 3, 64, 64, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        pooled = camera(scenes)
        assert tuple(pooled.shape) == (2, 12, 8, 8)
        for f in range(4):
            single = Camera(CameraConfig(conv="custom", quantize=False),
                            psf_source=FixedPSF(psfs[f:f + 1, :1]))
            torch.testing.assert_close(pooled[:, 3 * f:3 * f + 3], single(scenes))
    assert Camera(CameraConfig(conv="conv4", psf_parameterisation="factorised",
                               kernel_size=41)).psf.shape[-1] == 41
    with pytest.raises(ValueError, match="kernel_size"):
        CameraConfig(conv="conv4", psf_parameterisation="factorised", kernel_size=11)


def test_canopic_train_takes_the_parameterisation_flag():
    import argparse

    from canopic.app.commands import train

    parser = argparse.ArgumentParser()
    train.register(parser.add_subparsers())
    args = parser.parse_args(["train", "--psf-parameterisation", "taps", "--out", "x"])
    assert train.build_config(args).camera.psf_parameterisation == "taps"
    args = parser.parse_args(["train", "--out", "x"])    # the default recipe's
    assert train.build_config(args).camera.psf_parameterisation == "factorised"
    args = parser.parse_args(["train", "--recipe", "paper", "--psf-parameterisation",
                              "factorised", "--out", "x"])
    assert train.build_config(args).camera.psf_parameterisation == "factorised"


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
    change the conv kind: the PSF is fixed there, how it was learned no longer matters (two
    masks scale it to the light budget)."""
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
        assert torch.equal(bundle.make_camera(conv="conv1").psf, camera.psf)
        split = bundle.make_camera(kernel_mode="two_mask").psf  # two masks, the light's scale
        torch.testing.assert_close(split / split.abs().amax(),
                                   camera.psf / camera.psf.abs().amax())
    with pytest.raises(ValueError, match="kernel_size"):
        CameraConfig(psf_parameterisation="factorised", kernel_size=29)


#: a pixel array without noise, dark signal or saturation: captures are the light, scaled
NOISELESS = {"shot_noise": False, "dark_noise": 0.0, "dark_current": 0.0, "dsnu": 0.0,
             "prnu": 0.0, "saturation_capacity": float("inf")}


def test_two_mask_parts_are_the_positive_and_negative_parts_of_the_chain_scaled_to_the_light():
    free = FactorisedPSF(size=41, seed=6).double()
    two = FactorisedPSF(size=41, seed=6, mode="two_mask").double()
    kernel = free().detach()
    plus, minus = (part.detach() for part in two.signed_parts())
    assert bool((plus >= 0).all()) and bool((minus >= 0).all())
    assert float(minus.sum()) > 0 and float(plus.sum()) > 0  # a signed chain: two captures
    scale = max(float(kernel.clamp(min=0).sum()), float((-kernel).clamp(min=0).sum()))
    np.testing.assert_allclose(plus.numpy(), kernel.clamp(min=0).numpy() / scale, atol=1e-15)
    np.testing.assert_allclose(minus.numpy(), (-kernel).clamp(min=0).numpy() / scale, atol=1e-15)
    assert max(float(plus.sum()), float(minus.sum())) == pytest.approx(1.0, abs=1e-12)
    np.testing.assert_allclose(two().detach().numpy(), (plus - minus).numpy(), atol=1e-15)
    assert two.is_two_mask and not free.is_two_mask
    with pytest.raises(ValueError, match="two_mask"):
        free.signed_parts()
    with pytest.raises(ValueError, match="mode"):
        FactorisedPSF(mode="nonnegative")


def _soft_codes_and_gradients(mode: str, images: torch.Tensor, conv: str = "conv1"):
    from sensor import Camera, CameraConfig

    camera = Camera(CameraConfig(conv=conv, psf_parameterisation="factorised", kernel_mode=mode,
                                 seed=2)).double()
    codes = camera(images, mode="soft", hardness=5.0)
    weights = torch.linspace(-1.0, 1.0, codes.numel(), dtype=codes.dtype).reshape(codes.shape)
    (codes * weights).sum().backward()
    return codes.detach(), [layer.weight.grad for layer in camera.optics.factors]


@pytest.mark.parametrize("conv", ["conv1", "conv4"])
def test_the_two_mask_factorised_camera_learns_as_the_free_one_without_noise(conv):
    """The per-frame gain makes the noise-free camera blind to the PSFs' common scale, so the
    two-mask PSFs (one factor scales all filters to the light budget) give the free chain's
    codes and gradients."""
    images = torch.rand(3, 3, 64, 64, dtype=torch.float64,
                        generator=torch.Generator().manual_seed(0))
    free_codes, free_grads = _soft_codes_and_gradients("free", images, conv)
    two_codes, two_grads = _soft_codes_and_gradients("two_mask", images, conv)
    assert free_codes.shape[1] == (12 if conv == "conv4" else 3)
    assert 1.0 < float(free_codes.std())  # the codes use the range: the comparison means something
    np.testing.assert_allclose(two_codes.numpy(), free_codes.numpy(), atol=1e-9)
    for two, free in zip(two_grads, free_grads):
        assert float(free.abs().max()) > 0
        np.testing.assert_allclose(two.numpy(), free.numpy(), rtol=1e-7,
                                   atol=1e-9 * float(free.abs().max()))


def test_a_physical_factorised_camera_captures_both_parts_and_subtracts_them():
    """Through a noiseless pixel array the two captures' difference is the scene convolved with
    the signed PSF (scipy's FFT convolution of the edge-padded scene: the camera's borders
    replicate), in volts."""
    from scipy.signal import fftconvolve

    from sensor import Camera, CameraConfig

    camera = Camera(CameraConfig(psf_parameterisation="factorised", kernel_mode="two_mask",
                                 sensor=NOISELESS, maxpool=False, quantize=False,
                                 seed=1)).double()
    scenes = torch.rand(1, 3, 64, 64, dtype=torch.float64,
                        generator=torch.Generator().manual_seed(3))
    stages = camera.stages(scenes)
    params = camera.pixels.params
    volts_per_unit = params.photon_scale * params.quantum_efficiency * params.conversion_gain
    psf = camera.psf[0, 0].detach().numpy()
    half = psf.shape[0] // 2
    expected = np.stack([fftconvolve(np.pad(channel, half, mode="edge"), psf, mode="valid")
                         for channel in scenes[0].numpy()])
    assert float(np.abs(expected).max()) > 0 and float(expected.min()) < 0  # signed light
    np.testing.assert_allclose(stages["optics"][0].detach().numpy(), expected, atol=1e-12)
    np.testing.assert_allclose(stages["sensor"][0].detach().numpy(), expected * volts_per_unit,
                               rtol=1e-9, atol=1e-12)
    free = Camera(CameraConfig(psf_parameterisation="factorised", seed=1, sensor=NOISELESS))
    with pytest.raises(ValueError, match="negative taps"):  # a signed PSF needs two captures
        free(scenes.float())


def test_a_physical_design_with_negative_taps_reloads_as_the_same_noisy_camera(tmp_path):
    """A two-mask design bundle (the factorised chain's, or Conv(4)'s taps once they turn
    negative) comes back through ``make_camera`` as two captures: the same codes with the same
    noise draws (it was refused as a signed single capture before)."""
    from learn.table1_rows import PHYSICAL_CAMERA
    from sensor import Camera, CameraConfig
    from sensor.design_bundle import load_design_bundle, save_design_bundle

    scenes = torch.rand(3, 3, 64, 64, generator=torch.Generator().manual_seed(2))
    factorised = Camera(CameraConfig(psf_parameterisation="factorised", kernel_mode="two_mask",
                                     seed=4, **PHYSICAL_CAMERA))
    bars = Camera(CameraConfig(conv="conv4", kernel_mode="two_mask", seed=4, **PHYSICAL_CAMERA))
    with torch.no_grad():
        bars.optics.taps -= 0.5 * bars.optics.taps.amax()
    for name, camera in (("factorised", factorised), ("bars", bars)):
        assert bool((camera.psf < 0).any())
        save_design_bundle(camera, tmp_path / name, 500.0, 4)
        again = load_design_bundle(tmp_path / name).make_camera()
        with torch.no_grad():
            expected = camera(scenes, generator=torch.Generator().manual_seed(9))
            codes = again(scenes, generator=torch.Generator().manual_seed(9))
        assert torch.equal(codes, expected), name
    # the half-plane bars as they start (no negative tap): one mask, one capture, as before
    start = Camera(CameraConfig(conv="conv4", kernel_mode="two_mask", seed=4, **PHYSICAL_CAMERA))
    save_design_bundle(start, tmp_path / "start", 500.0, 4)
    assert not load_design_bundle(tmp_path / "start").make_camera().optics.is_two_mask
    # an ideal (free) design's signed PSF, asked for two masks, is split into its two parts
    free = Camera(CameraConfig(psf_parameterisation="factorised", seed=4))
    save_design_bundle(free, tmp_path / "free", 500.0, 4)
    bundle = load_design_bundle(tmp_path / "free")
    with pytest.raises(ValueError, match="negative taps"):  # one capture cannot hold it
        bundle.make_camera(**PHYSICAL_CAMERA)(scenes)
    split = bundle.make_camera(kernel_mode="two_mask", **PHYSICAL_CAMERA)
    plus, minus = split.optics.signed_parts()
    kernel = free.psf[0, 0].detach()
    scale = max(float(kernel.clamp(min=0).sum()), float((-kernel).clamp(min=0).sum()))
    for colour in range(3):
        np.testing.assert_allclose(plus[0, colour].numpy(), kernel.clamp(min=0).numpy() / scale,
                                   rtol=1e-5, atol=1e-9)
        np.testing.assert_allclose(minus[0, colour].numpy(),
                                   (-kernel).clamp(min=0).numpy() / scale, rtol=1e-5, atol=1e-9)
    assert tuple(split(scenes).shape) == (3, 3, 8, 8)


@pytest.mark.parametrize("conv, filters, size", [("conv1", 1, 63), ("conv4", 4, 31)])
def test_canopic_train_learns_a_factorised_psf_in_physical_mode(tmp_path, conv, filters, size):
    """canopic train's machinery with the factorised PSFs, two masks and a noisy pixel array:
    the factors learn and the bundle holds both captures' PSFs of every filter, which a
    reloaded camera captures again (3 channels a filter)."""
    from learn import runs
    from learn.table1_rows import PHYSICAL_CAMERA
    from sensor.design_bundle import load_design_bundle

    config = runs.smoke_config(conv=conv, alternations=1).updated(
        "camera", psf_parameterisation="factorised", kernel_mode="two_mask", **PHYSICAL_CAMERA)
    run = runs.train(config, tmp_path / "run", progress=False)
    start = FactorisedPSF(size=size, seed=0, mode="two_mask", filters=filters)().detach()
    assert run.camera.psf.shape[0] == filters
    assert not torch.allclose(run.camera.psf[:, :1], start)
    bundle = load_design_bundle(tmp_path / "run" / "design")
    np.testing.assert_allclose(bundle.psf_plus - bundle.psf_minus, bundle.psf, atol=1e-6)
    assert bundle.psf_plus.min() >= 0 and bundle.psf_minus.min() >= 0
    assert bundle.psf.shape[:1] == bundle.psf_plus.shape[:1] == (filters,)
    again = bundle.make_camera()
    assert again.optics.is_two_mask
    scenes = torch.rand(2, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    assert tuple(again(scenes).shape) == (2, 3 * filters, 8, 8)


def test_a_factorised_conv4_design_gets_phase_masks_for_each_of_its_four_psfs():
    """The physical twin of a factorised Conv(4) design designs masks for all four 31 px PSFs
    (two a signed filter) and keeps their order: filter f's realised PSF is closest to the
    design's PSF f."""
    from learn.table1_cameras import physical_twin
    from sensor import Camera, CameraConfig

    design = Camera(CameraConfig(conv="conv4", psf_parameterisation="factorised", seed=1))
    twin = physical_twin(design, masks=dict(mask_size=160, gs_iterations=2, gd_iterations=2))
    assert tuple(twin.psf.shape) == (4, 3, 31, 31)
    scenes = torch.rand(2, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    assert tuple(twin(scenes, generator=torch.Generator().manual_seed(0)).shape) == (2, 12, 8, 8)
    wanted = design.psf[:, 1].flatten(1)
    realised = twin.psf[:, 1].flatten(1)
    wanted = wanted / wanted.norm(dim=1, keepdim=True)
    realised = realised / realised.norm(dim=1, keepdim=True)
    similarity = realised @ wanted.T  # [realised filter, designed filter]
    assert torch.equal(similarity.argmax(dim=1), torch.arange(4))
