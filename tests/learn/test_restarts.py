"""learn.restarts: restarts of a run, one kept by validation scores of attackers not in the loop."""
from __future__ import annotations

import json

import pytest
import torch

from learn import restarts, runs
from learn.attacks import AttackBudget

#: seconds-long scoring for the smoke runs
TINY = AttackBudget(cnn_epochs=1, flat_epochs=3, decoder_epochs=1, patience=1, batch_size=16,
                    cnn_width=4, decoder_width=8)


def test_choice_is_the_most_private_design_that_meets_the_face_target():
    scores = [{"identity": 0.30, "face": 0.95}, {"identity": 0.20, "face": 0.93},
              {"identity": 0.10, "face": 0.80}, {"identity": 0.20, "face": 0.99}]
    assert restarts.choose_restart(scores, 0.92) == 3          # 0.20 twice: the more useful
    assert restarts.choose_restart(scores[:3] + scores[1:2], 0.92) == 1  # full tie: the earlier
    assert restarts.choose_restart(scores, 0.0) == 2           # every one qualifies
    assert restarts.choose_restart(scores[2:3] + scores[:1], 0.99) == 1  # none: most useful
    with pytest.raises(ValueError, match="nothing"):
        restarts.choose_restart([], 0.9)


def test_a_run_off_the_bundled_split_is_warned_about():
    import warnings

    with pytest.warns(UserWarning, match="own split"):
        restarts._warn_if_not_default_split(runs.smoke_config())  # 4 images a person
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        restarts._warn_if_not_default_split(runs.RunConfig())


@pytest.mark.filterwarnings("ignore:restarts are scored on this run's own split")
def test_restarts_learn_at_their_own_seeds_and_keep_the_chosen_design(tmp_path, monkeypatch):
    """Two smoke restarts: each a run folder at its seed; the kept design is the chosen one's,
    a rerun reloads everything (no new scoring), and the test parts are never read."""
    from learn import evaluation

    config = runs.smoke_config(alternations=1)
    original = evaluation.evaluate_encoder
    reads = []

    def spy(*args, **kwargs):
        reads.append(kwargs.get("read_test", True))
        return original(*args, **kwargs)

    monkeypatch.setattr(evaluation, "evaluate_encoder", spy)
    result = restarts.train_with_restarts(config, tmp_path, 2, face_target=0.0, progress=False,
                                          budget=TINY, n_augment=0)
    assert reads == [False, False]
    summary = json.loads((tmp_path / "restarts.json").read_text())
    seeds = [r["seed"] for r in summary["restarts"]]
    assert seeds == [0, restarts.RESTART_SEED_STRIDE]
    for k, seed in enumerate(seeds):
        assert json.loads((tmp_path / f"restart{k}" / "config.json").read_text())["seed"] == seed
    scores = summary["restarts"]
    assert summary["chosen"] == restarts.choose_restart(scores, 0.0)
    assert result.out_dir == tmp_path / f"restart{summary['chosen']}"
    kept = (tmp_path / "design" / "psf.npz").read_bytes()
    assert kept == (result.out_dir / "design" / "psf.npz").read_bytes()
    # different seeds learn different designs
    psfs = [(tmp_path / f"restart{k}" / "design" / "psf.npz").read_bytes() for k in range(2)]
    assert psfs[0] != psfs[1]
    reads.clear()
    with open(tmp_path / "restarts.jsonl", "a") as handle:
        handle.write('{"restart": 1, "fingerp')  # a line cut short by a kill
    again = restarts.train_with_restarts(config, tmp_path, 2, face_target=0.0, progress=False,
                                         budget=TINY, n_augment=0)
    assert reads == [] and again.out_dir == result.out_dir and again.trainer is None
    # one more alternation changes restart 1's design: it alone is scored again
    more = config.updated("training", alternations=2)
    restarts.train_with_restarts(more, tmp_path, 2, face_target=0.0, progress=False,
                                 budget=TINY, n_augment=0)
    assert reads == [False, False]


