"""Readers and writers for the usual face-detection annotation formats.

Every reader returns a list of :class:`ImageAnnotation` (one per image, in file order) with boxes
``[x1, y1, x2, y2]`` in pixels (continuous coordinates, see :mod:`learn.detection.metrics`).
Malformed files raise ``ValueError`` naming the file, the line (or JSON entry) and what was
expected; missing files raise ``FileNotFoundError``.

WIDER FACE (``wider_face_*_bbx_gt.txt``)
    Per image: the image path; the number of faces ``n``; ``n`` lines ``x y w h blur expression
    illumination invalid occlusion pose`` (``x, y`` the top-left corner, pixels). An image
    without faces has ``0`` followed by one line of ten zeros. ``invalid == 1`` -> ``ignore``.
FDDB (``FDDB-fold-XX-ellipseList.txt``)
    Per image: the image path (no extension); the number of faces; per face ``major_radius
    minor_radius angle center_x center_y 1`` (pixels, radians; the major axis is rotated by
    ``angle`` from the x axis). Boxes are the axis-aligned rectangles that bound the ellipses;
    the ellipses themselves are kept in ``ellipses``.
COCO (``instances_*.json``)
    ``images`` (``id``, ``file_name``, optional ``width``, ``height``), ``annotations``
    (``image_id``, ``category_id``, ``bbox = [x, y, w, h]``, optional ``iscrowd`` -> ``ignore``)
    and ``categories`` (``id``, ``name``).
"""
from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from canopic.core.files import write_json, write_text


@dataclass
class ImageAnnotation:
    """The faces annotated in one image.

    Attributes
    ----------
    file_name : str
        The image's path as written in the annotation file.
    boxes : ndarray [N, 4] float64
        Face boxes ``[x1, y1, x2, y2]`` in pixels.
    ignore : ndarray [N] bool
        Faces marked invalid (WIDER) or crowd (COCO).
    ellipses : ndarray [N, 5] float64 or None
        FDDB ellipses ``major_radius, minor_radius, angle, center_x, center_y`` (pixels, rad).
    width, height : int or None
        Image size in pixels where the format gives it.
    """

    file_name: str
    boxes: np.ndarray
    ignore: np.ndarray = field(default=None)
    ellipses: "np.ndarray | None" = None
    width: "int | None" = None
    height: "int | None" = None

    def __post_init__(self) -> None:
        self.boxes = np.asarray(self.boxes, dtype=np.float64).reshape(-1, 4)
        if self.ignore is None:
            self.ignore = np.zeros(len(self.boxes), dtype=bool)
        self.ignore = np.asarray(self.ignore, dtype=bool).reshape(-1)


def _read_lines(path: "str | os.PathLike[str]") -> "list[str]":
    if not os.path.isfile(path):
        raise FileNotFoundError(f"annotation file not found: {path}")
    with open(path, encoding="utf-8") as handle:
        return handle.read().splitlines()


class _LineReader:
    """Walks the non-empty lines of a text annotation file, for precise error messages."""

    def __init__(self, path) -> None:
        self.path = os.fspath(path)
        self.lines = [(number + 1, line.strip()) for number, line in enumerate(_read_lines(path))
                      if line.strip()]
        self.position = 0

    def done(self) -> bool:
        return self.position >= len(self.lines)

    def next(self, what: str) -> "tuple[int, str]":
        if self.done():
            raise ValueError(f"{self.path}: file ends where {what} was expected")
        item = self.lines[self.position]
        self.position += 1
        return item

    def count(self, what: str) -> int:
        number, text = self.next(what)
        try:
            value = int(text)
        except ValueError:
            raise ValueError(f"{self.path} line {number}: expected {what} (an integer >= 0), "
                             f"got {text!r}") from None
        if value < 0:
            raise ValueError(f"{self.path} line {number}: {what} is {value}; it must be >= 0")
        return value

    def numbers(self, what: str, expected: int) -> "tuple[int, list[float]]":
        number, text = self.next(what)
        fields = text.split()
        try:
            values = [float(v) for v in fields]
        except ValueError:
            values = []
        if len(values) != expected or not all(math.isfinite(v) for v in values):
            raise ValueError(f"{self.path} line {number}: expected {expected} numbers "
                             f"({what}), got {text!r}")
        return number, values


WIDER_FIELDS = "x y w h blur expression illumination invalid occlusion pose"


