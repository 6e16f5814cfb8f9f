"""Fabrication files: etch-step quantisation, GDSII read back by gdstk, TIFF/PNG, manifest.

References nobody here wrote: the first-order efficiency of an L-level blazed grating,
sinc^2(1/L) (0.405, 0.811, 0.950, 0.987 for 2..16 levels), gdstk's own point-in-polygon test
for the read-back, OpenCV's TIFF reader, and hashlib for the manifest.
"""
from __future__ import annotations

import hashlib
import json
import os

import numpy as np
import pytest

from optics import fabrication as fab
from optics.materials import two_pi_height

H532 = two_pi_height("fused_silica", 532e-9)   # 1155 nm (Malitson 1965 Sellmeier)


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


def test_two_pi_height_fused_silica():
    # references.md: 1155 nm at 532 nm, 967 nm at 450 nm, 1401 nm at 640 nm.
    assert two_pi_height("fused_silica", 532e-9) == pytest.approx(1155e-9, abs=1.5e-9)
    assert two_pi_height("fused_silica", 450e-9) == pytest.approx(967e-9, abs=1.5e-9)
    assert two_pi_height("fused_silica", 640e-9) == pytest.approx(1401e-9, abs=1.5e-9)


@pytest.mark.parametrize("levels", [2, 4, 8, 16])
def test_etch_steps_sum_to_the_level_heights(levels, rng):
    index = rng.integers(0, levels, size=(37, 29))
    masks = fab.etch_masks(index, levels)
    depths = fab.etch_depths(levels, H532)
    assert masks.shape == (int(np.log2(levels)), 37, 29)
    np.testing.assert_allclose(depths, H532 / 2.0 ** np.arange(1, masks.shape[0] + 1))
    etched = np.tensordot(depths, masks.astype(float), axes=1)
    np.testing.assert_allclose(etched, (levels - 1 - index) * H532 / levels, atol=1e-18)
    np.testing.assert_array_equal(fab.levels_from_etch_masks(masks), index)


@pytest.mark.parametrize("levels, published", [(2, 0.405), (4, 0.811), (8, 0.950), (16, 0.987)])
def test_blazed_grating_efficiency_matches_sinc_squared(levels, published):
    period = 1024
    x = (np.arange(period) + 0.5) / period                   # pixel centres, one period
    ramp = np.tile(x * H532, (4, 1))                          # linear 0..2 pi ramp
    _, heights = fab.quantize_heights(ramp, levels, H532)
    field = np.exp(2j * np.pi * heights[0] / H532)
    orders = np.abs(np.fft.fft(field) / period) ** 2
    efficiency = orders[1] / orders.sum()
    assert efficiency == pytest.approx(np.sinc(1.0 / levels) ** 2, abs=1e-3)
    assert efficiency == pytest.approx(published, abs=1e-3)


def test_quantize_wraps_one_period_and_rounds_to_nearest():
    heights = np.array([[0.0, 0.49, 0.51, 0.99, 1.0, 1.26, -0.25]]) * H532
    index, quantized = fab.quantize_heights(heights, 4, H532)
    np.testing.assert_array_equal(index, [[0, 2, 2, 0, 0, 1, 3]])
    np.testing.assert_allclose(quantized, index * H532 / 4)


def test_rectangles_cover_the_bitmap_exactly_once(rng):
    for density in (0.1, 0.5, 0.9):
        bitmap = rng.random((53, 71)) < density
        bitmap[10:30, 5:40] = True                            # a block that must merge
        rects = fab.rectangles_from_bitmap(bitmap)
        cover = np.zeros(bitmap.shape, dtype=int)
        for r0, c0, r1, c1 in rects:
            cover[r0:r1, c0:c1] += 1
        np.testing.assert_array_equal(cover, bitmap.astype(int))
        runs = int(np.sum(np.diff(np.pad(bitmap, ((0, 0), (1, 0))).astype(int), axis=1) == 1))
        assert len(rects) <= runs
    block = np.zeros((20, 20), bool)
    block[3:17, 4:9] = True
    np.testing.assert_array_equal(fab.rectangles_from_bitmap(block), [[3, 4, 17, 9]])
    assert fab.rectangles_from_bitmap(np.zeros((4, 4), bool)).shape == (0, 4)


@pytest.mark.parametrize("levels", [2, 16])
def test_gdsii_read_back_with_gdstk_is_exact(tmp_path, rng, levels):
    smooth = np.cumsum(np.cumsum(rng.normal(size=(48, 64)), 0), 1) * 3e-8   # long runs
    speckle = rng.random((48, 64)) * H532                                    # short runs
    for heights in (smooth, speckle):
        index, _ = fab.quantize_heights(heights, levels, H532)
        path = tmp_path / f"m{levels}.gds"
        count = fab.write_gdsii(path, index, levels, 2e-6)
        assert count > 0
        back = fab.read_gdsii_levels(path, index.shape, 2e-6, levels)
        np.testing.assert_array_equal(back, index)
        # layer by layer as well
        import gdstk
        lib = gdstk.read_gds(str(path))
        layers = {p.layer for p in lib.cells[0].polygons}
        assert layers <= set(range(1, int(np.log2(levels)) + 1))


