"""learn.runs, sensor.design_bundle, canopic.app.commands.train: configs, checkpoints, resume, bundles."""
from __future__ import annotations

import argparse
import json

import numpy as np
import pytest
import torch

from learn import alternating, runs
from sensor.design_bundle import load_design_bundle


def _camera_parameters(result) -> dict:
    return {k: v.detach().clone() for k, v in result.camera.state_dict().items()}


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    out = tmp_path_factory.mktemp("full")
    return runs.train(runs.smoke_config(), out, progress=False)


def test_run_writes_checkpoint_log_and_bundle(uninterrupted):
    out = uninterrupted.out_dir
    lines = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [m["alternation"] for m in lines] == [0, 1]
    assert [m["hardness"] for m in lines] == [5.0, 10.0]  # T = 5 (a + 1)
    assert runs.RunConfig.from_dict(json.loads((out / "config.json").read_text())) == runs.smoke_config()
    state = runs.load_checkpoint(out / "checkpoint.pt", runs.smoke_config())
    assert state["alternation"] == 1 and len(state["metrics"]) == 2


def test_resumed_run_ends_with_the_same_parameters(uninterrupted, tmp_path, monkeypatch):
    """Interrupted in alternation 2, resumed: the same camera, R and D as the uninterrupted run.

    The interrupted and resumed runs run inside a torch.distributed process group of world size 1
    (gloo), as under torchrun, so the gradient all-reduce path is exercised too and must not
    change the result either.
    """
    torch.distributed.init_process_group("gloo", init_method=f"file://{tmp_path / 'store'}",
                                         rank=0, world_size=1)
    try:
        _interrupt_and_resume(uninterrupted, tmp_path / "run", monkeypatch)
    finally:
        torch.distributed.destroy_process_group()


def _interrupt_and_resume(uninterrupted, tmp_path, monkeypatch):
    calls = {"n": 0}
    original = alternating.AlternatingTrainer.detector_step

    def interrupted(self, alternation, progress=None):
        calls["n"] += 1
        if calls["n"] == 2:  # in the middle of the second alternation
            raise KeyboardInterrupt
        return original(self, alternation, progress)

    monkeypatch.setattr(alternating.AlternatingTrainer, "detector_step", interrupted)
    with pytest.raises(KeyboardInterrupt):
        runs.train(runs.smoke_config(), tmp_path, progress=False)
    monkeypatch.setattr(alternating.AlternatingTrainer, "detector_step", original)
    assert runs.load_checkpoint(tmp_path / "checkpoint.pt")["alternation"] == 0
    resumed = runs.train(runs.smoke_config(), tmp_path, resume=True, progress=False)
    expected, got = _camera_parameters(uninterrupted), _camera_parameters(resumed)
    assert expected.keys() == got.keys()
    for key in expected:
        torch.testing.assert_close(got[key], expected[key], rtol=1e-5, atol=1e-6)
    for net in ("recogniser", "detector"):
        for key, value in getattr(uninterrupted.trainer, net).state_dict().items():
            torch.testing.assert_close(getattr(resumed.trainer, net).state_dict()[key], value,
                                       rtol=1e-5, atol=1e-6)
    log = (tmp_path / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(line)["alternation"] for line in log] == [0, 1]
    # the training changed the camera (else the equality above would prove nothing)
    from sensor import Camera
    initial = Camera(runs.smoke_config().camera).state_dict()
    assert any(not torch.allclose(initial[k], expected[k]) for k in expected)


def test_bad_checkpoints_and_reuse_of_a_folder(uninterrupted, tmp_path):
    out = uninterrupted.out_dir
    with pytest.raises(ValueError, match="already holds a run"):
        runs.train(runs.smoke_config(), out, progress=False)
    with pytest.raises(ValueError, match="different config"):
        runs.load_checkpoint(out / "checkpoint.pt", runs.smoke_config(alpha=3.0))
    # more alternations may be asked for on resume
    runs.load_checkpoint(out / "checkpoint.pt", runs.smoke_config(alternations=5))
    corrupt = tmp_path / "checkpoint.pt"
    corrupt.write_bytes((out / "checkpoint.pt").read_bytes()[:5000])
    with pytest.raises(ValueError, match="corrupt"):
        runs.load_checkpoint(corrupt)
    with pytest.raises(ValueError, match="not found"):
        runs.load_checkpoint(tmp_path / "missing.pt")
    # a state of another architecture (Conv(1)) into this trainer
    conv1 = runs.smoke_config("conv1")
    other = alternating.AlternatingTrainer(
        __import__("sensor").Camera(conv1.camera), uninterrupted.trainer.data, conv1.training)
    before = _camera_parameters(uninterrupted)
    with pytest.raises(ValueError, match="does not match"):
        uninterrupted.trainer.load_state_dict(other.state_dict())
    for key, value in _camera_parameters(uninterrupted).items():  # nothing half-loaded
        assert torch.equal(value, before[key])


