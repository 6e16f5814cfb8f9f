"""The paper's initial kernels against the files published with its code, and the camera's
convolution against scipy."""
import numpy as np
import pytest
import scipy.signal
import torch

from canopic.core.paths import reference_encoder_dir
from optics.imaging import convolve_psf
from optics.kernels import KernelPSF, gaussian_psf, half_plane_bars


def test_gaussian_matches_the_published_initial_kernel():
    published = np.load(reference_encoder_dir() / "init_conv1_1_63_8_gauss.npz")["kernels"]
    ours = gaussian_psf(63, 8.0).numpy()
    # the authors' float32 file agrees to 3.4e-4 of the peak; sigma 7.5 or 8.5 would be off by >10%
    np.testing.assert_allclose(ours, published, rtol=0, atol=1e-3 * published.max())
    assert published.sum() == pytest.approx(1.0, abs=1e-5)


def test_bars_are_the_published_initial_kernels_as_psfs():
    published = np.load(reference_encoder_dir() / "init_conv4_1_11_bars.npz")["kernels"][:, 0]
    # the authors' kernels are cross-correlation kernels: PSF = kernel rotated by 180 degrees
    np.testing.assert_array_equal(half_plane_bars(11).numpy(), published[:, ::-1, ::-1])


@pytest.mark.parametrize("k", [5, 11, 31, 63])
@pytest.mark.parametrize("method", ["fft", "direct"])
def test_convolution_matches_scipy_with_replicate_padding(k, method):
    rng = np.random.default_rng(k)
    images = rng.random((2, 3, 40, 48))
    psf = rng.standard_normal((2, 1, k, k))
    ours = convolve_psf(torch.from_numpy(images), torch.from_numpy(psf), method=method).numpy()
    pad = k // 2
    for n in range(2):
        for f in range(2):
            for c in range(3):
                padded = np.pad(images[n, c], pad, mode="edge")
                reference = scipy.signal.convolve2d(padded, psf[f, 0], mode="valid")
                np.testing.assert_allclose(ours[n, f * 3 + c], reference, atol=1e-10)


def test_per_colour_psfs_and_bad_shapes():
    images = torch.rand(1, 3, 16, 16, dtype=torch.float64)
    delta = torch.zeros(1, 3, 3, 3, dtype=torch.float64)
    delta[0, :, 1, 1] = torch.tensor([1.0, 2.0, 3.0])
    out = convolve_psf(images, delta)
    np.testing.assert_allclose(out.numpy(), (images * torch.tensor([1.0, 2, 3]).view(1, 3, 1, 1)).numpy())
    with pytest.raises(ValueError, match="odd"):
        convolve_psf(images, torch.zeros(1, 1, 4, 4, dtype=torch.float64))
    with pytest.raises(ValueError, match="colour"):
        convolve_psf(images, torch.zeros(1, 2, 3, 3, dtype=torch.float64))


def test_kernel_modes_validate_input():
    with pytest.raises(ValueError, match="NaN"):
        KernelPSF(torch.full((11, 11), float("nan")))
    with pytest.raises(ValueError, match="all zeros"):
        KernelPSF(torch.zeros(11, 11))
    with pytest.raises(ValueError, match="mode"):
        KernelPSF(torch.ones(11, 11), mode="holographic")


def _soft_codes_and_gradient(mode: str, taps: torch.Tensor, images: torch.Tensor):
    from sensor.camera import Camera, CameraConfig

    camera = Camera(CameraConfig(conv="conv4", kernel_mode=mode)).double()
    with torch.no_grad():
        camera.optics.taps.copy_(taps)
    codes = camera(images, mode="soft", hardness=5.0)
    weights = torch.linspace(-1.0, 1.0, codes.numel(), dtype=codes.dtype).reshape(codes.shape)
    (codes * weights).sum().backward()
    return codes.detach(), camera.optics.taps.grad


def test_two_mask_kernel_learns_as_the_free_kernel():
    """Per-frame gain: the noise-free camera is blind to the PSFs' common scale, so the two-mask
    kernel (scaled to the light budget) gives the free kernel's codes and gradients."""
    generator = torch.Generator().manual_seed(0)
    images = torch.rand(3, 3, 64, 64, dtype=torch.float64, generator=generator)
    taps = 3.0 * torch.randn(4, 11, 11, dtype=torch.float64, generator=generator)
    free_codes, free_grad = _soft_codes_and_gradient("free", taps, images)
    two_codes, two_grad = _soft_codes_and_gradient("two_mask", taps, images)
    assert 1.0 < float(free_codes.std())  # the codes use the range: the comparison means something
    np.testing.assert_allclose(two_codes.numpy(), free_codes.numpy(), atol=1e-9)
    np.testing.assert_allclose(two_grad.numpy(), free_grad.numpy(), rtol=1e-7,
                               atol=1e-9 * float(free_grad.abs().max()))


@pytest.mark.parametrize("mode", ["two_mask", "nonnegative"])
def test_taps_that_start_at_zero_learn(mode):
    """The half-plane bars are zero on half their taps; those taps must get a gradient of the
    same order as the others' (a softplus parameterisation gave them ~1e-4 of it)."""
    generator = torch.Generator().manual_seed(1)
    images = torch.rand(3, 3, 64, 64, dtype=torch.float64, generator=generator)
    bars = half_plane_bars(11).double()
    bars = bars / bars.sum(dim=(-1, -2), keepdim=True)
    taps = KernelPSF(bars, mode=mode).taps.detach()
    _, grad = _soft_codes_and_gradient(mode, taps, images)
    zero, lit = grad[bars == 0].abs().mean(), grad[bars > 0].abs().mean()
    assert float(lit) > 0
    assert float(zero / lit) > 0.1


def test_physical_kernels_keep_relative_gains_within_the_light_budget():
    generator = torch.Generator().manual_seed(2)
    base = torch.rand(2, 11, 11, generator=generator)
    base = base / base.sum(dim=(-1, -2), keepdim=True)
    nonneg = KernelPSF(base * torch.tensor([1.0, 3.0])[:, None, None], mode="nonnegative")()
    np.testing.assert_allclose(nonneg.sum(dim=(-1, -2)).flatten().detach().numpy(),
                               [1 / 3, 1.0], rtol=1e-5)
    signed = torch.stack([base[0] - 0.5 * base[1], 4.0 * (base[1] - base[0])])
    plus, minus = KernelPSF(signed, mode="two_mask").signed_parts()
    assert (plus >= 0).all() and (minus >= 0).all()
    sums = torch.stack([plus.sum(dim=(-1, -2)), minus.sum(dim=(-1, -2))]).flatten()
    assert float(sums.detach().max()) == pytest.approx(1.0, rel=1e-6)
    expected = torch.stack([signed.clamp(min=0).sum(dim=(-1, -2)),
                            (-signed).clamp(min=0).sum(dim=(-1, -2))]).flatten()
    np.testing.assert_allclose(sums.detach().numpy(), (expected / expected.max()).numpy(), rtol=1e-5)
    np.testing.assert_allclose((plus - minus)[:, 0].detach().numpy(),
                               (signed / expected.max()).numpy(), rtol=1e-5, atol=1e-7)
