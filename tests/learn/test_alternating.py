"""learn.alternating: settings, the eq. (1) encoder loss, each step does what it claims."""
from __future__ import annotations

import math

import pytest
import torch

from learn import alternating, datasets, runs
from learn.networks import entropy


@pytest.fixture(scope="module")
def trainer():
    config = runs.smoke_config()
    data = runs._training_data(config, torch.device("cpu"), 0, 1)
    from sensor import Camera
    return alternating.AlternatingTrainer(Camera(config.camera), data, config.training, seed=0)


def _batch(trainer):
    return trainer.data.faces[:8], trainer.data.nonfaces[:8]


def test_defaults_are_the_authors_and_hardness_grows_linearly():
    s = alternating.AlternatingSettings()
    assert (s.batch_size, s.network_lr, s.network_weight_decay, s.encoder_lr,
            s.encoder_momentum, s.alternations) == (32, 1e-2, 1e-4, 1e-2, 0.9, 20)
    assert [s.hardness(a) for a in range(4)] == [5.0, 10.0, 15.0, 20.0]  # T = 5 (a + 1)


@pytest.mark.parametrize("field, value", [("alpha", -1.0), ("batch_size", 7), ("order", "x"),
                                          ("network_input", "medium"), ("encoder_momentum", 1.0),
                                          ("alternations", 0), ("steps_per_epoch", 0)])
def test_bad_settings_name_the_field(field, value):
    with pytest.raises(ValueError, match=field):
        alternating.AlternatingSettings(**{field: value})


def test_encoder_loss_is_detection_ce_minus_alpha_entropy_over_100(trainer):
    faces, nonfaces = _batch(trainer)
    hardness = 10.0
    trainer.recogniser.eval(), trainer.detector.eval()
    with torch.no_grad():
        loss, _ = trainer.encoder_loss(faces, nonfaces, hardness)
        codes = trainer.camera(torch.cat([faces, nonfaces]), mode="soft", hardness=hardness)
        targets = torch.tensor([1] * 8 + [0] * 8)
        ce = torch.nn.functional.cross_entropy(trainer.detector(codes), targets)
        h = entropy(trainer.recogniser(codes[:8])).mean()
    expected = ce - trainer.settings.alpha * h / 100
    assert loss.item() == pytest.approx(expected.item(), rel=1e-5)


def test_encoder_step_moves_the_camera_against_r_and_for_d(trainer):
    """With R and D frozen, the step raises R's identity entropy (large alpha) and lowers the loss."""
    faces, nonfaces = _batch(trainer)
    trainer.recogniser.eval(), trainer.detector.eval()
    saved = {k: v.clone() for k, v in trainer.camera.state_dict().items()}
    saved_head = trainer.recogniser.head.weight.detach().clone()
    settings = trainer.settings
    try:
        # an untrained R is already near maximum entropy (ln 32); a confident R leaves room to
        # show that the step raises it
        with torch.no_grad():
            trainer.recogniser.head.weight.mul_(30.0)
        trainer.settings = alternating.AlternatingSettings(
            **{**settings.__dict__, "alpha": 1000.0, "encoder_epochs": 3, "steps_per_epoch": 3,
               "encoder_lr": 0.1})

        def measure():
            trainer.recogniser.eval(), trainer.detector.eval()
            with torch.no_grad():
                loss, parts = trainer.encoder_loss(faces, nonfaces, hardness=5.0)
            return loss.item(), parts["identity_entropy"]

        loss_before, entropy_before = measure()
        trainer.encoder_step(alternation=0)
        loss_after, entropy_after = measure()
        after = trainer.camera.state_dict()
        assert loss_after < loss_before
        assert entropy_after > entropy_before
        for key in ("optics.taps", "adc.logits"):  # both the kernels and the thresholds learn
            assert not torch.equal(after[key], saved[key])
        thresholds = trainer.camera.thresholds
        assert torch.all(torch.diff(thresholds) >= trainer.camera.adc.min_spacing - 1e-6)
        assert not any(p.requires_grad is False for p in trainer.recogniser.parameters())
    finally:
        trainer.settings = settings
        trainer.camera.load_state_dict(saved)
        with torch.no_grad():
            trainer.recogniser.head.weight.copy_(saved_head)


