"""The simulated camera against independent implementations of the paper's semantics."""
import json

import numpy as np
import pytest
import scipy.ndimage
import scipy.signal
import torch

from canopic.core.paths import reference_encoder_dir
from sensor import Camera, CameraConfig
from sensor.baselines import gaussian_blur, pixelate
from sensor.published import load_published_camera, published_names, spread_thresholds


def numpy_published_encoder(images: np.ndarray, name: str) -> "tuple[np.ndarray, np.ndarray]":
    """The reference_encoders README's semantics, written directly in numpy/scipy.

    images float64 [N, 3, 64, 64]. Returns (codes, dequantised) [N, 3F, 8, 8].
    """
    arrays = np.load(reference_encoder_dir() / f"{name}.npz")
    kernels = arrays["kernels"].astype(np.float64)          # [F, 1, k, k], cross-correlation
    thresholds = np.sort(np.clip(arrays["thresholds"].astype(np.float64), 0, 15))
    k = kernels.shape[-1]
    pad = k // 2
    n = images.shape[0]
    encoded = []
    for f in range(kernels.shape[0]):
        for c in range(3):
            per_image = [scipy.signal.correlate2d(np.pad(img[c], pad, mode="edge"), kernels[f, 0], mode="valid")
                         for img in images]
            encoded.append(np.stack(per_image))
    conv = np.stack(encoded, axis=1)                          # [N, 3F, 64, 64]
    pooled = conv.reshape(n, conv.shape[1], 8, 8, 8, 8).max(axis=(3, 5))
    low = pooled.reshape(n, -1).min(axis=1)[:, None, None, None]
    high = pooled.reshape(n, -1).max(axis=1)[:, None, None, None]
    scale = (high - low) / 15.0
    normalised = (pooled - low) / scale
    codes = (normalised[..., None] >= thresholds).sum(axis=-1)           # U(0) = 1, as the authors
    return codes, normalised, codes * scale + low


@pytest.fixture(scope="module")
def scenes():
    rng = np.random.default_rng(7)
    smooth = scipy.ndimage.gaussian_filter(rng.random((4, 3, 64, 64)), sigma=(0, 0, 3, 3))
    return np.clip(smooth * 2 - 0.5, 0, 1)


@pytest.mark.parametrize("name", ["Learned_Conv1_Maxpool_Quantize_alpha1", "Learned_Conv4_Maxpool_Quantize_alpha1"])
def test_published_encoder_matches_independent_numpy(scenes, name):
    codes_ref, normalised_ref, dequantised_ref = numpy_published_encoder(scenes, name)
    camera = load_published_camera(name).double()
    with torch.no_grad():
        stages = camera.stages(torch.from_numpy(scenes))
    codes = stages["codes"].numpy()
    thresholds = np.sort(np.clip(np.load(reference_encoder_dir() / f"{name}.npz")["thresholds"], 0, 15))
    # a value within float rounding of a threshold may fall either way; none should be that close
    distance = np.abs(normalised_ref[..., None] - thresholds).min(axis=-1)
    assert distance.min() > 1e-9
    np.testing.assert_allclose(stages["adc_input"].numpy(), normalised_ref, atol=1e-8)
    np.testing.assert_array_equal(codes, codes_ref)
    np.testing.assert_allclose(stages["dequantised"].numpy(), dequantised_ref, rtol=1e-9, atol=1e-9)


def test_every_published_encoder_loads_and_runs():
    names = published_names()
    assert len(names) == 7
    x = torch.rand(2, 3, 64, 64)
    for name in names:
        meta = json.loads((reference_encoder_dir() / f"{name}.json").read_text())
        camera = load_published_camera(name)
        out = camera(x)
        pooled = "MaxPool" in meta["archs"]
        channels = 12 if "Conv4" in name else 3
        assert out.shape == (2, channels, 8 if pooled else 64, 8 if pooled else 64), name
        if "LearnQuantize" in meta["archs"]:
            assert set(torch.unique(out).tolist()) <= set(range(16))


def test_realisable_published_thresholds_are_spaced():
    camera = load_published_camera("Learned_Conv1_Maxpool_Quantize_alpha300", exact=False)
    t = camera.thresholds.numpy()
    assert np.all(np.diff(t) >= camera.config.min_threshold_spacing - 1e-6)
    assert t.min() >= 0 and t.max() <= 15


def test_spread_thresholds_is_nearest_spaced_set():
    t = np.array([1.0, 1.0, 1.0, 5.0])
    s = spread_thresholds(t, 0.5, 15.0)
    np.testing.assert_allclose(s, [0.5, 1.0, 1.5, 5.0])
    s = spread_thresholds(np.zeros(15), 0.1, 15.0)          # pushed off the lower rail
    np.testing.assert_allclose(np.diff(s), 0.1)
    assert s[0] == pytest.approx(0.05)


