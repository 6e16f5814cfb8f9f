"""The paper's Experiment 3 on the synthetic scenes: detectors trained per encoding, one protocol.

For each configuration (clean scenes, Gaussian blur, pixelation, the two published alpha = 1
CAnOPICs) the same training and test scenes are encoded, a :class:`CenterNetDetector` is trained
from scratch on the encoded training scenes with the same settings and seed, and its detections on
the encoded test scenes are scored against the scenes' boxes: AP@0.5 (VOC all-points and COCO
101-point) and FDDB's discrete ROC. Outputs (:func:`write_results`): ``detection.csv`` (one row
per configuration), ``roc.csv``, figures like the paper's Fig. 6a/6b and a manifest.
"""
from __future__ import annotations

import csv
import io
import os
import time
from dataclasses import asdict, dataclass, field
from typing import Callable, Sequence

import torch

from canopic.core.files import sha256_file, write_json, write_text
from learn.detection.detector import TrainConfig, predict, train_detector
from learn.detection.metrics import DiscreteROC, average_precision, discrete_roc
from learn.detection.scenes import SceneConfig, SceneSet, detection_scene_sets

CANOPICS = ("Learned_Conv1_Maxpool_Quantize_alpha1", "Learned_Conv4_Maxpool_Quantize_alpha1")
CONFIGURATIONS = ("clean", "blur", "pixelate") + CANOPICS
#: False-positive counts at which detection.csv reports the discrete ROC's TPR.
ROC_FALSE_POSITIVES = (10, 50, 100)
SCHEMA = "canopic.detection/1"


@dataclass(frozen=True)
class Profile:
    """Sizes of one evaluation run.

    Attributes
    ----------
    scenes : SceneConfig
    n_train, n_test : int
        Training and test scenes.
    train : TrainConfig
    seed : int
        Seeds the identity split, the scenes and the camera noise.
    """

    scenes: SceneConfig
    n_train: int
    n_test: int
    train: TrainConfig
    seed: int = 0


PROFILES = {
    # CI-sized: about a minute of training per image configuration on a quiet 2-core CPU
    "quick": Profile(SceneConfig(size=128, max_faces=3), n_train=192, n_test=64,
                     train=TrainConfig(epochs=6, batch_size=16)),
    "full": Profile(SceneConfig(size=128, max_faces=4), n_train=1280, n_test=200,
                    train=TrainConfig(epochs=12, batch_size=32)),
}


@dataclass
class Encoding:
    """How one configuration turns linear scenes [N, 3, S, S] into detector inputs.

    Attributes
    ----------
    name : str
    encode : callable
        ``encode(images, generator) -> Tensor``.
    input_stride : int
        Scene pixels per output pixel (1 full resolution, 8 on the code grid).
    input_scale : float
        Full scale of the values (15 for 4-bit codes).
    mirror_symmetric : bool
        Whether encoding commutes with left-right mirroring (then training may flip).
    """

    name: str
    encode: Callable
    input_stride: int
    input_scale: float = 1.0
    mirror_symmetric: bool = True


def make_encoding(name: str) -> Encoding:
    """The :class:`Encoding` of a configuration in ``CONFIGURATIONS`` or a published encoder name.

    Blur is ``sensor.baselines.gaussian_blur(sigma_px=8)`` at full resolution; pixelation is
    ``sensor.baselines.pixelate(block=8)`` (block means, on the 8x8 grid); a CAnOPIC is
    ``sensor.load_published_camera(name)`` in ``mode="hard"`` (noise from the generator).
    """
    if name == "clean":
        return Encoding(name, lambda images, generator: images, input_stride=1)
    if name == "blur":
        from sensor.baselines import gaussian_blur
        return Encoding(name, lambda images, generator: gaussian_blur(images, sigma_px=8.0),
                        input_stride=1)
    if name == "pixelate":
        from sensor.baselines import pixelate
        return Encoding(name, lambda images, generator: pixelate(images, block=8),
                        input_stride=8)
    if name.startswith("Learned_") or os.path.exists(name):
        from sensor import load_published_camera
        camera = load_published_camera(name)
        camera.eval()

        def capture(images, generator):
            with torch.no_grad():
                return camera(images, mode="hard", generator=generator)
        return Encoding(name, capture, input_stride=8, input_scale=15.0, mirror_symmetric=False)
    raise ValueError(f"configuration: {name!r} is not one of {CONFIGURATIONS} (or a published "
                     f"encoder name / file)")


def encode_scenes(encoding: Encoding, scenes: SceneSet, seed: int,
                  batch_size: int = 64) -> torch.Tensor:
    """Encode every scene (linear light), in batches, with noise seeded by ``seed``."""
    from learn.datasets import to_tensor

    generator = torch.Generator().manual_seed(int(seed))
    outputs = []
    for start in range(0, len(scenes), batch_size):
        images = to_tensor(scenes.images[start:start + batch_size])
        outputs.append(encoding.encode(images, generator).float())
    return torch.cat(outputs)


@dataclass
class ConfigurationResult:
    """Scores of one configuration.

    Attributes
    ----------
    name : str
    ap50 : float
        AP@0.5, VOC all-points interpolation.
    ap50_coco101 : float
        AP@0.5, COCO 101-point interpolation.
    roc : DiscreteROC
    predictions : list of (boxes [D, 4], scores [D])
        Test-scene detections in scene pixels.
    train_seconds : float
    test_inputs : Tensor
        The encoded test scenes (for figures).
    """

    name: str
    ap50: float
    ap50_coco101: float
    roc: DiscreteROC
    predictions: list
    train_seconds: float
    test_inputs: torch.Tensor = field(repr=False, default=None)


