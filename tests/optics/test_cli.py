"""canopic design-mask / export-mask end to end on a small geometry; bad input writes nothing."""
from __future__ import annotations

import hashlib
import json
import os

import numpy as np
import pytest

from canopic.app.cli import main
from optics import fabrication as fab
from optics.realise import load_kernel

SMALL = ["--mask-size", "64", "--method", "gs", "--gs-iterations", "5", "--no-progress"]


@pytest.fixture
def kernel_file(tmp_path):
    r = np.arange(15) - 7
    g = np.exp(-0.5 * (r / 2.0) ** 2)
    path = tmp_path / "k.npy"
    np.save(path, np.outer(g, g))
    return path


def test_help_lists_both_commands(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    assert "design-mask" in out and "export-mask" in out


def test_published_kernels_are_flipped_into_psfs():
    from canopic.core.paths import reference_encoder_dir

    kernels, description = load_kernel("Learned_Conv4_Maxpool_Quantize_alpha1")
    with np.load(reference_encoder_dir() / "Learned_Conv4_Maxpool_Quantize_alpha1.npz") as data:
        raw = data["kernels"][:, 0]
    np.testing.assert_array_equal(kernels, raw[:, ::-1, ::-1])
    assert "flipped" in description
    bars, _ = load_kernel("bars11")
    with np.load(reference_encoder_dir() / "init_conv4_1_11_bars.npz") as data:
        authors = data["kernels"][:, 0, ::-1, ::-1]
    unit = lambda k: k / k.sum(axis=(-1, -2), keepdims=True)   # noqa: E731 (scale is free)
    np.testing.assert_allclose(unit(bars), unit(authors), rtol=1e-6)


def test_design_then_export(tmp_path, kernel_file, capsys):
    design_dir, fab_dir = tmp_path / "design", tmp_path / "fab"
    assert main(["design-mask", str(kernel_file), "--out", str(design_dir)] + SMALL) == 0
    report = json.loads((design_dir / "design.json").read_text())
    assert report["geometry"]["sensor_pitch"] == 4e-6
    assert report["masks"][0]["name"] == "f0"
    assert report["quantization_study"]["levels"] == [0, 2, 4, 8, 16]
    for entry in report["files"]:
        data = (design_dir / entry["path"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == entry["sha256"]
    for figure in ("height_map", "psf_masks", "psf_kernel", "fidelity_vs_levels"):
        assert (design_dir / "figures" / f"{figure}.png").stat().st_size > 1000
    assert main(["export-mask", str(design_dir), "--out", str(fab_dir), "--levels", "8"]) == 0
    manifest = json.loads((fab_dir / "manifest.json").read_text())
    assert fab.verify_manifest(fab_dir) == []
    assert manifest["levels"] == 8 and len(manifest["etch_steps"]) == 3
    quantised = manifest["psf_after_quantization"]["masks"][0]
    assert set(quantised) >= {"ideal_vs_target", "quantized_vs_target", "quantized_vs_ideal"}
    with np.load(design_dir / "design.npz") as data:
        heights = data["heights"]
    index, _ = fab.quantize_heights(heights[0], 8, manifest["two_pi_height"])
    np.testing.assert_array_equal(fab.read_gdsii_levels(fab_dir / "f0.gds", index.shape, 2e-6, 8),
                                  index)
    assert "correlation" in capsys.readouterr().out


def test_signed_kernel_gives_two_masks(tmp_path):
    rng = np.random.default_rng(3)
    kernel = rng.normal(size=(1, 1, 9, 9))
    path = tmp_path / "signed.npz"
    np.savez(path, kernels=kernel)
    out = tmp_path / "design"
    assert main(["design-mask", str(path), "--out", str(out), "--correlation"] + SMALL) == 0
    report = json.loads((out / "design.json").read_text())
    assert [m["name"] for m in report["masks"]] == ["f0_plus", "f0_minus"]
    assert report["signed"]["route"] == "two-mask"
    assert report["signed"]["minus_weight"][0] == pytest.approx(
        np.clip(-kernel, 0, None).sum() / np.clip(kernel, 0, None).sum())


def test_filter_without_positive_tap_gets_only_a_minus_mask(tmp_path):
    """A learned filter can lose every positive tap: its design is the minus mask alone, and
    export-mask re-realises the kernel from the masks it finds."""
    r = np.arange(9) - 4
    g = np.exp(-0.5 * (r / 1.5) ** 2)
    rng = np.random.default_rng(5)
    kernel = np.stack([rng.normal(size=(9, 9)), -np.outer(g, g)])[:, None]
    path = tmp_path / "negative.npz"
    np.savez(path, kernels=kernel)
    out, fab_dir = tmp_path / "design", tmp_path / "fab"
    assert main(["design-mask", str(path), "--out", str(out), "--correlation"] + SMALL) == 0
    report = json.loads((out / "design.json").read_text())
    assert [m["name"] for m in report["masks"]] == ["f0_plus", "f0_minus", "f1_minus"]
    assert report["signed"]["minus_weight"][1] == 1.0
    assert main(["export-mask", str(out), "--out", str(fab_dir), "--levels", "8"]) == 0
    manifest = json.loads((fab_dir / "manifest.json").read_text())
    assert manifest["design"]["mask_filter"] == {"f0_plus": 0, "f0_minus": 0, "f1_minus": 1}
    assert len(manifest["psf_after_quantization"]["kernel_ideal"]) == 2


@pytest.mark.parametrize("make, extra, message", [
    ("nan", [], "NaN"),
    ("zero", [], "all zeros"),
    ("ok", ["--distance=-1mm"], "distance"),
    ("ok", ["--wavelengths=640nm,-532nm"], "wavelengths"),
    ("ok", ["--mask-pitch", "2 parsec"], "unit"),
    ("ok", ["--material", "unobtainium"], "unobtainium"),
])
def test_bad_input_writes_nothing(tmp_path, capsys, make, extra, message):
    kernel = {"nan": np.full((5, 5), np.nan), "zero": np.zeros((5, 5)),
              "ok": np.ones((5, 5))}[make]
    np.save(tmp_path / "k.npy", kernel)
    out = tmp_path / "out"
    code = main(["design-mask", str(tmp_path / "k.npy"), "--out", str(out)] + SMALL + extra)
    assert code == 1
    assert message in capsys.readouterr().err
    assert sorted(os.listdir(tmp_path)) == ["k.npy"]


def test_export_refuses_a_tampered_design(tmp_path, kernel_file, capsys):
    design_dir = tmp_path / "design"
    assert main(["design-mask", str(kernel_file), "--out", str(design_dir)] + SMALL) == 0
    with open(design_dir / "design.npz", "ab") as handle:
        handle.write(b"\0")
    assert main(["export-mask", str(design_dir), "--out", str(tmp_path / "fab")]) == 1
    assert "sha256" in capsys.readouterr().err
    assert not (tmp_path / "fab").exists()
    assert main(["export-mask", str(tmp_path / "missing"), "--out", str(tmp_path / "f2")]) == 1


def test_the_library_calls_give_what_the_commands_give(tmp_path, kernel_file):
    """optics.realise is the library the commands parse for: same seed, same masks and files."""
    from optics.design import MaskGeometry
    from optics.realise import design_to_folder, export_design

    assert main(["design-mask", str(kernel_file), "--out", str(tmp_path / "cli")] + SMALL) == 0
    report = design_to_folder(np.load(kernel_file), tmp_path / "lib",
                              geometry=MaskGeometry(mask_size=64), method="gs", gs_iterations=5,
                              progress=False)
    with np.load(tmp_path / "cli" / "design.npz") as cli, \
            np.load(tmp_path / "lib" / "design.npz") as lib:
        np.testing.assert_array_equal(cli["heights"], lib["heights"])
    assert report == {**json.loads((tmp_path / "lib" / "design.json").read_text())}
    psf_report = export_design(tmp_path / "lib", tmp_path / "fab", levels=4)
    manifest = json.loads((tmp_path / "fab" / "manifest.json").read_text())
    assert manifest["psf_after_quantization"] == psf_report and fab.verify_manifest(
        tmp_path / "fab") == []