def test_recogniser_step_restores_its_best_validation_epoch(trainer):
    result = trainer.recogniser_step(alternation=0)
    with torch.no_grad():
        codes = trainer._encode_all(trainer.data.faces_val, "soft", trainer.settings.hardness(0))
    assert trainer._evaluate(trainer.recogniser, codes, trainer.data.face_labels_val) == \
        pytest.approx(result["recogniser_val_acc"])
    assert 1 <= result["recogniser_epochs"] <= trainer.settings.recogniser_epochs


def test_detector_sees_balanced_batches(trainer, monkeypatch):
    seen = []
    original = trainer.detector.forward

    def spy(x):
        seen.append(len(x))
        return original(x)

    monkeypatch.setattr(trainer.detector, "forward", spy)
    calls = []
    real = datasets.balanced_batches
    monkeypatch.setattr(datasets, "balanced_batches",
                        lambda *a, **k: calls.append(a) or real(*a, **k))
    trainer.detector_step(alternation=0)
    assert calls and all(a[2] == trainer.settings.batch_size for a in calls)
    assert seen[0] == trainer.settings.batch_size  # 4 faces + 4 no-faces per training batch


# --------------------------------------------------------------------------- issue 31: adversaries
from tests.learn.synthetic_identity import LinearCamera, make_data  # noqa: E402
from learn.selection import logistic_accuracy  # noqa: E402


def _synthetic_settings(**changes) -> alternating.AlternatingSettings:
    """A seconds-long schedule for the synthetic identity task (tests.learn.synthetic_identity)."""
    values = dict(alternations=3, encoder_epochs=5, recogniser_epochs=30, recogniser_patience=3,
                  detector_epochs=3, batch_size=16, encoder_lr=0.05, recogniser_width=4,
                  detector_width=4, adversary_pool="linear", closed_form_people=12,
                  order="networks_first")
    return alternating.AlternatingSettings(**(values | changes))


def _train_synthetic(**changes):
    data = make_data(0)
    trainer = alternating.AlternatingTrainer(LinearCamera(0), data, _synthetic_settings(**changes),
                                             seed=0)
    metrics = [trainer.run_alternation(a) for a in range(trainer.settings.alternations)]
    return trainer, metrics


def _outside_attack(camera, data) -> float:
    """A fresh logistic regression (never in the loop) on codes of people the encoder never saw."""
    with torch.no_grad():
        train, val = camera(data.select_faces), camera(data.select_faces_val)
    return logistic_accuracy(train, data.select_labels, val, data.select_labels_val,
                             data.select_num_identities)


def test_new_options_default_to_the_papers_method():
    s = alternating.AlternatingSettings()
    assert (s.adversary, s.select) == ("frozen", "last")


@pytest.mark.parametrize("field, value", [("adversary", "gamed"), ("adversary_pool", "cnn+rnn"),
                                          ("adversary_combine", "mean"), ("select", "test"),
                                          ("face_target", 1.5), ("closed_form_people", 1),
                                          ("closed_form_ridge", 0.0), ("utility", "hinge"),
                                          ("constraint_rate", 0.0), ("optics_lr", -0.01),
                                          ("optics_lr", float("nan")), ("optics_lr", True),
                                          ("judge_folds", 1), ("judge_folds", -2),
                                          ("judge_folds", 2.0), ("judge_detector_epochs", -1),
                                          ("closed_form_shots", 0), ("closed_form_shots", 1.5)])
def test_bad_adversary_and_selection_settings_name_the_field(field, value):
    with pytest.raises(ValueError, match=field):
        alternating.AlternatingSettings(**{field: value})