@pytest.mark.parametrize("conv,maxpool,quantize", [
    ("none", True, False), ("none", False, True), ("conv1", False, False), ("conv1", True, False),
    ("conv1", False, True), ("none", True, True), ("conv1", True, True), ("conv4", True, True)])
def test_table1_rows_shapes(conv, maxpool, quantize):
    camera = Camera(CameraConfig(conv=conv, maxpool=maxpool, quantize=quantize))
    out = camera(torch.rand(2, 3, 64, 64))
    channels = 12 if conv == "conv4" else 3
    size = 8 if maxpool else 64
    assert out.shape == (2, channels, size, size)
    if quantize:
        assert torch.equal(out, out.round()) and out.min() >= 0 and out.max() <= 15


def test_ideal_maxpool_camera_is_block_max():
    camera = Camera(CameraConfig(conv="none", quantize=False))
    x = torch.rand(3, 3, 64, 64)
    expected = x.numpy().reshape(3, 3, 8, 8, 8, 8).max(axis=(3, 5))
    np.testing.assert_array_equal(camera(x).numpy(), expected)


def test_soft_mode_is_differentiable_in_kernel_and_thresholds():
    camera = Camera(CameraConfig(conv="conv4"))
    codes = camera(torch.rand(4, 3, 64, 64), mode="soft", hardness=5.0)
    codes.float().pow(2).mean().backward()
    grads = [p.grad for p in camera.parameters() if p.requires_grad]
    assert len(grads) >= 2 and all(g is not None and torch.isfinite(g).all() for g in grads)
    assert any(g.abs().sum() > 0 for g in grads)


def test_noisy_camera_same_seed_same_frame():
    config = CameraConfig(conv="conv1", comparator_offset_sigma=0.01, comparator_noise_sigma=0.005,
                          adc_mismatch_sigma=0.1, adc_noise_sigma=0.1, seed=3)
    x = torch.rand(2, 3, 64, 64)
    a = Camera(config)(x, generator=torch.Generator().manual_seed(1))
    b = Camera(config)(x, generator=torch.Generator().manual_seed(1))
    c = Camera(config)(x, generator=torch.Generator().manual_seed(2))
    assert torch.equal(a, b)
    assert not torch.equal(a, c)


def test_gaussian_blur_matches_scipy():
    x = torch.rand(2, 3, 64, 64, dtype=torch.float64)
    ours = gaussian_blur(x, sigma_px=8.0).numpy()
    # scipy's truncate makes the same 63-tap kernel (radius 31); "nearest" is replicate padding
    ref = scipy.ndimage.gaussian_filter(x.numpy(), sigma=(0, 0, 8, 8), truncate=31 / 8, mode="nearest")
    np.testing.assert_allclose(ours, ref, atol=1e-6)


def test_pixelate_is_block_mean():
    x = torch.rand(2, 3, 64, 64, dtype=torch.float64)
    np.testing.assert_allclose(pixelate(x).numpy(), x.numpy().reshape(2, 3, 8, 8, 8, 8).mean(axis=(3, 5)))
    assert pixelate(x, upsample=True).shape == x.shape


@pytest.mark.parametrize("bad,match", [
    (torch.full((1, 3, 64, 64), float("nan")), "NaN"),
    (torch.rand(3, 64, 64), "shape"),
    (torch.rand(1, 1, 64, 64), "shape"),
    (torch.zeros(1, 3, 64, 64, dtype=torch.uint8), "dtype"),
    (torch.rand(1, 3, 60, 64), "multiples"),
])
def test_bad_images_are_refused(bad, match):
    with pytest.raises(ValueError, match=match):
        Camera(CameraConfig())(bad)


def test_bad_config_and_unknown_encoder():
    with pytest.raises(ValueError, match="conv"):
        CameraConfig(conv="conv7")
    with pytest.raises(ValueError, match="unknown keys"):
        CameraConfig.from_dict({"conv": "conv1", "exposure": 1})
    with pytest.raises(ValueError, match="adc_noise_sigma"):
        CameraConfig(adc_noise_sigma=-1)
    with pytest.raises(ValueError, match="unknown published encoder"):
        load_published_camera("Learned_Conv9_nothing")