def test_config_files_and_unknown_keys(tmp_path):
    toml = tmp_path / "run.toml"
    toml.write_text('seed = 3\n[camera]\nconv = "conv1"\n[training]\nalpha = 10.0\n')
    config = runs.load_run_config(toml)
    assert (config.seed, config.camera.conv, config.training.alpha) == (3, "conv1", 10.0)
    assert config.training.hardness_slope == 5.0  # defaults: the authors' schedule
    json_path = tmp_path / "run.json"
    json_path.write_text(json.dumps(config.to_dict()))
    assert runs.load_run_config(json_path) == config
    for bad, name in (({"trainig": {}}, "trainig"), ({"training": {"alpah": 1}}, "alpah"),
                      ({"camera": {"kernal": 3}}, "kernal"), ({"data": {"face": "x"}}, "face")):
        with pytest.raises(ValueError, match=f"unknown keys.*{name}"):
            runs.RunConfig.from_dict(bad)
    with pytest.raises(ValueError, match="alpha"):
        runs.RunConfig.from_dict({"training": {"alpha": -1.0}})
    (tmp_path / "bad.toml").write_text("seed = = 3")
    with pytest.raises(ValueError, match="not valid TOML"):
        runs.load_run_config(tmp_path / "bad.toml")
    (tmp_path / "run.yaml").write_text("seed: 3")
    with pytest.raises(ValueError, match="suffix"):
        runs.load_run_config(tmp_path / "run.yaml")


