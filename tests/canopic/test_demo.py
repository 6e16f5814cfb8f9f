"""The main job end to end on the tiny profile: every artifact checked, then a resume."""
import hashlib
import json

import numpy as np
import pytest

from canopic.app.cli import main


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo") / "run"
    assert main(["demo", "--profile", "tiny", "--out", str(out)]) == 0
    return out


def test_summary_lists_every_figure_and_they_exist(demo_run):
    summary = json.loads((demo_run / "summary.json").read_text())
    captions = " ".join(f["caption"] for f in summary["figures"])
    for expected in ("Fig. 4-style", "Fig. 3-style", "Fig. 5-style", "psf kernel", "height map",
                     "fabrication preview", "captured by the board"):
        assert expected in captions, expected
    html = (demo_run / "report.html").read_text()
    for figure in summary["figures"]:
        assert (demo_run / figure["path"]).is_file() or json.dumps(figure["path"])
        assert figure["caption"] in html
    assert html.count("data:image/png;base64,") == len(summary["figures"])
    rows = summary["stages"]["evaluate"]["rows"]
    assert set(rows) == {"clean", "blur", "pixelate", "learned_conv1", "learned_conv4"}
    sweeps = summary["stages"]["evaluate"]["sweeps"]
    assert set(sweeps) == {"blur", "pixelate", "gaussian_camera"}   # the fixed frontiers
    assert "unlearned Gaussian camera" in html                     # its rows in the sweep table
    assert "PSFs learned as factorised" in html                    # the recipe's, in the intro
    assert not list(demo_run.rglob("*.part*"))


def test_both_cameras_learn_with_the_default_recipe_in_physical_mode(demo_run):
    from canopic.app.demo import PROFILES
    from learn.recipes import DEFAULT_RECIPE, recipe, recipe_camera
    from optics.factorised import DEFAULT_SUPPORT

    for conv, filters in (("conv1", 1), ("conv4", 4)):
        config = json.loads((demo_run / conv / "config.json").read_text())
        assert config["camera"]["kernel_mode"] == "two_mask"
        assert config["camera"]["psf_parameterisation"] == recipe_camera(
            DEFAULT_RECIPE)["psf_parameterisation"] == "factorised"
        with np.load(demo_run / conv / "design" / "psf.npz") as design:   # K+ and K- per PSF
            size = 63 if conv == "conv1" else DEFAULT_SUPPORT
            assert design["psf_plus"].shape == design["psf_minus"].shape == (filters, 3, size, size)
        method = {k: v for k, v in recipe(DEFAULT_RECIPE).items()
                  if k not in PROFILES["tiny"].training}         # the profile sets the schedule
        assert {k: config["training"][k] for k in method} == method
        assert config["training"]["alternations"] == PROFILES["tiny"].training["alternations"]
        last = json.loads((demo_run / conv / "metrics.jsonl").read_text().splitlines()[-1])
        assert last["selected_alternation"] >= 0    # selection on validation chose the design
        assert json.loads((demo_run / conv / "design" / "design.json").read_text())["alpha"] == \
            recipe(DEFAULT_RECIPE)["alpha"] == 500.0


def test_an_unknown_recipe_fails_before_any_work(tmp_path):
    from canopic.app.demo import run_demo

    with pytest.raises(ValueError, match="recipe"):
        run_demo(str(tmp_path / "run"), profile="tiny", recipe="gamed", alpha=1.0)
    assert not (tmp_path / "run").exists()


def test_a_kernel_mode_the_factorised_psf_cannot_serve_fails_before_any_work(tmp_path):
    from canopic.app.demo import run_demo

    with pytest.raises(ValueError, match="--psf-parameterisation taps"):
        run_demo(str(tmp_path / "run"), profile="tiny", kernel_mode="nonnegative")
    with pytest.raises(ValueError, match="factorised") as refused:    # the user's own choice
        run_demo(str(tmp_path / "run"), profile="tiny", kernel_mode="nonnegative",
                 psf_parameterisation="factorised")
    assert "--psf-parameterisation taps" not in str(refused.value)
    with pytest.raises(ValueError, match="psf_parameterisation"):
        run_demo(str(tmp_path / "run"), profile="tiny", psf_parameterisation="rings")
    assert not (tmp_path / "run").exists()


def test_the_demo_command_passes_the_psf_parameterisation_and_records_it(tmp_path, monkeypatch,
                                                                         capsys):
    """--psf-parameterisation reaches run_demo; the settings name it unless it is the taps
    (run folders from before the option keep their finished stages)."""
    from canopic.app import demo

    class Stop(Exception):
        pass

    def no_training(*args, **kwargs):
        raise Stop()

    monkeypatch.setattr(demo, "train_stage", no_training)
    for flags, recorded in (((), "factorised"), (("--recipe", "paper"), None),
                            (("--psf-parameterisation", "taps"), None),
                            (("--recipe", "paper", "--psf-parameterisation", "factorised",
                              "--kernel-mode", "free"), "factorised")):
        out = tmp_path / "-".join(flags or ("default",))
        assert main(["demo", "--profile", "tiny", "--out", str(out), *flags]) != 0
        assert "Stop" in capsys.readouterr().err            # it got as far as training
        settings = json.loads((out / "demo_settings.json").read_text())
        assert settings.get("psf_parameterisation") == recorded, flags
        assert settings["kernel_mode"] == ("free" if "free" in flags else "two_mask")