def test_validation_scores_do_not_depend_on_the_test_parts():
    """Poison the evaluation identities' test images: the scores that choose do not move."""
    import dataclasses

    from learn.evaluation import data_from_splits
    from learn.table1_cameras import camera_encoder
    from sensor import Camera, CameraConfig

    config = runs.smoke_config()
    data = data_from_splits(runs.run_splits(config), max_per_part=40)
    camera = Camera(CameraConfig(conv="conv1", seed=0))
    clean = restarts.score_on_validation(camera_encoder(camera), data, 0, TINY, 0)
    poisoned = dataclasses.replace(
        data, id_test=dataclasses.replace(data.id_test, images=torch.rand_like(data.id_test.images),
                                          labels=torch.zeros_like(data.id_test.labels)),
        det_test=dataclasses.replace(data.det_test,
                                     images=torch.rand_like(data.det_test.images)))
    assert restarts.score_on_validation(camera_encoder(camera), poisoned, 0, TINY, 0) == clean
    assert 0.0 <= clean["identity"] <= 1.0 and 0.0 <= clean["face"] <= 1.0
    assert clean["identity"] == max(clean["val_top1"].values())


def test_bad_settings_are_refused_before_any_training(tmp_path, monkeypatch):
    config = runs.smoke_config()
    with pytest.raises(ValueError, match="restarts: 0"):
        restarts.train_with_restarts(config, tmp_path, 0)
    with pytest.raises(ValueError, match="face target"):
        restarts.train_with_restarts(config, tmp_path, 2, face_target=92)
    monkeypatch.setenv("WORLD_SIZE", "2")
    with pytest.raises(ValueError, match="one process"):
        restarts.train_with_restarts(config, tmp_path, 2)
    assert not any(tmp_path.iterdir())


def test_canopic_train_restarts_hands_the_run_to_learn_restarts(tmp_path, monkeypatch, capsys):
    from canopic.app.cli import main
    from canopic.app.commands import train as train_cli

    calls = []

    def fake(config, out, count, target, progress=True):
        calls.append((out, count, target))
        return runs.RunResult(camera=None, trainer=None, metrics=[],
                              out_dir=tmp_path / "run" / "restart1")

    monkeypatch.setattr(train_cli, "build_config", lambda args: runs.smoke_config())
    monkeypatch.setattr(restarts, "train_with_restarts", fake)
    out = tmp_path / "run"
    assert main(["train", "--out", str(out), "--restarts", "3", "--quiet"]) == 0
    assert main(["train", "--out", str(out), "--restarts", "2", "--restart-face-target", "0.95",
                 "--quiet"]) == 0
    assert calls == [(str(out), 3, restarts.DEFAULT_RESTART_FACE_TARGET), (str(out), 2, 0.95)]
    assert "kept restart restart1" in capsys.readouterr().out
    assert main(["train", "--out", str(out), "--restart-face-target", "0.9"]) == 1
    assert "only with --restarts" in capsys.readouterr().err
    out.mkdir()
    (out / "checkpoint.pt").write_bytes(b"a single run")
    assert main(["train", "--out", str(out), "--restarts", "2"]) == 1
    assert "holds a single run" in capsys.readouterr().err
    # a single run may not land on restarts; a bad target deletes nothing, even with --overwrite
    (out / "checkpoint.pt").unlink()
    (out / "restart0").mkdir()
    assert main(["train", "--out", str(out)]) == 1
    assert "holds restarts" in capsys.readouterr().err
    assert main(["train", "--out", str(out), "--restarts", "2", "--restart-face-target", "92",
                 "--overwrite"]) == 1
    assert "face target" in capsys.readouterr().err and (out / "restart0").is_dir()
    # --overwrite clears the old restarts as well as the single run
    (out / "restarts.jsonl").write_text("{}\n")
    assert main(["train", "--out", str(out), "--restarts", "2", "--overwrite", "--quiet"]) == 0
    assert not (out / "restart0").exists() and not (out / "restarts.jsonl").exists()
