"""The heat-map detector: targets and decoding invert each other; mirroring; loss and shapes."""
import numpy as np
import pytest
import torch

from learn.detection.detector import (CenterNetDetector, _flip_targets, decode, detection_loss,
                                      make_targets, train_detector, TrainConfig)

BOXES = [np.array([[10.0, 12.0, 40.0, 42.0], [70.0, 80.0, 90.5, 101.0]]), np.empty((0, 4)),
         np.array([[100.0, 3.0, 127.0, 30.0]])]


def _perfect_outputs(targets):
    """Logits that put certainty exactly on the target centres and the exact regression."""
    heat = torch.where(targets["mask"] > 0, 20.0, -20.0)
    offset = targets["offset"].clamp(1e-6, 1 - 1e-6)
    regression = torch.cat([targets["size"], torch.log(offset / (1 - offset))], 1)
    return heat, regression


def test_decode_inverts_targets():
    targets = make_targets(BOXES, grid=16)
    assert targets["mask"].sum() == 3
    assert float(targets["heatmap"].max()) == 1.0
    decoded = decode(_perfect_outputs(targets), min_score=0.5)
    for (boxes, scores), truth in zip(decoded, BOXES):
        assert len(boxes) == len(truth)
        order = np.lexsort((boxes[:, 1], boxes[:, 0]))
        np.testing.assert_allclose(boxes[order], truth[np.lexsort((truth[:, 1], truth[:, 0]))],
                                   atol=1e-3)


def test_flipped_targets_equal_targets_of_mirrored_boxes():
    size = 128
    mirrored = [np.stack([size - b[:, 2], b[:, 1], size - b[:, 0], b[:, 3]], 1) if len(b) else b
                for b in BOXES]
    flipped = _flip_targets(make_targets(BOXES, 16), torch.tensor([True, True, True]))
    direct = make_targets(mirrored, 16)
    for key in ("heatmap", "mask", "size"):
        torch.testing.assert_close(flipped[key], direct[key])
    torch.testing.assert_close(flipped["offset"], direct["offset"], atol=1e-5, rtol=0)


def test_loss_prefers_the_truth_and_shapes():
    targets = make_targets(BOXES, grid=16)
    perfect = detection_loss(_perfect_outputs(targets), targets)
    wrong = detection_loss((torch.zeros(3, 1, 16, 16), torch.zeros(3, 4, 16, 16)), targets)
    assert perfect < 0.05 * wrong
    image_model = CenterNetDetector(3, input_stride=1)
    code_model = CenterNetDetector(12, input_stride=8, input_scale=15.0)
    heat, regression = image_model(torch.rand(2, 3, 128, 128))
    assert heat.shape == (2, 1, 16, 16) and regression.shape == (2, 4, 16, 16)
    heat, regression = code_model(torch.rand(2, 12, 16, 16) * 15)
    assert heat.shape == (2, 1, 16, 16)
    with pytest.raises(ValueError, match="input_stride"):
        CenterNetDetector(3, input_stride=4)
    with pytest.raises(ValueError, match="epochs"):
        TrainConfig(epochs=0)


def test_training_learns_bright_squares():
    """Closed-form task: white squares on black, codes on the grid; AP must come out high."""
    from learn.detection.metrics import average_precision
    from learn.detection.detector import predict

    rng = np.random.default_rng(0)
    images, boxes = [], []
    for _ in range(96):
        image = np.zeros((1, 64, 64), np.float32)
        scene = []
        for _ in range(rng.integers(1, 3)):
            side = rng.uniform(12, 28)
            x, y = rng.uniform(0, 64 - side, 2)
            if all(x > b[2] + 2 or b[0] > x + side + 2 or y > b[3] + 2 or b[1] > y + side + 2
                   for b in scene):
                scene.append([x, y, x + side, y + side])
                image[0, int(y):int(y + side), int(x):int(x + side)] = 1.0
        images.append(image)
        boxes.append(np.array(scene))
    codes = torch.nn.functional.avg_pool2d(torch.from_numpy(np.stack(images)), 8)
    model = train_detector(codes[:64], boxes[:64], input_stride=8,
                           config=TrainConfig(epochs=20, batch_size=16, learning_rate=5e-3))
    assert average_precision(predict(model, codes[64:]), boxes[64:]) > 0.8