def read_wider(path: "str | os.PathLike[str]") -> "list[ImageAnnotation]":
    """Read a WIDER FACE ``bbx_gt.txt`` file (see the module docstring)."""
    reader = _LineReader(path)
    images = []
    while not reader.done():
        _, file_name = reader.next("an image path")
        count = reader.count(f"the face count of {file_name}")
        boxes, ignore = [], []
        for _ in range(max(count, 1)):
            number, values = reader.numbers(WIDER_FIELDS, 10)
            if count == 0:
                continue
            x, y, w, h = values[:4]
            if w < 0 or h < 0:
                raise ValueError(f"{reader.path} line {number}: box width {w} and height {h} "
                                 f"must be >= 0")
            boxes.append([x, y, x + w, y + h])
            ignore.append(values[7] != 0)
        images.append(ImageAnnotation(file_name, np.array(boxes).reshape(-1, 4), np.array(ignore)))
    return images


def write_wider(path: "str | os.PathLike[str]", images: Sequence[ImageAnnotation]) -> None:
    """Write ``images`` as a WIDER FACE ``bbx_gt.txt`` (attributes other than invalid: 0)."""
    lines = []
    for image in images:
        lines += [image.file_name, str(len(image.boxes))]
        for (x1, y1, x2, y2), ignored in zip(image.boxes, image.ignore):
            lines.append(f"{x1:g} {y1:g} {x2 - x1:g} {y2 - y1:g} 0 0 0 {int(ignored)} 0 0 ")
        if len(image.boxes) == 0:
            lines.append("0 0 0 0 0 0 0 0 0 0 ")
    write_text(path, "\n".join(lines) + "\n")


def ellipse_bounding_box(ellipses: np.ndarray) -> np.ndarray:
    """Axis-aligned boxes [N, 4] bounding FDDB ellipses [N, 5] (major, minor, angle, cx, cy).

    The half-extents of an ellipse with radii ``a`` (along ``angle``) and ``b`` are
    ``sqrt(a^2 cos^2 + b^2 sin^2)`` in x and ``sqrt(a^2 sin^2 + b^2 cos^2)`` in y.
    """
    e = np.asarray(ellipses, dtype=np.float64).reshape(-1, 5)
    a, b, angle, cx, cy = e.T
    half_x = np.sqrt((a * np.cos(angle)) ** 2 + (b * np.sin(angle)) ** 2)
    half_y = np.sqrt((a * np.sin(angle)) ** 2 + (b * np.cos(angle)) ** 2)
    return np.stack([cx - half_x, cy - half_y, cx + half_x, cy + half_y], axis=1)


def read_fddb(path: "str | os.PathLike[str]") -> "list[ImageAnnotation]":
    """Read an FDDB ``ellipseList`` file (see the module docstring)."""
    reader = _LineReader(path)
    images = []
    while not reader.done():
        _, file_name = reader.next("an image path")
        count = reader.count(f"the face count of {file_name}")
        ellipses = []
        for _ in range(count):
            number, values = reader.numbers(
                "major_radius minor_radius angle center_x center_y 1", 6)
            if values[0] <= 0 or values[1] <= 0:
                raise ValueError(f"{reader.path} line {number}: ellipse radii {values[0]} and "
                                 f"{values[1]} must be > 0")
            ellipses.append(values[:5])
        ellipses = np.array(ellipses, dtype=np.float64).reshape(-1, 5)
        images.append(ImageAnnotation(file_name, ellipse_bounding_box(ellipses),
                                      ellipses=ellipses))
    return images


def write_fddb(path: "str | os.PathLike[str]", images: Sequence[ImageAnnotation]) -> None:
    """Write ``images`` (which must carry ``ellipses``) as an FDDB ``ellipseList`` file."""
    lines = []
    for image in images:
        if image.ellipses is None:
            raise ValueError(f"write_fddb: image {image.file_name!r} has no ellipses; FDDB "
                             f"annotations are ellipses")
        lines += [image.file_name, str(len(image.ellipses))]
        lines += [" ".join(f"{v:.6f}" for v in e) + "  1" for e in image.ellipses]
    write_text(path, "\n".join(lines) + "\n")


def _coco_entry(container: dict, key: str, path, where: str):
    if key not in container:
        raise ValueError(f"{path}: {where} has no {key!r}")
    return container[key]