@pytest.mark.parametrize("adversary", ["closed_form", "fresh"])
def test_privacy_weight_lowers_an_outside_attackers_accuracy(adversary):
    """Synthetic identity task: identity in one input channel, face/no-face in another.

    A large alpha makes the linear camera drop identity for an attacker that was never in the
    loop (fresh logistic regression on people the encoder never saw), while detection holds.
    """
    low, low_metrics = _train_synthetic(adversary=adversary, alpha=0.0)
    high, high_metrics = _train_synthetic(adversary=adversary, alpha=1000.0)
    data = low.data
    before, after = _outside_attack(low.camera, data), _outside_attack(high.camera, data)
    assert before > 0.8                        # chance is 1/8
    assert after < before - 0.15
    assert high_metrics[-1]["detector_val_acc_hard"] > 0.8


def test_a_many_shot_closed_form_adversary_fits_k_images_a_person_and_removes_identity():
    """``closed_form_shots = 3``: each step's batch is 3 fit images and 1 scored image of each
    person, grouped by person; with a large alpha an outside attacker falls as with one shot."""
    trainer, _ = _train_synthetic(adversary="closed_form", alpha=1000.0, closed_form_shots=3)
    images, labels = trainer._privacy_batch()
    people = trainer.settings.closed_form_people
    assert len(images) == 4 * people
    assert torch.equal(labels, torch.cat([torch.arange(people).repeat_interleave(3),
                                          torch.arange(people)]))
    low, _ = _train_synthetic(adversary="closed_form", alpha=0.0, closed_form_shots=3)
    assert _outside_attack(trainer.camera, trainer.data) < _outside_attack(low.camera,
                                                                           low.data) - 0.15
    with pytest.raises(ValueError, match=">= 7 training images"):  # 6 a person here
        alternating.AlternatingTrainer(LinearCamera(0), make_data(0),
                                       _synthetic_settings(adversary="closed_form",
                                                           closed_form_shots=6), seed=0)


def test_utility_constraint_holds_the_face_target_and_trades_the_rest_for_privacy():
    """Lagrange multiplier on the detection loss (``utility="constraint"``), synthetic task:
    a high face target keeps detection near perfect, a low one lets the privacy term take more
    identity; the multiplier rises while D is below the target and falls while above."""
    strict, strict_metrics = _train_synthetic(adversary="closed_form", alpha=1000.0,
                                              utility="constraint", face_target=0.97)
    loose, loose_metrics = _train_synthetic(adversary="closed_form", alpha=1000.0,
                                            utility="constraint", face_target=0.5)
    held = [m["detector_val_acc_hard"] for m in strict_metrics[1:]]  # after D has learned once
    assert sum(held) / len(held) >= 0.95
    assert loose_metrics[-1]["detector_val_acc_hard"] < strict_metrics[-1]["detector_val_acc_hard"]
    assert _outside_attack(loose.camera, loose.data) < _outside_attack(strict.camera, strict.data) - 0.15
    assert loose_metrics[-1]["utility_multiplier"] < 1.0  # D above a target of 0.5: weight falls
    trainer = alternating.AlternatingTrainer(
        LinearCamera(0), make_data(0), _synthetic_settings(utility="constraint", face_target=1.0,
                                              constraint_rate=0.01),
        seed=0)
    accuracy = trainer.update_multiplier()  # an untrained D is below a target of 1
    expected = math.exp(0.01 * (1.0 - accuracy) * 100)
    assert accuracy < 1.0 and trainer.utility_multiplier == pytest.approx(
        min(expected, alternating.MULTIPLIER_RANGE[1]))
    assert trainer.state_dict()["utility_multiplier"] == trainer.utility_multiplier


def test_weighted_utility_is_the_papers_loss():
    """The default ``utility="weighted"``: multiplier 1 that never moves, no state entry."""
    trainer, metrics = _train_synthetic(adversary="closed_form", alpha=10.0, alternations=1)
    assert trainer.settings.utility == "weighted" and trainer.utility_multiplier == 1.0
    assert "utility_multiplier" not in metrics[0] and "utility_multiplier" not in trainer.state_dict()


def test_frozen_recogniser_is_gamed():
    """Today's method: the encoder step breaks its own frozen R, not an outside attacker."""
    trainer, metrics = _train_synthetic(adversary="frozen", alpha=1000.0, alternations=2)
    for m in metrics:  # networks_first: R's best epoch, then its accuracy after the encoder step
        assert m["recogniser_val_acc"] > 0.4 and m["recogniser_val_acc_hard"] < 0.1
    assert _outside_attack(trainer.camera, trainer.data) > 0.75  # started at 0.92