def test_two_mask_capture_equals_signed_kernel_without_noise():
    """Two non-negative captures subtracted in analog = the signed kernel's ideal image."""
    from optics.kernels import KernelPSF

    torch.manual_seed(0)
    kernel = torch.randn(4, 11, 11, dtype=torch.float64)
    noiseless = {"shot_noise": False, "dark_noise": 0.0, "dark_current": 0.0, "dsnu": 0.0,
                 "prnu": 0.0, "saturation_capacity": float("inf")}
    psf = KernelPSF(kernel, mode="two_mask")
    physical = Camera(CameraConfig(conv="conv4", kernel_mode="two_mask", sensor=noiseless,
                                   quantize=False, maxpool=False), psf_source=psf).double()
    x = torch.rand(2, 3, 64, 64, dtype=torch.float64)
    stages = physical.stages(x)
    params = physical.pixels.params
    volts_per_unit = params.photon_scale * params.quantum_efficiency * params.conversion_gain
    np.testing.assert_allclose(stages["sensor"].detach().numpy(),
                               (stages["optics"] * volts_per_unit).detach().numpy(), rtol=1e-9, atol=1e-12)


def test_physical_kernels_conserve_light():
    from optics.kernels import KernelPSF, half_plane_bars

    nonneg = KernelPSF(half_plane_bars(), mode="nonnegative")()
    # equal bars: each sums to 1 (the brightest PSF gets the scene's light, none more)
    np.testing.assert_allclose(nonneg.sum(dim=(-1, -2)).detach().numpy(), 1.0, rtol=1e-5)
    assert (nonneg >= 0).all()
    plus, minus = KernelPSF(torch.randn(3, 11, 11), mode="two_mask").signed_parts()
    sums = torch.maximum(plus.sum(dim=(-1, -2)), minus.sum(dim=(-1, -2))).detach()
    assert float(sums.max()) == pytest.approx(1.0, rel=1e-5)
    assert float(sums.min()) <= 1.0


def test_signed_free_kernel_with_physical_sensor_is_refused():
    camera = Camera(CameraConfig(conv="conv1", sensor={}), psf_source=None)
    with torch.no_grad():
        camera.optics.taps.mul_(-1)
    with pytest.raises(ValueError, match="non-negative light"):
        camera(torch.rand(1, 3, 64, 64))


def test_large_non_negative_psf_on_a_dark_scene_is_captured():
    """A 63-px PSF goes through the FFT, whose round-off dips ~1e-7 below zero in dark regions:
    the physical camera must capture it (it once refused it as 'negative light')."""
    from optics.imaging import convolve_psf
    from optics.kernels import KernelPSF, gaussian_psf

    scene = torch.zeros(2, 3, 64, 64)
    scene[:, :, :4, :4] = 1.0
    psf = gaussian_psf(63, 3.0)
    assert float(convolve_psf(scene, psf[None, None]).min()) < 0  # the round-off is there
    for mode in ("free", "nonnegative", "two_mask"):  # free: a non-negative kernel, as in the twins
        camera = Camera(CameraConfig(conv="conv1", kernel_mode=mode, sensor={}, quantize=False,
                                     maxpool=False), psf_source=KernelPSF(psf, mode=mode))
        volts = camera(scene)
        assert torch.isfinite(volts).all() and volts.shape == (2, 3, 64, 64)
        assert float(volts[..., :8, :8].mean()) > float(volts[..., 40:, 40:].mean())


def test_the_deprecated_camera_from_published_still_loads_with_a_warning():
    with pytest.warns(DeprecationWarning, match="load_published_camera"):
        old = Camera.from_published("Learned_Conv1_Maxpool_Quantize_alpha1")
    new = load_published_camera("Learned_Conv1_Maxpool_Quantize_alpha1")
    assert torch.equal(old.psf, new.psf)


@pytest.mark.parametrize("sigma", [2.0, 8.0, 12.0])
def test_conv1_starts_as_a_gaussian_of_psf_sigma(sigma):
    """CameraConfig.psf_sigma: Conv(1)'s initial PSF is the sampled Gaussian of that sigma (its
    second moment, measured against numpy on the 63x63 grid, is sigma^2 per axis)."""
    camera = Camera(CameraConfig(conv="conv1", psf_sigma=sigma))
    psf = camera.psf[0, 0].double().numpy()
    grid = np.arange(63) - 31
    reference = np.exp(-grid ** 2 / (2 * sigma ** 2))
    reference = np.outer(reference, reference)
    np.testing.assert_allclose(psf, reference / reference.sum(), rtol=1e-5, atol=1e-9)
    variance = float((psf.sum(axis=0) * grid ** 2).sum() / psf.sum())
    assert variance == pytest.approx(sigma ** 2, rel=0.02 if sigma < 12 else 0.1)


@pytest.mark.parametrize("changes", [dict(psf_sigma=0.0), dict(psf_sigma=float("nan")),
                                     dict(conv="conv4", psf_sigma=4.0)])
def test_bad_psf_sigma_is_named(changes):
    with pytest.raises(ValueError, match="psf_sigma"):
        CameraConfig(**changes)
