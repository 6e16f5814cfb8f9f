"""AP@0.5 and FDDB's discrete ROC against hand-computed examples and pycocotools."""
import numpy as np
import pytest

from learn.detection.metrics import average_precision, box_iou, discrete_roc, precision_recall

# Two images; every IoU below is worked out by hand in the comments.
GROUND_TRUTH = [np.array([[0, 0, 10, 10], [20, 20, 30, 30]], float),
                np.array([[0, 0, 10, 10]], float)]
PREDICTIONS = [
    (np.array([[0, 0, 10, 10],      # 0.9: IoU 1 with the first face -> TP
               [0, 0, 10, 10],      # 0.7: duplicate of a matched face -> FP
               [20, 20, 30, 40]]),  # 0.5: IoU 100/200 = 0.5 with the second face -> TP
     np.array([0.9, 0.7, 0.5])),
    (np.array([[50, 50, 60, 60],    # 0.8: touches nothing -> FP
               [0, 0, 10, 8]]),     # 0.6: IoU 80/100 -> TP
     np.array([0.8, 0.6])),
]


def test_box_iou_hand_values():
    iou = box_iou(np.array([[0, 0, 10, 10]]), np.array([[5, 0, 15, 10], [10, 10, 20, 20],
                                                        [0, 0, 10, 10]]))
    np.testing.assert_allclose(iou, [[50 / 150, 0.0, 1.0]])


def test_ranking_and_all_points_ap_by_hand():
    curve = precision_recall(PREDICTIONS, GROUND_TRUTH)
    # ranked: 0.9 TP, 0.8 FP, 0.7 FP, 0.6 TP, 0.5 TP; 3 faces
    np.testing.assert_array_equal(curve.true_positive, [True, False, False, True, True])
    np.testing.assert_allclose(curve.precision, [1, 1 / 2, 1 / 3, 2 / 4, 3 / 5])
    np.testing.assert_allclose(curve.recall, [1 / 3, 1 / 3, 1 / 3, 2 / 3, 1])
    # envelope [1, .6, .6, .6, .6]; recall steps 1/3 each -> (1 + .6 + .6) / 3
    assert average_precision(PREDICTIONS, GROUND_TRUTH) == pytest.approx(2.2 / 3)
    # 101-point: recalls 0..0.33 (34 points) at 1.0, the other 67 points at 0.6
    assert average_precision(PREDICTIONS, GROUND_TRUTH, interpolation="coco101") == \
        pytest.approx((34 + 67 * 0.6) / 101)


def test_ap_edge_cases_and_errors():
    assert average_precision([(np.empty((0, 4)), np.empty(0))], [np.empty((0, 4))]) == 0.0
    perfect = [(g, np.linspace(1, 0.5, len(g))) for g in GROUND_TRUTH]
    assert average_precision(perfect, GROUND_TRUTH) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="iou_threshold"):
        average_precision(PREDICTIONS, GROUND_TRUTH, iou_threshold=1.5)
    with pytest.raises(ValueError, match="same images"):
        average_precision(PREDICTIONS[:1], GROUND_TRUTH)
    with pytest.raises(ValueError, match="interpolation"):
        average_precision(PREDICTIONS, GROUND_TRUTH, interpolation="11point")


def test_discrete_roc_by_hand():
    roc = discrete_roc(PREDICTIONS, GROUND_TRUTH)
    np.testing.assert_allclose(roc.thresholds, [0.9, 0.8, 0.7, 0.6, 0.5])
    np.testing.assert_array_equal(roc.true_positives, [1, 1, 1, 2, 3])
    np.testing.assert_array_equal(roc.false_positives, [0, 1, 2, 2, 2])
    assert roc.tpr_at_false_positives(1) == pytest.approx(1 / 3)
    assert roc.tpr_at_false_positives(2) == pytest.approx(1.0)


def test_discrete_roc_uses_bipartite_matching_not_greedy():
    # faces g1 = [0,10], g2 = [4,14] (x extents, height 10).
    # d1 = [1,11] (score .9): IoU(g1) = 90/110, IoU(g2) = 70/130 -> both allowed
    # d2 = [-1,9] (score .8): IoU(g1) = 90/110, IoU(g2) = 50/150 -> only g1
    truth = [np.array([[0, 0, 10, 10], [4, 0, 14, 10]], float)]
    pred = [(np.array([[1, 0, 11, 10], [-1, 0, 9, 10]], float), np.array([0.9, 0.8]))]
    # greedy (AP rule): d1 takes g1, d2 is left with g2 at 0.33 -> one TP
    np.testing.assert_array_equal(precision_recall(pred, truth).true_positive, [True, False])
    # FDDB's maximum-weight matching: d1-g2 and d2-g1 -> two TPs at the lower threshold
    roc = discrete_roc(pred, truth)
    np.testing.assert_array_equal(roc.true_positives, [1, 2])
    np.testing.assert_array_equal(roc.false_positives, [0, 0])


def _random_detection_problem(seed, images=40):
    rng = np.random.default_rng(seed)
    truth, pred = [], []
    for _ in range(images):
        n = rng.integers(0, 5)
        xy = rng.uniform(0, 200, (n, 2))
        wh = rng.uniform(10, 50, (n, 2))
        gt = np.concatenate([xy, xy + wh], 1)
        jitter = gt + rng.normal(0, 4, gt.shape)
        keep = rng.random(n) < 0.8
        false = rng.uniform(0, 200, (rng.integers(0, 4), 2))
        false = np.concatenate([false, false + rng.uniform(10, 50, false.shape)], 1)
        boxes = np.concatenate([jitter[keep], false])
        boxes[:, 2:] = np.maximum(boxes[:, 2:], boxes[:, :2] + 1)
        truth.append(gt)
        scores = np.concatenate([rng.uniform(0.3, 1.0, keep.sum()),
                                 rng.uniform(0.0, 0.7, len(false))])
        pred.append((boxes, scores))
    return pred, truth


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_ap_matches_pycocotools(seed):
    pytest.importorskip("pycocotools")
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval
    pred, truth = _random_detection_problem(seed)
    gt_json = {"images": [{"id": i + 1, "width": 256, "height": 256} for i in range(len(truth))],
               "categories": [{"id": 1, "name": "face"}], "annotations": []}
    results = []
    for i, (gt, (boxes, scores)) in enumerate(zip(truth, pred)):
        for box in gt:
            gt_json["annotations"].append({
                "id": len(gt_json["annotations"]) + 1, "image_id": i + 1, "category_id": 1,
                "bbox": [box[0], box[1], box[2] - box[0], box[3] - box[1]],
                "area": (box[2] - box[0]) * (box[3] - box[1]), "iscrowd": 0})
        for box, score in zip(boxes, scores):
            results.append({"image_id": i + 1, "category_id": 1, "score": float(score),
                            "bbox": [box[0], box[1], box[2] - box[0], box[3] - box[1]]})
    coco = COCO()
    coco.dataset = gt_json
    coco.createIndex()
    evaluation = COCOeval(coco, coco.loadRes(results), "bbox")
    evaluation.params.iouThrs = np.array([0.5])
    evaluation.params.maxDets = [1000]
    evaluation.params.areaRng = [[0, 1e10]]
    evaluation.params.areaRngLbl = ["all"]
    evaluation.evaluate()
    evaluation.accumulate()
    peer = float(np.mean(evaluation.eval["precision"][0, :, 0, 0, 0]))
    ours = average_precision(pred, truth, interpolation="coco101")
    assert ours == pytest.approx(peer, abs=1e-9)
    assert 0.3 < ours < 0.95   # a real, non-trivial problem