def test_fresh_pool_is_reinitialised_on_hard_codes_and_scored_on_held_out_faces(monkeypatch):
    data = make_data(0)
    trainer = alternating.AlternatingTrainer(
        LinearCamera(0), data, _synthetic_settings(adversary="fresh", adversary_pool="cnn+linear",
                                                   recogniser_epochs=3), seed=0)
    fitted = []
    original_fit = trainer._fit_recogniser

    def spy_fit(net, codes, codes_val, progress=None):
        fitted.append((net, codes))
        return original_fit(net, codes, codes_val, progress)

    monkeypatch.setattr(trainer, "_fit_recogniser", spy_fit)
    trainer.recogniser_step(0)
    first = {name: net for name, net in trainer.adversaries().items()}
    first_weights = first["linear"].head.weight.detach().clone()
    trainer.recogniser_step(1)
    assert [type(n).__name__ for n, _ in fitted] == ["ResNetClassifier", "FlatClassifier"] * 2
    for name, net in trainer.adversaries().items():
        assert net is not first[name]                           # re-initialised objects
    assert not torch.equal(trainer.flat_recogniser.head.weight, first_weights)
    hard = trainer.camera(data.faces, mode="hard")
    assert all(torch.equal(codes, hard) for _, codes in fitted)  # trained on hard codes
    assert set(trainer.adversary_scores) == {"cnn", "linear"}
    images, labels = trainer._privacy_batch()
    assert labels is None
    rows = {tuple(r.flatten().tolist()) for r in data.faces_val}
    assert all(tuple(r.flatten().tolist()) in rows for r in images)  # held-out faces only


def test_validation_selection_picks_by_the_rule_and_leaves_training_alone():
    states = []
    data = make_data(0)
    trainer = alternating.AlternatingTrainer(
        LinearCamera(0), data, _synthetic_settings(adversary="closed_form", alpha=1000.0,
                                                   select="validation", face_target=0.9), seed=0)
    metrics = []
    for a in range(3):
        metrics.append(trainer.run_alternation(a))
        states.append({k: v.clone() for k, v in trainer.camera.state_dict().items()})
    last, _ = _train_synthetic(adversary="closed_form", alpha=1000.0, face_target=0.9)
    assert torch.equal(last.camera.weight, trainer.camera.weight)  # selection draws nothing
    candidates = [(False, m["select_identity_acc"], -m["select_face_acc"], a)
                  if m["select_face_acc"] >= 0.9 else
                  (True, -m["select_face_acc"], m["select_identity_acc"], a)
                  for a, m in enumerate(metrics)]
    expected = min(candidates)[-1]
    assert expected != 2  # here not the live camera, so design() below is a real check
    assert metrics[-1]["selected_alternation"] == expected
    camera, chosen = trainer.design()
    assert chosen == expected and camera is not trainer.camera
    assert torch.equal(camera.weight, states[expected]["weight"])


class _NoTestParts:
    """A Splits whose evaluation and test parts raise on access (everything else is the
    wrapped split's): the judge of selection must use people of its own."""

    def __init__(self, splits):
        self._splits = splits

    def __getattr__(self, name):
        if name in ("eval_train", "eval_val", "eval_test", "nonfaces_test"):
            raise AssertionError(f"learning or selection read Splits.{name}")
        return getattr(self._splits, name)


def _smoke_splits():
    """The smoke run's split (learn.runs.smoke_config: cap 4, 24 faces, 24 no-faces)."""
    import dataclasses

    import numpy as np

    splits = datasets.make_splits(datasets.load_faces("faces64_wide"),
                                  datasets.load_nonfaces("nonfaces64"), seed=0, cap_per_identity=4)
    return dataclasses.replace(splits, encoder_train=splits.encoder_train.subset(np.arange(24)),
                               nonfaces_encoder=splits.nonfaces_encoder.subset(np.arange(24)))