def evaluate_configuration(name: str, train: SceneSet, test: SceneSet, config: TrainConfig,
                           seed: int = 0, progress: bool = False) -> ConfigurationResult:
    """Encode, train a detector on ``train`` and score it on ``test`` for one configuration."""
    encoding = make_encoding(name)
    train_inputs = encode_scenes(encoding, train, seed=seed * 2 + 11)
    test_inputs = encode_scenes(encoding, test, seed=seed * 2 + 12)
    start = time.perf_counter()
    model = train_detector(train_inputs, train.boxes, encoding.input_stride, config,
                           input_scale=encoding.input_scale,
                           augment_flip=encoding.mirror_symmetric, progress=progress)
    seconds = time.perf_counter() - start
    predictions = predict(model, test_inputs)
    return ConfigurationResult(
        name, average_precision(predictions, test.boxes),
        average_precision(predictions, test.boxes, interpolation="coco101"),
        discrete_roc(predictions, test.boxes), predictions, seconds, test_inputs)


def run_experiment(profile: Profile, configurations: Sequence[str] = CONFIGURATIONS,
                   progress: bool = False) -> "tuple[list[ConfigurationResult], SceneSet]":
    """Build the scenes once and evaluate every configuration on them.

    Returns
    -------
    results : list of ConfigurationResult
    test : SceneSet
        The test scenes (for figures).
    """
    from learn.datasets import default_splits
    from tqdm import tqdm

    if not configurations:
        raise ValueError("configurations: empty; need at least one of " + ", ".join(CONFIGURATIONS))
    for name in configurations:
        if not (name in CONFIGURATIONS or name.startswith("Learned_") or os.path.exists(name)):
            raise ValueError(f"configuration: {name!r} is not one of {CONFIGURATIONS} (or a "
                             f"published encoder name / file)")
        make_encoding(name)  # a bad encoder file fails here, before any scene is built
    splits = default_splits(seed=profile.seed)
    train, test = detection_scene_sets(splits, profile.n_train, profile.n_test, profile.scenes,
                                       seed=profile.seed, progress=progress)
    results = []
    for name in tqdm(configurations, desc="configurations", disable=not progress):
        result = evaluate_configuration(name, train, test, profile.train, seed=profile.seed,
                                        progress=progress)
        if progress:
            tqdm.write(f"{name}: AP@0.5 {result.ap50:.3f} ({result.train_seconds:.0f} s training)")
        results.append(result)
    return results, test


def _csv_text(header: Sequence[str], rows: Sequence[Sequence]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue()


def write_results(out_dir: "str | os.PathLike[str]", results: Sequence[ConfigurationResult],
                  test: SceneSet, profile: Profile, profile_name: str = "custom",
                  figures: bool = True) -> "dict[str, str]":
    """Write detection.csv, roc.csv, the figures and a manifest into ``out_dir``.

    Returns
    -------
    dict
        File role -> path of every file written.
    """
    out_dir = os.fspath(out_dir)
    os.makedirs(out_dir, exist_ok=True)
    header = (["configuration", "ap50", "ap50_coco101"]
              + [f"tpr_at_{k}fp" for k in ROC_FALSE_POSITIVES]
              + ["test_scenes", "test_faces", "train_scenes", "epochs", "train_seconds", "seed"])
    rows = [[r.name, f"{r.ap50:.4f}", f"{r.ap50_coco101:.4f}"]
            + [f"{r.roc.tpr_at_false_positives(k):.4f}" for k in ROC_FALSE_POSITIVES]
            + [len(test), test.num_faces, profile.n_train, profile.train.epochs,
               f"{r.train_seconds:.1f}", profile.seed] for r in results]
    paths = {"detection": os.path.join(out_dir, "detection.csv"),
             "roc": os.path.join(out_dir, "roc.csv")}
    write_text(paths["detection"], _csv_text(header, rows))
    roc_rows = [[r.name, f"{t:.6f}", int(fp), int(tp), f"{tpr:.6f}"]
                for r in results for t, fp, tp, tpr in zip(
                    r.roc.thresholds, r.roc.false_positives, r.roc.true_positives,
                    r.roc.true_positive_rate)]
    write_text(paths["roc"], _csv_text(
        ["configuration", "threshold", "false_positives", "true_positives",
         "true_positive_rate"], roc_rows))
    if figures:
        from learn.detection.plots import plot_boxes_figure, plot_roc_figure
        paths["fig6a"] = os.path.join(out_dir, "fig6a_roc.png")
        plot_roc_figure(results, paths["fig6a"])
        shown = next((r for r in results if r.name == CANOPICS[0]), results[-1])
        paths["fig6b"] = os.path.join(out_dir, "fig6b_boxes.png")
        plot_boxes_figure(shown, test, paths["fig6b"])
    manifest = {"schema": SCHEMA, "profile": profile_name,
                "settings": {"scenes": asdict(profile.scenes), "n_train": profile.n_train,
                             "n_test": profile.n_test, "train": asdict(profile.train),
                             "seed": profile.seed},
                "files": {role: {"path": os.path.basename(path), "sha256": sha256_file(path)}
                          for role, path in paths.items()}}
    paths["manifest"] = os.path.join(out_dir, "detection_manifest.json")
    write_json(paths["manifest"], manifest)
    return paths
