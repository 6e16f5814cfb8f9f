"""The paper's initial kernels against the files published with its code, and the camera's
convolution against scipy."""
import numpy as np
import pytest
import scipy.signal
import torch

from canopic.paths import reference_encoder_dir
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
