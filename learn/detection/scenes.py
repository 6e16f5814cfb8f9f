"""A seeded synthetic face-detection data set built from the bundled photographs.

Each scene is a square mosaic of no-face photographs (1, 2x2 or 4x4 tiles, each tile 64..128 px,
randomly mirrored) with 0 to ``max_faces`` faces pasted at random positions, face sizes drawn
uniformly in ``[min_face, max_face]`` pixels (16-48 by default; the paper caps FDDB faces at
about 40 px). Faces come from the head-and-shoulders crops of ``faces64_wide`` (LFW), where the
face (eyebrows to chin, the tight ``faces64`` crop) is the square ``WIDE_FACE_BOX``. A face is
pasted with a feathered elliptical alpha mask (opaque over the face, a raised-cosine fall-off
over hair and neck) so that no straight patch edge gives it away; its ground-truth box is the
square face box, like WIDER FACE's forehead-to-chin boxes. Faces do not overlap.

Compositing is done on sRGB values (as image editors do); scenes are uint8 sRGB NHWC, turned
into linear-light tensors for the camera with ``learn.datasets.to_tensor``.

Identity hygiene (:func:`detection_scene_sets`): training scenes use only the faces of the
encoder identities and the encoder/eval-train no-face images; test scenes use only the evaluation
identities' test faces and the test no-face images, so the detector is scored on people and
backgrounds it never saw.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

#: The face (tight crop) inside a 64 px ``faces64_wide`` image, [x1, y1, x2, y2] pixels: the
#: tight box (61, 68, 189, 196) of the 250 px LFW frame seen through the wide box
#: (22, 29, 227, 234), scaled by 64 / 205 (data/PROVENANCE.md).
WIDE_FACE_BOX = tuple(v * 64.0 / 205.0 for v in (61 - 22, 68 - 29, 189 - 22, 196 - 29))


@dataclass(frozen=True)
class SceneConfig:
    """How scenes are composed.

    Attributes
    ----------
    size : int
        Scene side in pixels (a multiple of 8 and >= 64).
    min_face, max_face : float
        Range of face-box sides in pixels (8 <= min_face <= max_face <= size / 2).
    max_faces : int
        Faces per scene are uniform in ``0..max_faces``.
    opaque_radius : float
        Normalised elliptical radius (0..1) up to which the pasted face is fully opaque; the
        alpha falls to 0 at radius 1 along a raised cosine.
    ellipse : tuple of float
        Semi-axes (x, y) of the alpha ellipse in units of the face-box side.
    """

    size: int = 256
    min_face: float = 16.0
    max_face: float = 48.0
    max_faces: int = 4
    opaque_radius: float = 0.7
    ellipse: tuple = (0.68, 0.85)

    def __post_init__(self) -> None:
        if not isinstance(self.size, (int, np.integer)) or self.size < 64 or self.size % 8:
            raise ValueError(f"size: {self.size!r} is not allowed; need an integer >= 64 that "
                             f"is a multiple of 8")
        if not 8 <= self.min_face <= self.max_face <= self.size / 2:
            raise ValueError(f"min_face, max_face: ({self.min_face}, {self.max_face}) is not "
                             f"allowed; need 8 <= min_face <= max_face <= size / 2 = "
                             f"{self.size / 2}")
        if not isinstance(self.max_faces, (int, np.integer)) or not 0 <= self.max_faces <= 16:
            raise ValueError(f"max_faces: {self.max_faces!r} is not allowed; need an integer "
                             f"in [0, 16]")
        if not 0.0 <= self.opaque_radius < 1.0:
            raise ValueError(f"opaque_radius: {self.opaque_radius} is outside [0, 1)")


@dataclass
class SceneSet:
    """Scenes and their ground truth.

    Attributes
    ----------
    images : ndarray uint8 [N, S, S, 3]
        sRGB scenes.
    boxes : list of ndarray [K_i, 4] float64
        Face boxes ``[x1, y1, x2, y2]`` in pixels, per scene.
    face_index : list of ndarray [K_i] int64
        Which source face was pasted for each box (provenance).
    seed : int
        The seed that made the set.
    """

    images: np.ndarray
    boxes: list
    face_index: list = field(default_factory=list)
    seed: int = 0

    def __len__(self) -> int:
        return int(self.images.shape[0])

    @property
    def num_faces(self) -> int:
        """Total number of faces over all scenes."""
        return int(sum(len(b) for b in self.boxes))

    def to_tensor(self):
        """float32 [N, 3, S, S] linear RGB in [0, 1] (``learn.datasets.to_tensor``)."""
        from learn.datasets import to_tensor

        return to_tensor(self.images)


def _cv2():
    import cv2

    return cv2


def _background(nonfaces: np.ndarray, size: int, rng: np.random.Generator) -> np.ndarray:
    """A size x size mosaic of randomly chosen, randomly mirrored no-face images."""
    cv2 = _cv2()
    grids = [g for g in (1, 2, 4, 8) if 64 <= size // g <= 128] or [1]
    grid = int(rng.choice(grids))
    tile = size // grid
    canvas = np.empty((size, size, 3), dtype=np.uint8)
    for row in range(grid):
        for col in range(grid):
            image = nonfaces[rng.integers(len(nonfaces))]
            if rng.random() < 0.5:
                image = image[:, ::-1]
            image = cv2.resize(np.ascontiguousarray(image), (tile, tile),
                               interpolation=cv2.INTER_LINEAR if tile > image.shape[0]
                               else cv2.INTER_AREA)
            canvas[row * tile:(row + 1) * tile, col * tile:(col + 1) * tile] = image
    return canvas


def _alpha(patch: int, face_center: "tuple[float, float]", side: float,
           config: SceneConfig) -> np.ndarray:
    """Feathered elliptical alpha [patch, patch] centred on the face (pixels)."""
    coords = np.arange(patch) + 0.5
    dx = (coords[None, :] - face_center[0]) / (config.ellipse[0] * side)
    dy = (coords[:, None] - face_center[1]) / (config.ellipse[1] * side)
    radius = np.sqrt(dx ** 2 + dy ** 2)
    ramp = np.clip((radius - config.opaque_radius) / (1.0 - config.opaque_radius), 0.0, 1.0)
    return 0.5 * (1.0 + np.cos(np.pi * ramp))


def _paste(canvas: np.ndarray, face: np.ndarray, side: float, origin: np.ndarray,
           config: SceneConfig) -> np.ndarray:
    """Blend one wide face crop into ``canvas`` so its face box has ``side`` px at ``origin``.

    Returns the face box [x1, y1, x2, y2] in scene pixels.
    """
    cv2 = _cv2()
    fx1, fy1, fx2, fy2 = WIDE_FACE_BOX
    scale = side / (fx2 - fx1)
    patch = int(round(face.shape[0] * scale))
    face_image = cv2.resize(np.ascontiguousarray(face), (patch, patch),
                            interpolation=cv2.INTER_AREA if patch < face.shape[0]
                            else cv2.INTER_LINEAR).astype(np.float32)
    scale = patch / face.shape[0]
    face_box = np.array(WIDE_FACE_BOX) * scale
    size = canvas.shape[0]
    # patch position in the scene, whole pixels, keeping the face box inside the scene
    top_left = np.clip(np.round(origin - face_box[:2]), np.ceil(-face_box[:2]),
                       np.floor(size - face_box[2:])).astype(int)
    box = np.concatenate([top_left + face_box[:2], top_left + face_box[2:]])
    alpha = _alpha(patch, ((face_box[0] + face_box[2]) / 2, (face_box[1] + face_box[3]) / 2),
                   face_box[2] - face_box[0], config)[..., None]
    x0, y0 = max(top_left[0], 0), max(top_left[1], 0)
    x1, y1 = min(top_left[0] + patch, size), min(top_left[1] + patch, size)
    sub = (slice(y0 - top_left[1], y1 - top_left[1]), slice(x0 - top_left[0], x1 - top_left[0]))
    region = canvas[y0:y1, x0:x1].astype(np.float32)
    blended = alpha[sub] * face_image[sub] + (1.0 - alpha[sub]) * region
    canvas[y0:y1, x0:x1] = np.clip(np.round(blended), 0, 255).astype(np.uint8)
    return box


def make_scenes(faces: np.ndarray, nonfaces: np.ndarray, count: int,
                config: SceneConfig = SceneConfig(), seed: int = 0,
                progress: bool = False) -> SceneSet:
    """Compose ``count`` scenes (see the module docstring), deterministically for ``seed``.

    Parameters
    ----------
    faces : ndarray uint8 [F, 64, 64, 3]
        Head-and-shoulders face crops in the ``faces64_wide`` framing (``WIDE_FACE_BOX``).
    nonfaces : ndarray uint8 [B, h, w, 3]
        No-face photographs for the backgrounds.
    count : int
        Number of scenes (>= 1).
    config : SceneConfig
    seed : int
    progress : bool
        Show a tqdm bar.

    Returns
    -------
    SceneSet
    """
    faces = np.asarray(faces)
    nonfaces = np.asarray(nonfaces)
    if faces.ndim != 4 or faces.shape[1:] != (64, 64, 3) or faces.dtype != np.uint8:
        raise ValueError(f"faces: shape {faces.shape} dtype {faces.dtype} is not allowed; need "
                         f"uint8 [F, 64, 64, 3] in the faces64_wide framing")
    if len(faces) == 0 and config.max_faces > 0:
        raise ValueError("faces: empty; need at least one face image")
    if nonfaces.ndim != 4 or nonfaces.shape[-1] != 3 or len(nonfaces) == 0:
        raise ValueError(f"nonfaces: shape {nonfaces.shape} is not allowed; need uint8 "
                         f"[B >= 1, h, w, 3]")
    if not isinstance(count, (int, np.integer)) or count < 1:
        raise ValueError(f"count: {count!r} is not allowed; need an integer >= 1")
    from tqdm import tqdm

    rng = np.random.default_rng(seed)
    images = np.empty((count, config.size, config.size, 3), dtype=np.uint8)
    all_boxes, all_index = [], []
    for n in tqdm(range(count), desc="scenes", disable=not progress, leave=False):
        canvas = _background(nonfaces, config.size, rng)
        boxes, index = [], []
        for _ in range(int(rng.integers(0, config.max_faces + 1))):
            side = rng.uniform(config.min_face, config.max_face)
            for _attempt in range(30):
                origin = rng.uniform(0, config.size - side, 2)
                candidate = np.concatenate([origin, origin + side])
                if all(_separated(candidate, other, margin=2.0) for other in boxes):
                    break
            else:
                continue
            face = int(rng.integers(len(faces)))
            if rng.random() < 0.5:
                source = faces[face][:, ::-1]   # the face box is centred (to 0.3 px)
            else:
                source = faces[face]
            boxes.append(_paste(canvas, source, side, origin, config))
            index.append(face)
        images[n] = canvas
        all_boxes.append(np.array(boxes, dtype=np.float64).reshape(-1, 4))
        all_index.append(np.array(index, dtype=np.int64))
    return SceneSet(images, all_boxes, all_index, int(seed))


def _separated(a: np.ndarray, b: np.ndarray, margin: float) -> bool:
    return (a[0] >= b[2] + margin or b[0] >= a[2] + margin or
            a[1] >= b[3] + margin or b[1] >= a[3] + margin)


def detection_scene_sets(splits, n_train: int, n_test: int, config: SceneConfig = SceneConfig(),
                         seed: int = 0, progress: bool = False) -> "tuple[SceneSet, SceneSet]":
    """Training and test scenes with identity-disjoint faces (see the module docstring).

    Parameters
    ----------
    splits : learn.datasets.Splits
        The identity split (its faces in the ``faces64_wide`` framing).
    n_train, n_test : int
        Number of scenes in each set.
    config : SceneConfig
    seed : int
        Seeds both sets (different streams).
    """
    train_faces = np.concatenate([splits.encoder_train.images, splits.encoder_val.images])
    train_backgrounds = np.concatenate([splits.nonfaces_encoder.images,
                                        splits.nonfaces_train.images])
    train = make_scenes(train_faces, train_backgrounds, n_train, config, seed=seed * 2 + 1,
                        progress=progress)
    test = make_scenes(splits.eval_test.images, splits.nonfaces_test.images, n_test, config,
                       seed=seed * 2 + 2, progress=progress)
    return train, test
