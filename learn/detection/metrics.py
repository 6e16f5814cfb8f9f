"""Detection metrics as the field computes them: AP at an IoU threshold and FDDB's discrete ROC.

Boxes are ``[x1, y1, x2, y2]`` in pixels, continuous coordinates (a box covering pixel columns
0..9 is ``[0, 10]``): width ``x2 - x1``, no ``+1`` (the COCO convention; the VOC devkit's
``+1`` is for integer-inclusive boxes). A detection matches a ground-truth box when their IoU is
``>= iou_threshold``.

Average precision (:func:`average_precision`)
    Detections of all images are ranked by score; each one, in that order, is matched to the
    unmatched ground-truth box of its image with the highest IoU (the COCO rule); matched ones
    are true positives, the rest false positives. ``interpolation="all_points"`` is the VOC
    2010+ area under the monotone precision envelope; ``"coco101"`` samples the envelope at
    the 101 recalls 0, 0.01, ..., 1 as ``pycocotools`` does.

FDDB discrete ROC (:func:`discrete_roc`)
    Jain & Learned-Miller (2010): for each score threshold, the detections above it are matched
    to the annotations of their image by a maximum-weight bipartite matching whose weights are
    the IoUs (pairs below the threshold IoU are not allowed); every matched pair scores 1
    (true positive), every other detection is a false positive. The curve is the true positive
    rate (matched / annotated faces) against the total number of false positives.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
from scipy.optimize import linear_sum_assignment

INTERPOLATIONS = ("all_points", "coco101")


def box_iou(boxes_a: np.ndarray, boxes_b: np.ndarray) -> np.ndarray:
    """IoU of every box in ``boxes_a`` [A, 4] with every box in ``boxes_b`` [B, 4] -> [A, B].

    Boxes are ``[x1, y1, x2, y2]`` in pixels; degenerate boxes have zero area and IoU 0.
    """
    a = np.asarray(boxes_a, dtype=np.float64).reshape(-1, 4)
    b = np.asarray(boxes_b, dtype=np.float64).reshape(-1, 4)
    width = np.clip(np.minimum(a[:, None, 2], b[None, :, 2])
                    - np.maximum(a[:, None, 0], b[None, :, 0]), 0, None)
    height = np.clip(np.minimum(a[:, None, 3], b[None, :, 3])
                     - np.maximum(a[:, None, 1], b[None, :, 1]), 0, None)
    inter = width * height
    area_a = np.clip(a[:, 2] - a[:, 0], 0, None) * np.clip(a[:, 3] - a[:, 1], 0, None)
    area_b = np.clip(b[:, 2] - b[:, 0], 0, None) * np.clip(b[:, 3] - b[:, 1], 0, None)
    union = area_a[:, None] + area_b[None, :] - inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)


@dataclass(frozen=True)
class PrecisionRecall:
    """Ranked detections of a whole data set scored against the ground truth.

    Attributes
    ----------
    scores : ndarray [D]
        Detection scores, descending.
    true_positive : ndarray of bool [D]
        Whether each ranked detection matched a ground-truth box.
    num_ground_truth : int
        Number of ground-truth boxes in the data set.
    """

    scores: np.ndarray
    true_positive: np.ndarray
    num_ground_truth: int

    @property
    def recall(self) -> np.ndarray:
        """Recall after each ranked detection, [D]."""
        return np.cumsum(self.true_positive) / max(self.num_ground_truth, 1)

    @property
    def precision(self) -> np.ndarray:
        """Precision after each ranked detection, [D]."""
        return np.cumsum(self.true_positive) / np.arange(1, len(self.scores) + 1)


def _check_inputs(predictions: Sequence, ground_truth: Sequence, iou_threshold: float) -> None:
    if len(predictions) != len(ground_truth):
        raise ValueError(f"predictions: {len(predictions)} images, but ground_truth has "
                         f"{len(ground_truth)}; they must list the same images in the same order")
    if not 0.0 < iou_threshold <= 1.0:
        raise ValueError(f"iou_threshold: {iou_threshold} is outside (0, 1]")


def _as_prediction(prediction) -> "tuple[np.ndarray, np.ndarray]":
    boxes, scores = prediction
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    scores = np.asarray(scores, dtype=np.float64).reshape(-1)
    if len(boxes) != len(scores):
        raise ValueError(f"predictions: {len(boxes)} boxes but {len(scores)} scores in one image")
    return boxes, scores


def precision_recall(predictions: Sequence, ground_truth: Sequence,
                     iou_threshold: float = 0.5) -> PrecisionRecall:
    """Rank all detections and mark true positives with the COCO matching rule.

    Parameters
    ----------
    predictions : sequence of (boxes [D_i, 4], scores [D_i])
        Per image, detected boxes (pixels, x1 y1 x2 y2) and their scores.
    ground_truth : sequence of ndarray [G_i, 4]
        Per image, the annotated boxes (pixels).
    iou_threshold : float
        Minimum IoU for a match, in (0, 1].
    """
    _check_inputs(predictions, ground_truth, iou_threshold)
    all_scores, all_tp = [], []
    for prediction, truth in zip(predictions, ground_truth):
        boxes, scores = _as_prediction(prediction)
        truth = np.asarray(truth, dtype=np.float64).reshape(-1, 4)
        order = np.argsort(-scores, kind="mergesort")
        boxes, scores = boxes[order], scores[order]
        iou = box_iou(boxes, truth)
        matched = np.zeros(len(truth), dtype=bool)
        tp = np.zeros(len(boxes), dtype=bool)
        for d in range(len(boxes)):
            candidates = np.where(matched, -1.0, iou[d]) if len(truth) else np.empty(0)
            if len(candidates) and candidates.max() >= iou_threshold:
                g = int(np.argmax(candidates))
                matched[g] = True
                tp[d] = True
        all_scores.append(scores)
        all_tp.append(tp)
    scores = np.concatenate(all_scores) if all_scores else np.empty(0)
    tp = np.concatenate(all_tp) if all_tp else np.empty(0, dtype=bool)
    order = np.argsort(-scores, kind="mergesort")
    num_gt = int(sum(np.asarray(t).reshape(-1, 4).shape[0] for t in ground_truth))
    return PrecisionRecall(scores[order], tp[order], num_gt)


def average_precision(predictions: Sequence, ground_truth: Sequence, iou_threshold: float = 0.5,
                      interpolation: str = "all_points") -> float:
    """Average precision of the detections at ``iou_threshold`` (AP@0.5 by default).

    Parameters
    ----------
    predictions, ground_truth, iou_threshold
        As in :func:`precision_recall`.
    interpolation : {"all_points", "coco101"}
        ``"all_points"``: VOC 2010+ area under the precision envelope; ``"coco101"``: mean of
        the envelope at recalls 0, 0.01, ..., 1 (pycocotools).

    Returns
    -------
    float
        AP in [0, 1]; 0 when there is no ground truth or no detection.
    """
    if interpolation not in INTERPOLATIONS:
        raise ValueError(f"interpolation: {interpolation!r} is not one of {INTERPOLATIONS}")
    curve = precision_recall(predictions, ground_truth, iou_threshold)
    if curve.num_ground_truth == 0 or len(curve.scores) == 0:
        return 0.0
    return ap_from_curve(curve.precision, curve.recall, interpolation)


def ap_from_curve(precision: np.ndarray, recall: np.ndarray,
                  interpolation: str = "all_points") -> float:
    """AP from a ranked precision/recall curve ([D] each, recall non-decreasing)."""
    envelope = np.maximum.accumulate(np.asarray(precision, dtype=np.float64)[::-1])[::-1]
    recall = np.asarray(recall, dtype=np.float64)
    if interpolation == "all_points":
        steps = np.diff(np.concatenate([[0.0], recall]))
        return float(np.sum(steps * envelope))
    if interpolation == "coco101":
        points = np.linspace(0.0, 1.0, 101)
        index = np.searchsorted(recall, points, side="left")
        sampled = np.where(index < len(recall), envelope[np.minimum(index, len(recall) - 1)], 0.0)
        return float(np.mean(sampled))
    raise ValueError(f"interpolation: {interpolation!r} is not one of {INTERPOLATIONS}")


@dataclass(frozen=True)
class DiscreteROC:
    """FDDB discrete ROC: one point per distinct score threshold, thresholds descending.

    Attributes
    ----------
    thresholds : ndarray [T]
        Score thresholds (a detection counts when its score is ``>=`` the threshold).
    true_positives, false_positives : ndarray of int [T]
        Matched faces and unmatched detections over the whole data set at each threshold.
    num_faces : int
        Annotated faces in the data set.
    """

    thresholds: np.ndarray
    true_positives: np.ndarray
    false_positives: np.ndarray
    num_faces: int

    @property
    def true_positive_rate(self) -> np.ndarray:
        """True positives / annotated faces at each threshold, [T]."""
        return self.true_positives / max(self.num_faces, 1)

    def tpr_at_false_positives(self, false_positives: int) -> float:
        """Highest TPR reached with at most ``false_positives`` false positives (0 if none)."""
        allowed = self.false_positives <= false_positives
        return float(self.true_positive_rate[allowed].max()) if np.any(allowed) else 0.0


def _matched_counts(iou: np.ndarray, iou_threshold: float) -> np.ndarray:
    """Matched faces for the top-k detections of one image, k = 0..D (FDDB bipartite rule).

    ``iou`` is [D, G] with detections already sorted by descending score.
    """
    counts = np.zeros(iou.shape[0] + 1, dtype=np.int64)
    if iou.shape[1] == 0:
        return counts
    weights = np.where(iou >= iou_threshold, iou, 0.0)
    for k in range(1, iou.shape[0] + 1):
        rows, cols = linear_sum_assignment(weights[:k], maximize=True)
        counts[k] = int(np.count_nonzero(weights[:k][rows, cols] >= iou_threshold))
    return counts


def discrete_roc(predictions: Sequence, ground_truth: Sequence,
                 iou_threshold: float = 0.5) -> DiscreteROC:
    """FDDB discrete ROC of the detections (TPR against the number of false positives).

    Parameters are as in :func:`precision_recall`. At every threshold each image's detections
    with score ``>=`` the threshold are matched to its faces by a maximum-IoU bipartite
    matching (scipy's Hungarian solver), as FDDB's evaluation program does.
    """
    _check_inputs(predictions, ground_truth, iou_threshold)
    event_scores, event_gain = [], []
    for prediction, truth in zip(predictions, ground_truth):
        boxes, scores = _as_prediction(prediction)
        order = np.argsort(-scores, kind="mergesort")
        counts = _matched_counts(box_iou(boxes[order], truth), iou_threshold)
        event_scores.append(scores[order])
        event_gain.append(np.diff(counts))
    scores = np.concatenate(event_scores) if event_scores else np.empty(0)
    gain = np.concatenate(event_gain) if event_gain else np.empty(0, dtype=np.int64)
    num_faces = int(sum(np.asarray(t).reshape(-1, 4).shape[0] for t in ground_truth))
    order = np.argsort(-scores, kind="mergesort")
    scores, gain = scores[order], gain[order]
    true_positives = np.cumsum(gain)
    detections = np.arange(1, len(scores) + 1)
    # one point per distinct threshold: the last detection with each score value
    last = np.r_[scores[1:] != scores[:-1], True] if len(scores) else np.empty(0, dtype=bool)
    return DiscreteROC(thresholds=scores[last], true_positives=true_positives[last],
                       false_positives=(detections - true_positives)[last], num_faces=num_faces)
