"""learn.alternating: settings, the eq. (1) encoder loss, each step does what it claims."""
from __future__ import annotations

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