def test_a_folder_trained_with_other_settings_is_refused_with_the_way_out(tmp_path):
    """An earlier demo's camera (other settings, e.g. the taps) is not resumed as this one's."""
    from canopic.app.demo import run_demo
    from learn.recipes import recipe
    from learn.runs import RunConfig

    # what an earlier demo wrote: the same camera and schedule, learned through the taps at
    # alpha 200, its config.json from before psf_parameterisation existed
    from canopic.app.demo import PROFILES

    old = RunConfig.from_dict({"seed": 0, "device": "auto",
                               "camera": {"conv": "conv1", "kernel_mode": "two_mask"},
                               "training": {**recipe("closed_form"), **PROFILES["tiny"].training,
                                            "alpha": 200.0},
                               "data": dict(PROFILES["tiny"].data)}).to_dict()
    del old["camera"]["psf_parameterisation"]
    (tmp_path / "run" / "conv1").mkdir(parents=True)
    (tmp_path / "run" / "conv1" / "config.json").write_text(json.dumps(old))
    (tmp_path / "run" / "conv1" / "checkpoint.pt").write_bytes(b"an earlier demo's")
    with pytest.raises(ValueError, match="other settings.*--overwrite"):
        run_demo(str(tmp_path / "run"), profile="tiny")
    # with its own settings it is that demo's camera: not refused, resumed (this checkpoint is
    # no checkpoint, which the resume then says)
    with pytest.raises(ValueError, match="checkpoint") as resumed:
        run_demo(str(tmp_path / "run"), profile="tiny", psf_parameterisation="taps", alpha=200.0)
    assert "other settings" not in str(resumed.value)


def test_a_quiet_demo_designs_its_masks_without_progress_bars(demo_run, tmp_path, capsys):
    import shutil

    from canopic.app.demo import PROFILES, DemoRun, mask_stage

    shutil.copytree(demo_run / "conv1" / "design", tmp_path / "conv1" / "design")
    run = DemoRun(tmp_path, {})
    run.progress = False                       # what --quiet sets
    capsys.readouterr()
    result = mask_stage(run, "conv1", PROFILES["tiny"], seed=0)
    assert result["masks"] and (tmp_path / "conv1" / "fabrication" / "manifest.json").is_file()
    assert "Gerchberg" not in capsys.readouterr().err


def test_gdsii_reads_back_as_the_quantised_heights(demo_run):
    from optics.fabrication import read_gdsii_levels, verify_manifest

    for conv in ("conv1", "conv4"):
        folder = demo_run / conv / "fabrication"
        manifest = json.loads((folder / "manifest.json").read_text())
        assert verify_manifest(str(folder)) == []
        for levels_file in sorted(folder.glob("*_levels.npz")):
            level_index = np.load(levels_file)["level_index"]
            gds = levels_file.with_name(levels_file.name.replace("_levels.npz", ".gds"))
            read = read_gdsii_levels(str(gds), level_index.shape, manifest["mask_pitch"],
                                     manifest["levels"])
            np.testing.assert_array_equal(read, level_index)


def test_threshold_tables_round_trip_and_read_back_from_the_board(demo_run):
    from hil.artifacts import ThresholdTable
    from sensor.design_bundle import load_design_bundle

    stages = json.loads((demo_run / "summary.json").read_text())["stages"]
    for conv in ("conv1", "conv4"):
        tables = [ThresholdTable.load(str(demo_run / conv / "tables" / f"thresholds.{s}")) for s in ("bin", "json", "hex")]
        assert all(list(t.codes) == list(tables[0].codes) for t in tables)
        designed = load_design_bundle(demo_run / conv / "design").thresholds
        # 12-bit DAC over the 0..15 input range: each threshold within half an LSB
        assert np.abs(tables[0].thresholds() - designed).max() <= 15 / 4096 / 2 + 1e-9
    flashed = stages["board"]["flashed"]
    table_bytes = (demo_run / "conv4" / "tables" / "thresholds.bin").read_bytes()
    assert flashed["thresholds"]["sha256"] == hashlib.sha256(table_bytes).hexdigest()
    mask_bytes = (demo_run / "conv4" / "mask_pattern.bin").read_bytes()
    assert flashed["mask"]["sha256"] == hashlib.sha256(mask_bytes).hexdigest()
    assert stages["board"]["simulation_match_fraction"] == 1.0


def test_rerun_resumes_from_finished_stages(demo_run, capsys):
    assert main(["demo", "--profile", "tiny", "--out", str(demo_run)]) == 0
    out = capsys.readouterr().err      # status lines are log lines, on stderr
    for stage in ("train_conv1", "train_conv4", "masks_conv1", "masks_conv4", "tables", "board", "evaluate"):
        assert f"[demo] {stage}: done earlier, kept" in out


def test_moved_run_folder_keeps_every_path_of_the_report_and_summary(demo_run, tmp_path):
    import os
    import shutil

    moved = tmp_path / "moved"
    shutil.copytree(demo_run, moved, ignore=shutil.ignore_patterns("*.pt"))
    html, text = (moved / "report.html").read_text(), (moved / "summary.json").read_text()
    assert str(demo_run) not in html and str(demo_run) not in text
    summary = json.loads(text)

    def strings(value):
        if isinstance(value, dict):
            return [s for v in value.values() for s in strings(v)]
        if isinstance(value, list):
            return [s for v in value for s in strings(v)]
        return [value] if isinstance(value, str) else []

    assert not [s for s in strings(summary) if os.path.isabs(s)]
    for figure in summary["figures"]:
        assert (moved / figure["path"]).is_file()
    stages = summary["stages"]
    for conv in ("conv1", "conv4"):
        assert (moved / stages[f"train_{conv}"]["design"] / "psf.npz").is_file()
        assert (moved / stages[f"masks_{conv}"]["fabrication"] / "manifest.json").is_file()
    # the privacy-utility plot has its reference sweeps (data written beside it)
    data = json.loads((moved / "figures" / "fig5_privacy_utility.json").read_text())
    assert all(len(data["sweeps"][name]) >= 2 for name in ("blur", "pixelate"))