def read_coco(path: "str | os.PathLike[str]",
              category: "str | None" = None) -> "list[ImageAnnotation]":
    """Read a COCO detection JSON file.

    Parameters
    ----------
    path : path-like
        The JSON file.
    category : str, optional
        Keep only annotations of the category with this name (e.g. ``"face"``); all
        annotations when None.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"annotation file not found: {path}")
    with open(path, encoding="utf-8") as handle:
        try:
            data = json.load(handle)
        except json.JSONDecodeError as error:
            raise ValueError(f"{path}: not valid JSON ({error})") from None
    if not isinstance(data, dict):
        raise ValueError(f"{path}: the top level must be an object with 'images', "
                         f"'annotations' and 'categories'")
    categories = {}
    for index, entry in enumerate(_coco_entry(data, "categories", path, "the file")):
        categories[_coco_entry(entry, "id", path, f"categories[{index}]")] = \
            _coco_entry(entry, "name", path, f"categories[{index}]")
    wanted = None
    if category is not None:
        wanted = {cid for cid, name in categories.items() if name == category}
        if not wanted:
            raise ValueError(f"category: {category!r} is not in {path}; it has "
                             f"{sorted(categories.values())}")
    images, by_id = [], {}
    for index, entry in enumerate(_coco_entry(data, "images", path, "the file")):
        where = f"images[{index}]"
        image = ImageAnnotation(str(_coco_entry(entry, "file_name", path, where)),
                                np.empty((0, 4)), width=entry.get("width"),
                                height=entry.get("height"))
        image_id = _coco_entry(entry, "id", path, where)
        if image_id in by_id:
            raise ValueError(f"{path}: {where} repeats image id {image_id}")
        by_id[image_id] = (image, [], [])
        images.append(image)
    for index, entry in enumerate(_coco_entry(data, "annotations", path, "the file")):
        where = f"annotations[{index}]"
        image_id = _coco_entry(entry, "image_id", path, where)
        category_id = _coco_entry(entry, "category_id", path, where)
        if image_id not in by_id:
            raise ValueError(f"{path}: {where} refers to image_id {image_id}, not in 'images'")
        if category_id not in categories:
            raise ValueError(f"{path}: {where} refers to category_id {category_id}, not in "
                             f"'categories'")
        if wanted is not None and category_id not in wanted:
            continue
        bbox = _coco_entry(entry, "bbox", path, where)
        try:
            x, y, w, h = (float(v) for v in bbox)
        except (TypeError, ValueError):
            raise ValueError(f"{path}: {where} bbox must be [x, y, w, h], got {bbox!r}") from None
        if not all(math.isfinite(v) for v in (x, y, w, h)) or w < 0 or h < 0:
            raise ValueError(f"{path}: {where} bbox {bbox!r} needs finite values and w, h >= 0")
        _, boxes, ignore = by_id[image_id]
        boxes.append([x, y, x + w, y + h])
        ignore.append(bool(entry.get("iscrowd", 0)))
    for image, boxes, ignore in by_id.values():
        image.boxes = np.array(boxes, dtype=np.float64).reshape(-1, 4)
        image.ignore = np.array(ignore, dtype=bool)
    return images


def write_coco(path: "str | os.PathLike[str]", images: Sequence[ImageAnnotation],
               category: str = "face") -> None:
    """Write ``images`` as a COCO detection JSON file with one category."""
    data = {"images": [], "annotations": [], "categories": [{"id": 1, "name": category}]}
    for image_id, image in enumerate(images, start=1):
        entry = {"id": image_id, "file_name": image.file_name}
        if image.width is not None:
            entry.update(width=int(image.width), height=int(image.height))
        data["images"].append(entry)
        for (x1, y1, x2, y2), ignored in zip(image.boxes, image.ignore):
            data["annotations"].append({
                "id": len(data["annotations"]) + 1, "image_id": image_id, "category_id": 1,
                "bbox": [float(x1), float(y1), float(x2 - x1), float(y2 - y1)],
                "area": float((x2 - x1) * (y2 - y1)), "iscrowd": int(ignored)})
    write_json(path, data)


FORMATS = {"wider": read_wider, "fddb": read_fddb, "coco": read_coco}


def read_annotations(path: "str | os.PathLike[str]", fmt: str) -> "list[ImageAnnotation]":
    """Read ``path`` in format ``fmt`` (one of ``"wider"``, ``"fddb"``, ``"coco"``)."""
    if fmt not in FORMATS:
        raise ValueError(f"fmt: {fmt!r} is not one of {sorted(FORMATS)}")
    return FORMATS[fmt](path)
