"""The learning and evaluation stack on a CUDA device (skipped where torch sees none).

References: the CPU results of the same code on the same inputs (codes of the hard camera,
accuracies of the attack suite on a separable problem, whose Bayes accuracy is 100 %).
"""
from __future__ import annotations

import pytest
import torch

from learn import table1
from learn.attacks import ATTACK_NAMES, AttackData, accuracy, make_attack

from tests.learn.test_attacks import BUDGET, attack_data
from tests.learn.test_table1 import TINY, tiny_splits

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")


def _to(data: AttackData, device: str) -> AttackData:
    moved = {name: getattr(data, name) for name in ("train_x", "train_y", "val_x", "val_y",
                                                     "train_images", "val_images")}
    return AttackData(**{k: v.to(device) for k, v in moved.items()},
                      num_classes=data.num_classes, augment=data.augment)


@pytest.mark.parametrize("name", ATTACK_NAMES)
def test_attack_learns_a_separable_problem_on_cuda(name):
    data, test_x, test_y = attack_data(random_labels=False)
    attack = make_attack(name, BUDGET).fit(_to(data, "cuda"), seed=0)
    scores = attack.scores(test_x.cuda())
    assert scores.device.type == "cuda"
    assert accuracy(scores, test_y.cuda()) >= 0.9


def test_camera_codes_on_cuda_match_the_cpu():
    from sensor import Camera, CameraConfig
    from sensor.baselines import gaussian_blur

    noise = torch.rand(16, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    images = gaussian_blur(noise, sigma_px=2.0)  # smooth, scene-like input in [0, 1]
    for conv in ("conv1", "conv4"):
        camera = Camera(CameraConfig(conv=conv))
        cpu = camera(images, mode="hard")
        gpu = camera.cuda()(images.cuda(), mode="hard").cpu()
        assert gpu.shape == cpu.shape
        # float32 convolutions differ in rounding between devices: a code may move by one
        # level where the signal sits on a threshold, never further, and rarely
        assert (gpu - cpu).abs().max() <= 1
        assert (gpu != cpu).float().mean() <= 1e-3


def test_table1_rows_run_on_cuda():
    rows = [row for row in table1.ROWS
            if row.key in ("clean", "conv4_mp_q_unlearned", "conv1_mp_q_a1_learned")]
    results, sweeps = table1.run_table1(tiny_splits(), TINY, seeds=(0,), rows=rows,
                                        progress=False, device="cuda")
    assert [item.status for item in results] == ["ok"] * 3
    for item in results:
        assert 0.0 <= item.result.privacy.top1.mean <= 1.0
        assert 0.0 <= item.result.utility.test_accuracy.mean <= 1.0
    learned = results[-1].camera
    assert all(p.device.type == "cpu" for p in learned.parameters())  # kept on the CPU
    assert torch.all(learned.thresholds[1:] >= learned.thresholds[:-1])
    assert results[1].physical is not None
    assert [s for s, _ in sweeps["blur"]] == [8.0]