def test_selection_never_reads_the_test_parts():
    """Test parts that raise on access, or hold noise: the same training, scores and design."""
    import dataclasses

    import numpy as np
    from sensor import Camera

    splits = _smoke_splits()
    rng = np.random.default_rng(0)
    noisy = dataclasses.replace(
        splits, eval_test=datasets.FaceSet(
            rng.integers(0, 256, splits.eval_test.images.shape, dtype=np.uint8),
            splits.eval_test.labels, splits.eval_test.names, splits.eval_test.files),
        nonfaces_test=datasets.ImageSet(
            rng.integers(0, 256, splits.nonfaces_test.images.shape, dtype=np.uint8),
            splits.nonfaces_test.files))
    config = runs.smoke_config(select="validation", face_target=0.5)
    results = []
    for variant in (_NoTestParts(splits), noisy):
        data = alternating.TrainingData.from_splits(variant, judge_people=4)
        trainer = alternating.AlternatingTrainer(Camera(config.camera), data, config.training, seed=0)
        metrics = [trainer.run_alternation(a) for a in range(2)]
        results.append((trainer.design()[0].state_dict(), trainer.selection.state_dict(), metrics))
    (design_a, chosen_a, metrics_a), (design_b, chosen_b, metrics_b) = results
    assert all(torch.equal(design_a[k], design_b[k]) for k in design_a)
    assert chosen_a["alternation"] == chosen_b["alternation"] >= 0
    for a, b in zip(metrics_a, metrics_b):
        a.pop("seconds"), b.pop("seconds")
        assert a == b


def _one_encoder_step(**changes):
    """(camera state before, after) of one encoder SGD step of the smoke run's camera."""
    import dataclasses

    from sensor import Camera

    config = runs.smoke_config()
    data = runs._training_data(config, torch.device("cpu"), 0, 1)
    settings = dataclasses.replace(config.training, encoder_epochs=1, steps_per_epoch=1, **changes)
    camera = Camera(config.camera)
    trainer = alternating.AlternatingTrainer(camera, data, settings, seed=0)
    before = {k: v.detach().clone() for k, v in camera.state_dict().items()}
    trainer.encoder_step(0)
    return before, camera.state_dict()


def test_optics_lr_moves_each_tap_by_its_share_of_the_starting_peak():
    """Adam's first step is lr * g / |g|: every tap with a gradient moves by exactly
    optics_lr * max|initial taps|; the thresholds keep the encoder's SGD step, unchanged."""
    before, sgd = _one_encoder_step()
    _, adam = _one_encoder_step(optics_lr=0.01)
    peak = float(before["optics.taps"].abs().max())
    moved = (adam["optics.taps"] - before["optics.taps"]).abs()
    assert float(moved.max()) == pytest.approx(0.01 * peak, rel=1e-3)
    assert float(moved.median()) == pytest.approx(0.01 * peak, rel=1e-3)
    assert torch.equal(adam["adc.logits"], sgd["adc.logits"])
    assert not torch.equal(sgd["adc.logits"], before["adc.logits"])


def test_optics_lr_zero_holds_the_psf_and_learns_the_thresholds():
    before, held = _one_encoder_step(optics_lr=0.0)
    _, sgd = _one_encoder_step()
    assert torch.equal(held["optics.taps"], before["optics.taps"])
    assert not torch.equal(sgd["optics.taps"], before["optics.taps"])
    assert torch.equal(held["adc.logits"], sgd["adc.logits"])  # the thresholds' SGD step as ever
    assert not torch.equal(held["adc.logits"], before["adc.logits"])