def test_design_bundle_round_trip_reproduces_the_camera(uninterrupted, tmp_path):
    bundle = load_design_bundle(uninterrupted.out_dir / "design")
    camera = uninterrupted.camera
    assert bundle.psf.shape == (4, 3, 11, 11) and bundle.psf.dtype == np.float32
    assert bundle.thresholds.shape == (15,) and np.all(np.diff(bundle.thresholds) > 0)
    np.testing.assert_allclose(bundle.thresholds, camera.thresholds.numpy(), rtol=1e-6)
    images = torch.rand(6, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    rebuilt = bundle.make_camera()
    with torch.no_grad():
        same = (rebuilt(images, mode="hard") == camera(images, mode="hard")).float().mean()
    assert same > 0.999  # float32 storage of the thresholds may flip a rare tie
    design = uninterrupted.out_dir / "design"
    copy = tmp_path / "design"
    copy.mkdir()
    for item in design.iterdir():
        (copy / item.name).write_bytes(item.read_bytes())
    np.savez(copy / "thresholds.npz", thresholds=bundle.thresholds + 0.01)
    with pytest.raises(ValueError, match="sha256"):
        load_design_bundle(copy)
    with pytest.raises(ValueError, match="no design.json"):
        load_design_bundle(tmp_path)


def test_cli_flags_override_the_config(tmp_path):
    from canopic.app.commands import train as train_cli

    parser = argparse.ArgumentParser()
    train_cli.register(parser.add_subparsers())
    args = parser.parse_args(["train", "--out", str(tmp_path), "--profile", "quick", "--conv",
                              "conv1", "--alpha", "10", "--seed", "4", "--device", "cpu"])
    config = train_cli.build_config(args)
    assert (config.camera.conv, config.training.alpha, config.seed, config.device) == (
        "conv1", 10.0, 4, "cpu")
    assert config.training.alternations == runs.PROFILES["quick"]["alternations"]
    assert args.func is train_cli.run


def test_train_takes_the_default_recipe_unless_a_config_or_recipe_says_otherwise(tmp_path):
    import json

    from canopic.app.commands import train as train_cli
    from learn.recipes import DEFAULT_RECIPE, RECIPE_FIELDS, recipe

    parser = argparse.ArgumentParser()
    train_cli.register(parser.add_subparsers())

    def method(*flags):
        training = train_cli.build_config(parser.parse_args(["train", "--out", str(tmp_path),
                                                             *flags])).training
        return {field: getattr(training, field) for field in RECIPE_FIELDS}

    assert method() == recipe(DEFAULT_RECIPE) == recipe("closed_form")
    assert method("--recipe", "paper") == recipe("paper")
    # the paper recipe is AlternatingSettings' defaults (Table 1's learned rows)
    defaults = alternating.AlternatingSettings()
    assert recipe("paper") == {field: getattr(defaults, field) for field in RECIPE_FIELDS}
    # a profile replaces the recipe's schedule, not its method; a flag overrides either
    quick = method("--profile", "quick")
    assert (quick["adversary"], quick["alternations"]) == ("closed_form", runs.PROFILES["quick"]["alternations"])
    assert method("--recipe", "closed_form", "--profile", "paper")["alternations"] == 20
    assert method("--alpha", "50")["alpha"] == 50.0
    # what a config file sets overrides the recipe; what it leaves out is the recipe's
    config = tmp_path / "run.json"
    config.write_text(json.dumps({"training": {"adversary": "fresh", "alpha": 20.0}}))
    for flags in ((), ("--recipe", "closed_form")):
        assert method("--config", str(config), *flags) == recipe("closed_form") | {
            "adversary": "fresh", "alpha": 20.0}
    camera_only = tmp_path / "camera.json"
    camera_only.write_text(json.dumps({"camera": {"conv": "conv4"}}))
    assert method("--config", str(camera_only)) == recipe(DEFAULT_RECIPE)
    assert method("--config", str(camera_only), "--recipe", "paper") == recipe("paper")
    # a run's own config.json (every field) resumes it whatever the recipe
    saved = runs.RunConfig().updated("training", adversary="fresh")
    (tmp_path / "saved.json").write_text(json.dumps(saved.to_dict()))
    rebuilt = train_cli.build_config(parser.parse_args(["train", "--out", str(tmp_path),
                                                        "--config", str(tmp_path / "saved.json")]))
    assert rebuilt.fingerprint() == saved.fingerprint()
    # runs made by the old default (RunConfig(), the paper's) resume under --recipe paper
    for flags in ((), ("--profile", "quick")):
        old = runs.RunConfig().updated("training", **(runs.PROFILES["quick"] if flags else {}))
        args = parser.parse_args(["train", "--out", str(tmp_path), "--recipe", "paper", *flags])
        assert train_cli.build_config(args).fingerprint() == old.fingerprint()
    with pytest.raises(ValueError, match="recipe"):
        recipe("gamed")


def test_the_recipe_sets_how_the_psfs_learn_unless_a_config_or_flag_says_otherwise(tmp_path):
    import json

    from canopic.app.commands import train as train_cli
    from learn.recipes import recipe_camera
    from sensor.camera import CameraConfig

    parser = argparse.ArgumentParser()
    train_cli.register(parser.add_subparsers())

    def camera(*flags):
        return train_cli.build_config(parser.parse_args(["train", "--out", str(tmp_path),
                                                         *flags])).camera

    assert camera().psf_parameterisation == "factorised"            # the default recipe's
    assert camera("--conv", "conv4", "--kernel-mode", "two_mask").psf_parameterisation == \
        "factorised"
    assert camera("--recipe", "paper") == CameraConfig()              # the authors': taps
    assert recipe_camera("paper") == {"psf_parameterisation": CameraConfig().psf_parameterisation}
    assert camera("--psf-parameterisation", "taps").psf_parameterisation == "taps"
    taps = tmp_path / "taps.json"
    taps.write_text(json.dumps({"camera": {"psf_parameterisation": "taps", "psf_sigma": 4.0}}))
    assert (camera("--config", str(taps)).psf_parameterisation, camera("--config", str(taps))
            .psf_sigma) == ("taps", 4.0)
    # a camera factorised PSFs cannot serve is refused with the flag that learns the taps
    for flags in (("--psf-sigma", "4"), ("--kernel-mode", "nonnegative")):
        with pytest.raises(ValueError, match="--psf-parameterisation taps"):
            camera(*flags)
        assert camera(*flags, "--psf-parameterisation", "taps").psf_parameterisation == "taps"
    with pytest.raises(ValueError, match="factorised") as refused:   # chosen, not the recipe's:
        camera("--psf-sigma", "4", "--psf-parameterisation", "factorised")
    assert "--psf-parameterisation taps" not in str(refused.value)   # no hint to undo a choice
    # a config file only the taps can serve: refused with the hint, which then works
    for values in ({"kernel_mode": "nonnegative"}, {"psf_sigma": 4.0}):
        only_taps = tmp_path / "only_taps.json"
        only_taps.write_text(json.dumps({"camera": values}))
        with pytest.raises(ValueError, match="--psf-parameterisation taps"):
            camera("--config", str(only_taps))
        assert camera("--config", str(only_taps), "--psf-parameterisation",
                      "taps").psf_parameterisation == "taps"
    # factorised chosen in the file: no recipe is blamed, whichever is named
    chosen = tmp_path / "chosen.json"
    chosen.write_text(json.dumps({"camera": {"psf_parameterisation": "factorised",
                                             "kernel_mode": "nonnegative"}}))
    for flags in ((), ("--recipe", "paper")):
        with pytest.raises(ValueError, match="factorised") as refused:
            camera("--config", str(chosen), *flags)
        assert "recipe learns" not in str(refused.value)
    # a camera without optics has no PSF to factorise: the recipe leaves it alone
    assert camera("--config", str(_write(tmp_path / "none.json", {"camera": {"conv": "none"}}))
                  ).psf_parameterisation == "taps"


def _write(path, values):
    import json

    path.write_text(json.dumps(values))
    return path


def test_a_runs_own_config_from_before_a_later_field_resumes_it_whatever_the_recipe(tmp_path):
    """A run's config.json written before ``psf_parameterisation`` existed (every other camera
    field named) is a taps run: the default recipe's factorised PSFs must not fill the gap."""
    import json

    from canopic.app.commands import train as train_cli
    from learn.recipes import recipe

    old = runs.RunConfig().updated("training", **{**recipe("closed_form"), "alpha": 200.0})
    values = old.to_dict()
    del values["camera"]["psf_parameterisation"]
    assert old.camera.psf_parameterisation == "taps"
    parser = argparse.ArgumentParser()
    train_cli.register(parser.add_subparsers())
    args = parser.parse_args(["train", "--out", str(tmp_path), "--config",
                              str(_write(tmp_path / "config.json", values))])
    assert train_cli.build_config(args).fingerprint() == old.fingerprint()
    # a hand-written camera table that leaves the field out still gets the recipe's
    partial = {"camera": {key: values["camera"][key] for key in ("conv", "kernel_mode")}}
    args = parser.parse_args(["train", "--out", str(tmp_path), "--config",
                              str(_write(tmp_path / "partial.json", partial))])
    assert train_cli.build_config(args).camera.psf_parameterisation == "factorised"


def test_runs_written_before_the_judge_fields_keep_their_fingerprint():
    """Fields added later leave the fingerprint alone while they hold the old behaviour, so a
    checkpoint written before them still resumes; any other value changes it."""
    config = runs.RunConfig()
    older = config.to_dict()
    for section, field in runs.LATER_FIELDS:
        older[section].pop(field)
    values = {k: v for k, v in older.items()}
    for path in runs.RESUMABLE_CHANGES:
        target = values
        for key in path[:-1]:
            target = target[key]
        target.pop(path[-1])
    from canopic.core.cache import fingerprint

    assert config.fingerprint() == fingerprint(values)
    assert config.updated("training", judge_folds=5).fingerprint() != config.fingerprint()
    assert (config.updated("camera", psf_parameterisation="factorised").fingerprint()
            != config.fingerprint())


def test_train_overwrite_leaves_nothing_of_the_old_run(tmp_path, monkeypatch, capsys):
    from canopic.app.cli import main
    from canopic.app.commands import train as train_cli

    out = tmp_path / "run"
    (out / "design").mkdir(parents=True)
    (out / "design" / "stale.txt").write_text("from an older run")
    (out / "checkpoint.pt").write_bytes(b"not a checkpoint")
    # the new run is a smoke run, and it stops before its first alternation
    monkeypatch.setattr(train_cli, "build_config", lambda args: runs.smoke_config())
    monkeypatch.setattr(runs, "train", lambda *args, **kwargs: (_ for _ in ()).throw(
        KeyboardInterrupt()))
    assert main(["train", "--out", str(out), "--overwrite", "--quiet"]) == 130
    assert not (out / "checkpoint.pt").exists() and not (out / "design").exists()
    assert main(["train", "--out", str(out), "--overwrite", "--resume"]) == 1
    assert "--overwrite and --resume" in capsys.readouterr().err


def test_summary_line_names_the_adversary_and_the_judges_choice():
    base = {"alternation": 1, "hardness": 10.0, "encoder_loss_first": 1.0, "encoder_loss_last": 0.5,
            "detector_val_acc": 0.9, "detector_val_acc_hard": 0.88, "seconds": 2.0}
    closed = runs.summary_line(base | {"recogniser_val_acc": float("nan"), "ridge_acc_last": 0.25,
                                       "select_identity_acc": 0.1, "select_face_acc": 0.88,
                                       "selected_alternation": 0}, 6)
    assert "ridge acc 0.250" in closed and "R val acc" not in closed
    assert "judge identity 0.100 face 0.880, chosen 1" in closed
    paper = runs.summary_line(base | {"recogniser_val_acc": 0.4, "recogniser_val_acc_hard": 0.3}, 6)
    assert "R val acc 0.400 (hard 0.300)" in paper and "judge" not in paper