def test_export_writes_consistent_files_and_manifest(tmp_path, rng):
    heights = rng.random((40, 56)) * H532
    out = tmp_path / "fab"
    manifest = fab.export_mask(out, heights, levels=8, extra_manifest={"note": "test"})
    on_disk = json.loads((out / "manifest.json").read_text())
    assert on_disk == json.loads(json.dumps(manifest))
    assert on_disk["schema"] == fab.MANIFEST_SCHEMA
    assert on_disk["levels"] == 8 and on_disk["mask_pitch"] == 2e-6
    assert on_disk["mask_sensor_distance"] == 1.869e-3
    assert [s["depth"] for s in on_disk["etch_steps"]] == pytest.approx(
        [H532 / 2, H532 / 4, H532 / 8], rel=2e-3)
    for entry in on_disk["files"]:
        data = (out / entry["path"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == entry["sha256"]
        assert len(data) == entry["bytes"]
    assert fab.verify_manifest(out) == []
    index, quantized = fab.quantize_heights(heights, 8, two_pi_height("fused_silica", 532e-9))
    np.testing.assert_allclose(fab.read_height_tiff(out / "mask_height.tif"), quantized,
                               atol=fab.TIFF_HEIGHT_UNIT / 2 + 1e-15)
    np.testing.assert_array_equal(fab.read_gdsii_levels(out / "mask.gds", index.shape, 2e-6, 8),
                                  index)
    import cv2
    preview = cv2.imread(str(out / "mask_preview.png"), cv2.IMREAD_UNCHANGED)
    assert preview.shape == heights.shape and preview.dtype == np.uint8
    assert not any(name.endswith((".part", ".old")) for name in os.listdir(tmp_path))
    # tampering is detected
    with open(out / "mask_preview.png", "ab") as handle:
        handle.write(b"x")
    assert any("mask_preview.png" in p for p in fab.verify_manifest(out))


def test_same_mask_same_bytes(tmp_path, rng):
    heights = rng.random((16, 16)) * H532
    a = fab.export_mask(tmp_path / "a", heights, levels=4)
    b = fab.export_mask(tmp_path / "b", heights, levels=4)
    assert [f["sha256"] for f in a["files"]] == [f["sha256"] for f in b["files"]]


@pytest.mark.parametrize("change, message", [
    (dict(levels=3), "levels"),
    (dict(distance=-1e-3), "distance"),
    (dict(mask_pitch=0.0), "mask_pitch"),
    (dict(mask_pitch=2.0005e-6), "mask_pitch"),
    (dict(design_wavelength=-532e-9), "wavelength"),
    (dict(wavelengths=(532e-9, float("nan"))), "wavelengths"),
    (dict(material="unobtainium"), "unobtainium"),
    (dict(name="../evil"), "name"),
])
def test_bad_input_is_refused_and_nothing_is_written(tmp_path, rng, change, message):
    heights = rng.random((8, 8)) * H532
    with pytest.raises(ValueError, match=message):
        fab.export_mask(tmp_path / "out", heights, **change)
    assert os.listdir(tmp_path) == []


def test_nan_heights_and_existing_folder_are_refused(tmp_path):
    bad = np.zeros((8, 8))
    bad[2, 3] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        fab.export_mask(tmp_path / "out", bad)
    assert os.listdir(tmp_path) == []
    fab.export_mask(tmp_path / "out", np.zeros((4, 4)))
    with pytest.raises(ValueError, match="exists"):
        fab.export_mask(tmp_path / "out", np.zeros((4, 4)))
    fab.export_mask(tmp_path / "out", np.ones((4, 4)) * 1e-7, overwrite=True)
    assert sorted(os.listdir(tmp_path)) == ["out"]


def test_failure_midway_leaves_nothing(tmp_path, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("disk full")
    monkeypatch.setattr(fab, "write_preview_png", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        fab.export_mask(tmp_path / "out", np.zeros((4, 4)))
    assert os.listdir(tmp_path) == []


def test_two_masks_in_one_folder(tmp_path, rng):
    heights = {"f0_plus": rng.random((12, 20)) * H532, "f0_minus": rng.random((12, 20)) * H532}
    manifest = fab.export_masks(tmp_path / "pair", heights, levels=4)
    assert [m["name"] for m in manifest["masks"]] == ["f0_plus", "f0_minus"]
    assert len(manifest["files"]) == 8 and fab.verify_manifest(tmp_path / "pair") == []
    for name, height in heights.items():
        index, _ = fab.quantize_heights(height, 4, H532)
        back = fab.read_gdsii_levels(tmp_path / "pair" / f"{name}.gds", index.shape, 2e-6, 4)
        np.testing.assert_array_equal(back, index)
        entry = next(m for m in manifest["masks"] if m["name"] == name)
        assert entry["level_histogram"] == np.bincount(index.ravel(), minlength=4).tolist()


@pytest.mark.parametrize("pitch", [2e-6, 1.5e-6])
def test_height_tiff_carries_the_pitch_and_reads_in_tifffile_and_pillow(tmp_path, rng, pitch):
    """Peer readers, no plug-ins: tifffile (without imagecodecs) and Pillow decode the heights,
    and the resolution tags give the mask pitch in pixels per centimetre."""
    import tifffile
    from PIL import Image

    heights = np.round(rng.random((12, 20)) * H532 / fab.TIFF_HEIGHT_UNIT) * fab.TIFF_HEIGHT_UNIT
    path = tmp_path / "h.tif"
    fab.write_height_tiff(path, heights, pixel_pitch=pitch)
    with tifffile.TiffFile(path) as tif:
        page = tif.pages[0]
        assert page.compression == 8                    # deflate, read by every TIFF reader
        assert page.tags["ResolutionUnit"].value == 3    # centimetre
        numerator, denominator = page.tags["XResolution"].value
        assert numerator / denominator == pytest.approx(0.01 / pitch, rel=1e-6)
        np.testing.assert_array_equal(page.asarray(), np.rint(heights / fab.TIFF_HEIGHT_UNIT))
    with Image.open(path) as image:
        np.testing.assert_array_equal(np.asarray(image), np.rint(heights / fab.TIFF_HEIGHT_UNIT))
    np.testing.assert_allclose(fab.read_height_tiff(path), heights, atol=1e-15)