def test_resume_after_kill_gives_the_same_design(tmp_path):
    """1 alternation, killed, resumed to 2 == 2 straight: bit-identical bundle and selection.

    Runs the fresh pool (CNN + linear) so that its members and scores must come back too, and
    the PSF's own Adam step (``optics_lr``), whose unit is in the checkpoint.
    """
    import json

    import numpy as np
    from sensor.design_bundle import load_design_bundle

    config = runs.smoke_config(select="validation", adversary="fresh", optics_lr=0.01).updated(
        "data", encoder_faces="faces")
    straight = runs.train(config, tmp_path / "straight", progress=False)
    runs.train(config.updated("training", alternations=1), tmp_path / "resumed", progress=False)
    resumed = runs.train(config, tmp_path / "resumed", resume=True, progress=False)
    a, b = (load_design_bundle(tmp_path / name / "design") for name in ("straight", "resumed"))
    for field in ("psf", "thresholds"):
        assert np.array_equal(getattr(a, field), getattr(b, field))
    chosen = straight.metrics[-1]["selected_alternation"]
    assert a.metadata["alternation"] == b.metadata["alternation"] == chosen
    assert resumed.metrics[-1]["selected_alternation"] == chosen
    state_a, state_b = straight.trainer.state_dict(), resumed.trainer.state_dict()
    assert state_a["adversary_scores"] == state_b["adversary_scores"]
    for key, value in state_a["recogniser_linear"].items():
        assert torch.equal(value, state_b["recogniser_linear"][key])
    lines = (tmp_path / "resumed" / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(line)["selected_alternation"] for line in lines] == \
        [m["selected_alternation"] for m in straight.metrics]


def test_options_reach_the_run_config_from_the_cli_and_a_config_file(tmp_path):
    import argparse

    from canopic.app.commands import train as train_cli

    parser = argparse.ArgumentParser()
    train_cli.register(parser.add_subparsers())
    args = parser.parse_args(["train", "--out", str(tmp_path), "--adversary", "closed_form",
                              "--select", "validation", "--face-target", "0.9",
                              "--utility", "constraint", "--psf-sigma", "12",
                              "--psf-parameterisation", "taps", "--optics-lr", "0.003", "--network-input", "hard",
                              "--judge-people", "50", "--judge-folds", "5",
                              "--judge-detector-epochs", "10"])
    config = train_cli.build_config(args)
    training = config.training
    assert (training.adversary, training.select, training.face_target, training.utility) == (
        "closed_form", "validation", 0.9, "constraint")
    assert config.camera.psf_sigma == 12.0
    assert (training.optics_lr, training.network_input) == (0.003, "hard")
    assert (training.judge_people, training.judge_folds, training.judge_detector_epochs) == (50, 5, 10)
    toml = tmp_path / "run.toml"
    toml.write_text('[training]\nadversary = "fresh"\nadversary_pool = "cnn"\n'
                    'adversary_combine = "sum"\n')
    training = runs.load_run_config(toml).training
    assert (training.adversary, training.adversary_pool, training.adversary_combine) == (
        "fresh", "cnn", "sum")


def test_the_judge_of_selection_has_people_of_its_own():
    """The judge's people are encoder people taken out of the loop: never learned from, never
    an evaluation (test) identity."""
    import numpy as np

    splits = _smoke_splits()
    data = alternating.TrainingData.from_splits(splits, judge_people=3)
    plain = alternating.TrainingData.from_splits(splits)
    assert data.select_num_identities == 3
    assert data.num_identities == plain.num_identities - 3
    # the judge's images are the chosen people's encoder images, none of them in the loop
    loop = {bytes(image) for image in datasets.to_srgb_uint8(torch.cat([data.faces, data.faces_val]))}
    judge = datasets.to_srgb_uint8(torch.cat([data.select_faces, data.select_faces_val]))
    assert len(judge) > 0 and not any(bytes(image) in loop for image in judge)
    encoder = {bytes(image) for image in np.concatenate([splits.encoder_train.images,
                                                         splits.encoder_val.images])}
    assert all(bytes(image) in encoder for image in judge)
    assert plain.select_faces is None


def test_a_cross_validated_judge_takes_the_people_with_the_most_images_and_scores_them_all():
    import numpy as np
    from sensor import Camera

    splits = _smoke_splits()
    settings = alternating.AlternatingSettings(select="validation", judge_people=3, judge_folds=2)
    assert settings.judge() == {"judge_people": 3, "judge_pick": "most_images"}
    assert alternating.AlternatingSettings(judge_people=3).judge()["judge_people"] == 0  # select last
    data = alternating.TrainingData.from_splits(splits, **settings.judge())
    train, val = splits.encoder_train, splits.encoder_val
    counts = np.bincount(train.labels, minlength=train.num_classes) + np.bincount(
        val.labels, minlength=train.num_classes)
    both = np.intersect1d(train.labels, val.labels)
    richest = np.sort(counts[both])[::-1][:3]
    judged = np.bincount(data.select_labels.numpy()) + np.bincount(data.select_labels_val.numpy(),
                                                                   minlength=3)
    assert sorted(judged.tolist(), reverse=True) == richest.tolist()
    with pytest.raises(ValueError, match="judge_pick"):
        alternating.TrainingData.from_splits(splits, judge_people=3, judge_pick="tallest")
    # the trainer scores the judge's images by 2-fold cross-validation (every image once)
    config = runs.smoke_config(select="validation", face_target=0.5, judge_people=3, judge_folds=2)
    trainer = alternating.AlternatingTrainer(Camera(config.camera), data, config.training, seed=0)
    metrics = trainer.run_alternation(0)
    images = len(data.select_labels) + len(data.select_labels_val)
    assert 0 <= metrics["select_identity_acc"] <= 1
    assert round(metrics["select_identity_acc"] * images, 6) == round(metrics["select_identity_acc"] * images)


def test_a_detector_judge_reads_the_utility_an_untrained_detector_misses_and_changes_no_training():
    """D never trains (detector_epochs = 0), so its own accuracy is near chance; the judge, a copy
    of D trained on hard codes of the same camera, reads the separable face channel of the
    synthetic task. Judging draws nothing the training uses: the same cameras and D."""
    runs_ = {}
    for epochs in (0, 8):
        trainer, metrics = _train_synthetic(adversary="closed_form", alpha=1.0, detector_epochs=0,
                                            select="validation", face_target=0.5,
                                            judge_detector_epochs=epochs)
        runs_[epochs] = (trainer, metrics)
    (plain, plain_metrics), (judged, judged_metrics) = runs_[0], runs_[8]
    for a, b in zip(plain_metrics, judged_metrics):
        assert a["detector_val_acc_hard"] == b["detector_val_acc_hard"] < 0.75  # untrained D
        assert a["select_face_acc"] == a["detector_val_acc_hard"]               # judge off: D
        assert b["select_face_acc"] > a["select_face_acc"] + 0.2
    # as high as a peer detector on the final camera's codes: a logistic regression, fitted on
    # the training faces and no-faces, scored on the validation ones
    data = judged.data
    with torch.no_grad():
        train = torch.cat([judged.camera(data.faces), judged.camera(data.nonfaces)])
        val = torch.cat([judged.camera(data.faces_val), judged.camera(data.nonfaces_val)])
    labels = lambda faces, nonfaces: torch.cat([torch.ones(len(faces)), torch.zeros(len(nonfaces))]).long()
    peer = logistic_accuracy(train, labels(data.faces, data.nonfaces), val,
                             labels(data.faces_val, data.nonfaces_val), 2)
    assert judged_metrics[-1]["select_face_acc"] >= peer - 0.05, peer
    assert all(torch.equal(x, y) for x, y in zip(plain.camera.state_dict().values(),
                                                 judged.camera.state_dict().values()))
    assert all(torch.equal(x, y) for x, y in zip(plain.detector.state_dict().values(),
                                                 judged.detector.state_dict().values()))


def test_too_few_people_for_the_judge_or_the_closed_form_say_how_to_learn_anyway():
    import numpy as np

    def faces(labels):
        labels = np.asarray(labels)
        return datasets.FaceSet(np.zeros((len(labels), 8, 8, 3), np.uint8), labels,
                                tuple(f"p{i}" for i in range(labels.max() + 1)),
                                tuple(f"f{i}" for i in range(len(labels))))

    with pytest.raises(ValueError, match="--select last, or --recipe paper"):
        alternating._split_off_judge(faces([0, 1, 2]), faces([0, 1, 2]), 2)
    data = make_data(0, people=3, per_person=3)           # one training image a person
    with pytest.raises(ValueError, match="--recipe paper"):
        alternating.AlternatingTrainer(LinearCamera(0), data,
                                       _synthetic_settings(adversary="closed_form"), seed=0)
